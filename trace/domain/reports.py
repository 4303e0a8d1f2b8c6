"""Factory test reports, signed by the testing lab, and what qualifies a batch.

The 2025 rectification campaign names "distorted quality evaluation": a report
qualifies its batch only when **combustion, thermal conductivity and density were
tested on the same sample by the same accredited lab** (the issuing one, its CMA
valid on the issue date), the tested class is at least the declared class
(GB 8624-2012 order), the measured conductivity is no worse than declared, every
stated result conforms, and the report is within its validity. A report that fails
any of these is still recorded, with ``qualifies: false`` and the reasons.

Results are a list of ``{property, standard, value | class, unit, conforms,
sample, lab}``; ``sample`` and ``lab`` default to the report's own, so a result
subcontracted to another lab or tested on another sample is visible as such.

Projection row ``report``/<lab>|<number>::

    {lab, number, batch, sample, issued_on, valid_until, document, standards[],
     results: {property: {...}}, qualifies, reasons[], seq}
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..combustion import BasicClass, CombustionClass, SubClass, parse_class
from ..entrytype import EntryType, Record, by_actor, roles
from ..errors import MalformedInput, RuleViolation
from ..policy import NATIONAL, Policy, Rule, current_policy
from ..store.base import KV
from . import payloads
from .affiliations import affiliation
from .batches import batch_class, class_ceiling, parse_declared, require_batch
from .fields import Reader, decimal_text, distinct, local_date, reader
from .orgs import Role, acting_org, lab_accreditation_problem
from .rows import report_key

__all__ = [
    "QUALIFY_CLAUSE",
    "TYPES",
    "Property",
    "combustion_of",
    "issue_report",
    "judge_results",
    "limit_reasons",
    "not_qualifying",
    "read_results",
    "sub_classification_problem",
]

QUALIFY_CLAUSE = "建筑保温材料安全隐患全链条整治行动 (2025): same sample, same accredited lab"
QUALIFYING = ("combustion", "thermal_conductivity", "density")


class Property(StrEnum):
    """Tested properties (GB 55015-2021 §6.2.1 names the re-tested ones)."""

    COMBUSTION = "combustion"
    THERMAL_CONDUCTIVITY = "thermal_conductivity"  # W/(m·K)
    DENSITY = "density"  # kg/m³
    COMPRESSIVE_STRENGTH = "compressive_strength"  # kPa
    WATER_ABSORPTION = "water_absorption"  # % by volume
    TENSILE_STRENGTH = "tensile_strength_perpendicular"  # MPa
    DIMENSIONAL_STABILITY = "dimensional_stability"  # %
    SMOKE_TOXICITY = "smoke_toxicity"  # GB/T 20285


def _result(r: Reader, sample: str, lab: str) -> tuple[str, dict[str, Any]]:
    prop = r.one("property", Property).value
    row: dict[str, Any] = {
        "standard": r.text("standard", max_len=80),
        "sample": r.ident("sample") if r.has("sample") else sample,
        "lab": r.text("lab", max_len=18) if r.has("lab") else lab,
        "conforms": r.flag("conforms", default=True),
    }
    if prop == Property.COMBUSTION:
        row["class"] = parse_declared(r.text("class", max_len=40), "report.class").label()
    elif prop == Property.THERMAL_CONDUCTIVITY:
        row["value"] = decimal_text(r.decimal("value", places=4))
    else:
        row["value"] = decimal_text(r.decimal("value", places=2, positive=False))
        row["unit"] = r.text("unit", max_len=20, optional=True)
    return prop, row


def read_results(p: Reader, sample: str, lab: str) -> dict[str, dict[str, Any]]:
    """The ``results`` list as {property: result}; each property at most once."""
    pairs = [_result(r, sample, lab) for r in p.objs("results", max_items=20)]
    distinct(f"{p.where}.results property", (prop for prop, _ in pairs))
    return dict(pairs)


def judge_results(
    results: dict[str, dict[str, Any]],
    batch: dict[str, Any],
    required: tuple[str, ...],
    limits: Rule | None = None,
) -> list[str]:
    """Reasons the results do not show a conforming batch (empty list: they do)."""
    reasons = [f"{prop} was not tested" for prop in required if prop not in results]
    declared = batch_class(batch)
    burn = results.get(Property.COMBUSTION)
    if burn is not None and not parse_class(burn["class"]).meets(declared.effective_sub_class):
        reasons.append(f"tested class {burn['class']} is below the declared {declared.label()}")
    heat = results.get(Property.THERMAL_CONDUCTIVITY)
    if heat is not None and Decimal(heat["value"]) > Decimal(batch["conductivity"]):
        reasons.append(
            f"thermal conductivity {heat['value']} W/(m·K) exceeds the declared "
            f"{batch['conductivity']}"
        )
    reasons += [f"{prop} does not conform" for prop, r in results.items() if not r["conforms"]]
    return reasons + (limit_reasons(results, limits) if limits is not None else [])


_LIMITS = (
    (Property.THERMAL_CONDUCTIVITY, "thermal_conductivity_max", "W/(m·K)", "above the maximum"),
    (Property.DENSITY, "density_min", "kg/m³", "below the minimum"),
    (Property.COMPRESSIVE_STRENGTH, "compressive_strength_min", "kPa", "below the minimum"),
    (Property.WATER_ABSORPTION, "water_absorption_max", "%", "above the maximum"),
    (Property.TENSILE_STRENGTH, "tensile_strength_perpendicular_min", "MPa", "below the minimum"),
)


def limit_reasons(results: dict[str, dict[str, Any]], limits: Rule) -> list[str]:
    """Each result outside the product standard's limit (``retest.limits.*`` of the policy,
    per standard and edition), naming the property, the limit and the clause."""
    reasons = []
    for prop, key, unit, side in _LIMITS:
        r = results.get(prop)
        if r is None or key not in limits.values:
            continue
        value, limit = Decimal(r["value"]), Decimal(str(limits.number(key)))
        outside = value > limit if key.endswith("_max") else value < limit
        if outside:
            reasons.append(
                f"{prop} {r['value']} {unit} is {side} {limits.number(key):g} of "
                f"{limits.values['standard']} "
                f"({limits.id}, {limits.clause} [{limits.confidence}])"
            )
    return reasons


def sub_classification_problem(policy: Policy, cls: CombustionClass, where: str) -> str | None:
    """plausibility.sub_classification: an A2, B or C result states smoke and droplets (and
    toxicity), a D result smoke and droplets (GB 8624-2012 B.1.2, B.1.3)."""
    rule = policy.optional("plausibility.sub_classification")
    sub = cls.sub_class
    if rule is None or (sub is None and cls.basic_class == BasicClass.B3):
        return None
    shown = cls.label()
    if sub is None:
        return f"{where} {shown} states no sub-class (A1/A2, B/C, D/E) and no s/d/t"
    needs_sd = sub in (SubClass.A2, SubClass.B, SubClass.C, SubClass.D)
    if rule.flag("smoke_droplets") and needs_sd and cls.smoke is None:
        return f"{where} {shown} states no smoke (s) and droplet (d) classification"
    needs_t = sub in (SubClass.A2, SubClass.B, SubClass.C)
    if rule.flag("toxicity") and needs_t and cls.toxicity is None:
        return f"{where} {shown} states no smoke toxicity (t) classification"
    return None


def _provenance(results: dict[str, dict[str, Any]], sample: str, lab: str) -> list[str]:
    reasons = []
    for prop in QUALIFYING:
        r = results.get(prop)
        if r is not None and r["sample"] != sample:
            reasons.append(f"{prop} was tested on sample {r['sample']}, not on {sample}")
        if r is not None and r["lab"] != lab:
            reasons.append(f"{prop} was tested by {r['lab']}, not by the issuing lab {lab}")
    return reasons


def _validity(p: Reader, today: date) -> tuple[date, date, list[str]]:
    issued, until = p.date("issued_on"), p.date("valid_until")
    if issued > today:
        raise RuleViolation("report.issued_on", f"issued_on {issued} is after the entry's date")
    if until < issued:
        raise MalformedInput(f"{p.where}.valid_until: expected >= issued_on {issued}, got {until}")
    reasons = [f"the report expired on {until}"] if until < today else []
    return issued, until, reasons


def _normalised(standard: str) -> str:
    return "".join(standard.split()).upper()


def _methods_problem(rule: Rule, cls: CombustionClass, standards: list[str]) -> str | None:
    """plausibility.a_class_methods: an A1 result needs GB/T 5464 and GB/T 14402, an A2
    result GB/T 5464 or GB/T 14402 and GB/T 20284 (GB 8624-2012 table 2)."""
    named = {_normalised(s).split("-")[0] for s in standards}

    def listed(key: str) -> list[str]:
        return [m.strip() for m in rule.text(key).split(";") if m.strip()]

    if cls.effective_sub_class == SubClass.A1:
        missing = [m for m in listed("a1_all") if _normalised(m) not in named]
        if missing:
            return (
                f"an A1 result needs {' and '.join(listed('a1_all'))}; missing {', '.join(missing)}"
            )
        return None
    any_of, all_of = listed("a2_any"), listed("a2_all")
    missing = [m for m in all_of if _normalised(m) not in named]
    if not any(_normalised(m) in named for m in any_of):
        missing.insert(0, " or ".join(any_of))
    if missing:
        needed = f"({' or '.join(any_of)}) and {' and '.join(all_of)}"
        return f"an A2 result needs {needed}; missing {', '.join(missing)}"
    return None


def _plausible(ctx: Context, policy: Policy, p: Reader, batch: dict[str, Any], lab: str) -> None:
    """Refuse a report no honest test could produce (policy 2026.2 on): a class above the
    material's ceiling, an A class without the A-class methods, a class without its required
    sub-classification, dates outside the batch and the policy, the maker's own lab."""
    results = read_results(p, "-", lab)
    tested = combustion_of(results)
    product = ctx.kv.get("product", batch["gtin"]) or {}
    if tested is not None:
        ceiling = class_ceiling(policy, product, tested, "report.results combustion")
        if ceiling is not None:
            raise ceiling
        rule = policy.optional("plausibility.a_class_methods")
        if rule is not None and tested.basic_class == BasicClass.A:
            problem = _methods_problem(rule, tested, p.texts("standards"))
            if problem:
                raise RuleViolation(
                    rule.id, f"report {p.data.get('number')}: {problem}", rule.clause
                )
        problem = sub_classification_problem(policy, tested, "the reported class")
        if problem:
            rule = policy.rule("plausibility.sub_classification")
            raise RuleViolation(rule.id, problem, rule.clause)
    _dates(policy, p, batch)
    _lab_independent(ctx.kv, policy, lab, batch)


def _dates(policy: Policy, p: Reader, batch: dict[str, Any]) -> None:
    """report.dates: not issued before the batch was produced; valid no longer than the
    policy's type-test interval."""
    rule = policy.optional("report.dates")
    if rule is None:
        return
    issued, until = p.date("issued_on"), p.date("valid_until")
    produced = date.fromisoformat(batch["production_date"])
    if issued < produced:
        raise RuleViolation(
            rule.id,
            f"report issued on {issued}, before batch {batch['id']} was produced on {produced}",
            rule.clause,
        )
    days = int(rule.number("type_test_max_age_days"))
    if (until - issued).days > days:
        raise RuleViolation(
            rule.id,
            f"report valid from {issued} to {until}: {(until - issued).days} days, longer than "
            f"the {days} days the policy allows",
            rule.clause,
        )


def _lab_independent(kv: KV, policy: Policy, lab: str, batch: dict[str, Any]) -> None:
    """independence.lab: the issuing lab is not the batch's manufacturer (one organisation
    holding both roles) nor declared affiliated with it (org.affiliate)."""
    rule = policy.optional("independence.lab")
    if rule is None or not rule.flag("manufacturer_or_affiliate"):
        return
    maker = batch["manufacturer"]
    related = affiliation(kv, lab, maker)
    if lab == maker:
        why = "is the manufacturer"
    elif related is not None:
        why = f"is declared affiliated ({related['relation']}, entry {related['seq']}) with the manufacturer {maker}"
    else:
        return
    raise RuleViolation(
        rule.id,
        f"lab {lab} {why} of batch {batch['id']}: its own report cannot qualify the batch",
        rule.clause,
    )


def not_qualifying(kv: KV, batch: dict[str, Any], day: date) -> list[str]:
    """Why no report qualifies ``batch`` on ``day``: each report's own reasons, or that it
    was issued after the day or expired before it (the reading of :func:`.read.qualifying_reports`)."""
    why = []
    for key in batch["reports"]:
        r = kv.get("report", key)
        if r is None:
            continue
        name = f"report {r['lab']}/{r['number']}"
        if not r["qualifies"]:
            why.append(f"{name} does not qualify: {'; '.join(r['reasons'])}")
        elif r["issued_on"] > day.isoformat():
            why.append(f"{name} was issued on {r['issued_on']}, after {day}")
        elif r["valid_until"] < day.isoformat():
            why.append(f"{name} expired on {r['valid_until']}")
    return why or ["no factory report was issued on it"]


def issue_report(ctx: Context) -> None:
    """report.issue, by the lab: recorded always; qualifies its batch only per the module rule."""
    lab = acting_org(ctx, Role.TESTING_LAB)
    p = reader(ctx)
    number = p.ident("number")
    key = report_key(lab["uscc"], number)
    if ctx.kv.get("report", key) is not None:
        raise RuleViolation("report.unique", f"{lab['uscc']} already issued report {number}")
    batch = require_batch(ctx, p.text("batch", max_len=40))
    sample = p.ident("sample")
    _plausible(ctx, current_policy(NATIONAL, local_date(ctx.time)), p, batch, lab["uscc"])
    issued, until, reasons = _validity(p, local_date(ctx.time))
    results = read_results(p, sample, lab["uscc"])
    problem = lab_accreditation_problem(lab, issued)
    reasons += [problem] if problem else []
    reasons += _provenance(results, sample, lab["uscc"])
    reasons += judge_results(results, batch, QUALIFYING)
    row = {
        "lab": lab["uscc"],
        "number": number,
        "batch": batch["id"],
        "sample": sample,
        "issued_on": issued.isoformat(),
        "valid_until": until.isoformat(),
        "document": p.sha256("document"),
        "standards": p.texts("standards"),
        "results": results,
        "qualifies": not reasons,
        "reasons": reasons,
        "seq": ctx.entry.seq,
    }
    ctx.kv.put("report", key, row)
    batch["reports"] = [*batch["reports"], key]
    if not reasons:
        batch["qualified_by"] = [*batch["qualified_by"], key]
    ctx.kv.put("batch", batch["id"], batch)
    ctx.ref(f"report:{key}", f"org:{lab['uscc']}", f"org:{batch['manufacturer']}")


def combustion_of(results: dict[str, dict[str, Any]]) -> CombustionClass | None:
    burn = results.get(Property.COMBUSTION)
    return None if burn is None else parse_class(burn["class"])


# -- entry types ---------------------------------------------------------------------

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "report.issue", "出具检验报告", "Issue a test report", issue_report,
        roles("testing_lab"), "A testing lab issues a report on a batch.",
        epcis=epcis.EventSpec("OBSERVE", "inspecting", "conformant", epcis.report),
        records=(Record("report", by_actor("number")),),
        payload=payloads.ReportIssue,
    ),
)  # fmt: skip
"""Reports' entry types (:mod:`insutrace.trace.entrytype`); the domain assembly adds the
credit module's joint punishment of listed labs to ``report.issue``."""
