"""Existing buildings as owners and regulators run them: hazard ledgers, listed supervision,
signage (W2.9; docs/existing-buildings.md).

A hazard (隐患) found by a periodic façade inspection of a high-rise building's external
insulation (protective layer cracked, spalled, detached), a survey of flammable
sandwich-panel (彩钢板, PU/EPS core) buildings, or a fire inspection is recorded, then
assigned for rectification to a named responsible person with a deadline (整改), then
closed with its evidence (销号). The four lists a unit keeps are views of these rows
(:func:`hazard_ledger`, :func:`org_hazard_ledger`): 隐患清单 every hazard, 整改清单 the
assigned open ones with person and deadline, 销号清单 the closed ones with evidence,
责任清单 who answers for what.

===================  ========================  ============================================
entry type           signed by                 rules
===================  ========================  ============================================
hazard.record        owner (its building),     GB 35181-2017 6.10: a sandwich-panel core
                     regulator                 below A around a sleeping area of a crowded
                                               place is a major hazard
hazard.assign        owner                     the responsible person is the owner's;
                                               deadline after the date
hazard.supervise     regulator                 major hazards only (消防法 Art. 54–55)
hazard.close         owner; the supervising    assigned first; a hazard under listed
                     regulator when listed     supervision is closed by its regulator
signage.post         owner                     应急管理部令第5号 Art. 19: the sign states
                                               the class of the building's insulation
===================  ========================  ============================================

Projection rows::

    hazard/<building>|<id>   {building, id, owner, date, source, kind, severity, location,
                              description, document, panel, by, status (open | assigned |
                              closed), rectification {person, name, org, date, deadline,
                              measures, seq} | null, supervision {number, by, date, deadline,
                              document, seq} | null, closure {date, evidence, note, by, seq,
                              overdue} | null, seq}
    signage/<building>|<id>  {building, id, location, class, date, photo, by, seq}
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..combustion import BasicClass
from ..entrytype import EntryType, Record, by_field, by_fields, party, roles
from ..errors import Forbidden, RuleViolation
from ..store.base import KV
from . import payloads
from .batches import parse_declared
from .buildings import require_building
from .fields import Reader, local_date, reader
from .orgs import Role, acting_org
from .persons import require_person

__all__ = [
    "LEDGER_COLUMNS",
    "LISTS",
    "TYPES",
    "HazardKind",
    "hazard_ledger",
    "hazard_rows",
    "ledger_table",
    "org_hazard_ledger",
    "signage_status",
]


class HazardSource(StrEnum):
    FACADE_INSPECTION = "facade_inspection"  # 外墙保温定期检查
    SANDWICH_PANEL_SURVEY = "sandwich_panel_survey"  # 彩钢板建筑排查
    FIRE_INSPECTION = "fire_inspection"  # 消防检查
    OTHER = "other"


class HazardKind(StrEnum):
    PROTECTIVE_LAYER_CRACKED = "protective_layer_cracked"  # 防护层开裂
    PROTECTIVE_LAYER_SPALLED = "protective_layer_spalled"  # 防护层剥落
    PROTECTIVE_LAYER_DETACHED = "protective_layer_detached"  # 防护层脱落
    SANDWICH_PANEL_COMBUSTIBLE_CORE = "sandwich_panel_combustible_core"  # 彩钢板芯材可燃
    SIGNAGE_MISSING = "signage_missing"  # 未设置警示标识
    OTHER = "other"


class Severity(StrEnum):
    GENERAL = "general"  # 一般隐患
    MAJOR = "major"  # 重大隐患


def _past(ctx: Context, p: Reader, name: str) -> date:
    day = p.date(name)
    if day > local_date(ctx.time):
        raise RuleViolation("hazard.date", f"{p.where}.{name} {day} is after the entry's date")
    return day


def _hazard(ctx: Context, p: Reader) -> tuple[str, dict[str, Any], dict[str, Any]]:
    building = require_building(ctx, p.ident("building"))
    key = f"{building['id']}|{p.ident('hazard')}"
    row = ctx.kv.get("hazard", key)
    if row is None:
        raise RuleViolation("hazard.known", f"no hazard {p.data['hazard']} on {building['id']}")
    return key, row, building


def _panel(building: dict[str, Any], panel: Reader, severity: Severity) -> dict[str, Any]:
    core_class = panel.text("core_class", max_len=40)
    below_a = core_class == "unknown" or (
        parse_declared(core_class, "hazard.core_class").basic_class is not BasicClass.A
    )
    sleeping = panel.flag("sleeping_area")
    if below_a and sleeping and building["use"] == "crowded_place" and severity != Severity.MAJOR:
        raise RuleViolation(
            "hazard.major_criterion",
            f"sandwich panels with a {core_class} core around a sleeping area of the crowded "
            f"place {building['id']} are a major hazard",
        )
    return {
        "core": panel.text("core", max_len=40),
        "core_class": core_class,
        "sleeping_area": sleeping,
        "area": panel.milli("area_m2"),
    }


def record_hazard(ctx: Context) -> None:
    """hazard.record, by the building's owner or a regulator (隐患清单)."""
    signer = acting_org(ctx, Role.BUILDING_OWNER, Role.REGULATOR)
    p = reader(ctx)
    building = require_building(ctx, p.ident("building"))
    if Role.REGULATOR not in signer["roles"] and building["owner"] != signer["uscc"]:
        raise Forbidden(f"hazards of {building['id']} are recorded by its owner or a regulator")
    hazard_id = p.ident("id")
    key = f"{building['id']}|{hazard_id}"
    if ctx.kv.get("hazard", key) is not None:
        raise RuleViolation("hazard.unique", f"hazard {hazard_id} of {building['id']} is recorded")
    severity = p.one("severity", Severity)
    kind = p.one("kind", HazardKind)
    panel = _panel(building, p.obj("panel"), severity) if p.has("panel") else None
    ctx.kv.put(
        "hazard",
        key,
        {
            "building": building["id"],
            "id": hazard_id,
            "owner": building["owner"],
            "date": _past(ctx, p, "date").isoformat(),
            "source": p.one("source", HazardSource).value,
            "kind": kind.value,
            "severity": severity.value,
            "location": p.text("location"),
            "description": p.text("description", max_len=500),
            "document": p.sha256("document"),
            "panel": panel,
            "by": signer["uscc"],
            "status": "open",
            "rectification": None,
            "supervision": None,
            "closure": None,
            "seq": ctx.entry.seq,
        },
    )
    ctx.ref(f"hazard:{key}", f"org:{building['owner']}")


def assign_hazard(ctx: Context) -> None:
    """hazard.assign, by the owner: the responsible person, measures and deadline (整改清单)."""
    p = reader(ctx)
    key, row, building = _hazard(ctx, p)
    if ctx.entry.actor != building["owner"]:
        raise Forbidden(
            f"the owner {building['owner']} assigns rectification, not {ctx.entry.actor}"
        )
    if row["status"] != "open":
        raise RuleViolation("hazard.open", f"hazard {key} must be open, is {row['status']}")
    person = require_person(ctx.kv, str(p.data.get("person")))
    if not any(e["org"] == building["owner"] for e in person["employments"]):
        raise RuleViolation(
            "hazard.responsible",
            f"{person['name']} is not registered by the owner {building['owner']}",
        )
    day = _past(ctx, p, "date")
    if day < date.fromisoformat(row["date"]):
        raise RuleViolation("hazard.date", f"assignment {day} precedes the hazard {row['date']}")
    deadline = p.date("deadline")
    if deadline <= day:
        raise RuleViolation("hazard.deadline", f"deadline {deadline} must be after {day}")
    row["status"] = "assigned"
    row["rectification"] = {
        "person": person["id"],
        "name": person["name"],
        "org": building["owner"],
        "date": day.isoformat(),
        "deadline": deadline.isoformat(),
        "measures": p.text("measures", max_len=500),
        "seq": ctx.entry.seq,
    }
    ctx.kv.put("hazard", key, row)
    ctx.ref(f"hazard:{key}", f"person:{person['id']}")


def supervise_hazard(ctx: Context) -> None:
    """hazard.supervise, by a regulator: listed supervision of a major hazard (挂牌督办)."""
    acting_org(ctx, Role.REGULATOR)
    p = reader(ctx)
    key, row, _ = _hazard(ctx, p)
    if row["severity"] != Severity.MAJOR:
        raise RuleViolation("hazard.supervise_major", f"hazard {key} is {row['severity']}")
    if row["status"] == "closed" or row["supervision"] is not None:
        state = "closed" if row["status"] == "closed" else "already under listed supervision"
        raise RuleViolation("hazard.open", f"hazard {key} is {state}")
    day = _past(ctx, p, "date")
    deadline = p.date("deadline")
    if deadline <= day:
        raise RuleViolation("hazard.deadline", f"deadline {deadline} must be after {day}")
    row["supervision"] = {
        "number": p.ident("number"),
        "by": ctx.entry.actor,
        "date": day.isoformat(),
        "deadline": deadline.isoformat(),
        "document": p.sha256("document"),
        "seq": ctx.entry.seq,
    }
    ctx.kv.put("hazard", key, row)
    ctx.ref(f"hazard:{key}")


def close_hazard(ctx: Context) -> None:
    """hazard.close (销号): by the owner, or by the supervising regulator when listed."""
    p = reader(ctx)
    key, row, building = _hazard(ctx, p)
    supervision = row["supervision"]
    closer = supervision["by"] if supervision else building["owner"]
    if ctx.entry.actor != closer:
        if supervision:
            raise RuleViolation(
                "hazard.listed_close",
                f"hazard {key} is under listed supervision {supervision['number']}: "
                f"{supervision['by']} closes it, not {ctx.entry.actor}",
            )
        raise Forbidden(f"the owner {building['owner']} closes hazard {key}")
    if row["status"] != "assigned":
        raise RuleViolation(
            "hazard.close_unassigned",
            f"hazard {key} is {row['status']}: it is closed after rectification is assigned",
        )
    day = _past(ctx, p, "date")
    rect = row["rectification"]
    if day < date.fromisoformat(rect["date"]):
        raise RuleViolation("hazard.date", f"closure {day} precedes the assignment {rect['date']}")
    deadlines = [rect["deadline"]] + ([supervision["deadline"]] if supervision else [])
    row["status"] = "closed"
    row["closure"] = {
        "date": day.isoformat(),
        "evidence": p.sha256("evidence"),
        "note": p.text("note", max_len=500, optional=True) or None,
        "by": ctx.entry.actor,
        "overdue": day > date.fromisoformat(min(deadlines)),
        "seq": ctx.entry.seq,
    }
    ctx.kv.put("hazard", key, row)
    ctx.ref(f"hazard:{key}")


def _insulation_classes(kv: KV, building: str) -> list[str]:
    """The classes of the insulation on record for the building's walls (wallid rows)."""
    classes = []
    for _, row in kv.scan("wallid", f"{building}|"):
        classes += [r["class"] for r in row["records"] if r.get("class") not in (None, "unknown")]
    return classes


def _weakest(labels: list[str]) -> str | None:
    order = list(BasicClass)
    basics = [parse_declared(label, "signage.class").basic_class for label in labels]
    return max(basics, key=order.index).value if basics else None


def post_signage(ctx: Context) -> None:
    """signage.post, by the owner: the insulation's class at a conspicuous place (Art. 19)."""
    p = reader(ctx)
    building = require_building(ctx, p.ident("building"))
    if ctx.entry.actor != building["owner"]:
        raise Forbidden(f"the owner {building['owner']} posts the building's signs")
    sign_id = p.ident("id")
    key = f"{building['id']}|{sign_id}"
    if ctx.kv.get("signage", key) is not None:
        raise RuleViolation("signage.unique", f"sign {sign_id} of {building['id']} is recorded")
    stated = parse_declared(p.text("class", max_len=40), "signage.class")
    weakest = _weakest(_insulation_classes(ctx.kv, building["id"]))
    if weakest is None or stated.basic_class.value != weakest:
        on_record = weakest or "no class on record"
        raise RuleViolation(
            "signage.class",
            f"the sign states {stated.label()}; the insulation of {building['id']} on record is "
            f"{on_record} (a sign states the weakest class installed)",
        )
    ctx.kv.put(
        "signage",
        key,
        {
            "building": building["id"],
            "id": sign_id,
            "location": p.text("location"),
            "class": stated.label(),
            "date": _past(ctx, p, "date").isoformat(),
            "photo": p.sha256("photo"),
            "by": ctx.entry.actor,
            "seq": ctx.entry.seq,
        },
    )
    ctx.ref(f"building:{building['id']}")


# -- views ---------------------------------------------------------------------------

LISTS = ("hazards", "rectification", "closed", "responsibility")
"""The four lists: 隐患清单, 整改清单, 销号清单, 责任清单."""


def hazard_rows(kv: KV, building: str) -> list[dict[str, Any]]:
    """Every hazard of ``building``, in the order recorded."""
    return sorted((row for _, row in kv.scan("hazard", f"{building}|")), key=lambda r: r["seq"])


def _high_rise(building: dict[str, Any]) -> bool:
    """A high-rise civil building (GB 50016-2014 §5.1.1): residential > 27 m, other > 24 m."""
    height = Decimal(building["height_m"])
    if building["use"] in ("industrial", "cold_storage", "hangar"):
        return False
    return height > (27 if building["use"] == "residential" else 24)


def signage_status(kv: KV, building: str) -> dict[str, Any]:
    """Whether ``building`` needs a class sign (high-rise civil with external insulation), the
    signs on record and whether each still states the weakest class on record."""
    row = kv.get("building", building)
    if row is None:
        return {"building": building, "required": False, "signs": [], "status": "unknown"}
    weakest = _weakest(_insulation_classes(kv, building))
    required = _high_rise(row) and weakest is not None
    signs = [
        {**s, "current": parse_declared(s["class"], "signage.class").basic_class == weakest}
        for _, s in kv.scan("signage", f"{building}|")
    ]
    if not required:
        status = "not_required"
    elif any(s["current"] for s in signs):
        status = "posted"
    else:
        status = "outdated" if signs else "missing"
    return {
        "building": building,
        "required": required,
        "insulation_class": weakest,
        "signs": signs,
        "status": status,
    }


def _lists(rows: list[dict[str, Any]], day: date) -> dict[str, list[dict[str, Any]]]:
    def overdue(r: dict[str, Any]) -> bool:
        rect = r["rectification"]
        return rect is not None and date.fromisoformat(rect["deadline"]) < day

    rectification = [{**r, "overdue": overdue(r)} for r in rows if r["status"] == "assigned"]
    responsibility = [
        {
            "building": r["building"],
            "hazard": r["id"],
            "severity": r["severity"],
            "status": r["status"],
            "unit": r["owner"],
            "person": r["rectification"]["person"],
            "name": r["rectification"]["name"],
            "deadline": r["rectification"]["deadline"],
            "supervised_by": (r["supervision"] or {}).get("by"),
            "supervision": (r["supervision"] or {}).get("number"),
        }
        for r in rows
        if r["rectification"] is not None
    ]
    return {
        "hazards": rows,
        "rectification": rectification,
        "closed": [r for r in rows if r["status"] == "closed"],
        "responsibility": responsibility,
    }


def hazard_ledger(kv: KV, building: str, day: date) -> dict[str, Any]:
    """The four lists of ``building`` on ``day``, its supervised hazards and its signage."""
    rows = hazard_rows(kv, building)
    return {
        "building": building,
        "on": day.isoformat(),
        **_lists(rows, day),
        "supervised": [r for r in rows if r["supervision"] is not None],
        "signage": signage_status(kv, building),
    }


def org_hazard_ledger(kv: KV, org: str, day: date) -> dict[str, Any]:
    """The four lists across every building ``org`` owns."""
    buildings = sorted(k for k, b in kv.scan("building") if b["owner"] == org)
    rows = [r for b in buildings for r in hazard_rows(kv, b)]
    return {"org": org, "on": day.isoformat(), "buildings": buildings, **_lists(rows, day)}


Column = tuple[str, str]
"""(Chinese-first heading, field path) of one column of an exported list."""

LEDGER_COLUMNS: dict[str, tuple[Column, ...]] = {
    "hazards": (
        ("建筑 Building", "building"), ("隐患编号 Hazard", "id"), ("发现日期 Found on", "date"),
        ("来源 Source", "source"), ("类型 Kind", "kind"), ("等级 Severity", "severity"),
        ("部位 Location", "location"), ("描述 Description", "description"),
        ("状态 Status", "status"), ("记录文件 Document (SHA-256)", "document"),
    ),
    "rectification": (
        ("建筑 Building", "building"), ("隐患编号 Hazard", "id"),
        ("整改责任人 Responsible person", "rectification.name"),
        ("人员标识 Person id", "rectification.person"),
        ("责任单位 Responsible unit", "rectification.org"),
        ("下达日期 Assigned on", "rectification.date"),
        ("整改期限 Deadline", "rectification.deadline"),
        ("整改措施 Measures", "rectification.measures"), ("逾期 Overdue", "overdue"),
    ),
    "closed": (
        ("建筑 Building", "building"), ("隐患编号 Hazard", "id"),
        ("销号日期 Closed on", "closure.date"), ("销号单位 Closed by", "closure.by"),
        ("销号证据 Evidence (SHA-256)", "closure.evidence"), ("备注 Note", "closure.note"),
        ("逾期 Overdue", "closure.overdue"),
    ),
    "responsibility": (
        ("建筑 Building", "building"), ("隐患编号 Hazard", "hazard"),
        ("等级 Severity", "severity"), ("状态 Status", "status"),
        ("责任单位 Responsible unit", "unit"), ("责任人 Responsible person", "name"),
        ("人员标识 Person id", "person"), ("整改期限 Deadline", "deadline"),
        ("督办机关 Supervising authority", "supervised_by"),
        ("督办编号 Supervision number", "supervision"),
    ),
}  # fmt: skip
"""The columns of each of the four lists when exported (CSV)."""


def _field(row: dict[str, Any], path: str) -> str:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "是 yes" if value else "否 no"
    return "" if value is None else str(value)


def ledger_table(ledger: dict[str, Any], name: str) -> tuple[list[str], list[list[str]]]:
    """One of the four lists of a :func:`hazard_ledger` or :func:`org_hazard_ledger` as
    (headings, rows of text): what the CSV export writes."""
    columns = LEDGER_COLUMNS[name]
    rows = [[_field(row, path) for _, path in columns] for row in ledger[name]]
    return [heading for heading, _ in columns], rows


# -- entry types ---------------------------------------------------------------------

_OWN = "Only on the organisation's own buildings."
_HAZARD = Record("hazard", by_fields("building", "hazard"))


TYPES: tuple[EntryType, ...] = (
    EntryType(
        "hazard.record", "登记隐患", "Record a hazard", record_hazard,
        roles("building_owner", "regulator"),
        "The building's owner or a regulator records a hazard.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("recording_hazard"), "non_conformant", epcis.at_building),
        records=(Record("hazard", by_fields("building", "id")),),
        payload=payloads.HazardRecord,
    ),
    EntryType(
        "hazard.assign", "隐患整改分派", "Assign a hazard's rectification", assign_hazard,
        roles("building_owner"), "The owner names the responsible person and deadline.",
        owner=party("building", "building", "owner"), owner_doc=_OWN,
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("assigning_rectification"), None, epcis.at_building),
        records=(_HAZARD,),
        payload=payloads.HazardAssign,
    ),
    EntryType(
        "hazard.supervise", "挂牌督办", "Put a hazard under listed supervision",
        supervise_hazard, roles("regulator"), "A regulator lists a major hazard for supervision.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("supervising_hazard"), None, epcis.regulatory),
        records=(_HAZARD,),
        payload=payloads.HazardSupervise,
    ),
    EntryType(
        "hazard.close", "隐患销号", "Close a hazard", close_hazard,
        roles("building_owner", "regulator"),
        "The owner, or the supervising regulator of a listed hazard, closes it.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("closing_hazard"), "conformant", epcis.at_building),
        records=(_HAZARD,),
        payload=payloads.HazardClose,
    ),
    EntryType(
        "signage.post", "设置保温材料标识", "Post an insulation class sign", post_signage,
        roles("building_owner"), "The owner posts a sign of the insulation's class.",
        owner=party("building", "building", "owner"), owner_doc=_OWN,
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("posting_signage"), None, epcis.at_building),
        records=(Record("building", by_field("building")),),
        payload=payloads.SignagePost,
    ),
)  # fmt: skip
"""Existing buildings' entry types (:mod:`insutrace.trace.entrytype`)."""
