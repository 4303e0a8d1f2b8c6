"""EPCIS 2.0 mappings of entry types: the event shape and the per-type detail functions.

Each entry type's declaration names its :class:`EventSpec` (event type, action, CBV 2.0
business step, disposition, and a function adding what the entry itself says:
quantities, parties, locations, ``ilmd`` lot master data for a batch,
``certificationInfo`` for test reports), or :data:`ERROR_DECLARATION` for a correction,
which EPCIS 2.0 §7.4.1.5 exports as the corrected event again with an
``errorDeclaration``. Business steps CBV 2.0 has no term for (registering a party,
briefing, filing, recalling …) are URIs in this ledger's vocabulary (:data:`VOC`,
:func:`voc`). The export itself is :mod:`insutrace.trace.epcis`; this module imports no
ledger and no domain module, so the domain's declarations can name its functions.

Identifiers: a lot is the GS1 Digital Link class ``https://id.gs1.org/01/{gtin}/10/{lot}``
(EPCIS 2.0 §8.3 allows Digital Link URIs as EPC classes), a product
``https://id.gs1.org/01/{gtin}``; organisations, projects, buildings, shipments and
reports are URIs under ``https://{resolver}/`` (:class:`Uris`).

Quantities: ``m2`` → ``MTK``, ``m3`` → ``MTQ``, boards and panels → ``H87`` (piece).

Capture reads the mappings in reverse (:mod:`insutrace.trace.epcis_capture`): a detail
function with an entry in :data:`READS` has an inverse that rebuilds the entry's payload
from a standard EPCIS event an ERP or warehouse system sends (shipping and receiving →
custody, commissioning → batch registration, arrival inspecting → site inspection).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from .entry import Entry
from .errors import LedgerError
from .identifiers import build_digital_link, parse_digital_link
from .store.base import KV

__all__ = [
    "ERROR_DECLARATION",
    "READS",
    "UOM",
    "VOC",
    "Details",
    "ErrorDeclaration",
    "EventFault",
    "EventMapping",
    "EventSpec",
    "Reads",
    "Uris",
    "at_building",
    "at_project",
    "briefing",
    "building_inspect",
    "commission",
    "destroy",
    "inspect",
    "install",
    "label_scanned",
    "labels_issued",
    "lot_class",
    "organisation",
    "product",
    "product_class",
    "recall",
    "receive",
    "regulatory",
    "report",
    "retest",
    "sample",
    "ship",
    "voc",
]

VOC = "https://id.insutrace.local/voc/"
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


def organisation(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    return {
        "epcList": [],
        "insu:organisation": u.org(p["id"]),
        "insu:name": p.get("name", ""),
        "insu:roles": p.get("roles", []),
    }


def product(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
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


def commission(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
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


def report(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
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


def ship(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
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


def receive(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
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


def destroy(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    return {**_lines(e), "insu:reason": e.payload.get("reason", "")}


def at_project(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    project = str(e.payload.get("project") or e.payload.get("id"))
    return {"epcList": [], "bizLocation": {"id": u.project(project)}}


def briefing(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    return {**at_project(u, e, kv), "insu:briefingKind": e.payload["kind"]}


def inspect(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    return {
        "disposition": "conformant" if p["accepted"] else "non_conformant",
        "quantityList": [{"epcClass": lot_class(p["batch"])}],
        "bizLocation": {"id": u.project(p["project"])},
        "insu:labelClass": p["label_class"],
    }


def sample(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    unit = (kv.get("batch", p["batch"]) or {"unit": "m2"})["unit"]
    return {
        "quantityList": [_quantity(p["batch"], p["quantity"], unit)],
        "bizLocation": {"id": u.project(p["project"])},
        "insu:sample": u.sample(p["project"], p["sample"]),
        "insu:lab": u.org(p["lab"]),
    }


def retest(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
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


def install(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    unit = (kv.get("batch", p["batch"]) or {"unit": "m2"})["unit"]
    return {
        "quantityList": [_quantity(p["batch"], p["quantity"], unit)],
        "readPoint": {"id": u.section(p["project"], p["section"])},
        "bizLocation": {"id": u.project(p["project"])},
        "insu:areaM2": _number(p["area_m2"]),
    }


def at_building(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    building = str(e.payload.get("building") or e.payload.get("id"))
    return {"epcList": [], "bizLocation": {"id": u.building(building)}}


def building_inspect(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    defects = e.payload.get("defects", [])
    return {
        **at_building(u, e, kv),
        "disposition": "non_conformant" if defects else "conformant",
        "insu:defects": [{"kind": d["kind"], "severity": d["severity"]} for d in defects],
    }


def recall(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    return {
        "quantityList": [{"epcClass": lot_class(p["batch"])}],
        "persistentDisposition": {"set": ["recalled"]},
        "insu:reason": p["reason"],
    }


def labels_issued(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    """label.issue: the serial range written onto QR labels (CBV bizStep encoding)."""
    p = e.payload
    return {
        "quantityList": [{"epcClass": lot_class(p["batch"]), "quantity": p["count"], "uom": "H87"}],
        "bizLocation": {"id": u.org(e.actor)},
        "insu:serialRange": {"first": p["first"], "count": p["count"], "key": p["key"]},
        "insu:resolver": p["resolver"],
    }


def labels_reprinted(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    """label.reprint: issued serials written onto labels again (CBV bizStep encoding)."""
    p = e.payload
    return {
        "quantityList": [{"epcClass": lot_class(p["batch"]), "quantity": p["count"], "uom": "H87"}],
        "bizLocation": {"id": u.org(e.actor)},
        "insu:serialRange": {"first": p["first"], "count": p["count"]},
        "insu:reason": p["reason"],
    }


def labels_voided(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    """label.void: issued serials taken out of use (CBV bizStep decommissioning)."""
    p = e.payload
    return {
        "quantityList": [{"epcClass": lot_class(p["batch"]), "quantity": p["count"], "uom": "H87"}],
        "bizLocation": {"id": u.org(e.actor)},
        "insu:serialRange": {"first": p["first"], "count": p["count"]},
        "insu:reason": p["reason"],
    }


_SCAN_DISPOSITION = {"genuine": "conformant", "recalled": "recalled"}


def label_scanned(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    """label.scan: one labelled instance observed on a site, with the verdict seen."""
    p = e.payload
    instance = build_digital_link(u.resolver, p["gtin"], lot=p["lot"], serial=p["serial"])
    return {
        "epcList": [instance],
        "disposition": _SCAN_DISPOSITION.get(p["verdict"], "non_conformant"),
        "bizLocation": {"id": u.project(p["project"])},
        "insu:verdict": p["verdict"],
    }


def regulatory(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
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
    """The EPCIS 2.0 shape of one entry type (EPCIS 2.0 §7.4: an ObjectEvent unless named)."""

    action: str
    biz_step: str
    disposition: str | None
    details: Details
    event_type: str = "ObjectEvent"

    @property
    def reads(self) -> Reads | None:
        """The inverse of :attr:`details` for a standard event, if this mapping has one."""
        return READS.get(self.details)


def voc(step: str) -> str:
    """A URI of this ledger's vocabulary for a business step CBV 2.0 has no term for."""
    return f"{VOC}bizstep/{step}"


@dataclass(frozen=True)
class ErrorDeclaration:
    """EPCIS 2.0 §7.4.1.5: the entry corrects an earlier one, so the export repeats the
    corrected entry's event with an ``errorDeclaration`` naming this entry as corrective."""

    reason: str = "incorrect_data"


ERROR_DECLARATION = ErrorDeclaration()

EventMapping = EventSpec | ErrorDeclaration


# -- the inverse: standard EPCIS events → payloads ------------------------------------------

Reads = Callable[["Uris", dict[str, Any], KV], dict[str, Any]]
"""``(uris, event, kv) -> payload``: the payload an event says, for its entry type."""

CST = timezone(timedelta(hours=8), "CST")
_UNIT_OF = {"MTK": "m2", "MTQ": "m3", "H87": "board"}


class EventFault(ValueError):
    """What an event lacks or says wrongly for its mapping, at ``pointer`` inside the event."""

    def __init__(self, pointer: str, detail: str) -> None:
        super().__init__(detail)
        self.pointer = pointer
        self.detail = detail


def _cst_day(event: dict[str, Any]) -> str:
    when = datetime.fromisoformat(str(event["eventTime"]).replace("Z", "+00:00"))
    return when.astimezone(CST).date().isoformat()


def batch_of(uri: object, pointer: str) -> str:
    """``<gtin14>.<lot>`` of a GS1 Digital Link lot class (or instance) URI."""
    try:
        link = parse_digital_link(str(uri))
    except LedgerError as exc:
        raise EventFault(pointer, f"{uri} is not a GS1 Digital Link of a lot: {exc}") from None
    if link.lot is None:
        raise EventFault(pointer, f"{uri} names no lot (AI 10)")
    return f"{link.gtin}.{link.lot}"


def org_of(u: Uris, uri: object, pointer: str) -> str:
    """The USCC of an organisation URI ``https://{resolver}/org/{uscc}``."""
    parts = urlsplit(str(uri))
    segments = parts.path.strip("/").split("/")
    if parts.netloc != u.resolver or len(segments) != 2 or segments[0] != "org":
        raise EventFault(pointer, f"{uri} is not an organisation of https://{u.resolver}/org/")
    return unquote(segments[1])


def _project_of(u: Uris, uri: object, pointer: str) -> str:
    parts = urlsplit(str(uri))
    segments = parts.path.strip("/").split("/")
    if parts.netloc != u.resolver or len(segments) != 2 or segments[0] != "project":
        raise EventFault(pointer, f"{uri} is not a project of https://{u.resolver}/project/")
    return unquote(segments[1])


def _quantity_text(value: object, pointer: str) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise EventFault(pointer, f"quantity {value!r} is not a number") from None
    text = format(number.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def _read_lines(event: dict[str, Any], kv: KV) -> list[dict[str, str]]:
    lines = []
    for i, q in enumerate(event.get("quantityList", [])):
        at = f"/quantityList/{i}"
        batch = batch_of(q.get("epcClass"), f"{at}/epcClass")
        registered = kv.get("batch", batch)
        uom = q.get("uom")
        if registered is not None and UOM.get(str(registered.get("unit"))) == uom:
            unit = str(registered["unit"])  # H87: the batch says whether boards or panels
        elif uom in _UNIT_OF:
            unit = _UNIT_OF[str(uom)]
        else:
            raise EventFault(f"{at}/uom", f"unit {uom!r} is not one of {sorted(_UNIT_OF)}")
        quantity = _quantity_text(q.get("quantity"), f"{at}/quantity")
        lines.append({"batch": batch, "unit": unit, "quantity": quantity})
    return lines


def _transaction(event: dict[str, Any], kind: str) -> tuple[int, str]:
    for i, t in enumerate(event.get("bizTransactionList", [])):
        if t.get("type") == kind:
            return i, str(t.get("bizTransaction", ""))
    raise EventFault("/bizTransactionList", f"no business transaction of type {kind}")


def _last_segment(uri: str) -> str:
    tail = uri.rstrip("/").rsplit("/", 1)[-1]
    return unquote(tail.rsplit(":", 1)[-1])


def _party_list(event: dict[str, Any], name: str, kind: str) -> tuple[int, str] | None:
    for i, p in enumerate(event.get(f"{name}List", [])):
        if p.get("type") in ("owning_party", "possessing_party") and kind == "party":
            return i, str(p.get(name, ""))
        if p.get("type") == "location" and kind == "location":
            return i, str(p.get(name, ""))
    return None


def read_ship(u: Uris, event: dict[str, Any], kv: KV) -> dict[str, Any]:
    """shipping → custody.ship: the despatch advice number, the receiving party, lines."""
    _, advice = _transaction(event, "desadv")
    to = _party_list(event, "destination", "party")
    if to is None:
        raise EventFault("/destinationList", "no owning or possessing party to ship to")
    payload: dict[str, Any] = {
        "schema": 1,
        "number": _last_segment(advice),
        "to": org_of(u, to[1], f"/destinationList/{to[0]}/destination"),
        "date": _cst_day(event),
        "lines": _read_lines(event, kv),
    }
    site = _party_list(event, "destination", "location")
    if site is not None:
        payload["to_project"] = _project_of(u, site[1], f"/destinationList/{site[0]}/destination")
    return payload


def read_receive(u: Uris, event: dict[str, Any], kv: KV) -> dict[str, Any]:
    """receiving → custody.receive: the shipment (shipper and advice number), lines."""
    i, advice = _transaction(event, "desadv")
    source = _party_list(event, "source", "party")
    parts = urlsplit(advice)
    segments = parts.path.strip("/").split("/")
    if parts.netloc == u.resolver and len(segments) == 3 and segments[0] == "shipment":
        shipper, number = unquote(segments[1]), unquote(segments[2])
    elif source is not None:
        shipper = org_of(u, source[1], f"/sourceList/{source[0]}/source")
        number = _last_segment(advice)
    else:
        raise EventFault(f"/bizTransactionList/{i}", "the shipment's shipper is not named")
    return {
        "schema": 1,
        "shipment": f"{shipper}|{number}",
        "date": _cst_day(event),
        "lines": _read_lines(event, kv),
    }


def _ilmd(event: dict[str, Any], name: str) -> Any:
    ilmd = event.get("ilmd") or {}
    if name not in ilmd:
        raise EventFault(f"/ilmd/{name}", f"the lot master data lacks {name}")
    return ilmd[name]


def read_commission(u: Uris, event: dict[str, Any], kv: KV) -> dict[str, Any]:
    """commissioning → batch.register: the lot, its quantity and its declared properties."""
    lines = _read_lines(event, kv)
    if len(lines) != 1:
        raise EventFault("/quantityList", "commissioning names one lot and its quantity")
    line = lines[0]
    gtin, lot = line["batch"].split(".", 1)
    return {
        "schema": 1,
        "product": gtin,
        "lot": lot,
        "quantity": line["quantity"],
        "unit": line["unit"],
        "production_date": str(_ilmd(event, "insu:productionDate")),
        "declared_class": str(_ilmd(event, "insu:declaredClass")),
        "conductivity": str(_ilmd(event, "insu:thermalConductivity")),
        "density": str(_ilmd(event, "insu:density")),
    }


def read_inspect(u: Uris, event: dict[str, Any], kv: KV) -> dict[str, Any]:
    """inspecting at a project → site.inspect: accepted when the disposition is conformant."""
    classes = event.get("quantityList") or []
    if not classes:
        raise EventFault("/quantityList", "the inspection names no lot")
    location = (event.get("bizLocation") or {}).get("id")
    if "insu:labelClass" not in event:
        raise EventFault("/insu:labelClass", "the class printed on the label is missing")
    return {
        "schema": 1,
        "project": _project_of(u, location, "/bizLocation/id"),
        "batch": batch_of(classes[0].get("epcClass"), "/quantityList/0/epcClass"),
        "date": _cst_day(event),
        "label_class": str(event["insu:labelClass"]),
        "accepted": event.get("disposition") == "conformant",
    }


READS: dict[Details, Reads] = {
    ship: read_ship,
    receive: read_receive,
    commission: read_commission,
    inspect: read_inspect,
}
"""Detail functions with an inverse, for events that carry no ``insu:payload``."""
