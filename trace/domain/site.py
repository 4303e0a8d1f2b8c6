"""On site: briefing, arrival inspection, witnessed re-test, installation, acceptance.

The order the 2025 campaign and GB 55015-2021 ask for, enforced per project:

1. ``site.briefing`` (contractor): technical briefing (技术交底) and risk notification
   (风险告知), both before any installation;
2. ``site.inspect`` (supervisor): arrival inspection of a batch received on the
   project; an accepted inspection needs the label class to equal the declared class;
3. ``site.sample`` (signed by the witness, the project's supervisor or owner; 见证取样):
   the contractor's sampler takes a quantity (consumed by sampling) for an accredited lab;
4. ``site.retest_result`` (that lab): the re-test of GB 55015-2021 §6.2.1; a failure
   marks the batch non-conforming;
5. ``site.install`` (contractor): a batch quantity into a wall section, only for a
   batch received, inspected and passed by re-test on this project, qualified by a
   valid factory report, not recalled, whose declared class meets the section's
   designed class (and, for a cold-store B1 core, is a thermoset);
6. ``project.accept`` (supervisor and owner, one entry each): refused while a section
   is not fully installed, an installed batch is recalled or non-conforming, a
   product has fewer passed re-tests than the policy's frequency asks (GB 50411-2019
   §4.2.2: one per 5000 m² of net wall area by default), or — for the supervisor — a
   required measure (fire barrier belt, protective layer …) is not attested.

Projection rows: ``sample``/<project>|<sample id>, ``placed``/<batch>|<project>|<section>
{qty, area, seqs}, ``sampled``/<batch>|<project>|<sample> {qty}, ``coverage``/
<project>|<gtin> {area, batches}, ``wallid``/<building>|<facade> {records[]}.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..combustion import BasicClass, CombustionClass, parse_class
from ..entrytype import EntryType, Record, by_field, by_fields, party, roles
from ..errors import Forbidden, MalformedInput, RuleViolation
from ..policy import (
    InsulationPosition,
    MeasureCode,
    Policy,
    ancillary_measures,
    retest_samples_required,
)
from . import payloads
from .affiliations import affiliation
from .batches import batch_class, class_ceiling, parse_declared, require_batch
from .custody import RECALL_CLAUSE, onsite, put_onsite, take
from .fields import Reader, local_date, milli_text, reader
from .orgs import Role, lab_accreditation_problem, require_org
from .products import require_product
from .projects import (
    design_of,
    policy_of,
    require_party,
    require_project,
    require_site_work_allowed,
)
from .read import project_in_force, qualifying_report
from .reports import (
    QUALIFY_CLAUSE,
    Property,
    judge_results,
    not_qualifying,
    read_results,
    sub_classification_problem,
)

__all__ = [
    "RETEST_CLAUSE",
    "TYPES",
    "BriefingKind",
    "accept_project",
    "acceptance_gaps",
    "brief",
    "inspect_arrival",
    "install",
    "record_retest",
    "take_sample",
]

RETEST_CLAUSE = "GB 55015-2021 §6.2.1"
BRIEFING_CLAUSE = "2025 整治行动: 技术交底 and 风险告知 before construction"
LABEL_CLAUSE = "label class = declared class (2025 整治行动)"
THERMOSET_CLAUSE = "GB 50072-2021 §4.3.2(1)"
_RETESTED = (
    Property.THERMAL_CONDUCTIVITY,
    Property.DENSITY,
    Property.COMPRESSIVE_STRENGTH,
    Property.WATER_ABSORPTION,
)


class BriefingKind(StrEnum):
    TECHNICAL_BRIEFING = "technical_briefing"  # 技术交底
    RISK_NOTIFICATION = "risk_notification"  # 风险告知


def _day(ctx: Context, p: Reader) -> date:
    day = p.date("date")
    if day > local_date(ctx.time):
        raise RuleViolation("site.date", f"{p.where}.date {day} is after the entry's date")
    return day


def brief(ctx: Context) -> None:
    """site.briefing, by the contractor: technical briefing or risk notification."""
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    require_party(ctx, project, "contractor")
    require_site_work_allowed(project)
    kind = p.one("kind", BriefingKind)
    _day(ctx, p)
    p.texts("attendees")
    p.texts("topics")
    p.sha256("document")
    project["briefings"][kind] = [*project["briefings"].get(kind, []), ctx.entry.seq]
    ctx.kv.put("project", project["id"], project)


def _same_class(label: CombustionClass, declared: CombustionClass) -> bool:
    return (label.basic_class, label.effective_sub_class) == (
        declared.basic_class,
        declared.effective_sub_class,
    )


def inspect_arrival(ctx: Context) -> None:
    """site.inspect, by the supervisor: arrival inspection of a batch received on the project."""
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    require_party(ctx, project, "supervisor")
    require_site_work_allowed(project)
    batch = require_batch(ctx, p.text("batch", max_len=40))
    here = onsite(ctx, project["id"], batch["id"])
    if here["received"] == 0:
        raise RuleViolation(
            "inspect.received", f"batch {batch['id']} was never received on {project['id']}"
        )
    label = parse_declared(p.text("label_class", max_len=40), "inspect.label_class")
    accepted = p.flag("accepted")
    if accepted and not _same_class(label, batch_class(batch)):
        raise RuleViolation(
            "inspect.label_class",
            f"label says {label.label()}, batch {batch['id']} is declared "
            f"{batch['declared']['label']}: the inspection cannot accept it",
            LABEL_CLAUSE,
        )
    day = _day(ctx, p)
    here["inspection"] = {"seq": ctx.entry.seq, "accepted": accepted, "date": day.isoformat()}
    here["inspection"].update(_arrival_findings(p, batch, here))
    put_onsite(ctx, project["id"], batch["id"], here)


class ArrivalDiscrepancy(StrEnum):
    SHORT = "short"  # 数量短少
    DAMAGED = "damaged"  # 破损
    WRONG_PRODUCT = "wrong_product"  # 货不对板
    LABEL_MISMATCH = "label_mismatch"  # 标识不符
    OTHER = "other"


def _arrival_findings(p: Reader, batch: dict[str, Any], here: dict[str, Any]) -> dict[str, Any]:
    """What the supervisor counted and saw on arrival, when the inspection says so: the
    counted quantity (at most what was received here), a discrepancy, a note, photos."""
    found: dict[str, Any] = {}
    if p.has("counted"):
        counted = p.milli("counted")
        if counted > here["received"]:
            raise RuleViolation(
                "inspect.counted",
                f"{p.where}.counted {milli_text(counted)} is more than the "
                f"{milli_text(here['received'])} {batch['unit']} of {batch['id']} received here",
            )
        found["counted"] = counted
    discrepancy = p.choice("discrepancy", ArrivalDiscrepancy, optional=True)
    if discrepancy is not None:
        found["discrepancy"] = discrepancy.value
    note = p.text("note", max_len=500, optional=True)
    if note:
        found["note"] = note
    if p.has("photos"):
        found["photos"] = [
            _photo(p, i, h) for i, h in enumerate(p.texts("photos", min_items=0, max_items=20))
        ]
    return found


def _photo(p: Reader, i: int, digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise MalformedInput(f"{p.where}.photos[{i}] must be a SHA-256 (64 lowercase hex)")
    return digest


def _sampler(ctx: Context, p: Reader, project: dict[str, Any]) -> dict[str, str]:
    s = p.obj("sampler")
    sampler = {"name": s.text("name", max_len=40), "org": s.text("org", max_len=18)}
    if sampler["org"] != project["contractor"]:
        raise RuleViolation(
            "sample.sampler",
            f"the sampler works for {sampler['org']}, not for the contractor "
            f"{project['contractor']} of {project['id']}",
            RETEST_CLAUSE,
        )
    return sampler


def _accredited(ctx: Context, lab_id: str, day: date, rule: str) -> dict[str, Any]:
    lab = require_org(ctx, lab_id, Role.TESTING_LAB, what="lab")
    problem = lab_accreditation_problem(lab, day)
    if problem:
        raise RuleViolation(rule, problem)
    return lab


def _witness_independent(ctx: Context, project: dict[str, Any], batch: dict[str, Any]) -> None:
    """independence.witness (policy 2026.2 on): the witness's organisation (the signer, the
    project's supervisor or owner) is neither the contractor nor the batch's manufacturer."""
    rule = policy_of(project["policy"]).optional("independence.witness")
    if rule is None or not rule.flag("not_contractor_or_manufacturer"):
        return
    witness = ctx.entry.actor
    parties = (
        ("contractor", project["contractor"], f"project {project['id']}"),
        ("manufacturer", batch["manufacturer"], f"batch {batch['id']}"),
    )
    for role, org, of in parties:
        related = affiliation(ctx.kv, witness, org)
        if witness == org:
            why = f"is the {role} of {of}"
        elif related is not None:
            why = f"is declared affiliated ({related['relation']}) with the {role} of {of}"
        else:
            continue
        raise RuleViolation(
            rule.id,
            f"the witness's organisation {witness} {why}: a witness belongs to the "
            "supervisor or the owner",
            rule.clause,
        )


def take_sample(ctx: Context) -> None:
    """site.sample, signed by the witness (supervisor or owner): 见证取样 for re-test."""
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    witness_role = require_party(ctx, project, "supervisor", "owner")
    require_site_work_allowed(project)
    sample_id = p.ident("sample")
    key = f"{project['id']}|{sample_id}"
    if ctx.kv.get("sample", key) is not None:
        raise RuleViolation("sample.unique", f"sample {sample_id} is already recorded")
    batch = require_batch(ctx, p.text("batch", max_len=40))
    _witness_independent(ctx, project, batch)
    day = _day(ctx, p)
    lab = _accredited(ctx, p.text("lab", max_len=18), day, "sample.lab")
    qty = p.milli("quantity")
    take(ctx, batch, project["contractor"], project["id"], qty)
    batch["sampled"] += qty
    ctx.kv.put("batch", batch["id"], batch)
    ctx.kv.put("sampled", f"{batch['id']}|{project['id']}|{sample_id}", {"qty": qty})
    ctx.kv.put(
        "sample",
        key,
        {
            "project": project["id"],
            "sample": sample_id,
            "batch": batch["id"],
            "qty": qty,
            "sampler": _sampler(ctx, p, project),
            "witness": {"org": ctx.entry.actor, "role": witness_role, "name": p.text("witness")},
            "lab": lab["uscc"],
            "date": day.isoformat(),
            "result": None,
            "seq": ctx.entry.seq,
        },
    )
    ctx.ref(f"sample:{key}")


def _retest_required(project: dict[str, Any], batch: dict[str, Any]) -> tuple[str, ...]:
    """GB 55015-2021 §6.2.1: combustion unless non-combustible (A); tensile for walls."""
    needed = [str(p) for p in _RETESTED]
    if batch["declared"]["basic"] != BasicClass.A:
        needed.append(Property.COMBUSTION)
    positions = {s["position"] for s in project["sections"].values()}
    if InsulationPosition.EXTERNAL_WALL in positions:
        needed.append(Property.TENSILE_STRENGTH)
    return tuple(needed)


def _stated_sub_class(policy: Policy, results: dict[str, dict[str, Any]]) -> None:
    burn = results.get(Property.COMBUSTION)
    problem = burn and sub_classification_problem(
        policy, parse_class(burn["class"]), "the re-tested class"
    )
    if problem:
        rule = policy.rule("plausibility.sub_classification")
        raise RuleViolation(rule.id, problem, rule.clause)


def record_retest(ctx: Context) -> None:
    """site.retest_result, by the sample's lab: pass, or the batch becomes non-conforming."""
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    key = f"{project['id']}|{p.ident('sample')}"
    sample = ctx.kv.get("sample", key)
    if sample is None:
        raise RuleViolation("retest.sample", f"no sample {key} was taken")
    if ctx.entry.actor != sample["lab"]:
        raise Forbidden(f"sample {key} was sent to {sample['lab']}, not to {ctx.entry.actor}")
    if sample["result"] is not None:
        raise RuleViolation("retest.once", f"sample {key} already has its result")
    day = _day(ctx, p)
    _accredited(ctx, ctx.entry.actor, day, "retest.lab_accredited")
    batch = require_batch(ctx, sample["batch"])
    results = read_results(p, sample["sample"], ctx.entry.actor)
    policy = policy_of(project["policy"])
    product = require_product(ctx, batch["gtin"])
    _stated_sub_class(policy, results)
    burn = results.get(Property.COMBUSTION)
    beyond = burn and class_ceiling(policy, product, parse_class(burn["class"]), "re-tested class")
    if beyond:
        raise beyond
    limits = policy.retest_limits(product["standard"])
    reasons = judge_results(results, batch, _retest_required(project, batch), limits)
    sample["result"] = {
        "passed": not reasons,
        "reasons": reasons,
        "report": p.ident("number"),
        "document": p.sha256("document"),
        "results": results,
        "seq": ctx.entry.seq,
    }
    ctx.kv.put("sample", key, sample)
    _mark(ctx, project["id"], batch, sample["sample"], reasons)
    ctx.ref(f"sample:{key}", f"org:{batch['manufacturer']}")


def _mark(
    ctx: Context, project: str, batch: dict[str, Any], sample: str, reasons: list[str]
) -> None:
    here = onsite(ctx, project, batch["id"])
    bucket = "retests_failed" if reasons else "retests_passed"
    here[bucket] = [*here[bucket], sample]
    put_onsite(ctx, project, batch["id"], here)
    if reasons:
        failure = {"seq": ctx.entry.seq, "project": project, "sample": sample, "reasons": reasons}
        batch["non_conforming"] = [*batch["non_conforming"], failure]
        ctx.kv.put("batch", batch["id"], batch)


# -- installation -------------------------------------------------------------


def _evidence(ctx: Context, project: dict[str, Any], batch: dict[str, Any], day: date) -> None:
    """Refuse unless the batch was received, inspected and re-tested here, and qualified."""
    recalled = batch["recalled"]
    if recalled:
        raise RuleViolation(
            "install.recalled",
            f"batch {batch['id']} was recalled on {recalled['date']} ({recalled['reason']})",
            RECALL_CLAUSE,
        )
    here = onsite(ctx, project["id"], batch["id"])
    failed = here["retests_failed"]
    checks = (
        ("install.received", here["received"] > 0, "was never received on this project", ""),
        (
            "install.inspected",
            bool(here["inspection"] and here["inspection"]["accepted"]),
            "has no accepted arrival inspection on this project",
            LABEL_CLAUSE,
        ),
        (
            "install.retest",
            bool(here["retests_passed"]) and not failed,
            f"failed witnessed re-test(s) {', '.join(failed)} on this project"
            if failed
            else "has no passed witnessed re-test on this project (none is recorded)",
            RETEST_CLAUSE,
        ),
        (
            "install.qualified",
            qualifying_report(ctx.kv, batch["id"], day) is not None,
            f"has no qualifying factory report valid on {day}: "
            + "; ".join(not_qualifying(ctx.kv, batch, day)),
            QUALIFY_CLAUSE,
        ),
    )
    for rule, ok, why, clause in checks:
        if not ok:
            raise RuleViolation(rule, f"batch {batch['id']} {why}", clause)


def _class_fits(
    project: dict[str, Any], section: dict[str, Any], batch: dict[str, Any], product: dict[str, Any]
) -> None:
    declared = batch_class(batch)
    if not declared.meets(parse_class(section["design_class"]).effective_sub_class):
        required = project["required"][section["position"]]
        raise RuleViolation(
            "install.design_class",
            f"batch {batch['id']} is {declared.label()}, below the section's designed "
            f"{section['design_class']} (required by {required['clause']})",
        )
    conditions = project["required"][section["position"]]["conditions"]
    if (
        MeasureCode.THERMOSET_CORE_IF_B1 in conditions
        and declared.basic_class == BasicClass.B1
        and not product["thermosetting"]
    ):
        raise RuleViolation(
            "install.thermoset",
            f"a B1 sandwich-panel core in cold storage must be a thermoset; batch "
            f"{batch['id']} is {product['polymer']} ({product['type']})",
            THERMOSET_CLAUSE,
        )


def adjoining_class(project: dict[str, Any], position: str) -> CombustionClass | None:
    """The design class of the roof next to an external wall, or of the wall next to a
    roof (GB 50016 6.7.10: both B1/B2 need an A-class strip at the junction)."""
    other = {
        InsulationPosition.EXTERNAL_WALL: InsulationPosition.ROOF,
        InsulationPosition.ROOF: InsulationPosition.EXTERNAL_WALL,
    }.get(InsulationPosition(position))
    for s in project["sections"].values():
        if s["position"] == other:
            return parse_class(s["design_class"])
    return None


def _require_measures(
    project: dict[str, Any], section: dict[str, Any], declared: CombustionClass
) -> None:
    position = section["position"]
    design = design_of(project, position, section)
    policy = policy_of(project["policy"])
    for m in ancillary_measures(
        policy, design, declared, adjoining_class=adjoining_class(project, position)
    ):
        project["measures_required"][m.code] = m.clause


def _placed(ctx: Context, batch: str, project: str, section: str, qty: int, area: int) -> None:
    key = f"{batch}|{project}|{section}"
    row = ctx.kv.get("placed", key) or {"qty": 0, "area": 0, "seqs": []}
    row = {
        "qty": row["qty"] + qty,
        "area": row["area"] + area,
        "seqs": [*row["seqs"], ctx.entry.seq],
    }
    ctx.kv.put("placed", key, row)


def _coverage(ctx: Context, project: str, gtin: str, batch: str, area: int) -> None:
    key = f"{project}|{gtin}"
    row = ctx.kv.get("coverage", key) or {"area": 0, "batches": []}
    batches = sorted({*row["batches"], batch})
    ctx.kv.put("coverage", key, {"area": row["area"] + area, "batches": batches})


def _wall_record(
    ctx: Context,
    project: dict[str, Any],
    sid: str,
    batch: dict[str, Any],
    product: dict[str, Any],
    qty: int,
    area: int,
    day: date,
) -> None:
    section = project["sections"][sid]
    key = f"{project['building']}|{section['facade']}"
    row = ctx.kv.get("wallid", key) or {
        "building": project["building"],
        "facade": section["facade"],
        "records": [],
    }
    record = {
        "project": project["id"],
        "section": sid,
        "position": section["position"],
        "batch": batch["id"],
        "gtin": batch["gtin"],
        "product": product["name"],
        "type": batch["type"],
        "class": batch["declared"]["label"],
        "manufacturer": batch["manufacturer"],
        "contractor": project["contractor"],
        "installed_on": day.isoformat(),
        "area": area,
        "quantity": qty,
        "unit": batch["unit"],
        "seq": ctx.entry.seq,
    }
    row["records"] = [*row["records"], record]
    ctx.kv.put("wallid", key, row)
    ctx.ref(f"building:{project['building']}")


def _section_of(project: dict[str, Any], p: Reader) -> tuple[str, dict[str, Any]]:
    sid = p.ident("section")
    if sid not in project["sections"]:
        raise RuleViolation("install.section", f"project {project['id']} has no section {sid}")
    return sid, project["sections"][sid]


def _area_fits(sid: str, section: dict[str, Any], area: int) -> None:
    if section["installed"] + area > section["area"]:
        raise RuleViolation(
            "install.area",
            f"section {sid} has {milli_text(section['area'] - section['installed'])} m² left, "
            f"the entry installs {milli_text(area)} m²",
        )


def _briefed(project: dict[str, Any]) -> None:
    missing = [k for k in BriefingKind if not project["briefings"].get(k)]
    if missing:
        raise RuleViolation(
            "install.briefing",
            f"project {project['id']} has no {' and no '.join(missing)} yet",
            BRIEFING_CLAUSE,
        )


def install(ctx: Context) -> None:
    """site.install, by the contractor: a batch quantity into a wall section."""
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    require_party(ctx, project, "contractor")
    require_site_work_allowed(project)
    _briefed(project)
    sid, section = _section_of(project, p)
    batch = require_batch(ctx, p.text("batch", max_len=40))
    product = require_product(ctx, batch["gtin"])
    day = _day(ctx, p)
    _evidence(ctx, project, batch, day)
    _class_fits(project, project_in_force(ctx.kv, project)["sections"][sid], batch, product)
    qty, area = p.milli("quantity"), p.milli("area_m2")
    _area_fits(sid, section, area)
    take(ctx, batch, project["contractor"], project["id"], qty)
    batch["installed"] += qty
    ctx.kv.put("batch", batch["id"], batch)
    section["installed"] += area
    _require_measures(project, section, batch_class(batch))
    ctx.kv.put("project", project["id"], project)
    here = onsite(ctx, project["id"], batch["id"])
    here["installed"] += qty
    put_onsite(ctx, project["id"], batch["id"], here)
    _placed(ctx, batch["id"], project["id"], sid, qty, area)
    _coverage(ctx, project["id"], batch["gtin"], batch["id"], area)
    _wall_record(ctx, project, sid, batch, product, qty, area, day)


# -- acceptance ---------------------------------------------------------------


def _incomplete(project: dict[str, Any]) -> list[str]:
    return [
        f"section {sid}: {milli_text(s['installed'])} of {milli_text(s['area'])} m² installed"
        for sid, s in sorted(project["sections"].items())
        if s["installed"] < s["area"]
    ]


def _nonconforming(ctx: Context, project: dict[str, Any]) -> list[tuple[str, str]]:
    """(reason, clause) per installed batch recalled (the recall clause) or failed (re-test)."""
    gaps = []
    for key, row in ctx.kv.scan("onsite", f"{project['id']}|"):
        batch = ctx.kv.get("batch", key.split("|", 1)[1])
        if row["installed"] == 0 or batch is None:
            continue
        if batch["recalled"]:
            gaps.append((f"installed batch {batch['id']} is recalled", RECALL_CLAUSE))
        elif batch["non_conforming"]:
            gaps.append((f"installed batch {batch['id']} failed a re-test", RETEST_CLAUSE))
    return gaps


def _passed_retests(ctx: Context, project: str, batches: list[str]) -> int:
    return sum(len(onsite(ctx, project, b)["retests_passed"]) for b in batches)


def _frequency(ctx: Context, project: dict[str, Any]) -> tuple[list[str], str, str]:
    """GB 50411-2019 §4.2.2 (policy value): re-tests per product by net wall area."""
    policy = policy_of(project["policy"])
    rule = policy.rule("retest.frequency")
    gaps = []
    for key, row in ctx.kv.scan("coverage", f"{project['id']}|"):
        needed = retest_samples_required(policy, row["area"] / 1000)
        have = _passed_retests(ctx, project["id"], row["batches"])
        if have < needed:
            gaps.append(
                f"product {key.split('|', 1)[1]}: {have} passed re-test(s), {needed} required "
                f"for {milli_text(row['area'])} m² (one per "
                f"{rule.number('area_per_retest_m2'):g} m²)"
            )
    return gaps, rule.id, rule.clause


def acceptance_gaps(ctx: Context, project: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(rule, reason, clause) for every piece of evidence acceptance still lacks."""
    gaps = [("accept.incomplete", g, "") for g in _incomplete(project)]
    gaps += [("accept.nonconforming", g, c) for g, c in _nonconforming(ctx, project)]
    frequency, rule, clause = _frequency(ctx, project)
    gaps += [(rule, g, clause) for g in frequency]
    return gaps


def _attested(p: Reader, project: dict[str, Any]) -> list[str]:
    attested = p.texts("measures", min_items=0) if p.has("measures") else []
    missing = sorted(set(project["measures_required"]) - set(attested))
    if missing:
        clauses = "; ".join(sorted({project["measures_required"][m] for m in missing}))
        raise RuleViolation(
            "accept.measures", f"not attested by the supervisor: {', '.join(missing)} ({clauses})"
        )
    return attested


def accept_project(ctx: Context) -> None:
    """project.accept, by the supervisor and by the owner: refused while evidence is missing."""
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    role = require_party(ctx, project, "supervisor", "owner")
    if role in project["accepted"]:
        raise RuleViolation("accept.once", f"the {role} already accepted {project['id']}")
    gaps = acceptance_gaps(ctx, project)
    if gaps:
        rule, _, clause = gaps[0]
        reasons = [g for r, g, c in gaps if (r, c) == (rule, clause)]
        raise RuleViolation(rule, "; ".join(reasons[:5]), clause)
    if role == "supervisor":
        _attested(p, project)
    _day(ctx, p)
    p.sha256("document")
    project["accepted"][role] = ctx.entry.seq
    if len(project["accepted"]) == 2:
        project["status"] = "accepted"
        _building_in_use(ctx, project)
    ctx.kv.put("project", project["id"], project)


def _building_in_use(ctx: Context, project: dict[str, Any]) -> None:
    building = ctx.kv.get("building", project["building"])
    if building is not None:
        building["status"] = "in_use"
        ctx.kv.put("building", building["id"], building)
        ctx.ref(f"building:{building['id']}")


# -- entry types ---------------------------------------------------------------------

_OWN_PROJECTS = "Only on the organisation's own projects."

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "site.briefing", "技术交底", "Record a briefing", brief,
        roles("contractor"), "The project's contractor records a briefing.",
        owner=party("project", "project", "contractor"), owner_doc=_OWN_PROJECTS,
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("briefing"), None, epcis.briefing),
        records=(),
        payload=payloads.SiteBriefing,
    ),
    EntryType(
        "site.inspect", "进场验收", "Inspect arriving material", inspect_arrival,
        roles("supervisor"), "The project's supervisor inspects arriving material.",
        owner=party("project", "project", "supervisor"), owner_doc=_OWN_PROJECTS,
        epcis=epcis.EventSpec("OBSERVE", "inspecting", "conformant", epcis.inspect),
        records=(Record("inspection", by_fields("project", "batch")),),
        payload=payloads.SiteInspect,
    ),
    EntryType(
        "site.sample", "见证取样", "Take a witnessed sample", take_sample,
        roles("supervisor", "building_owner"),
        "The supervisor (or the owner, witnessing) takes a retest sample.",
        owner=party("project", "project", "supervisor", "owner"), owner_doc=_OWN_PROJECTS,
        epcis=epcis.EventSpec("OBSERVE", "sampling", None, epcis.sample),
        records=(Record("sample", by_fields("project", "sample")),),
        payload=payloads.SiteSample,
    ),
    EntryType(
        "site.retest_result", "复验结果", "Record a retest result", record_retest,
        roles("testing_lab"), "The sample's lab records a retest result.",
        epcis=epcis.EventSpec("OBSERVE", "inspecting", "conformant", epcis.retest),
        records=(Record("sample", by_fields("project", "sample")),),
        payload=payloads.SiteRetestResult,
    ),
    EntryType(
        "site.install", "安装", "Record an installation", install,
        roles("contractor"), "The project's contractor records an installation.",
        owner=party("project", "project", "contractor"), owner_doc=_OWN_PROJECTS,
        epcis=epcis.EventSpec("OBSERVE", "installing", "active", epcis.install),
        records=(),
        payload=payloads.SiteInstall,
    ),
    EntryType(
        "project.accept", "竣工验收", "Accept a project", accept_project,
        roles("supervisor", "building_owner"), "The supervisor and the owner accept the project.",
        owner=party("project", "project", "supervisor", "owner"), owner_doc=_OWN_PROJECTS,
        epcis=epcis.EventSpec("OBSERVE", "accepting", "conformant", epcis.at_project),
        records=(Record("acceptance", by_field("project")),),
        payload=payloads.ProjectAccept,
    ),
)  # fmt: skip
"""Site work's entry types (:mod:`insutrace.trace.entrytype`)."""
