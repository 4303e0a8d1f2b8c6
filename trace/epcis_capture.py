"""EPCIS 2.0 capture: a JSON-LD document's events read as the ledger's entries.

The entry type of an event is found by reading the entry types' EPCIS mappings
(:mod:`insutrace.trace.epcis_map`) in reverse: the mappings with the event's type, action
and business step; ``insu:entryType``, when the event carries it, picks one of them, else
the one whose mapping has an inverse for standard events (:data:`~insutrace.trace.epcis_map.READS`).
The payload is ``insu:payload`` when present (a document this ledger exported), else
what the inverse reads from the standard fields. An event carrying an
``errorDeclaration`` with ``insu:correction`` is the correction of the event it repeats.

:func:`read_document` is pure: it returns the events as entries to write, or the faults,
each with an RFC 6901 pointer into the document and the rule it breaks. Faults of the
document itself (schema, EPC schemes, quantities without units, times out of order) make
it unreceivable; faults of single events (no mapping, another organisation's event, a
payload its type's model refuses) refuse the capture. Either way nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .domain.payloads import PayloadInvalid, validate
from .entrytype import EntryType
from .epcis import event_mappings, validate_errors
from .epcis_map import ErrorDeclaration, EventFault, EventSpec, Uris
from .store.base import KV

__all__ = ["CapturedEvent", "Fault", "capture_key", "events_of", "read_document"]

EPC_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
QUANTITY_FIELDS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
# GS1 Digital Link primary keys (GS1 DL URI Syntax 1.4) and EPC URN schemes (TDS 2.1)
_DL_KEY = re.compile(
    r"https?://[^/\s]+(/[^\s?#]*)?/(01|00|253|255|401|402|414|417|8003|8004|8006|8010|8013|8017|8018)/[^/\s?#]+(/[^\s?#]*)?"
)
_EPC_URN = re.compile(
    r"urn:epc:(id|idpat):(sgtin|sscc|sgln|grai|giai|gsrn|gsrnp|gdti|cpi|sgcn|ginc|gsin|itip|upui|pgln|gid|usdod|adi|bic|imovn):\S+"
    r"|urn:epc:class:lgtin:\S+"
)
_CBV = re.compile(
    r"(?:https://ref\.gs1\.org/cbv/(?:BizStep|Disp)-|urn:epcglobal:cbv:(?:bizstep|disp):)(\w+)"
)


@dataclass(frozen=True)
class Fault:
    """One fault: where (RFC 6901 pointer into the document), what, and the rule it breaks."""

    pointer: str
    detail: str
    rule: str
    document: bool = True
    """A fault of the document (not receivable), else of one event (capture refused)."""

    def item(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.detail, "rule": self.rule}


@dataclass(frozen=True)
class CapturedEvent:
    """An event read as an entry to write."""

    index: int
    pointer: str
    event_id: str | None
    type: str
    payload: dict[str, Any]
    time: datetime
    corrects: str | None = None
    """For a correction: the eventID of the corrected event (its entry's seq is the caller's)."""
    key: str | None = None
    """What makes a capture idempotent (:func:`capture_key`)."""


def capture_key(event: object) -> str | None:
    """An event's idempotency key: its ``eventID``; for an error declaration, the corrected
    event's ``eventID`` and the declaration time (one event may be corrected many times)."""
    if not isinstance(event, dict) or not isinstance(event.get("eventID"), str):
        return None
    declared = event.get("errorDeclaration")
    if isinstance(declared, dict):
        return f"{event['eventID']}@{declared.get('declarationTime')}"
    return str(event["eventID"])


def _esc(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _pointer(*parts: object) -> str:
    return "".join("/" + _esc(p) for p in parts)


def events_of(document: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The pointer and list of events of an EPCISDocument or EPCISQueryDocument."""
    body = document.get("epcisBody")
    if not isinstance(body, dict):
        return "/epcisBody/eventList", []
    if "queryResults" in body:
        results = (body.get("queryResults") or {}).get("resultsBody") or {}
        events = results.get("eventList", [])
        return "/epcisBody/queryResults/resultsBody/eventList", events if isinstance(
            events, list
        ) else []
    events = body.get("eventList", [])
    return "/epcisBody/eventList", events if isinstance(events, list) else []


def _time(value: object) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _word(value: object) -> str:
    """A CBV term as the bare word EPCIS 2.0 JSON uses (``shipping``)."""
    text = str(value or "")
    found = _CBV.fullmatch(text)
    return found.group(1) if found else text


def _epc_faults(at: str, event: dict[str, Any]) -> Iterator[Fault]:
    for name in EPC_FIELDS:
        for i, epc in enumerate(event.get(name) or []):
            if not _known_epc(epc):
                yield Fault(
                    _pointer_in(at, name, i), f"unknown EPC scheme: {epc}", "epcis.epc_scheme"
                )
    if "parentID" in event and not _known_epc(event["parentID"]):
        yield Fault(
            f"{at}/parentID", f"unknown EPC scheme: {event['parentID']}", "epcis.epc_scheme"
        )
    for name in QUANTITY_FIELDS:
        for i, q in enumerate(event.get(name) or []):
            if not isinstance(q, dict):
                continue
            if not _known_epc(q.get("epcClass")):
                yield Fault(
                    _pointer_in(at, name, i, "epcClass"),
                    f"unknown EPC class scheme: {q.get('epcClass')}",
                    "epcis.epc_scheme",
                )
            if "quantity" in q and not q.get("uom"):
                yield Fault(
                    _pointer_in(at, name, i, "quantity"),
                    f"quantity {q['quantity']} has no unit (uom)",
                    "epcis.uom",
                )


def _pointer_in(at: str, *parts: object) -> str:
    return at + _pointer(*parts)


def _known_epc(value: object) -> bool:
    text = str(value)
    return bool(_DL_KEY.fullmatch(text) or _EPC_URN.fullmatch(text))


def _event_time(event: dict[str, Any]) -> tuple[str, object]:
    declared = event.get("errorDeclaration")
    if isinstance(declared, dict) and "insu:correction" in declared:
        return "/errorDeclaration/declarationTime", declared.get("declarationTime")
    return "/eventTime", event.get("eventTime")


def read_document(
    document: Any,
    *,
    schema: Mapping[str, Any],
    types: Mapping[str, EntryType],
    kv: KV,
    resolver: str,
    org: str,
    head_time: datetime | None,
    now: datetime,
    max_skew: timedelta = timedelta(minutes=5),
    known: Collection[str] = frozenset(),
) -> tuple[list[CapturedEvent], list[Fault]]:
    """The events of ``document`` as entries ``org`` writes, or every fault found. Events
    whose :func:`capture_key` is ``known`` (captured before), or repeats one earlier in the
    document, are left out before any check of order."""
    if not isinstance(document, dict):
        return [], [Fault("", "the body is not a JSON object", "epcis.schema")]
    faults = [Fault(p, d, "epcis.schema") for p, d in validate_errors(document, schema)]
    root, events = events_of(document)
    if document.get("type") not in ("EPCISDocument", "EPCISQueryDocument"):
        faults.append(
            Fault("/type", "expected EPCISDocument or EPCISQueryDocument", "epcis.schema")
        )
    last = head_time
    skipped: set[int] = set()
    seen: set[str] = set(known)
    for i, event in enumerate(events):
        at = f"{root}/{i}"
        if not isinstance(event, dict):
            continue  # the schema said so
        key = capture_key(event)
        if key is not None and key in seen:
            skipped.add(i)
            continue
        if key is not None:
            seen.add(key)
        faults.extend(_epc_faults(at, event))
        where, value = _event_time(event)
        when = _time(value)
        if when is None:
            faults.append(
                Fault(at + where, f"{value!r} is not a date-time with offset", "epcis.order")
            )
            continue
        if last is not None and when < last:
            faults.append(
                Fault(
                    at + where,
                    f"{value} is before {last.isoformat()}, the time before it",
                    "epcis.order",
                )
            )
        if when > now + max_skew:
            faults.append(Fault(at + where, f"{value} is in the future", "epcis.order"))
        last = when if last is None else max(last, when)
    if faults:
        return [], faults
    u = Uris(resolver)
    captured: list[CapturedEvent] = []
    for i, event in enumerate(events):
        if i in skipped:
            continue
        at = f"{root}/{i}"
        try:
            captured.append(_read_event(i, at, event, types, kv, u, org))
        except _EventFaults as exc:
            faults.extend(exc.faults)
    return ([], faults) if faults else (captured, [])


class _EventFaults(Exception):
    def __init__(self, faults: list[Fault]) -> None:
        super().__init__(faults[0].detail)
        self.faults = faults


def _refuse(at: str, where: str, detail: str, rule: str = "epcis.mapping") -> _EventFaults:
    return _EventFaults([Fault(at + where, detail, rule, document=False)])


def _candidates(types: Mapping[str, EntryType], event: dict[str, Any]) -> dict[str, EventSpec]:
    key = (event.get("type"), event.get("action"), _word(event.get("bizStep")))
    return {
        name: m
        for name, m in event_mappings(types).items()
        if isinstance(m, EventSpec) and (m.event_type, m.action, m.biz_step) == key
    }


def _read_event(
    i: int,
    at: str,
    event: dict[str, Any],
    types: Mapping[str, EntryType],
    kv: KV,
    u: Uris,
    org: str,
) -> CapturedEvent:
    declared = event.get("errorDeclaration")
    if isinstance(declared, dict):
        return _read_correction(i, at, event, declared, types, u, org)
    candidates = _candidates(types, event)
    named = event.get("insu:entryType")
    if named is not None:
        if named not in candidates:
            raise _refuse(
                at,
                "/insu:entryType",
                f"{named} is not mapped to {event.get('type')} {event.get('action')} "
                f"{event.get('bizStep')} (candidates: {', '.join(sorted(candidates)) or 'none'})",
            )
        chosen = {named: candidates[named]}
    else:
        chosen = {n: m for n, m in candidates.items() if m.reads is not None}
        if len(chosen) > 1:
            chosen = {n: m for n, m in chosen.items() if m.disposition == event.get("disposition")}
    if len(chosen) != 1:
        known = ", ".join(sorted(candidates)) or "none"
        raise _refuse(
            at,
            "/bizStep",
            f"{event.get('type')} {event.get('action')} {event.get('bizStep')} maps to no single "
            f"entry type (entry types with this step: {known}; name one in insu:entryType)",
        )
    ((type, spec),) = chosen.items()
    _check_actor(at, "/insu:actor", event.get("insu:actor"), u, org)
    if "insu:payload" in event:
        payload = event["insu:payload"]
        where = "/insu:payload"
    elif spec.reads is not None:
        try:
            payload = spec.reads(u, _words(event), kv)
        except EventFault as exc:
            raise _refuse(at, exc.pointer, exc.detail) from None
        where = ""
    else:
        raise _refuse(at, "/insu:payload", f"{type} is captured only with its insu:payload")
    _check_payload(at, where, types, type, payload)
    when = _must_time(event["eventTime"])
    return CapturedEvent(i, at, event.get("eventID"), type, payload, when, key=capture_key(event))


def _words(event: dict[str, Any]) -> dict[str, Any]:
    return {
        **event,
        "bizStep": _word(event.get("bizStep")),
        "disposition": _word(event.get("disposition")),
    }


def _must_time(value: object) -> datetime:
    when = _time(value)
    assert when is not None  # checked with the document
    return when


def _check_actor(at: str, where: str, actor: object, u: Uris, org: str) -> None:
    if actor is not None and actor != u.org(org):
        raise _refuse(
            at,
            where,
            f"the event's actor is {actor}, not the capturing {u.org(org)}",
            "epcis.actor",
        )


def _check_payload(
    at: str, where: str, types: Mapping[str, EntryType], type: str, payload: object
) -> None:
    if not isinstance(payload, dict):
        raise _refuse(at, where, "the payload is not a JSON object")
    model = types[type].payload
    if model is None:
        return
    try:
        validate(model, type, payload)
    except PayloadInvalid as exc:
        raise _EventFaults(
            [
                Fault(
                    at + where + str(e["pointer"]).removeprefix("/payload"),
                    f"{type}: {e['detail']}",
                    "input.malformed",
                    document=False,
                )
                for e in exc.errors
            ]
        ) from None


def _read_correction(
    i: int,
    at: str,
    event: dict[str, Any],
    declared: dict[str, Any],
    types: Mapping[str, EntryType],
    u: Uris,
    org: str,
) -> CapturedEvent:
    correction = declared.get("insu:correction")
    names = [n for n, m in event_mappings(types).items() if isinstance(m, ErrorDeclaration)]
    if not isinstance(correction, dict) or len(names) != 1:
        raise _refuse(
            at,
            "/errorDeclaration",
            "an error declaration is captured only with its insu:correction",
        )
    if not event.get("eventID"):
        raise _refuse(at, "/eventID", "an error declaration names the corrected event by eventID")
    _check_actor(at, "/errorDeclaration/insu:correction/actor", correction.get("actor"), u, org)
    body = correction.get("payload")
    if not isinstance(body, dict):
        raise _refuse(
            at, "/errorDeclaration/insu:correction/payload", "the payload is not a JSON object"
        )
    payload = {**body, "corrects": 0}  # checked with a placeholder; the caller resolves the seq
    _check_payload(at, "/errorDeclaration/insu:correction/payload", types, names[0], payload)
    when = _must_time(declared["declarationTime"])
    return CapturedEvent(
        i,
        at,
        None,
        names[0],
        dict(body),
        when,
        corrects=str(event["eventID"]),
        key=capture_key(event),
    )
