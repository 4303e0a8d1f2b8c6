"""Ancillary fire measures with their own evidence (GB 50016-2014 (2018) §6.7, W2.7).

``measure.record``, by a party of the project (contractor, supervisor, owner), records one
measure with its document (SHA-256 of the file in the content-addressed store):

===================  =============================================  =====================
kind                 facts                                          rule (clause)
===================  =============================================  =====================
fire_barrier_belt    its own batch, class, height (mm), floors      ``measure.barrier_*``
                                                                    §6.7.7(2): A class,
                                                                    ≥ 300 mm high
protective_layer     ground-floor and other-floor thickness (mm),   ``measure.protective_
                     material                                       layer`` §6.7.8:
                                                                    ≥ 15 / ≥ 5 mm on B1/B2
door_window          fire integrity (h), openings, certificate      ``measure.window_
                                                                    integrity`` §6.7.7(1)
fire_engineering     number, title, reviewed by (特殊消防设计)       the document itself
===================  =============================================  =====================

A barrier belt's batch is a registered batch whose declared class is the class stated;
the section's class is the one in force (:func:`.read.design_in_force`). Door and window
integrity ≥ 0.50 h is required on B1/B2 external insulation except B1 on public
buildings ≤ 24 m and residential ≤ 27 m.

Projection rows ``measure``/<project>|<id> {project, id, kind, section, date, document,
facts, by, seq}; ``measures``/<project> {ids[]}.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..combustion import BasicClass, CombustionClass
from ..entry import Entry
from ..entrytype import EntryType, Record, by_fields, party, roles
from ..errors import RuleViolation
from ..store.base import KV
from . import payloads
from .batches import batch_class, parse_declared, require_batch
from .fields import Reader, decimal_text, local_date, reader
from .projects import require_party, require_project
from .read import design_in_force

__all__ = ["BARRIER_MIN_MM", "TYPES", "MeasureKind", "project_measures", "record_measure"]

BARRIER_MIN_MM = Decimal(300)
COVER_GROUND_MM = Decimal(15)
COVER_OTHER_MM = Decimal(5)
WINDOW_INTEGRITY_H = Decimal("0.50")
_B1_B2 = {BasicClass.B1, BasicClass.B2}


class MeasureKind(StrEnum):
    FIRE_BARRIER_BELT = "fire_barrier_belt"  # 防火隔离带
    PROTECTIVE_LAYER = "protective_layer"  # 不燃防护层
    DOOR_WINDOW = "door_window"  # 外墙门窗耐火完整性
    FIRE_ENGINEERING = "fire_engineering"  # 特殊消防设计


def _barrier(ctx: Context, b: Reader) -> dict[str, Any]:
    batch = require_batch(ctx, b.text("batch", max_len=40))
    stated = parse_declared(b.text("class", max_len=40), "measure.class")
    declared = batch_class(batch)
    if stated.basic_class != declared.basic_class:
        raise RuleViolation(
            "measure.barrier_batch",
            f"the belt is stated {stated.label()}, its batch {batch['id']} is declared "
            f"{declared.label()}",
        )
    if declared.basic_class is not BasicClass.A:
        raise RuleViolation(
            "measure.barrier_class",
            f"a fire barrier belt is of A-class material; batch {batch['id']} is {declared.label()}",
        )
    height = b.decimal("height_mm", places=1)
    if height < BARRIER_MIN_MM:
        raise RuleViolation(
            "measure.barrier_height",
            f"the belt is {decimal_text(height)} mm high; at least {BARRIER_MIN_MM} mm is required",
        )
    return {
        "batch": batch["id"],
        "class": declared.label(),
        "height_mm": decimal_text(height),
        "floors": b.integer("floors", minimum=1),
    }


def _protective_layer(c: Reader, section_class: CombustionClass) -> dict[str, Any]:
    ground = c.decimal("ground_floor_mm", places=1)
    other = c.decimal("other_floors_mm", places=1)
    if section_class.basic_class in _B1_B2 and (ground < COVER_GROUND_MM or other < COVER_OTHER_MM):
        raise RuleViolation(
            "measure.protective_layer",
            f"on {section_class.label()} insulation the protective layer is at least "
            f"{COVER_GROUND_MM} mm on the ground floor and {COVER_OTHER_MM} mm above; recorded "
            f"{decimal_text(ground)} / {decimal_text(other)} mm",
        )
    return {
        "ground_floor_mm": decimal_text(ground),
        "other_floors_mm": decimal_text(other),
        "material": c.text("material", max_len=100),
    }


def _integrity_required(project: dict[str, Any], section_class: CombustionClass) -> bool:
    """§6.7.7(1): B1/B2 external insulation, except B1 on public ≤ 24 m, residential ≤ 27 m."""
    if section_class.basic_class not in _B1_B2:
        return False
    if section_class.basic_class is BasicClass.B1:
        height = Decimal(project["design"]["height_m"])
        use = project["design"]["use"]
        if (use == "residential" and height <= 27) or (use != "residential" and height <= 24):
            return False
    return True


def _door_window(
    w: Reader, project: dict[str, Any], section_class: CombustionClass
) -> dict[str, Any]:
    integrity = w.decimal("integrity_h", places=2)
    if _integrity_required(project, section_class) and integrity < WINDOW_INTEGRITY_H:
        raise RuleViolation(
            "measure.window_integrity",
            f"{section_class.label()} external insulation on a {project['design']['use']} "
            f"building of {project['design']['height_m']} m needs doors and windows of fire "
            f"integrity ≥ {WINDOW_INTEGRITY_H} h; recorded {decimal_text(integrity)} h",
        )
    return {
        "integrity_h": decimal_text(integrity),
        "openings": w.integer("openings", minimum=1),
        "certificate": w.text("certificate", max_len=60),
    }


def record_measure(ctx: Context) -> None:
    """measure.record, by a party of the project: one ancillary measure with its document."""
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    require_party(ctx, project, "contractor", "supervisor", "owner")
    measure_id = p.ident("id")
    key = f"{project['id']}|{measure_id}"
    if ctx.kv.get("measure", key) is not None:
        raise RuleViolation("measure.unique", f"measure {measure_id} is already recorded")
    kind = p.one("kind", MeasureKind)
    day = p.date("date")
    if day > local_date(ctx.time):
        raise RuleViolation("measure.date", f"measure date {day} is after the entry's date")
    sid = p.ident("section") if p.has("section") else None
    if sid is not None and sid not in project["sections"]:
        raise RuleViolation("install.section", f"project {project['id']} has no section {sid}")
    section_class = (
        parse_declared(design_in_force(ctx.kv, project, sid)["design_class"], "measure.section")
        if sid is not None
        else None
    )
    facts: dict[str, Any]
    if kind == "fire_barrier_belt":
        facts = _barrier(ctx, p.obj("barrier"))
    elif kind == "protective_layer" and section_class is not None:
        facts = _protective_layer(p.obj("protective_layer"), section_class)
    elif kind == "door_window" and section_class is not None:
        facts = _door_window(p.obj("door_window"), project, section_class)
    elif kind == "fire_engineering":
        f = p.obj("fire_engineering")
        facts = {
            "number": f.text("number", max_len=60),
            "title": f.text("title"),
            "reviewed_by": f.text("reviewed_by", max_len=100),
        }
    else:
        raise RuleViolation("measure.section", f"a {kind} measure names its section")
    ctx.kv.put(
        "measure",
        key,
        {
            "project": project["id"],
            "id": measure_id,
            "kind": kind.value,
            "section": sid,
            "date": day.isoformat(),
            "document": p.sha256("document"),
            "facts": facts,
            "by": ctx.entry.actor,
            "seq": ctx.entry.seq,
        },
    )
    index = ctx.kv.get("measures", project["id"]) or {"ids": []}
    ctx.kv.put("measures", project["id"], {"ids": [*index["ids"], measure_id]})
    if kind == "fire_barrier_belt":
        ctx.ref(f"batch:{facts['batch']}")
    ctx.ref(f"measure:{key}")


def project_measures(kv: KV, project: str) -> list[dict[str, Any]]:
    """The ancillary measures recorded on ``project``, in the order recorded."""
    index = kv.get("measures", project)
    rows = (kv.get("measure", f"{project}|{i}") for i in (index["ids"] if index else []))
    return [r for r in rows if r is not None]


# -- entry types ---------------------------------------------------------------------


def _measure_details(u: epcis.Uris, e: Entry, kv: KV) -> dict[str, Any]:
    p = e.payload
    out: dict[str, Any] = {
        "bizLocation": {"id": u.project(p["project"])},
        "insu:measure": p["kind"],
        "certificationInfo": [epcis._doc(p["document"])],
    }
    barrier = p.get("barrier")
    if isinstance(barrier, dict):
        out["quantityList"] = [{"epcClass": epcis.lot_class(barrier["batch"])}]
    else:
        out["epcList"] = []
    if isinstance(p.get("section"), str):
        out["readPoint"] = {"id": u.section(p["project"], p["section"])}
    return out


TYPES: tuple[EntryType, ...] = (
    EntryType(
        "measure.record", "记录防火构造措施", "Record a fire measure", record_measure,
        roles("contractor", "supervisor", "building_owner"),
        "A party of the project records an ancillary fire measure.",
        owner=party("project", "project", "contractor", "supervisor", "owner"),
        owner_doc="Only on projects the organisation is a party of.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("recording_fire_measure"), None, _measure_details),
        records=(Record("measure", by_fields("project", "id")),),
        payload=payloads.MeasureRecord,
    ),
)  # fmt: skip
"""Ancillary measures' entry types (:mod:`insutrace.trace.entrytype`)."""
