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
from ..combustion import CombustionClass, parse_class
from ..entrytype import EntryType, Record, by_actor, roles
from ..errors import MalformedInput, RuleViolation
from . import payloads
from .batches import batch_class, parse_declared, require_batch
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
    "read_results",
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
    results: dict[str, dict[str, Any]], batch: dict[str, Any], required: tuple[str, ...]
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
    return reasons


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
