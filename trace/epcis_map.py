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
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from .entry import Entry
from .identifiers import build_digital_link
from .store.base import KV

__all__ = [
    "ERROR_DECLARATION",
    "UOM",
    "VOC",
    "Details",
    "ErrorDeclaration",
    "EventMapping",
    "EventSpec",
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
