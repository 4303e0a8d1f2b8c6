"""Recall: a non-conforming batch is withdrawn, and everyone it reached is named.

``batch.recall`` is signed by an authorised party: the batch's manufacturer or a
regulator when a witnessed re-test failed (the failed sample is the evidence), a
regulator or an investigator on fraud (a decision document is the evidence). From
then on the batch is not installed, may only be shipped back to its manufacturer
(returns up the chain are allowed) or destroyed, and blocks the acceptance of any
project it went into.

Projection row ``recall``/<batch>: the notice at recall time — current holders,
shipments in transit and the walls the batch went into (see :func:`read.recall_list`,
which answers the same question at any later time).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..entrytype import EntryType, Record, by_field, party, roles
from ..errors import Forbidden, RuleViolation
from . import payloads
from .batches import require_batch
from .fields import Reader, local_date, reader
from .orgs import Role, acting_org
from .read import recall_list

__all__ = ["TYPES", "RecallReason", "recall_batch"]


class RecallReason(StrEnum):
    FAILED_RETEST = "failed_retest"
    FRAUD = "fraud"


def _failed_sample(ctx: Context, p: Reader, batch: dict[str, Any]) -> dict[str, Any]:
    key = p.text("sample", max_len=170)
    sample = ctx.kv.get("sample", key)
    if sample is None or sample["batch"] != batch["id"]:
        raise RuleViolation("recall.evidence", f"no sample {key!r} of batch {batch['id']}")
    if sample["result"] is None or sample["result"]["passed"]:
        state = "has no result yet" if sample["result"] is None else "passed"
        raise RuleViolation("recall.evidence", f"sample {key} {state}: it is no evidence")
    ctx.ref(f"sample:{key}")
    return {"sample": key, "reasons": sample["result"]["reasons"]}


def _evidence(
    ctx: Context, p: Reader, signer: dict[str, Any], batch: dict[str, Any]
) -> dict[str, Any]:
    reason = p.one("reason", RecallReason)
    roles = set(signer["roles"])
    if reason == RecallReason.FAILED_RETEST:
        if not (Role.REGULATOR in roles or signer["uscc"] == batch["manufacturer"]):
            raise Forbidden("a failed re-test is recalled by the manufacturer or a regulator")
        return {"reason": reason, **_failed_sample(ctx, p, batch)}
    if not roles & {Role.REGULATOR, Role.INVESTIGATOR}:
        raise Forbidden("a recall for fraud is decided by a regulator or an investigator")
    decision = p.obj("decision")
    return {
        "reason": reason,
        "decision": decision.text("number", max_len=60),
        "document": decision.sha256("document"),
    }


def recall_batch(ctx: Context) -> None:
    """batch.recall: mark the batch recalled and record who holds it and where it went."""
    signer = acting_org(ctx, Role.MANUFACTURER, Role.REGULATOR, Role.INVESTIGATOR)
    p = reader(ctx)
    batch = require_batch(ctx, p.text("batch", max_len=40))
    if batch["recalled"]:
        raise RuleViolation("recall.once", f"batch {batch['id']} is already recalled")
    evidence = _evidence(ctx, p, signer, batch)
    batch["recalled"] = {
        "seq": ctx.entry.seq,
        "by": signer["uscc"],
        "date": local_date(ctx.time).isoformat(),
        "note": p.text("note", max_len=500, optional=True),
        **evidence,
    }
    ctx.kv.put("batch", batch["id"], batch)
    notice = recall_list(ctx.kv, batch["id"])
    ctx.kv.put("recall", batch["id"], notice)
    ctx.ref(f"org:{batch['manufacturer']}")
    ctx.ref(*(f"org:{h['holder']}" for h in notice["holders"]))
    ctx.ref(*(f"project:{w['project']}" for w in notice["walls"]))
    ctx.ref(*(f"building:{w['building']}" for w in notice["walls"] if w["building"]))


# -- entry types ---------------------------------------------------------------------

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "batch.recall", "召回批次", "Recall a batch", recall_batch,
        roles("manufacturer", "regulator", "investigator"),
        "A manufacturer (its own batch), a regulator or an investigator recalls a batch.",
        owner=party("batch", "batch", "manufacturer", when_role="manufacturer"),
        owner_doc="A manufacturer only for its own batches.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("recalling"), "recalled", epcis.recall),
        records=(Record("batch", by_field("batch")),),
        payload=payloads.BatchRecall,
    ),
)  # fmt: skip
"""Recalls' entry types (:mod:`insutrace.trace.entrytype`)."""
