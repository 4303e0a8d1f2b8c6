"""EPCIS 2.0 export: every domain entry as one GS1 EPCIS 2.0 event (JSON-LD).

Each entry type's declaration (:class:`~insutrace.trace.entrytype.EntryType`) names its
mapping (:mod:`insutrace.trace.epcis_map`): event type, action, CBV 2.0 business step,
disposition and the function adding what the entry itself says. A type whose mapping is
None is not a supply-chain event and is not exported (the log mechanics ``log.genesis``,
``key.rotate``, ``key.revoke``). The export reads the mappings from the registry the
ledger admits (:attr:`Ledger.types`); :func:`entry_event` defaults to the domain's registry.

Identifiers are those of :class:`~insutrace.trace.epcis_map.Uris`. ``eventID`` is the CBV
2.0 event hash (``ni:///sha-256;<hex>?ver=CBV2.0``, :func:`event_hash`): a function of
what the event says, not of where it sits in this log, so the same event captured into
another ledger keeps its identifier. ``insu:payload`` carries the entry's payload
verbatim, so a document this ledger exports is captured back without loss
(:mod:`insutrace.trace.epcis_capture`). ``eventTime`` and ``recordTime`` are the entry
time (UTC), ``eventTimeZoneOffset`` China Standard Time; ``creationDate`` is the export
time. A correction (mapping
:data:`~insutrace.trace.epcis_map.ERROR_DECLARATION`) is exported the EPCIS way: the
corrected entry's event again, with an ``errorDeclaration`` (reason ``incorrect_data``)
whose ``correctiveEventIDs`` name the correcting entry.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .clock import format_time
from .domain import REGISTRY
from .entry import Entry
from .entrytype import EntryType
from .epcis_map import VOC, ErrorDeclaration, EventMapping, EventSpec, Uris
from .errors import NotFound
from .ledger import Ledger
from .store.base import KV, Tx

__all__ = [
    "CONTEXT",
    "EVENTS",
    "VOC",
    "EventSpec",
    "entry_event",
    "epcis_document",
    "event_hash",
    "event_mappings",
    "event_prehash",
    "export_epcis",
    "identified",
    "ledger_events",
    "validate_epcis",
    "validate_errors",
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


# The JSON-LD contexts the hash may dereference: copies shipped inside GS1's reference
# implementation (named by their SHA-256). Any other remote context is refused, never
# fetched: the server makes no external request.
_CONTEXT_FILES = {
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld": (
        "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld"
    ),
    "https://gs1.github.io/EPCIS/epcis-context.jsonld": (
        "14b10c9d3e92d35f577bfc610fe5ec15aa2941124987919389d7cd9998516861.jsonld"
    ),
}
_loaded: dict[str, Any] = {}


class UnknownContext(ValueError):
    """A JSON-LD ``@context`` URL the hash cannot read without fetching it."""


def _document_loader(url: str, options: Any = None) -> dict[str, Any]:
    name = _CONTEXT_FILES.get(url)
    if name is None:
        raise UnknownContext(f"JSON-LD context {url} is not known to this server")
    if url not in _loaded:
        from importlib.resources import files

        text = (files("epcis_event_hash_generator") / name).read_text(encoding="utf-8")
        _loaded[url] = json.loads(text)
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": _loaded[url],
    }


def _reference() -> tuple[Any, Any]:
    """GS1's reference implementation, reading contexts only through :func:`_document_loader`."""
    from epcis_event_hash_generator import hash_generator, json_to_py
    from pyld import jsonld  # type: ignore[import-untyped]

    jsonld.set_document_loader(_document_loader)  # the package installs a fetching one
    return hash_generator, json_to_py


def _hash_events(events: list[dict[str, Any]], context: list[Any]) -> tuple[list[str], list[str]]:
    """CBV 2.0 hashes and pre-hash strings of events read under ``context``, computed by
    GS1's reference implementation (``epcis-event-hash-generator``)."""
    hash_generator, json_to_py = _reference()
    document = {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "1970-01-01T00:00:00Z",
        "epcisBody": {"eventList": copy.deepcopy(events)},
    }
    parsed = json_to_py.event_list_from_epcis_document_json(document)
    prehashes = hash_generator.derive_prehashes_from_events(parsed)
    hashes = hash_generator.calculate_hashes_from_pre_hashes(prehashes)
    return list(hashes), list(prehashes)


def event_hash(event: Mapping[str, Any], context: list[Any] | None = None) -> str:
    """The CBV 2.0 event hash ``ni:///sha-256;<64 hex>?ver=CBV2.0`` of one event whose
    terms are read under ``context`` (default: this ledger's export context). The hash
    leaves out ``eventID``, ``recordTime`` and ``errorDeclaration``, so a corrected
    event keeps its identifier."""
    return _hash_events([dict(event)], CONTEXT if context is None else context)[0][0]


def event_prehash(event: Mapping[str, Any], context: list[Any] | None = None) -> str:
    """The CBV 2.0 pre-hash string of one event (what :func:`event_hash` digests)."""
    return _hash_events([dict(event)], CONTEXT if context is None else context)[1][0]


def _base(spec: EventSpec, entry: Entry, u: Uris) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": spec.event_type,
        "eventTime": entry.time,
        "recordTime": entry.time,
        "eventTimeZoneOffset": CST_OFFSET,
        "action": spec.action,
        "bizStep": spec.biz_step,
    }
    if spec.disposition:
        event["disposition"] = spec.disposition
    event |= {"insu:entryType": entry.type, "insu:actor": u.org(entry.actor)}
    return event


def identified(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its CBV 2.0 hash as ``eventID`` (placed after ``eventTimeZoneOffset``)."""
    digest = event_hash(event)
    out: dict[str, Any] = {}
    for key, value in event.items():
        out[key] = value
        if key == "eventTimeZoneOffset":
            out["eventID"] = digest
    out.setdefault("eventID", digest)
    return out


def _mapping(types: Mapping[str, EntryType], entry: Entry) -> EventMapping:
    declared = types.get(entry.type)
    if declared is None or declared.epcis is None:
        raise NotFound(f"entry {entry.seq}: type {entry.type} has no EPCIS 2.0 mapping")
    return declared.epcis


def _declared_error(
    declaration: ErrorDeclaration, entry: Entry, u: Uris, event: dict[str, Any]
) -> dict[str, Any]:
    """EPCIS 2.0 §7.4.1.5: the corrected event, declared erroneous by this entry. The
    correction has no event of its own (``correctiveEventIDs`` is left out); what it
    says travels in ``insu:correction``: its actor and its payload verbatim, the corrected
    entry named by the event's own ``eventID``."""
    payload = {k: v for k, v in entry.payload.items() if k != "corrects"}
    event["errorDeclaration"] = {
        "declarationTime": entry.time,
        "reason": declaration.reason,
        "insu:correction": {"actor": u.org(entry.actor), "payload": payload},
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
    identify: bool = True,
) -> dict[str, Any]:
    """The EPCIS event of one entry (``original``: the corrected entry, for a correction);
    ``identify=False`` leaves ``eventID`` out (a query adds it to the events it returns,
    :func:`identified`)."""
    spec = _mapping(types, entry)
    if isinstance(spec, ErrorDeclaration):
        if original is None:
            raise ValueError(f"{entry.type} needs the corrected entry")
        event = entry_event(original[0], original[1], kv, u, types=types)
        return _declared_error(spec, entry, u, event)
    event = _base(spec, entry, u)
    event.update(spec.details(u, entry, kv))
    event["insu:payload"] = entry.payload
    return identified(event) if identify else event


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


def _event_of(
    tx: Tx, data: bytes, u: Uris, types: Mapping[str, EntryType], identify: bool = True
) -> dict[str, Any]:
    entry = Entry.from_bytes(data)
    original = None
    if isinstance(_mapping(types, entry), ErrorDeclaration):  # the payload names it: corrects
        raw = tx.entries(int(entry.payload["corrects"]), int(entry.payload["corrects"]) + 1)[0]
        original = (Entry.from_bytes(raw), raw)
    return entry_event(entry, data, tx, u, original, types=types, identify=identify)


def ledger_events(
    ledger: Ledger,
    tx: Tx,
    u: Uris,
    *,
    refs: Iterable[str] = (),
    types: Iterable[str] = (),
    start: int = 0,
    stop: int | None = None,
    identify: bool = True,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(seq, event) of every exported entry of a selection, in log order: the one mapping
    behind the CLI export, the HTTP export and the EPCIS query (``identify=False``: without
    ``eventID`` on entries that are not corrections, see :func:`identified`)."""
    mapped = event_mappings(ledger.types)
    kinds = set(types)
    size = tx.head()[0]
    stop = size if stop is None else min(stop, size)
    for seq, data in _selected(tx, list(refs), start, stop):
        kind = Entry.from_bytes(data).type
        if kind not in mapped or (kinds and kind not in kinds):
            continue
        yield seq, _event_of(tx, data, u, ledger.types, identify)


def epcis_document(events: list[dict[str, Any]], created: datetime) -> dict[str, Any]:
    """An EPCIS 2.0 JSON-LD ``EPCISDocument`` of ``events``, created at ``created``."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(created),
        "epcisBody": {"eventList": events},
    }


def export_epcis(
    ledger: Ledger,
    *,
    refs: Iterable[str] = (),
    types: Iterable[str] = (),
    start: int = 0,
    stop: int | None = None,
    resolver: str = "id.insutrace.local",
    created: datetime | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 JSON-LD document of a selection of the ledger.

    ``refs`` (e.g. ``batch:<id>``, ``project:<id>``, ``org:<uscc>``) selects the
    entries indexed under any of them, ``types`` keeps only those entry types,
    ``start``/``stop`` bound the sequence numbers. Each entry is mapped as the ledger's
    own registry declares its type; types declared with no mapping are left out. The
    events are a pure function of the log and the selection; ``creationDate`` is the
    export time (``created``, default the ledger clock's reading).
    """
    u = Uris(resolver)
    with ledger.store.read() as tx:
        if tx.head()[0] == 0:
            raise NotFound("the log is empty: nothing to export")
        events = [
            event
            for _, event in ledger_events(
                ledger, tx, u, refs=refs, types=types, start=start, stop=stop
            )
        ]
    return epcis_document(events, created or ledger.clock.now())


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


def validate_errors(document: Any, schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(RFC 6901 pointer, message) of each fault found validating against the EPCIS 2.0
    JSON Schema, formats included.

    ``uri`` and ``date-time`` are checked here (jsonschema checks them only with extra
    packages installed), so a relative or unencoded URI fails validation.
    """
    from jsonschema import Draft7Validator, FormatChecker

    checker = FormatChecker()
    checker.checks("uri")(_is_uri)
    checker.checks("date-time")(_is_date_time)
    validator = Draft7Validator(schema, format_checker=checker)
    found = []
    for error in validator.iter_errors(document):
        parts = [str(p).replace("~", "~0").replace("/", "~1") for p in error.absolute_path]
        found.append(("".join("/" + p for p in parts), error.message))
    return found


def validate_epcis(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Problems found validating against the EPCIS 2.0 JSON Schema (see :func:`validate_errors`)."""
    return [
        f"{pointer.lstrip('/') or '(document)'}: {message}"
        for pointer, message in validate_errors(document, schema)
    ]
