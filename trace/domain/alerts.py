"""The alert lifecycle: a regulator (or investigator) acknowledges an alert, assigns it and
closes it with a note, each step an entry.

The alerts themselves are facts the ledger already holds, listed by
:func:`~.read.alert_inbox`: clone, overscan and counterfeit label alerts (:mod:`.labels`),
failed witnessed re-tests (:mod:`.site`) and credit listing proposals
(:func:`.credit.credit_proposals`). Their ids::

    clone|<batch>|<serial>   overscan|<batch>   counterfeit|<batch>|<serial>
    retest|<project>|<sample>                   credit|<kind>|<subject USCC>

The steps, in order (Eclipse Tractus-X quality alerts follow the same life)::

    alert.acknowledge   open → acknowledged          note?
    alert.assign        acknowledged | assigned → assigned   assignee, note?
    alert.close         acknowledged | assigned → closed     note (required)

Refused: an alert id the ledger does not list that day (``alert.known``), a step on a
closed alert (``alert.closed``), a step out of order (``alert.order``). Projection row
``alertcase``/<alert id> ``{id, kind, status, assignee, steps[{step, seq, date, by, note,
assignee}], seq}``; each step entry is referenced by ``alert:<id>``.
"""

from __future__ import annotations

from typing import Any, cast

from .. import epcis_map as epcis
from ..actors import Context
from ..entrytype import EntryType, Record, by_field, roles
from ..errors import RuleViolation
from ..store.base import Tx
from . import payloads
from .fields import local_date, reader
from .orgs import Role, acting_org
from .read import alert_of

__all__ = ["STEPS", "TYPES", "step_alert"]

LIFECYCLE_CLAUSE = "InsuTrace ledger rule: an alert is acknowledged, assigned, closed"
STEPS = {
    "alert.acknowledge": "acknowledged",
    "alert.assign": "assigned",
    "alert.close": "closed",
}
_FROM = {
    "acknowledged": ("open",),
    "assigned": ("acknowledged", "assigned"),
    "closed": ("acknowledged", "assigned"),
}


def _tx(ctx: Context) -> Tx:
    if not callable(getattr(ctx.kv, "entries", None)):
        # a programming error, not a ledger condition: alerts are read from a store transaction
        raise TypeError("the alert lifecycle reads entries: admit it on a store transaction")
    return cast(Tx, ctx.kv)


def step_alert(ctx: Context) -> None:
    """alert.acknowledge / alert.assign / alert.close, by a regulator or investigator."""
    who = acting_org(ctx, Role.REGULATOR, Role.INVESTIGATOR)
    step = STEPS[ctx.entry.type]
    p = reader(ctx)
    alert_id = p.text("alert", max_len=200)
    day = local_date(ctx.time)
    alert = alert_of(_tx(ctx), alert_id, day)
    if alert is None:
        raise RuleViolation("alert.known", f"no alert {alert_id!r} is listed on {day}")
    case: dict[str, Any] = ctx.kv.get("alertcase", alert_id) or {
        "id": alert_id,
        "kind": alert["kind"],
        "status": "open",
        "assignee": None,
        "steps": [],
    }
    if case["status"] == "closed":
        raise RuleViolation("alert.closed", f"alert {alert_id} is closed", LIFECYCLE_CLAUSE)
    if case["status"] not in _FROM[step]:
        raise RuleViolation(
            "alert.order",
            f"alert {alert_id} is {case['status']}: it cannot be {step} now "
            "(acknowledge it first; acknowledge once)",
            LIFECYCLE_CLAUSE,
        )
    note = p.text("note", max_len=500, optional=step != "closed") or None
    assignee = p.text("assignee", max_len=100) if step == "assigned" else None
    row = {
        "step": step,
        "seq": ctx.entry.seq,
        "date": day.isoformat(),
        "by": who["uscc"],
        "note": note,
        "assignee": assignee,
    }
    case.update(
        {
            "status": step,
            "assignee": assignee or case["assignee"],
            "steps": [*case["steps"], row],
            "seq": ctx.entry.seq,
        }
    )
    ctx.kv.put("alertcase", alert_id, case)
    ctx.ref(f"alert:{alert_id}")


# -- entry types ---------------------------------------------------------------------

_BY = "A regulator or an investigator"
_EVENT = epcis.EventSpec("OBSERVE", epcis.voc("handling_alert"), None, epcis.regulatory)

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "alert.acknowledge", "确认预警", "Acknowledge an alert", step_alert,
        roles("regulator", "investigator"), f"{_BY} acknowledges an alert.",
        epcis=_EVENT,
        records=(Record("alertcase", by_field("alert")),),
        payload=payloads.AlertAcknowledge,
    ),
    EntryType(
        "alert.assign", "指派预警", "Assign an alert", step_alert,
        roles("regulator", "investigator"), f"{_BY} assigns an acknowledged alert.",
        epcis=_EVENT,
        records=(Record("alertcase", by_field("alert")),),
        payload=payloads.AlertAssign,
    ),
    EntryType(
        "alert.close", "关闭预警", "Close an alert", step_alert,
        roles("regulator", "investigator"), f"{_BY} closes an alert with a note.",
        epcis=_EVENT,
        records=(Record("alertcase", by_field("alert")),),
        payload=payloads.AlertClose,
    ),
)  # fmt: skip
"""The alert lifecycle's entry types (:mod:`insutrace.trace.entrytype`)."""
