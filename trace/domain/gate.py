"""The permit gate: a regulator's pass or refusal at each administrative stage, with every reason.

Three stages, in the order Chinese practice runs them (公消〔2011〕65号 [S] is the precedent
for refusing at all three when the insulation does not comply):

1. ``fire_design_review`` 消防设计审查 — the design: the class each insulation position needs
   (GB 55037-2022 §6.6 external-wall table, GB 50016 §6.7, GB 50072-2021 §4.3.2 for cold
   storage, indoor ice/snow venues as 人员密集场所 by default) against the designed class;
   the small-project filing (属地备案).
2. ``construction_permit`` 施工许可 — the same, plus the contractor's credit status.
3. ``fire_acceptance`` 消防验收 — the evidence the ledger holds for every batch installed: a
   qualifying factory report valid on each installation date, a passed witnessed re-test,
   label class = report class = declared class = design class ≥ required class, re-test
   class ≥ declared class, the GB 50072 thermoset core, the ancillary measures a B1/B2
   product needs (GB 50016 §6.7.7-§6.7.10) attested by the supervisor, the works complete
   with no recalled batch, and the credit status of manufacturer, labs and contractor.

:func:`evaluate` is a pure function of the projections (and the few entries whose payload
it quotes, read through the store transaction) and a decision date: it returns a
structured :class:`Evaluation` — pass or refuse, and every :class:`Finding` with its rule
id, clause, message and the entries it rests on. A refusal of an earlier stage that has
not been followed by a passing decision refuses every later stage (``gate.stage_order``).

``permit.decide`` (signed by a regulator, :mod:`.permits`) records a decision, checked
against this evaluation at the entry's own date.

Gate rules are policy: each has an id, a clause, a confidence tag and the stages it applies
at. The defaults below encode the reference's national reading; a jurisdiction's policy
file overrides one by carrying a rule with the same id whose values are stage flags
(``{"fire_acceptance": true, ...}``), as :func:`gate_rule` reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from ..combustion import BasicClass, CombustionClass, parse_class
from ..entry import Entry
from ..errors import NotFound
from ..policy import (
    Confidence,
    MeasureCode,
    Policy,
    Requirement,
    ancillary_measures,
    required_class,
)
from ..store.base import KV
from .credit import describe, listings_in_effect
from .projects import FILING_CLAUSE, design_of, policy_of
from .read import InstalledBatch, project_evidence, project_in_force, qualifying_reports
from .reports import QUALIFY_CLAUSE, not_qualifying
from .site import adjoining_class

__all__ = [
    "DEFAULT_RULES",
    "STAGES",
    "Evaluation",
    "Finding",
    "GateRule",
    "LogView",
    "Outcome",
    "Stage",
    "decisions",
    "evaluate",
    "gate_rule",
]


class Stage(StrEnum):
    """The administrative permits the gate applies at, in order."""

    FIRE_DESIGN_REVIEW = "fire_design_review"  # 消防设计审查
    CONSTRUCTION_PERMIT = "construction_permit"  # 施工许可
    FIRE_ACCEPTANCE = "fire_acceptance"  # 消防验收


STAGES = (Stage.FIRE_DESIGN_REVIEW, Stage.CONSTRUCTION_PERMIT, Stage.FIRE_ACCEPTANCE)
STAGE_NAMES = {
    Stage.FIRE_DESIGN_REVIEW: "消防设计审查",
    Stage.CONSTRUCTION_PERMIT: "施工许可",
    Stage.FIRE_ACCEPTANCE: "消防验收",
}


class Outcome(StrEnum):
    PASS = "pass"
    REFUSE = "refuse"


class LogView(KV, Protocol):
    """What the gate reads: projection rows and the bytes of a few entries."""

    def entries(self, start: int, stop: int) -> list[bytes]: ...


@dataclass(frozen=True)
class GateRule:
    """One gate rule: id, clause, confidence and the stages it applies at."""

    id: str
    clause: str
    confidence: Confidence
    stages: frozenset[Stage]
    opt_in: bool = False  # applies only under a policy version that carries it (wave 2)


_ALL = frozenset(STAGES)
_LATER = frozenset({Stage.CONSTRUCTION_PERMIT, Stage.FIRE_ACCEPTANCE})
_FINAL = frozenset({Stage.FIRE_ACCEPTANCE})
_S, _U = Confidence.SECONDARY, Confidence.UNCONFIRMED
CREDIT_CLAUSE = (
    "2025 整治行动: no current serious-dishonesty listing (MOHURD: expired records unused)"
)

DEFAULT_RULES: dict[str, GateRule] = {
    r.id: r
    for r in (
        GateRule(
            "gate.stage_order",
            "公消〔2011〕65号: a refused stage blocks the later ones",
            _S,
            _LATER,
        ),
        GateRule(
            "gate.required_class",
            "GB 55037-2022 §6.6; GB 50016-2014(2018) §6.7; GB 50072-2021 §4.3.2",
            _S,
            _ALL,
        ),
        GateRule("gate.filing", FILING_CLAUSE, _S, _ALL),
        GateRule("gate.credit.contractor", CREDIT_CLAUSE, _S, _LATER),
        GateRule("gate.credit.manufacturer", CREDIT_CLAUSE, _S, _FINAL),
        GateRule("gate.credit.lab", CREDIT_CLAUSE, _S, _FINAL),
        GateRule("gate.report", QUALIFY_CLAUSE, _S, _FINAL),
        GateRule("gate.retest", "GB 55015-2021 §6.2.1 (见证取样 witnessed re-test)", _S, _FINAL),
        GateRule(
            "gate.class_chain",
            "2025 整治行动: label class = report class = design class ≥ required class",
            _S,
            _FINAL,
        ),
        GateRule("gate.retest_class", "GB 55015-2021 §6.2.1; GB 8624-2012 §4", _S, _FINAL),
        GateRule("gate.thermoset", "GB 50072-2021 §4.3.2(1)", _S, _FINAL),
        GateRule("gate.measures", "GB 50016-2014(2018) §6.7.7-§6.7.10", _U, _FINAL),
        GateRule(
            "gate.complete", "消防验收: works complete as designed, no recalled batch", _S, _FINAL
        ),
        GateRule(
            "gate.stage_passed",
            "公消〔2011〕65号; 住建部令第51号: stages follow each other",
            _S,
            _LATER,
            opt_in=True,
        ),
        GateRule(
            "gate.acceptance_signed",
            "建设工程质量管理条例 Art. 16; GB 50411-2019 §3.4: acceptance signed by supervisor and owner",
            _S,
            _FINAL,
            opt_in=True,
        ),
    )
}


# The opt-in gate rules and the switch of the policy's ``stages.sequence`` that turns each on.
_SWITCHES = {
    "gate.stage_passed": "fire_review_before_permit",
    "gate.acceptance_signed": "acceptance_by_supervisor_and_owner",
}


def gate_rule(policy: Policy, rule_id: str) -> GateRule:
    """The gate rule ``rule_id``: the policy's own when it has one, else the default."""
    default = DEFAULT_RULES[rule_id]
    rule = policy.rules.get(rule_id)
    if rule is None and default.opt_in:
        switch = policy.optional("stages.sequence")
        on = switch is not None and switch.flag(_SWITCHES[rule_id])
        return replace(default, stages=default.stages if on else frozenset())
    if rule is None:
        return default
    stages = frozenset(s for s in STAGES if rule.values.get(s.value, s in default.stages) is True)
    return GateRule(rule.id, rule.clause, rule.confidence, stages)


# -- results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One rule applied to one thing: ``ok`` or a reason to refuse, and its entries."""

    rule: str
    clause: str
    ok: bool
    message: str
    entries: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "clause": self.clause,
            "ok": self.ok,
            "message": self.message,
            "entries": list(self.entries),
        }


@dataclass(frozen=True)
class Evaluation:
    """The gate's answer for one project at one stage on one date."""

    project: str
    stage: Stage
    on: date
    policy: dict[str, str]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def reasons(self) -> tuple[Finding, ...]:
        """The findings that refuse."""
        return tuple(f for f in self.findings if not f.ok)

    @property
    def outcome(self) -> Outcome:
        return Outcome.REFUSE if self.reasons else Outcome.PASS

    @property
    def refused_rules(self) -> list[str]:
        """Sorted distinct rule ids of the reasons: what a refusal decision states."""
        return sorted({f.rule for f in self.reasons})

    @property
    def entries(self) -> list[int]:
        return sorted({seq for f in self.findings for seq in f.entries})

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stage": self.stage.value,
            "stage_zh": STAGE_NAMES[self.stage],
            "on": self.on.isoformat(),
            "policy": self.policy,
            "outcome": self.outcome.value,
            "rules": self.refused_rules,
            "reasons": [f.to_json() for f in self.reasons],
            "findings": [f.to_json() for f in self.findings],
            "notes": list(self.notes),
        }


# -- what the checks read -----------------------------------------------------------


@dataclass
class _Case:
    view: LogView
    project: dict[str, Any]
    stage: Stage
    day: date
    policy: Policy
    uses: list[InstalledBatch]
    notes: list[str] = field(default_factory=list)

    def rule(self, rule_id: str) -> GateRule:
        return gate_rule(self.policy, rule_id)

    def finding(self, rule_id: str, ok: bool, message: str, entries: Iterable[int]) -> Finding:
        rule = self.rule(rule_id)
        return Finding(rule.id, rule.clause, ok, message, tuple(sorted(set(entries))))

    def payload(self, seq: int) -> dict[str, Any]:
        rows = self.view.entries(seq, seq + 1)
        if not rows:
            raise NotFound(f"no entry {seq}")
        return Entry.from_bytes(rows[0]).payload

    def requirement(self, sid: str) -> Requirement:
        """The requirement of section ``sid`` (a door section with its own opening size)."""
        section = self.project["sections"][sid]
        return required_class(self.policy, design_of(self.project, section["position"], section))

    def org_seq(self, uscc: str) -> list[int]:
        org = self.view.get("org", uscc)
        return [int(org["seq"])] if org else []


def _install_days(case: _Case) -> None:
    for use in case.uses:
        for row in use.placed.values():
            for seq in row["seqs"]:
                use.install_days[seq] = date.fromisoformat(case.payload(seq)["date"])


# -- the checks ---------------------------------------------------------------------


def _stage_order(case: _Case) -> list[Finding]:
    """gate.stage_order: the latest decision of every earlier stage is not a refusal."""
    findings, cited = [], []
    for stage in STAGES[: STAGES.index(case.stage)]:
        row = case.view.get("permit", f"{case.project['id']}|{stage}")
        if row is None:
            case.notes.append(f"no {stage} ({STAGE_NAMES[stage]}) decision is recorded")
            continue
        latest = row["latest"]
        cited.append(latest["seq"])
        if latest["outcome"] == Outcome.REFUSE:
            message = (
                f"the latest {stage} ({STAGE_NAMES[stage]}) decision, {latest['number']} of "
                f"{latest['date']} (entry {latest['seq']}), refused ({', '.join(latest['rules'])}); "
                "a new passing evaluation of that stage is needed first"
            )
            findings.append(case.finding("gate.stage_order", False, message, [latest["seq"]]))
    if not findings:
        findings.append(case.finding("gate.stage_order", True, "no earlier stage refused", cited))
    return findings


def _design_notes(case: _Case, sid: str, req: Requirement, designed: CombustionClass) -> None:
    for m in req.conditions:
        case.notes.append(f"section {sid}: {m.text} ({m.clause} [{m.confidence}])")
    section = case.project["sections"][sid]
    design = design_of(case.project, section["position"], section)
    for m in ancillary_measures(case.policy, design, designed):
        case.notes.append(f"section {sid}, if {designed.label()} is used: {m.text} ({m.clause})")


def _required_class(case: _Case) -> list[Finding]:
    """gate.required_class: every section's designed class meets the policy's requirement."""
    findings = []
    d = case.project["design"]
    for sid, section in sorted(case.project["sections"].items()):
        req = case.requirement(sid)
        designed = parse_class(section["design_class"])
        ok = req.met_by(designed)
        message = (
            f"section {sid} ({section['position']}): designed {designed.label()}, "
            f"{req.label} required for {d['use']} of {d['height_m']} m by {req.rule_id} "
            f"({req.clause})"
        )
        findings.append(case.finding("gate.required_class", ok, message, [case.project["seq"]]))
        if case.stage != Stage.FIRE_ACCEPTANCE:
            _design_notes(case, sid, req, designed)
    return findings


def _filing(case: _Case) -> list[Finding]:
    """gate.filing: a project below the quota is filed locally (属地备案)."""
    p = case.project
    if not p["below_quota"]:
        permit = p["permit"] or {}
        message = f"construction permit {permit.get('number')} by {permit.get('authority')}"
        return [case.finding("gate.filing", True, message, [p["seq"]])]
    filing = p["filing"]
    if filing is None:
        message = f"project {p['id']} is below the quota and not filed locally (project.file)"
        return [case.finding("gate.filing", False, message, [p["seq"]])]
    message = f"filed as {filing['number']} by {filing['authority']} on {filing['date']}"
    return [case.finding("gate.filing", True, message, [p["seq"], filing["seq"]])]


def _credit(case: _Case, rule_id: str, role: str, subjects: dict[str, list[int]]) -> list[Finding]:
    findings = []
    for uscc, cited in sorted(subjects.items()):
        current = listings_in_effect(case.view, uscc, case.day)
        seqs = [*cited, *case.org_seq(uscc), *(x["seq"] for x in current)]
        if current:
            message = "; ".join(describe(x) for x in current)
            findings.append(case.finding(rule_id, False, f"{role}: {message}", seqs))
        else:
            message = f"{role} {uscc} is on no current list on {case.day}"
            findings.append(case.finding(rule_id, True, message, seqs))
    return findings


def _credit_contractor(case: _Case) -> list[Finding]:
    """gate.credit.contractor: the project's contractor is not listed on the decision date."""
    contractor = case.project["contractor"]
    return _credit(case, "gate.credit.contractor", "contractor", {contractor: []})


def _credit_manufacturer(case: _Case) -> list[Finding]:
    """gate.credit.manufacturer: no manufacturer of an installed batch is listed."""
    makers: dict[str, list[int]] = {}
    for use in case.uses:
        makers.setdefault(use.batch["manufacturer"], []).append(use.batch["seq"])
    return _credit(case, "gate.credit.manufacturer", "manufacturer", makers)


def _labs(case: _Case) -> dict[str, list[int]]:
    labs: dict[str, list[int]] = {}
    for use in case.uses:
        for key in use.batch["qualified_by"]:
            report = case.view.get("report", key)
            if report is not None:
                labs.setdefault(report["lab"], []).append(report["seq"])
        for sample in _samples(case, use):
            labs.setdefault(sample["lab"], []).append(sample["seq"])
    return labs


def _credit_lab(case: _Case) -> list[Finding]:
    """gate.credit.lab: no lab of a factory report or re-test relied on is listed."""
    return _credit(case, "gate.credit.lab", "lab", _labs(case))


def _reports(case: _Case, use: InstalledBatch) -> list[dict[str, Any]]:
    rows = (case.view.get("report", key) for key in use.batch["qualified_by"])
    return [r for r in rows if r is not None]


def _report(case: _Case) -> list[Finding]:
    """gate.report: a qualifying factory report valid on every installation date
    (:func:`~.read.qualifying_reports`, the one meaning of "qualifies on a day")."""
    findings = []
    for use in case.uses:
        batch = use.batch["id"]
        by_day = {
            day: qualifying_reports(case.view, batch, day) for day in use.install_days.values()
        }
        missing = sorted(day for day, found in by_day.items() if not found)
        relied = {r["seq"]: r for found in by_day.values() for r in found}
        seqs = [use.batch["seq"], *relied, *use.install_seqs]
        if missing:
            days = ", ".join(d.isoformat() for d in missing)
            why = "; ".join(not_qualifying(case.view, use.batch, missing[0]))
            message = f"batch {batch}: no qualifying factory report valid on {days} ({why})"
        else:
            numbers = ", ".join(f"{r['lab']}/{r['number']}" for _, r in sorted(relied.items()))
            message = f"batch {batch}: qualified by {numbers}"
        findings.append(case.finding("gate.report", not missing, message, seqs))
    return findings


def _samples(case: _Case, use: InstalledBatch) -> list[dict[str, Any]]:
    names = [*use.onsite["retests_passed"], *use.onsite["retests_failed"]]
    rows = (case.view.get("sample", f"{case.project['id']}|{name}") for name in names)
    return [r for r in rows if r is not None]


def _sample_seqs(samples: list[dict[str, Any]]) -> list[int]:
    seqs = [s["seq"] for s in samples]
    return seqs + [s["result"]["seq"] for s in samples if s["result"]]


def _retest(case: _Case) -> list[Finding]:
    """gate.retest: a passed witnessed re-test on this project and no failed one anywhere."""
    findings = []
    for use in case.uses:
        samples = _samples(case, use)
        failed = use.batch["non_conforming"]
        seqs = [use.batch["seq"], *_sample_seqs(samples), *(f["seq"] for f in failed)]
        bid = use.batch["id"]
        if failed:
            where = ", ".join(f"{f['project']}/{f['sample']}" for f in failed)
            message = f"batch {bid} failed witnessed re-test(s) {where}"
        elif not use.onsite["retests_passed"]:
            message = f"batch {bid} has no passed witnessed re-test on {case.project['id']}"
        else:
            passed = ", ".join(use.onsite["retests_passed"])
            message = f"batch {bid} passed witnessed re-test(s) {passed}"
        ok = bool(use.onsite["retests_passed"]) and not failed
        findings.append(case.finding("gate.retest", ok, message, seqs))
    return findings


def _same(a: CombustionClass, b: CombustionClass) -> bool:
    return (a.basic_class, a.effective_sub_class) == (b.basic_class, b.effective_sub_class)


def _as_designed(product: CombustionClass, design: CombustionClass) -> bool:
    """Equal at the precision the design states (a basic class, or a sub-class)."""
    if design.sub_class is None:
        return product.basic_class == design.basic_class
    return _same(product, design)


def _label(case: _Case, use: InstalledBatch) -> tuple[CombustionClass | None, list[int]]:
    inspection = use.onsite["inspection"]
    if not inspection or not inspection["accepted"]:
        return None, []
    text = case.payload(inspection["seq"]).get("label_class", "")
    return parse_class(str(text)), [inspection["seq"]]


def _chain_problems(case: _Case, use: InstalledBatch, label: CombustionClass | None) -> list[str]:
    declared = use.declared
    problems = []
    if label is None:
        problems.append("no accepted arrival inspection states its label class")
    elif not _same(label, declared):
        problems.append(f"label {label.label()} ≠ declared {declared.label()}")
    for r in _reports(case, use):
        tested = r["results"].get("combustion")
        if tested is None or not _same(parse_class(tested["class"]), declared):
            shown = tested["class"] if tested else "none"
            problems.append(f"report {r['number']} class {shown} ≠ declared {declared.label()}")
    for sid in sorted(use.placed):
        section = case.project["sections"][sid]
        design = parse_class(section["design_class"])
        if not _as_designed(declared, design):
            problems.append(f"section {sid} is designed {design.label()}, built {declared.label()}")
        req = case.requirement(sid)
        if not req.met_by(declared):
            problems.append(f"section {sid} requires {req.label} ({req.rule_id})")
    return problems


def _class_chain(case: _Case) -> list[Finding]:
    """gate.class_chain: label class = report class = declared = design class ≥ required."""
    findings = []
    for use in case.uses:
        label, label_seqs = _label(case, use)
        problems = _chain_problems(case, use, label)
        seqs = [
            use.batch["seq"],
            case.project["seq"],
            *label_seqs,
            *(r["seq"] for r in _reports(case, use)),
            *use.install_seqs,
        ]
        bid = use.batch["id"]
        message = (
            f"batch {bid}: " + "; ".join(problems)
            if problems
            else f"batch {bid}: label = report = design = {use.declared.label()}, meets required"
        )
        findings.append(case.finding("gate.class_chain", not problems, message, seqs))
    return findings


def _retest_class(case: _Case) -> list[Finding]:
    """gate.retest_class: every re-test's combustion class ≥ the declared class."""
    findings = []
    for use in case.uses:
        declared = use.declared
        samples = [s for s in _samples(case, use) if s["result"]]
        seqs = [use.batch["seq"], *_sample_seqs(samples)]
        problems, tested = [], []
        for s in samples:
            burn = s["result"]["results"].get("combustion")
            if burn is None:
                if declared.basic_class != BasicClass.A:
                    problems.append(f"re-test {s['sample']} has no combustion result")
                continue
            tested.append(burn["class"])
            if not parse_class(burn["class"]).meets(declared.effective_sub_class):
                problems.append(f"re-test {s['sample']} class {burn['class']} < declared")
        if not samples:
            continue  # gate.retest refuses already
        if problems:
            message = f"batch {use.batch['id']} ({declared.label()}): " + "; ".join(problems)
        elif tested:
            message = f"batch {use.batch['id']}: re-tested {', '.join(tested)} ≥ {declared.label()}"
        else:
            message = f"batch {use.batch['id']}: non-combustible (A), combustion not re-tested"
        findings.append(case.finding("gate.retest_class", not problems, message, seqs))
    return findings


def _thermoset(case: _Case) -> list[Finding]:
    """gate.thermoset: a B1 sandwich-panel core in cold storage is thermosetting."""
    findings = []
    for use in case.uses:
        for sid in sorted(use.placed):
            codes = {m.code for m in case.requirement(sid).conditions}
            if MeasureCode.THERMOSET_CORE_IF_B1 not in codes:
                continue
            b1 = use.declared.basic_class == BasicClass.B1
            ok = not b1 or bool(use.product.get("thermosetting"))
            message = (
                f"section {sid}: batch {use.batch['id']} is {use.declared.label()}, "
                f"{use.product.get('polymer')} ({'thermoset' if use.product.get('thermosetting') else 'thermoplastic'})"
            )
            seqs = [use.batch["seq"], use.product.get("seq", use.batch["seq"]), *use.install_seqs]
            findings.append(case.finding("gate.thermoset", ok, message, seqs))
    return findings


def _measures_required(case: _Case) -> dict[str, str]:
    """Measure code -> clause: design conditions and B1/B2 ancillary measures of what was built."""
    needed: dict[str, str] = {}
    for use in case.uses:
        for sid in use.placed:
            section = case.project["sections"][sid]
            position = section["position"]
            for m in case.requirement(sid).conditions:
                if m.code != MeasureCode.THERMOSET_CORE_IF_B1:
                    needed[m.code] = m.clause
            design = design_of(case.project, position, section)
            adjoining = adjoining_class(case.project, position)
            for m in ancillary_measures(
                case.policy, design, use.declared, adjoining_class=adjoining
            ):
                needed[m.code] = m.clause
    return needed


def _measures(case: _Case) -> list[Finding]:
    """gate.measures: the supervisor's acceptance attests every measure B1/B2 use requires."""
    if not case.uses:
        return []
    needed = _measures_required(case)
    seq = case.project["accepted"].get("supervisor")
    attested = set(case.payload(seq).get("measures", [])) if seq is not None else set()
    missing = sorted(set(needed) - attested)
    seqs = [seq] if seq is not None else [case.project["seq"]]
    if not needed:
        message = "no condition or ancillary measure is required for what was built"
    elif missing and seq is None:
        message = f"required {', '.join(sorted(needed))}; no supervisor acceptance attests them"
    elif missing:
        clauses = "; ".join(sorted({needed[m] for m in missing}))
        message = f"not attested by the supervisor: {', '.join(missing)} ({clauses})"
    else:
        message = f"attested by the supervisor: {', '.join(sorted(needed))}"
    return [case.finding("gate.measures", not missing, message, seqs)]


def _complete(case: _Case) -> list[Finding]:
    """gate.complete: every section fully installed; no installed batch recalled."""
    problems = [
        f"section {sid}: {s['installed'] / 1000:g} of {s['area'] / 1000:g} m² installed"
        for sid, s in sorted(case.project["sections"].items())
        if s["installed"] < s["area"]
    ]
    seqs = [case.project["seq"]]
    for use in case.uses:
        seqs += use.install_seqs
        recalled = use.batch["recalled"]
        if recalled:
            problems.append(
                f"installed batch {use.batch['id']} was recalled ({recalled['reason']})"
            )
            seqs.append(recalled["seq"])
    message = "; ".join(problems) if problems else "every section installed as designed"
    return [case.finding("gate.complete", not problems, message, seqs)]


def _stages_needed(case: _Case) -> list[Stage]:
    """The earlier stages that must have passed: the fire design review always; the
    construction permit too, unless the project is a small one filed locally (属地备案)."""
    earlier = list(STAGES[: STAGES.index(case.stage)])
    if case.project["below_quota"]:
        earlier = [s for s in earlier if s != Stage.CONSTRUCTION_PERMIT]
    return earlier


def _stage_passed(case: _Case) -> list[Finding]:
    """gate.stage_passed: every earlier stage has a passing latest decision on record."""
    findings = []
    for stage in _stages_needed(case):
        row = case.view.get("permit", f"{case.project['id']}|{stage}")
        latest = row["latest"] if row else None
        if latest is None:
            message = f"no {stage} ({STAGE_NAMES[stage]}) decision is on record"
            findings.append(
                case.finding("gate.stage_passed", False, message, [case.project["seq"]])
            )
            continue
        ok = latest["outcome"] == Outcome.PASS
        verdict = "passed" if ok else "refused"
        message = (
            f"the latest {stage} ({STAGE_NAMES[stage]}) decision, {latest['number']} of "
            f"{latest['date']} (entry {latest['seq']}), {verdict}"
        )
        findings.append(case.finding("gate.stage_passed", ok, message, [latest["seq"]]))
    return findings


ACCEPTING_PARTIES = ("supervisor", "owner")


def _acceptance_signed(case: _Case) -> list[Finding]:
    """gate.acceptance_signed: the project.accept entries of the supervisor and the owner."""
    accepted = case.project["accepted"]
    missing = [role for role in ACCEPTING_PARTIES if role not in accepted]
    seqs = [case.project["seq"], *(accepted[r] for r in ACCEPTING_PARTIES if r in accepted)]
    if missing:
        names = ", ".join(f"{r} {case.project[r]}" for r in missing)
        message = f"no project.accept (竣工验收) entry of the {names}"
    else:
        message = "accepted by the supervisor and the owner"
    return [case.finding("gate.acceptance_signed", not missing, message, seqs)]


_CHECKS: tuple[tuple[str, Callable[[_Case], list[Finding]]], ...] = (
    ("gate.stage_order", _stage_order),
    ("gate.stage_passed", _stage_passed),
    ("gate.required_class", _required_class),
    ("gate.filing", _filing),
    ("gate.credit.contractor", _credit_contractor),
    ("gate.credit.manufacturer", _credit_manufacturer),
    ("gate.credit.lab", _credit_lab),
    ("gate.report", _report),
    ("gate.retest", _retest),
    ("gate.class_chain", _class_chain),
    ("gate.retest_class", _retest_class),
    ("gate.thermoset", _thermoset),
    ("gate.measures", _measures),
    ("gate.complete", _complete),
    ("gate.acceptance_signed", _acceptance_signed),
)


def evaluate(
    view: LogView, project_id: str, stage: Stage | str, *, on: date, policy: Policy | None = None
) -> Evaluation:
    """Evaluate ``project_id`` at ``stage`` on the decision date ``on``.

    ``policy`` is the jurisdiction's policy (default: the one the project names). Pure: it
    reads the projections and the payloads of the inspection, installation and acceptance
    entries it quotes; it writes nothing.
    """
    stage = Stage(stage)
    project = view.get("project", project_id)
    if project is None:
        raise NotFound(f"no project {project_id!r}")
    project = project_in_force(view, project)  # sections as designed after design changes
    policy = policy or policy_of(project["policy"])
    uses = project_evidence(view, project) if stage == Stage.FIRE_ACCEPTANCE else []
    case = _Case(view, project, stage, on, policy, uses)
    _install_days(case)
    findings: list[Finding] = []
    for rule_id, check in _CHECKS:
        if stage in case.rule(rule_id).stages:
            findings += check(case)
    if stage == Stage.FIRE_ACCEPTANCE and not uses:
        case.notes.append("no batch is installed on this project yet")
    return Evaluation(
        project_id,
        stage,
        on,
        {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
        tuple(findings),
        tuple(dict.fromkeys(case.notes)),
    )


def decisions(kv: KV, project_id: str) -> dict[str, dict[str, Any]]:
    """The permit decisions of a project by stage: ``{stage: {latest, decisions[]}}``."""
    found = {}
    for stage in STAGES:
        row = kv.get("permit", f"{project_id}|{stage}")
        if row is not None:
            found[stage.value] = row
    return found
