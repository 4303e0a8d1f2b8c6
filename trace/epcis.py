"""EPCIS 2.0 export: every domain entry as one GS1 EPCIS 2.0 event (JSON-LD).

The mapping lives in one table, :data:`EVENTS`: entry type → event type, action,
CBV 2.0 business step, disposition, and a function adding what the entry itself
says (quantities, parties, locations, ``ilmd`` lot master data for a batch,
``certificationInfo`` for test reports). Business steps CBV 2.0 has no term for
(registering a party, briefing, filing, recalling …) are URIs in this ledger's
vocabulary (:data:`VOC`). All events are ObjectEvents; the log mechanics
(``log.genesis``, ``key.rotate``, ``key.revoke``) are not supply-chain events and
are not exported.

Identifiers: a lot is the GS1 Digital Link class ``https://id.gs1.org/01/{gtin}/10/{lot}``
(EPCIS 2.0 §8.3 allows Digital Link URIs as EPC classes), a product
``https://id.gs1.org/01/{gtin}``; organisations, projects, buildings, shipments and
reports are URIs under ``https://{resolver}/``. ``eventID`` is the entry's RFC 6920
``ni:///sha-256;…`` leaf hash, so an event leads back to its Merkle leaf;
``eventTime`` and ``recordTime`` are the entry time (UTC), ``eventTimeZoneOffset``
China Standard Time. A correction (``entry.correct``) is exported the EPCIS way: the
corrected entry's event again, with an ``errorDeclaration`` (reason
``incorrect_data``) whose ``correctiveEventIDs`` name the correcting entry.

Quantities: ``m2`` → ``MTK``, ``m3`` → ``MTQ``, boards and panels → ``H87`` (piece).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from .entry import Entry
from .errors import NotFound
from .identifiers import build_digital_link
from .ledger import Ledger
from .merkle import leaf_hash
from .store.base import KV, Tx

__all__ = [
    "CONTEXT",
    "EVENTS",
    "SKIPPED",
    "VOC",
    "EventSpec",
    "entry_event",
    "export_epcis",
    "validate_epcis",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
VOC = "https://id.insutrace.local/voc/"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"insu": VOC}]
CST_OFFSET = "+08:00"
SKIPPED = frozenset({"log.genesis", "key.rotate", "key.revoke"})
UOM = {"m2": "MTK", "m3": "MTQ", "board": "H87", "panel": "H87"}

Details = Callable[["Uris", Entry, KV], dict[str, Any]]


@dataclass(frozen=True)
class Uris:
    """URIs of the things entries name, under one resolver host."""

    resolver: str

    def _at(self, *parts: str) -> str:
        return f"https://{self.resolver}/" + "/".join(quote(p, safe="") for p in parts)

    def org(self, uscc: str) -> str:
        return self._at("org", uscc)

    def project(self, project: str) -> str:
        return self._at("project", project)

    def section(self, project: str, section: str) -> str:
        return self._at("project", project, "section", section)

    def building(self, building: str) -> str:
        return self._at("building", building)

    def shipment(self, key: str) -> str:
        return self._at("shipment", *key.split("|", 1))

    def report(self, lab: str, number: str) -> str:
        return self._at("report", lab, number)

    def sample(self, project: str, sample: str) -> str:
        return self._at("project", project, "sample", sample)

    def entry(self, seq: int) -> str:
        return self._at("entry", str(seq))


def lot_class(batch: str) -> str:
    """``<gtin14>.<lot>`` as its Digital Link LGTIN class."""
    return build_digital_link("id.gs1.org", batch[:14], lot=batch[15:])


def product_class(gtin: str) -> str:
    return build_digital_link("id.gs1.org", gtin)


def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def _quantity(batch: str, quantity: str, unit: str) -> dict[str, Any]:
    return {"epcClass": lot_class(batch), "quantity": _number(quantity), "uom": UOM[unit]}


def _lines(entry: Entry) -> dict[str, Any]:
    """The lines as a quantityList (an empty epcList when a receipt carries none)."""
    lines = entry.payload.get("lines", [])
    if not lines:
        return {"epcList": []}
    return {"quantityList": [_quantity(x["batch"], x["quantity"], x["unit"]) for x in lines]}


def _party(kind: str, uri: str) -> dict[str, str]:
    return {"type": "possessing_party", kind: uri}


def _doc(sha256: str) -> str:
    raw = bytes.fromhex(sha256)
    return "ni:///sha-256;" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- per-type details ------------------------------------------------------------


def _org(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    return {
        "epcList": [],
        "insu:organisation": u.org(p["id"]),
        "insu:name": p.get("name", ""),
        "insu:roles": p.get("roles", []),
    }


def _product(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    product = kv.get("product", p["gtin"].zfill(14)) or {"gtin": p["gtin"]}
    return {
        "quantityList": [{"epcClass": product_class(product["gtin"])}],
        "insu:insulationType": p.get("type"),
        "insu:polymer": p.get("polymer"),
        "insu:thermosetting": p.get("thermosetting"),
        "insu:productStandard": p.get("standard"),
    }


def _batch_key(kv: KV, p: dict[str, Any]) -> str:
    product = kv.get("product", str(p["product"]).zfill(14))
    gtin = product["gtin"] if product else str(p["product"]).zfill(14)
    return f"{gtin}.{p['lot']}"


def _commission(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    batch = _batch_key(kv, p)
    row = kv.get("batch", batch) or {}
    return {
        "quantityList": [_quantity(batch, p["quantity"], p["unit"])],
        "bizLocation": {"id": u.org(e.actor)},
        "ilmd": {
            "cbvmda:lotNumber": p["lot"],
            "insu:productionDate": p["production_date"],
            "insu:declaredClass": row.get("declared", {}).get("label", p["declared_class"]),
            "insu:thermalConductivity": p["conductivity"],
            "insu:density": p["density"],
            "insu:digitalLink": row.get("digital_link", lot_class(batch)),
        },
    }


def _report(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    row = kv.get("report", f"{e.actor}|{p['number']}") or {}
    return {
        "disposition": "conformant" if row.get("qualifies") else "non_conformant",
        "quantityList": [{"epcClass": lot_class(p["batch"])}],
        "certificationInfo": [u.report(e.actor, p["number"]), _doc(p["document"])],
        "bizTransactionList": [
            {"type": "testres", "bizTransaction": u.report(e.actor, p["number"])}
        ],
        "insu:reasons": row.get("reasons", []),
    }


def _ship(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    key = f"{e.actor}|{p['number']}"
    row = kv.get("shipment", key) or {"to": p.get("to"), "to_site": "", "from_site": ""}
    details: dict[str, Any] = {
        **_lines(e),
        "sourceList": [_party("source", u.org(e.actor))],
        "destinationList": [_party("destination", u.org(row["to"]))],
        "bizTransactionList": [{"type": "desadv", "bizTransaction": u.shipment(key)}],
    }
    if row.get("to_site"):
        details["destinationList"].append(
            {"type": "location", "destination": u.project(row["to_site"])}
        )
    if row.get("returns"):
        details["bizTransactionList"].append(
            {"type": "rma", "bizTransaction": u.shipment(row["returns"])}
        )
    return details


def _receive(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    row = kv.get("shipment", p["shipment"]) or {"from": "", "to_site": ""}
    details: dict[str, Any] = {
        **_lines(e),
        "sourceList": [_party("source", u.org(row["from"]))] if row["from"] else [],
        "destinationList": [_party("destination", u.org(e.actor))],
        "bizTransactionList": [{"type": "desadv", "bizTransaction": u.shipment(p["shipment"])}],
    }
    if row.get("to_site"):
        details["bizLocation"] = {"id": u.project(row["to_site"])}
    if "discrepancy" in p:
        details["insu:discrepancy"] = p["discrepancy"]
    return details


def _destroy(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    return {**_lines(e), "insu:reason": e.payload.get("reason", "")}


def _at_project(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    project = str(e.payload.get("project") or e.payload.get("id"))
    return {"epcList": [], "bizLocation": {"id": u.project(project)}}


def _briefing(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    return {**_at_project(u, e, kv), "insu:briefingKind": e.payload["kind"]}


def _inspect(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    return {
        "disposition": "conformant" if p["accepted"] else "non_conformant",
        "quantityList": [{"epcClass": lot_class(p["batch"])}],
        "bizLocation": {"id": u.project(p["project"])},
        "insu:labelClass": p["label_class"],
    }


def _sample(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    unit = (kv.get("batch", p["batch"]) or {"unit": "m2"})["unit"]
    return {
        "quantityList": [_quantity(p["batch"], p["quantity"], unit)],
        "bizLocation": {"id": u.project(p["project"])},
        "insu:sample": u.sample(p["project"], p["sample"]),
        "insu:lab": u.org(p["lab"]),
    }


def _retest(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    sample = kv.get("sample", f"{p['project']}|{p['sample']}") or {"batch": "", "result": None}
    passed = bool(sample["result"] and sample["result"]["passed"])
    return {
        "disposition": "conformant" if passed else "non_conformant",
        **(
            {"quantityList": [{"epcClass": lot_class(sample["batch"])}]}
            if sample["batch"]
            else {"epcList": []}
        ),
        "bizLocation": {"id": u.project(p["project"])},
        "certificationInfo": [u.report(e.actor, p["number"]), _doc(p["document"])],
        "insu:sample": u.sample(p["project"], p["sample"]),
    }


def _install(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    unit = (kv.get("batch", p["batch"]) or {"unit": "m2"})["unit"]
    return {
        "quantityList": [_quantity(p["batch"], p["quantity"], unit)],
        "readPoint": {"id": u.section(p["project"], p["section"])},
        "bizLocation": {"id": u.project(p["project"])},
        "insu:areaM2": _number(p["area_m2"]),
    }


def _building(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    building = str(e.payload.get("building") or e.payload.get("id"))
    return {"epcList": [], "bizLocation": {"id": u.building(building)}}


def _building_inspect(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    defects = e.payload.get("defects", [])
    return {
        **_building(u, e, kv),
        "disposition": "non_conformant" if defects else "conformant",
        "insu:defects": [{"kind": d["kind"], "severity": d["severity"]} for d in defects],
    }


def _recall(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    return {
        "quantityList": [{"epcClass": lot_class(p["batch"])}],
        "persistentDisposition": {"set": ["recalled"]},
        "insu:reason": p["reason"],
    }


def _labels_issued(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    """label.issue: the serial range written onto QR labels (CBV bizStep encoding)."""
    p = e.payload
    return {
        "quantityList": [{"epcClass": lot_class(p["batch"]), "quantity": p["count"], "uom": "H87"}],
        "bizLocation": {"id": u.org(e.actor)},
        "insu:serialRange": {"first": p["first"], "count": p["count"], "key": p["key"]},
        "insu:resolver": p["resolver"],
    }


_SCAN_DISPOSITION = {"genuine": "conformant", "recalled": "recalled"}


def _label_scanned(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    """label.scan: one labelled instance observed on a site, with the verdict seen."""
    p = e.payload
    instance = build_digital_link(u.resolver, p["gtin"], lot=p["lot"], serial=p["serial"])
    return {
        "epcList": [instance],
        "disposition": _SCAN_DISPOSITION.get(p["verdict"], "non_conformant"),
        "bizLocation": {"id": u.project(p["project"])},
        "insu:verdict": p["verdict"],
    }


def _regulatory(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    """Credit listings, permit decisions, incidents: decisions about parties and places,
    located at the project or building they concern, else at the deciding organisation."""
    p = e.payload
    if isinstance(p.get("project"), str):
        where = u.project(p["project"])
    elif isinstance(p.get("building"), str):
        where = u.building(p["building"])
    else:
        where = u.org(e.actor)
    facts = {k: v for k, v in sorted(p.items()) if k != "schema" and isinstance(v, str | int)}
    return {"epcList": [], "bizLocation": {"id": where}, "insu:decision": facts}


@dataclass(frozen=True)
class EventSpec:
    """The EPCIS 2.0 shape of one entry type."""

    action: str
    biz_step: str
    disposition: str | None
    details: Details
    event_type: str = "ObjectEvent"


def _voc(step: str) -> str:
    return f"{VOC}bizstep/{step}"


EVENTS: dict[str, EventSpec] = {
    "actor.register": EventSpec("ADD", _voc("registering_organisation"), None, _org),
    "org.update": EventSpec("OBSERVE", _voc("updating_organisation"), None, _org),
    "product.register": EventSpec("ADD", "creating_class_instance", None, _product),
    "batch.register": EventSpec("ADD", "commissioning", "active", _commission),
    "report.issue": EventSpec("OBSERVE", "inspecting", "conformant", _report),
    "custody.ship": EventSpec("OBSERVE", "shipping", "in_transit", _ship),
    "custody.receive": EventSpec("OBSERVE", "receiving", "in_progress", _receive),
    "custody.return": EventSpec("OBSERVE", "shipping", "returned", _ship),
    "custody.destroy": EventSpec("DELETE", "destroying", "destroyed", _destroy),
    "project.register": EventSpec("ADD", _voc("registering_project"), None, _at_project),
    "project.file": EventSpec("OBSERVE", _voc("filing_project"), None, _at_project),
    "site.briefing": EventSpec("OBSERVE", _voc("briefing"), None, _briefing),
    "site.inspect": EventSpec("OBSERVE", "inspecting", "conformant", _inspect),
    "site.sample": EventSpec("OBSERVE", "sampling", None, _sample),
    "site.retest_result": EventSpec("OBSERVE", "inspecting", "conformant", _retest),
    "site.install": EventSpec("OBSERVE", "installing", "active", _install),
    "project.accept": EventSpec("OBSERVE", "accepting", "conformant", _at_project),
    "building.register_survey": EventSpec("ADD", _voc("surveying_building"), None, _building),
    "building.inspect": EventSpec("OBSERVE", "inspecting", "conformant", _building_inspect),
    "rectification.order": EventSpec(
        "OBSERVE", _voc("ordering_rectification"), "needs_replacement", _building
    ),
    "rectification.complete": EventSpec("OBSERVE", "repairing", "conformant", _building),
    "batch.recall": EventSpec("OBSERVE", _voc("recalling"), "recalled", _recall),
    "label.issue": EventSpec("ADD", "encoding", "encoded", _labels_issued),
    "label.scan": EventSpec("OBSERVE", "inspecting", None, _label_scanned),
    "credit.authorize": EventSpec(
        "OBSERVE", _voc("authorizing_credit_authority"), None, _regulatory
    ),
    "credit.list": EventSpec("OBSERVE", _voc("listing_dishonest_party"), None, _regulatory),
    "credit.repair_apply": EventSpec("OBSERVE", _voc("applying_credit_repair"), None, _regulatory),
    "credit.repair_decide": EventSpec("OBSERVE", _voc("deciding_credit_repair"), None, _regulatory),
    "permit.decide": EventSpec("OBSERVE", _voc("deciding_permit"), None, _regulatory),
    "incident.record": EventSpec("OBSERVE", _voc("recording_incident"), None, _regulatory),
}
"""Entry type → EPCIS event. ``entry.correct`` re-exports the corrected entry's event."""


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


def entry_event(
    entry: Entry, data: bytes, kv: KV, u: Uris, original: tuple[Entry, bytes] | None = None
) -> dict[str, Any]:
    """The EPCIS event of one entry (``original``: the corrected entry, for entry.correct)."""
    if entry.type == "entry.correct":
        if original is None:
            raise ValueError("entry.correct needs the corrected entry")
        event = entry_event(original[0], original[1], kv, u)
        event["errorDeclaration"] = {
            "declarationTime": entry.time,
            "reason": "incorrect_data",
            "correctiveEventIDs": [_event_id(data)],
            "insu:correction": {
                "set": entry.payload.get("set"),
                "reason": entry.payload.get("reason"),
            },
        }
        return event
    spec = EVENTS[entry.type]
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


def _event_of(tx: Tx, seq: int, data: bytes, u: Uris) -> dict[str, Any]:
    entry = Entry.from_bytes(data)
    original = None
    if entry.type == "entry.correct":
        raw = tx.entries(int(entry.payload["corrects"]), int(entry.payload["corrects"]) + 1)[0]
        original = (Entry.from_bytes(raw), raw)
    return entry_event(entry, data, tx, u, original)


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
    ``start``/``stop`` bound the sequence numbers. The document is a pure function of
    the log and the selection: ``creationDate`` is the last exported entry's time.
    """
    u = Uris(resolver)
    kinds = set(types)
    events: list[dict[str, Any]] = []
    with ledger.store.read() as tx:
        size = tx.head()[0]
        stop = size if stop is None else min(stop, size)
        for seq, data in _selected(tx, list(refs), start, stop):
            kind = Entry.from_bytes(data).type
            if kind in SKIPPED or (kinds and kind not in kinds):
                continue
            events.append(_event_of(tx, seq, data, u))
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
