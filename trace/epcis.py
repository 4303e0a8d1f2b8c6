"""EPCIS 2.0 export: every domain entry as one GS1 EPCIS 2.0 event (JSON-LD).

Each entry type's declaration (:class:`~insutrace.trace.entrytype.EntryType`) names its
mapping (:mod:`insutrace.trace.epcis_map`): event type, action, CBV 2.0 business step,
disposition and the function adding what the entry itself says. A type whose mapping is
None is not a supply-chain event and is not exported (the log mechanics ``log.genesis``,
``key.rotate``, ``key.revoke``). The export reads the mappings from the registry the
ledger admits (:attr:`Ledger.types`); :func:`entry_event` defaults to the domain's registry.

Identifiers are those of :class:`~insutrace.trace.epcis_map.Uris`. ``eventID`` is the
entry's RFC 6920 ``ni:///sha-256;…`` leaf hash, so an event leads back to its Merkle leaf;
``eventTime`` and ``recordTime`` are the entry time (UTC), ``eventTimeZoneOffset``
China Standard Time. A correction (mapping
:data:`~insutrace.trace.epcis_map.ERROR_DECLARATION`) is exported the EPCIS way: the
corrected entry's event again, with an ``errorDeclaration`` (reason ``incorrect_data``)
whose ``correctiveEventIDs`` name the correcting entry.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .domain import REGISTRY
from .entry import Entry
from .entrytype import EntryType
from .epcis_map import VOC, ErrorDeclaration, EventMapping, EventSpec, Uris
from .errors import NotFound
from .ledger import Ledger
from .merkle import leaf_hash
from .store.base import KV, Tx

__all__ = [
    "CONTEXT",
    "EVENTS",
    "VOC",
    "EventSpec",
    "entry_event",
    "event_mappings",
    "export_epcis",
    "validate_epcis",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"insu": VOC}]
CST_OFFSET = "+08:00"


def event_mappings(types: Mapping[str, EntryType]) -> Mapping[str, EventMapping]:
    """Entry type → its EPCIS mapping, for every declared type that is exported."""
    return MappingProxyType({n: t.epcis for n, t in types.items() if t.epcis is not None})


EVENTS: Mapping[str, EventSpec] = MappingProxyType(
    {n: m for n, m in event_mappings(REGISTRY).items() if isinstance(m, EventSpec)}
)
"""The domain's entry types → EPCIS events; a correction re-exports the corrected event."""


def _event_id(data: bytes) -> str:
    return "ni:///sha-256;" + base64.urlsafe_b64encode(leaf_hash(data)).rstrip(b"=").decode()


def _base(spec: EventSpec, entry: Entry, data: bytes, u: Uris) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": spec.event_type,
        "eventTime": entry.time,
        "recordTime": entry.time,
        "eventTimeZoneOffset": CST_OFFSET,
        "eventID": _event_id(data),
        "action": spec.action,
        "bizStep": spec.biz_step,
    }
    if spec.disposition:
        event["disposition"] = spec.disposition
    event |= {"insu:entry": u.entry(entry.seq), "insu:entryType": entry.type}
    event["insu:actor"] = u.org(entry.actor)
    return event


def _mapping(types: Mapping[str, EntryType], entry: Entry) -> EventMapping:
    declared = types.get(entry.type)
    if declared is None or declared.epcis is None:
        raise NotFound(f"entry {entry.seq}: type {entry.type} has no EPCIS 2.0 mapping")
    return declared.epcis


def _declared_error(
    declaration: ErrorDeclaration, entry: Entry, data: bytes, event: dict[str, Any]
) -> dict[str, Any]:
    """EPCIS 2.0 §7.4.1.5: the corrected event, declared erroneous by this entry."""
    event["errorDeclaration"] = {
        "declarationTime": entry.time,
        "reason": declaration.reason,
        "correctiveEventIDs": [_event_id(data)],
        "insu:correction": {
            "set": entry.payload.get("set"),
            "reason": entry.payload.get("reason"),
        },
    }
    return event


def entry_event(
    entry: Entry,
    data: bytes,
    kv: KV,
    u: Uris,
    original: tuple[Entry, bytes] | None = None,
    *,
    types: Mapping[str, EntryType] = REGISTRY,
) -> dict[str, Any]:
    """The EPCIS event of one entry (``original``: the corrected entry, for a correction)."""
    spec = _mapping(types, entry)
    if isinstance(spec, ErrorDeclaration):
        if original is None:
            raise ValueError(f"{entry.type} needs the corrected entry")
        event = entry_event(original[0], original[1], kv, u, types=types)
        return _declared_error(spec, entry, data, event)
    event = _base(spec, entry, data, u)
    event.update(spec.details(u, entry, kv))
    return event


def _selected(tx: Tx, refs: list[str], start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """(seq, entry bytes) of the selection, in log order."""
    if not refs:
        for first in range(start, stop, 1024):
            batch = tx.entries(first, min(first + 1024, stop))
            yield from zip(range(first, first + len(batch)), batch, strict=True)
        return
    seqs: set[int] = set()
    for ref in refs:
        after = start - 1
        while page := tx.refs(ref, after=after, limit=1000):
            seqs.update(s for s in page if s < stop)
            after = page[-1]
    for seq in sorted(seqs):
        yield seq, tx.entries(seq, seq + 1)[0]


def _event_of(tx: Tx, data: bytes, u: Uris, types: Mapping[str, EntryType]) -> dict[str, Any]:
    entry = Entry.from_bytes(data)
    original = None
    if isinstance(_mapping(types, entry), ErrorDeclaration):  # the payload names it: corrects
        raw = tx.entries(int(entry.payload["corrects"]), int(entry.payload["corrects"]) + 1)[0]
        original = (Entry.from_bytes(raw), raw)
    return entry_event(entry, data, tx, u, original, types=types)


def export_epcis(
    ledger: Ledger,
    *,
    refs: Iterable[str] = (),
    types: Iterable[str] = (),
    start: int = 0,
    stop: int | None = None,
    resolver: str = "id.insutrace.local",
) -> dict[str, Any]:
    """An EPCIS 2.0 JSON-LD document of a selection of the ledger.

    ``refs`` (e.g. ``batch:<id>``, ``project:<id>``, ``org:<uscc>``) selects the
    entries indexed under any of them, ``types`` keeps only those entry types,
    ``start``/``stop`` bound the sequence numbers. Each entry is mapped as the ledger's
    own registry declares its type; types declared with no mapping are left out. The
    document is a pure function of the log and the selection: ``creationDate`` is the
    last exported entry's time.
    """
    u = Uris(resolver)
    mapped = event_mappings(ledger.types)
    kinds = set(types)
    events: list[dict[str, Any]] = []
    with ledger.store.read() as tx:
        size = tx.head()[0]
        stop = size if stop is None else min(stop, size)
        for _, data in _selected(tx, list(refs), start, stop):
            kind = Entry.from_bytes(data).type
            if kind not in mapped or (kinds and kind not in kinds):
                continue
            events.append(_event_of(tx, data, u, ledger.types))
        if size == 0:
            raise NotFound("the log is empty: nothing to export")
        created = events[-1]["recordTime"] if events else Entry.from_bytes(tx.entries(0, 1)[0]).time
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {"eventList": events},
    }


_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _is_uri(value: object) -> bool:
    """RFC 3986 §4.3 absolute URI: a scheme, a colon, no spaces or unsafe characters."""
    return not isinstance(value, str) or _URI.fullmatch(value) is not None


def _is_date_time(value: object) -> bool:
    """RFC 3339 §5.6 date-time."""
    if not isinstance(value, str):
        return True
    if _DATE_TIME.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def validate_epcis(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Problems found validating against the EPCIS 2.0 JSON Schema, formats included.

    ``uri`` and ``date-time`` are checked here (jsonschema checks them only with extra
    packages installed), so a relative or unencoded URI fails validation.
    """
    from jsonschema import Draft7Validator, FormatChecker

    checker = FormatChecker()
    checker.checks("uri")(_is_uri)
    checker.checks("date-time")(_is_date_time)
    validator = Draft7Validator(schema, format_checker=checker)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(document)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]
