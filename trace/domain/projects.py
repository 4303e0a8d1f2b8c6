"""Construction projects: the design the combustion policy judges, and its wall sections.

The owner (建设单位) registers a project naming its contractor and supervisor, its
location, building use, height, cavity, and its wall sections (id, façade,
insulation position, area, designed class). The required class of every position
is computed from exactly the policy version the payload names, ``policy {id, version,
sha256}`` (:func:`read_policy`; :mod:`insutrace.trace.policy`: GB 55037-2022 §6.6,
GB 50016 §6.7, GB 50072-2021 §4.3.2, the ice/snow venue default) and a section whose
designed class is below it is refused with the policy rule's id and clause: the
design-stage permit gate. The projection's ``policy`` always carries the digest.

A project either cites its construction permit (施工许可) or is a small project
below the quota (限额以下), which must be filed locally (属地备案, ``project.file``
by a regulator) before any site work.

Projection row ``project``/<id> (areas in milli-m²)::

    {id, name, owner, contractor, supervisor, location, design, policy, permit,
     below_quota, filing, building, required: {position: {...}}, sections:
     {sid: {name, facade, position, area, design_class, installed}},
     measures_required: {code: clause}, briefings: {kind: seq}, accepted: {role: seq},
     status, seq}
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..combustion import BasicClass, parse_class
from ..entry import Entry
from ..entrytype import EntryType, Record, by_field, roles
from ..errors import Forbidden, MalformedInput, NotFound, RuleViolation
from ..policy import (
    UNDIGESTED_VERSIONS,
    BuildingDesign,
    BuildingUse,
    InsulationPosition,
    MeasureCode,
    Policy,
    Requirement,
    load_policy,
    required_class,
)
from . import payloads
from .affiliations import affiliation
from .batches import parse_declared
from .fields import Reader, decimal_text, distinct, local_date, reader
from .orgs import Role, acting_org, require_org

__all__ = [
    "FILING_CLAUSE",
    "POLICY_CLAUSE",
    "POSITIONS",
    "TYPES",
    "design_of",
    "file_project",
    "policy_of",
    "read_policy",
    "register_project",
    "require_party",
    "require_project",
    "require_site_work_allowed",
]

FILING_CLAUSE = "2025 整治行动: 限额以下小型工程 属地备案"
POSITIONS = (
    InsulationPosition.EXTERNAL_WALL,
    InsulationPosition.INTERNAL,
    InsulationPosition.SANDWICH_CORE,
    InsulationPosition.ROOF,
    InsulationPosition.DOOR_CORE,
)
_DESIGN_FLAGS = (
    "cavity",
    "contains_crowded_place",
    "public_open",
    "elderly_free_standing",
    "open_flame_or_fuel",
    "evacuation_or_refuge",
)
_DESIGN_NUMBERS = (
    "elderly_combined_area_m2",
    "composite_noncombustible_layer_mm",
    "roof_slab_fire_resistance_h",
)


POLICY_CLAUSE = "docs/policies.md (policy versions and digests)"


@lru_cache(maxsize=64)
def _shipped(policy_id: str, version: str) -> Policy:
    """Exactly the version named (a packaged id or a policy file's path), or policy.version.

    Cached, as a replay reads the same few versions for every entry."""
    try:
        return load_policy(policy_id, version)
    except NotFound as exc:
        raise RuleViolation(
            "policy.version", f"未发布的策略版本 / unknown policy version: {exc}", POLICY_CLAUSE
        ) from exc


def policy_of(ref: dict[str, Any]) -> Policy:
    """The policy version a projection row names; its digest, when recorded, must match."""
    policy = _shipped(ref["id"], ref["version"])
    if "sha256" in ref and ref["sha256"] != policy.sha256:
        raise _digest_mismatch(ref, policy)
    return policy


def _digest_mismatch(ref: dict[str, Any], policy: Policy) -> RuleViolation:
    return RuleViolation(
        "policy.digest",
        f"策略文本与摘要不符 / policy {ref['id']} {ref['version']}: expected sha256 "
        f"{policy.sha256}, the entry names {ref['sha256']}",
        POLICY_CLAUSE,
    )


def read_policy(p: Reader) -> tuple[dict[str, str], Policy]:
    """The payload's ``policy {id, version, sha256}`` and the version it names.

    The digest must be that of the shipped text; it may be left out only for a version
    shipped before entries named digests (UNDIGESTED_VERSIONS), and the returned reference,
    which projections record, always carries the digest of the version used.
    """
    obj = p.obj("policy")
    ref = {"id": obj.text("id", max_len=60), "version": obj.text("version", max_len=20)}
    policy = _shipped(ref["id"], ref["version"])
    if obj.has("sha256"):
        ref["sha256"] = obj.sha256("sha256")
        if ref["sha256"] != policy.sha256:
            raise _digest_mismatch(ref, policy)
    elif (ref["id"], ref["version"]) not in UNDIGESTED_VERSIONS:
        raise RuleViolation(
            "policy.digest",
            f"缺少策略摘要 / {obj.where}.sha256: expected the SHA-256 of policy {ref['id']} "
            f"{ref['version']} ({policy.sha256}), got none",
            POLICY_CLAUSE,
        )
    return {**ref, "sha256": policy.sha256}, policy


def _design(p: Reader) -> dict[str, Any]:
    """The building facts the combustion policy reads, as deterministic JSON."""
    d = p.obj("design")
    design: dict[str, Any] = {
        "use": d.one("use", BuildingUse),
        "height_m": decimal_text(d.decimal("height_m", places=2)),
    }
    for name in _DESIGN_FLAGS:
        design[name] = d.flag(name, default=False)
    for name in _DESIGN_NUMBERS:
        if d.has(name):
            design[name] = decimal_text(d.decimal(name, places=2, positive=False))
    return design


def design_of(
    project: dict[str, Any], position: str, section: dict[str, Any] | None = None
) -> BuildingDesign:
    """The policy's view of the project for insulation at ``position`` (of ``section``: a
    cold-room door section brings its clear opening size, GB 50072-2021 §4.2.3)."""
    d = project["design"]
    door = (section or {}).get("door") or {}

    def number(name: str) -> float | None:
        return float(d[name]) if name in d else None

    return BuildingDesign(
        use=BuildingUse(d["use"]),
        height_m=float(d["height_m"]),
        position=InsulationPosition(position),
        has_cavity=d["cavity"],
        composite_noncombustible_layer_mm=number("composite_noncombustible_layer_mm"),
        contains_crowded_place=d["contains_crowded_place"],
        elderly_free_standing=d["elderly_free_standing"],
        elderly_combined_area_m2=number("elderly_combined_area_m2") or 0.0,
        public_open=d["public_open"],
        open_flame_or_fuel=d["open_flame_or_fuel"],
        evacuation_or_refuge=d["evacuation_or_refuge"],
        roof_slab_fire_resistance_h=number("roof_slab_fire_resistance_h"),
        door_width_m=float(door["clear_width_m"]) if door else None,
        door_height_m=float(door["clear_height_m"]) if door else None,
    )


def _requirement_row(req: Requirement) -> dict[str, Any]:
    return {
        "minimum": req.minimum,
        "label": req.label,
        "rule": req.rule_id,
        "clause": req.clause,
        "conditions": sorted(m.code for m in req.conditions),
    }


def _door(s: Reader, position: InsulationPosition) -> dict[str, str] | None:
    """A cold-room door section's facts (GB 50072-2021 §4.2.3): clear opening, face class,
    fire integrity; given for door_core sections and only for them."""
    if (position == InsulationPosition.DOOR_CORE) != s.has("door"):
        raise MalformedInput(f"{s.where}.door: required for door_core sections and only for them")
    if not s.has("door"):
        return None
    d = s.obj("door")
    door = {
        "clear_width_m": decimal_text(d.decimal("clear_width_m", places=2)),
        "clear_height_m": decimal_text(d.decimal("clear_height_m", places=2)),
        "face_class": parse_declared(
            d.text("face_class", max_len=40), "project.design_class"
        ).label(),
    }
    if d.has("fire_integrity_h"):
        door["fire_integrity_h"] = decimal_text(d.decimal("fire_integrity_h", places=2))
    return door


def _door_faces_and_integrity(sid: str, door: dict[str, str], req: Requirement) -> None:
    """GB 50072-2021 §4.2.3: non-combustible faces; fire integrity when the opening is large."""
    for m in req.conditions:
        if m.code == MeasureCode.NONCOMBUSTIBLE_DOOR_FACES:
            faces = parse_class(door["face_class"])
            if faces.basic_class != BasicClass.A:
                raise RuleViolation(
                    m.rule_id,
                    f"section {sid}: door faces are {faces.label()}, non-combustible (A) required",
                    m.clause,
                )
        if m.code == MeasureCode.DOOR_FIRE_INTEGRITY:
            hours = m.values["hours"]
            given = door.get("fire_integrity_h")
            if given is None or float(given) < hours:
                size = f"{door['clear_width_m']} × {door['clear_height_m']} m"
                shown = f"states {given} h" if given is not None else "states none"
                raise RuleViolation(
                    m.rule_id,
                    f"section {sid}: a door opening of {size} needs fire integrity ≥ {hours:g} h, "
                    f"the design {shown}",
                    m.clause,
                )


def _section(
    s: Reader,
    policy: Policy,
    required: dict[InsulationPosition, Requirement],
    design: dict[str, Any],
) -> dict[str, Any]:
    position = s.one("position", InsulationPosition)
    if position not in POSITIONS:
        raise MalformedInput(f"{s.where}.position: expected one of {', '.join(POSITIONS)}")
    designed = parse_declared(s.text("design_class", max_len=40), "project.design_class")
    door = _door(s, position)
    row: dict[str, Any] = {"door": door} if door else {}
    req = required[position]
    if door is not None:
        req = required_class(policy, design_of({"design": design}, position, row))
        _door_faces_and_integrity(s.ident("id"), door, req)
        if len(req.conditions) > len(required[position].conditions):
            required[position] = req
    if not req.met_by(designed):
        raise RuleViolation(
            req.rule_id,
            f"section {s.ident('id')}: designed class {designed.label()} is below the "
            f"{req.label} required for {design['use']} of {design['height_m']} m "
            f"({position})",
            req.clause,
        )
    return {
        "name": s.text("name"),
        "facade": s.text("facade", max_len=40),
        "position": position,
        "area": s.milli("area_m2"),
        "design_class": designed.label(),
        "installed": 0,
        **row,
    }


def _missing_facts(d: Reader, policy: Policy, positions: set[str]) -> None:
    """design.facts_required (from policy 2026.2): a fact that decides the required class
    is stated, never read as absent (a missing fact never weakens a requirement)."""
    rule = policy.optional("design.facts_required")
    if rule is None:
        return
    use = d.data.get("use")
    missing: list[str] = []
    walls = {InsulationPosition.EXTERNAL_WALL, InsulationPosition.SANDWICH_CORE}
    if rule.flag("cavity") and positions & walls and not d.has("cavity"):
        missing.append("cavity (GB 55037-2022 §6.6.6-§6.6.8)")
    crowded = use == BuildingUse.CROWDED_PLACE
    if rule.flag("crowded_place") and not crowded and not d.has("contains_crowded_place"):
        missing.append("contains_crowded_place (GB 55037-2022 §6.6.5)")
    if rule.flag("elderly_care") and use == BuildingUse.ELDERLY_CARE:
        if not d.has("elderly_free_standing"):
            missing.append("elderly_free_standing (GB 55037-2022 §6.6.4)")
        elif d.data["elderly_free_standing"] is False and not d.has("elderly_combined_area_m2"):
            missing.append("elderly_combined_area_m2 (GB 55037-2022 §6.6.4)")
    venue = use == BuildingUse.ICE_SNOW_VENUE
    if rule.flag("ice_snow_public_use") and venue and not d.has("public_open"):
        missing.append("public_open (ice/snow venue policy, venue.ice_snow)")
    if missing:
        raise RuleViolation(
            rule.id,
            "设计信息不完整 / incomplete design: "
            + "; ".join(f"{d.where}.{m} is not given" for m in missing),
            rule.clause,
        )


def _independent(ctx: Context, policy: Policy, contractor: str, supervisor: str) -> None:
    """independence.supervisor (from policy 2026.2): the supervision company is not the
    contractor, nor declared affiliated with it (建筑法 Art. 34)."""
    rule = policy.optional("independence.supervisor")
    if rule is None or not rule.flag("not_contractor"):
        return
    related = affiliation(ctx.kv, contractor, supervisor)
    if contractor == supervisor:
        why = "is the contractor of the project"
    elif related is not None:
        why = f"is declared affiliated ({related['relation']}) with the contractor {contractor}"
    else:
        return
    raise RuleViolation(
        rule.id,
        f"the supervisor {supervisor} {why}: supervision must be independent of the works "
        "it supervises",
        rule.clause,
    )


def _measures(required: dict[InsulationPosition, Requirement]) -> dict[str, str]:
    """Conditions beyond the class that the supervisor attests at acceptance."""
    return {
        m.code: m.clause
        for req in required.values()
        for m in req.conditions
        if m.code != MeasureCode.THERMOSET_CORE_IF_B1  # checked from the product record
    }


def _permit(p: Reader) -> tuple[dict[str, str] | None, bool]:
    below = p.flag("below_quota", default=False)
    if below == p.has("permit"):
        raise MalformedInput(f"{p.where}: give either permit (施工许可) or below_quota: true")
    if below:
        return None, True
    permit = p.obj("permit")
    return {
        "number": permit.text("number", max_len=60),
        "authority": permit.text("authority"),
    }, False


def _building(ctx: Context, p: Reader, project_id: str, owner: str) -> str:
    """The building the works are on: an existing one the signer owns, or a new one."""
    if not p.has("building"):
        if ctx.kv.get("building", project_id) is not None:
            raise RuleViolation("building.unique", f"building {project_id} already exists")
        return project_id
    building = ctx.kv.get("building", p.ident("building"))
    if building is None:
        raise RuleViolation("building.known", f"no building {p.data['building']!r}")
    if building["owner"] != owner:
        raise RuleViolation(
            "project.building_owner", f"building {building['id']} is owned by {building['owner']}"
        )
    return str(building["id"])


def _new_building(ctx: Context, project: dict[str, Any]) -> None:
    ctx.kv.put(
        "building",
        project["building"],
        {
            "id": project["building"],
            "name": project["name"],
            "owner": project["owner"],
            "address": project["location"]["address"],
            "use": project["design"]["use"],
            "height_m": project["design"]["height_m"],
            "source": "project",
            "projects": [project["id"]],
            "status": "under_construction",
            "inspections": [],
            "seq": ctx.entry.seq,
        },
    )


def _location(p: Reader) -> dict[str, str]:
    loc = p.obj("location")
    return {k: loc.text(k) for k in ("province", "city", "address")}


def _first_door(readers: list[Reader]) -> dict[str, Any] | None:
    """A door section's opening for the door_core position's requirement (None: no door)."""
    for s in readers:
        if s.one("position", InsulationPosition) == InsulationPosition.DOOR_CORE:
            return {"door": _door(s, InsulationPosition.DOOR_CORE)}
    return None


def _design_gate(p: Reader) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(policy ref, design, sections): every section's designed class meets the policy."""
    policy_ref, policy = read_policy(p)
    readers = p.objs("sections", max_items=100)
    positions = {s.one("position", InsulationPosition) for s in readers}
    _missing_facts(p.obj("design"), policy, set(positions))
    design = _design(p)
    distinct(f"{p.where}.sections id", (s.ident("id") for s in readers))
    required = {
        pos: required_class(policy, design_of({"design": design}, pos, _first_door(readers)))
        for pos in sorted(positions)
        if pos in POSITIONS
    }
    sections = {s.ident("id"): _section(s, policy, required, design) for s in readers}
    requirements = {
        "required": {pos: _requirement_row(req) for pos, req in required.items()},
        "measures_required": _measures(required),
    }
    return policy_ref, design, {"sections": sections, **requirements}


def register_project(ctx: Context) -> None:
    """project.register, by the owner; each section's designed class meets the policy."""
    owner = acting_org(ctx, Role.BUILDING_OWNER)
    p = reader(ctx)
    project_id = p.ident("id")
    if ctx.kv.get("project", project_id) is not None:
        raise RuleViolation("project.unique", f"project {project_id} is already registered")
    contractor = require_org(ctx, p.text("contractor", max_len=18), Role.CONTRACTOR)
    supervisor = require_org(ctx, p.text("supervisor", max_len=18), Role.SUPERVISOR)
    policy_ref, design, judged = _design_gate(p)
    _independent(ctx, policy_of(policy_ref), contractor["uscc"], supervisor["uscc"])
    permit, below_quota = _permit(p)
    project = {
        "id": project_id,
        "name": p.text("name"),
        "owner": owner["uscc"],
        "contractor": contractor["uscc"],
        "supervisor": supervisor["uscc"],
        "location": _location(p),
        "design": design,
        "policy": policy_ref,
        "permit": permit,
        "below_quota": below_quota,
        "filing": None,
        "building": _building(ctx, p, project_id, owner["uscc"]),
        **judged,
        "briefings": {},
        "accepted": {},
        "status": "registered",
        "seq": ctx.entry.seq,
    }
    if project["building"] == project_id:
        _new_building(ctx, project)
    else:
        _add_project_to_building(ctx, project)
    ctx.kv.put("project", project_id, project)
    ctx.ref(f"project:{project_id}", f"building:{project['building']}")


def _add_project_to_building(ctx: Context, project: dict[str, Any]) -> None:
    building = ctx.kv.get("building", project["building"])
    assert building is not None
    building["projects"] = [*building["projects"], project["id"]]
    ctx.kv.put("building", building["id"], building)


def file_project(ctx: Context) -> None:
    """project.file, by a regulator: the local filing of a small project below the quota."""
    acting_org(ctx, Role.REGULATOR)
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    if not project["below_quota"]:
        raise RuleViolation(
            "project.filing", f"project {project['id']} has a construction permit", FILING_CLAUSE
        )
    if project["filing"] is not None:
        raise RuleViolation("project.filing", f"project {project['id']} is already filed")
    filed_on = p.date("date")
    if filed_on > local_date(ctx.time):
        raise RuleViolation("project.filing", f"filing date {filed_on} is in the future")
    project["filing"] = {
        "number": p.text("number", max_len=60),
        "authority": ctx.entry.actor,
        "date": filed_on.isoformat(),
        "seq": ctx.entry.seq,
    }
    ctx.kv.put("project", project["id"], project)


def require_project(ctx: Context, project_id: str) -> dict[str, Any]:
    row = ctx.kv.get("project", project_id)
    if row is None:
        raise RuleViolation("project.known", f"no project {project_id!r} is registered")
    ctx.ref(f"project:{project_id}")
    return row


def require_party(ctx: Context, project: dict[str, Any], *roles: str) -> str:
    """The signer's role on the project (one of ``roles``: contractor, supervisor, owner)."""
    for role in roles:
        if project[role] == ctx.entry.actor:
            return role
    names = ", ".join(f"{r} {project[r]}" for r in roles)
    raise Forbidden(f"{ctx.entry.type} on project {project['id']} is for {names}")


def require_site_work_allowed(project: dict[str, Any]) -> None:
    """Site work needs a permit, or the local filing of a small project; none after acceptance."""
    if project["below_quota"] and project["filing"] is None:
        raise RuleViolation(
            "project.filed",
            f"project {project['id']} is below the quota and not yet filed locally",
            FILING_CLAUSE,
        )
    if project["status"] == "accepted":
        raise RuleViolation("project.accepted", f"project {project['id']} is already accepted")


# -- entry types ---------------------------------------------------------------------


def _building_of(entry: Entry) -> list[str]:
    """A project names its building, or is its own new building."""
    return [str(entry.payload.get("building") or entry.payload.get("id"))]


def _sections_of(entry: Entry) -> list[str]:
    sections = entry.payload.get("sections")
    found = sections if isinstance(sections, list) else []
    return [f"{entry.payload.get('id')}|{s.get('id')}" for s in found if isinstance(s, dict)]


TYPES: tuple[EntryType, ...] = (
    EntryType(
        "project.register", "登记工程项目", "Register a project", register_project,
        roles("building_owner"), "The owner registers a project.",
        epcis=epcis.EventSpec("ADD", epcis.voc("registering_project"), None, epcis.at_project),
        records=(
            Record("project", by_field("id")),
            Record("building", _building_of),
            Record("section", _sections_of),
        ),
        payload=payloads.ProjectRegister,
    ),
    EntryType(
        "project.file", "属地备案", "File a small project", file_project,
        roles("regulator"), "A regulator files a small project locally.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("filing_project"), None, epcis.at_project),
        records=(Record("project", by_field("project")),),
        payload=payloads.ProjectFile,
    ),
)  # fmt: skip
"""Projects' entry types (:mod:`insutrace.trace.entrytype`)."""
