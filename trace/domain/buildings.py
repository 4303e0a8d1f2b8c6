"""Existing buildings: survey registration, periodic inspection, rectification.

The 2025 campaign's fourth problem area: owners inspect external insulation
periodically, defects are ordered rectified by a deadline, and every building
carries a wall identification record (标识化管理) per façade — what is installed
where, its class, manufacturer, contractor and dates. Records come from
installations in the ledger (``site.install``) or, for a building with no history
here, from a survey (``building.register_survey``).

Projection rows::

    building/<id>               {id, name, owner, address, use, height_m, source,
                                 projects[], status, inspections[], seq}
    wallid/<building>|<facade>  {building, facade, records[]}
    defect/<building>|<id>      {kind, facade, location, severity, status, order, seq}
    rectification/<building>|<number>  {building, number, by, defects[], deadline,
                                 issued_on, measures, status, completed, seq}
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..entrytype import EntryType, Record, by_field, party, roles
from ..errors import Forbidden, MalformedInput, RuleViolation
from ..policy import BuildingUse, InsulationPosition
from . import payloads
from .batches import parse_declared
from .fields import Reader, decimal_text, distinct, local_date, reader
from .orgs import Role, acting_org, require_org
from .products import InsulationType

__all__ = [
    "INSPECTION_CLAUSE",
    "TYPES",
    "DefectKind",
    "Severity",
    "complete_rectification",
    "inspect_building",
    "order_rectification",
    "register_survey",
]

INSPECTION_CLAUSE = "2025 整治行动: existing buildings' external insulation (owner inspection)"
UNKNOWN = "unknown"


class DefectKind(StrEnum):
    """Defect taxonomy of external insulation systems."""

    DAMAGE = "damage"  # 破损
    CRACKING = "cracking"  # 开裂
    HOLLOWING = "hollowing"  # 空鼓
    DETACHMENT = "detachment"  # 脱落
    MISSING_PROTECTIVE_LAYER = "missing_protective_layer"  # 防护层缺失
    MISSING_FIRE_BARRIER_BELT = "missing_fire_barrier_belt"  # 防火隔离带缺失
    EXPOSED_INSULATION = "exposed_insulation"  # 保温材料外露
    WATER_INGRESS = "water_ingress"  # 渗水
    FIRE_DAMAGE = "fire_damage"  # 过火
    OTHER = "other"


class Severity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"  # a falling or fire hazard: act now


def _past(ctx: Context, p: Reader, name: str) -> date:
    day = p.date(name)
    if day > local_date(ctx.time):
        raise RuleViolation("building.date", f"{p.where}.{name} {day} is after the entry's date")
    return day


def require_building(ctx: Context, building_id: str) -> dict[str, Any]:
    row = ctx.kv.get("building", building_id)
    if row is None:
        raise RuleViolation("building.known", f"no building {building_id!r} is registered")
    ctx.ref(f"building:{building_id}")
    return row


def _owner(ctx: Context, p: Reader) -> str:
    """Owners register their own building; a regulator or investigator names the owner."""
    signer = acting_org(ctx, Role.BUILDING_OWNER, Role.REGULATOR, Role.INVESTIGATOR)
    owner = p.text("owner", max_len=18)
    roles = set(signer["roles"])
    if (
        Role.BUILDING_OWNER in roles
        and not roles & {Role.REGULATOR, Role.INVESTIGATOR}
        and owner != signer["uscc"]
    ):
        raise Forbidden(f"{signer['uscc']} may register only its own buildings, not {owner}'s")
    require_org(ctx, owner, Role.BUILDING_OWNER, what="owner")
    return owner


def _surveyed(f: Reader, building: str, survey_seq: int) -> tuple[str, dict[str, Any]]:
    kind = f.text("insulation_type", max_len=40)
    if kind != UNKNOWN and kind not in {t.value for t in InsulationType}:
        raise MalformedInput(f"{f.where}.insulation_type: expected an insulation type or unknown")
    label = f.text("class", max_len=40)
    cls = label if label == UNKNOWN else parse_declared(label, "survey.class").label()
    record = {
        "source": "survey",
        "position": f.one("position", InsulationPosition),
        "type": kind,
        "class": cls,
        "manufacturer": f.text("manufacturer", max_len=100, optional=True) or UNKNOWN,
        "contractor": f.text("contractor", max_len=100, optional=True) or UNKNOWN,
        "installed_year": f.integer("installed_year", minimum=1950)
        if f.has("installed_year")
        else None,
        "area": f.milli("area_m2"),
        "seq": survey_seq,
    }
    return f.text("facade", max_len=40), record


def register_survey(ctx: Context) -> None:
    """building.register_survey: an existing building with no history here, from a survey."""
    p = reader(ctx)
    owner = _owner(ctx, p)
    building_id = p.ident("id")
    if ctx.kv.get("building", building_id) is not None:
        raise RuleViolation(
            "building.unique", f"building {building_id} already has a history in the ledger"
        )
    survey = p.obj("survey")
    surveyed_on = _past(ctx, survey, "date")
    facades = [_surveyed(f, building_id, ctx.entry.seq) for f in p.objs("facades", max_items=40)]
    distinct(f"{p.where}.facades", (f"{name}/{r['position']}" for name, r in facades))
    for facade, record in facades:
        key = f"{building_id}|{facade}"
        row = ctx.kv.get("wallid", key) or {
            "building": building_id,
            "facade": facade,
            "records": [],
        }
        row["records"] = [*row["records"], record]
        ctx.kv.put("wallid", key, row)
    ctx.kv.put(
        "building",
        building_id,
        {
            "id": building_id,
            "name": p.text("name"),
            "owner": owner,
            "address": p.text("address"),
            "use": p.one("use", BuildingUse),
            "height_m": decimal_text(p.decimal("height_m", places=2)),
            "source": "survey",
            "survey": {
                "date": surveyed_on.isoformat(),
                "surveyor": survey.text("surveyor"),
                "document": survey.sha256("document"),
            },
            "projects": [],
            "status": "in_use",
            "inspections": [],
            "seq": ctx.entry.seq,
        },
    )
    ctx.ref(f"building:{building_id}")


def _defect(ctx: Context, d: Reader, building: str) -> None:
    defect_id = d.ident("id")
    key = f"{building}|{defect_id}"
    if ctx.kv.get("defect", key) is not None:
        raise RuleViolation("defect.unique", f"defect {defect_id} of {building} is recorded")
    ctx.kv.put(
        "defect",
        key,
        {
            "kind": d.one("kind", DefectKind),
            "facade": d.text("facade", max_len=40),
            "location": d.text("location"),
            "severity": d.one("severity", Severity),
            "description": d.text("description", optional=True),
            "status": "open",
            "order": None,
            "seq": ctx.entry.seq,
        },
    )


def inspect_building(ctx: Context) -> None:
    """building.inspect, by the owner: periodic inspection with the defects found."""
    p = reader(ctx)
    building = require_building(ctx, p.ident("building"))
    if ctx.entry.actor != building["owner"]:
        raise Forbidden(
            f"building {building['id']} is inspected by its owner {building['owner']}",
        )
    day = _past(ctx, p, "date")
    defects = p.objs("defects", min_items=0)
    for d in defects:
        _defect(ctx, d, building["id"])
    building["inspections"] = [
        *building["inspections"],
        {
            "seq": ctx.entry.seq,
            "date": day.isoformat(),
            "inspector": p.text("inspector", max_len=60),
            "facades": p.texts("facades"),
            "defects": len(defects),
            "document": p.sha256("document"),
        },
    ]
    ctx.kv.put("building", building["id"], building)


def _open_defects(ctx: Context, building: str, ids: list[str], number: str) -> None:
    for defect_id in ids:
        key = f"{building}|{defect_id}"
        row = ctx.kv.get("defect", key)
        if row is None or row["status"] != "open" or row["order"] is not None:
            state = "unknown" if row is None else f"{row['status']}, order {row['order']}"
            raise RuleViolation(
                "rectification.defect",
                f"defect {defect_id} of {building} must be open and not yet ordered, is {state}",
            )
        ctx.kv.put("defect", key, {**row, "order": number})


def order_rectification(ctx: Context) -> None:
    """rectification.order, by a regulator: named defects to be rectified by a deadline."""
    acting_org(ctx, Role.REGULATOR)
    p = reader(ctx)
    building = require_building(ctx, p.ident("building"))
    number = p.ident("number")
    key = f"{building['id']}|{number}"
    if ctx.kv.get("rectification", key) is not None:
        raise RuleViolation("rectification.unique", f"order {number} is already recorded")
    issued = _past(ctx, p, "date")
    deadline = p.date("deadline")
    if deadline <= issued:
        raise RuleViolation(
            "rectification.deadline", f"deadline {deadline} must be after the order date {issued}"
        )
    defects = p.texts("defects")
    distinct(f"{p.where}.defects", defects)
    _open_defects(ctx, building["id"], defects, number)
    ctx.kv.put(
        "rectification",
        key,
        {
            "building": building["id"],
            "number": number,
            "by": ctx.entry.actor,
            "owner": building["owner"],
            "defects": defects,
            "issued_on": issued.isoformat(),
            "deadline": deadline.isoformat(),
            "measures": p.text("measures", max_len=500),
            "status": "open",
            "completed": None,
            "seq": ctx.entry.seq,
        },
    )
    ctx.ref(f"org:{building['owner']}")


def complete_rectification(ctx: Context) -> None:
    """rectification.complete, by the owner; completion after the deadline is marked overdue."""
    p = reader(ctx)
    building = require_building(ctx, p.ident("building"))
    if ctx.entry.actor != building["owner"]:
        raise Forbidden(f"the owner {building['owner']} reports completion, not {ctx.entry.actor}")
    key = f"{building['id']}|{p.ident('number')}"
    order = ctx.kv.get("rectification", key)
    if order is None or order["status"] != "open":
        state = "unknown" if order is None else order["status"]
        raise RuleViolation("rectification.open", f"order {key} must be open, is {state}")
    done = _past(ctx, p, "date")
    if done < date.fromisoformat(order["issued_on"]):
        raise RuleViolation("rectification.date", f"completion {done} precedes the order")
    project = p.ident("project") if p.has("project") else None
    if project is not None and project not in building["projects"]:
        raise RuleViolation("rectification.project", f"project {project} is not on this building")
    order["status"] = "completed"
    order["completed"] = {
        "seq": ctx.entry.seq,
        "date": done.isoformat(),
        "overdue": done > date.fromisoformat(order["deadline"]),
        "document": p.sha256("document"),
        "project": project,
    }
    ctx.kv.put("rectification", key, order)
    for defect_id in order["defects"]:
        row = ctx.kv.get("defect", f"{building['id']}|{defect_id}")
        if row is not None:
            ctx.kv.put("defect", f"{building['id']}|{defect_id}", {**row, "status": "rectified"})


# -- entry types ---------------------------------------------------------------------

_OWN_BUILDINGS = "Only on the organisation's own buildings."

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "building.register_survey", "登记既有建筑", "Register a surveyed building",
        register_survey, roles("building_owner", "regulator", "investigator"),
        "An owner (its own building), a regulator or an investigator registers a survey.",
        epcis=epcis.EventSpec("ADD", epcis.voc("surveying_building"), None, epcis.at_building),
        records=(Record("building", by_field("id")),),
        payload=payloads.BuildingRegisterSurvey,
    ),
    EntryType(
        "building.inspect", "建筑检查", "Inspect a building", inspect_building,
        roles("building_owner"), "The owner records an inspection of its building.",
        owner=party("building", "building", "owner"), owner_doc=_OWN_BUILDINGS,
        epcis=epcis.EventSpec("OBSERVE", "inspecting", "conformant", epcis.building_inspect),
        records=(),
        payload=payloads.BuildingInspect,
    ),
    EntryType(
        "rectification.order", "责令整改", "Order a rectification", order_rectification,
        roles("regulator"), "A regulator orders a rectification.",
        epcis=epcis.EventSpec(
            "OBSERVE", epcis.voc("ordering_rectification"), "needs_replacement", epcis.at_building
        ),
        records=(),
        payload=payloads.RectificationOrder,
    ),
    EntryType(
        "rectification.complete", "完成整改", "Complete a rectification",
        complete_rectification, roles("building_owner"),
        "The owner completes an ordered rectification.",
        owner=party("building", "building", "owner"), owner_doc=_OWN_BUILDINGS,
        epcis=epcis.EventSpec("OBSERVE", "repairing", "conformant", epcis.at_building),
        records=(),
        payload=payloads.RectificationComplete,
    ),
)  # fmt: skip
"""Buildings' entry types (:mod:`insutrace.trace.entrytype`)."""
