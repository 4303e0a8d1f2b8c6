"""Permit decisions: ``permit.decide``, a regulator's pass or refusal at one stage.

The decision is checked on append like every entry: the claimed outcome and refused rule
ids must equal the permit gate's evaluation (:func:`.gate.evaluate`) at the entry's own
time (China Standard Time date), so a replay reaches the same projections
(公消〔2011〕65号 three-stage refusal).

Payload: project, stage, outcome (pass | refuse), rules[] (the refused rule ids, sorted;
empty for pass), number (decision document), document? (SHA-256), policy? {id, version,
sha256} (default: exactly the version the project names). Projection row ``permit``/<project>|<stage>
``{project, stage, latest {seq, outcome, rules, date, number, by, policy}, decisions[seq]}``.
"""

from __future__ import annotations

from typing import Any, cast

from .. import epcis_map as epcis
from ..actors import Context
from ..entrytype import EntryType, Record, by_fields, roles
from ..errors import RuleViolation
from ..policy import Policy
from ..store.base import KV
from . import payloads
from .fields import Reader, local_date, reader
from .gate import Evaluation, LogView, Outcome, Stage, evaluate
from .orgs import Role, acting_org
from .projects import policy_of, read_policy, require_project

__all__ = ["TYPES", "decide_permit"]


def _view(kv: KV) -> LogView:
    if not callable(getattr(kv, "entries", None)):
        # a programming error, not a ledger condition: the caller passed the wrong object
        raise TypeError("the permit gate reads entries: evaluate it on a store transaction")
    return cast(LogView, kv)


def _summary(evaluation: Evaluation) -> str:
    if not evaluation.reasons:
        return "pass"
    shown = "; ".join(f"{f.rule}: {f.message}" for f in evaluation.reasons[:4])
    more = len(evaluation.reasons) - 4
    return f"refuse — {shown}" + (f"; and {more} more" if more > 0 else "")


def _policy_ref(p: Reader, project: dict[str, Any]) -> tuple[dict[str, str], Policy]:
    """The jurisdiction policy the decision names, else exactly the version the project names."""
    if not p.has("policy"):
        return dict(project["policy"]), policy_of(project["policy"])
    return read_policy(p)


def decide_permit(ctx: Context) -> None:
    """permit.decide, by a regulator: the decision must state the evaluation's outcome and
    refused rules at the entry's own date (公消〔2011〕65号 three-stage refusal)."""
    regulator = acting_org(ctx, Role.REGULATOR)
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    stage = p.one("stage", Stage)
    policy_ref, policy = _policy_ref(p, project)
    day = local_date(ctx.time)
    evaluation = evaluate(_view(ctx.kv), project["id"], stage, on=day, policy=policy)
    claimed = p.one("outcome", Outcome)
    rules = sorted(set(p.texts("rules", min_items=0))) if p.has("rules") else []
    if claimed != evaluation.outcome or rules != evaluation.refused_rules:
        raise RuleViolation(
            "permit.outcome",
            f"the decision states {claimed} {rules}; the evaluation on {day} is "
            f"{_summary(evaluation)}",
        )
    latest = {
        "seq": ctx.entry.seq,
        "outcome": claimed.value,
        "rules": rules,
        "date": day.isoformat(),
        "number": p.ident("number"),
        "document": p.sha256("document", optional=True),
        "by": regulator["uscc"],
        "policy": policy_ref,
    }
    key = f"{project['id']}|{stage}"
    row = ctx.kv.get("permit", key) or {"project": project["id"], "stage": stage, "decisions": []}
    row["latest"] = latest
    row["decisions"] = [*row["decisions"], ctx.entry.seq]
    ctx.kv.put("permit", key, row)
    ctx.ref(f"permit:{project['id']}", f"building:{project['building']}")


# -- entry types ---------------------------------------------------------------------

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "permit.decide", "行政许可决定", "Decide a permit stage", decide_permit,
        roles("regulator"), "A regulator decides a permit stage.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("deciding_permit"), None, epcis.regulatory),
        records=(Record("permit", by_fields("project", "stage")),),
        payload=payloads.PermitDecide,
    ),
)  # fmt: skip
"""Permit decisions' entry types (:mod:`insutrace.trace.entrytype`)."""
