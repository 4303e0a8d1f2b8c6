"""Custody: shipments, receipts, returns and destruction, under mass balance.

Every batch obeys, after every entry::

    produced = held + in transit + installed + consumed by sampling + destroyed

``held`` sums the holding rows of every holder and site; nobody ships, returns,
destroys, installs or samples more of a batch than they hold at that site
(rule ``custody.balance``). A *site* is ``""`` (the holder's own premises) or a
project id: material received on a project is held there by its recipient.

A shipment is in transit until received. A receipt takes all or part of each
line; a receipt with ``close: true`` settles the remainder as a discrepancy:
``short`` (never loaded: back to the shipper), ``damaged`` or ``lost`` (destroyed).
A return ships received goods back to the shipper of the original shipment.
A recalled batch may only move back up the chain or be destroyed.

Projection rows (quantities in milli-units of the batch's unit)::

    shipment/<shipper>|<number>  {key, kind, from, from_site, to, to_site, date,
                                  lines: {batch: {unit, shipped, received, short,
                                  written_off, returned}}, open, returns, notes[], seq}
    holding/<batch>|<holder>|<site>   {qty}
    transit/<batch>|<shipment key>    {qty}
    destroyed/<batch>|<seq>           {qty, by, reason}
    onsite/<project>|<batch>          {received, inspection, retests_passed[],
                                       retests_failed[], installed}
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..entrytype import EntryType, Record, by_actor, by_field
from ..errors import Forbidden, RuleViolation
from . import payloads
from .batches import require_batch
from .fields import Reader, distinct, milli_text, reader
from .orgs import Role, acting_org, require_org

__all__ = [
    "BALANCE_CLAUSE",
    "HOLDER_ROLES",
    "TYPES",
    "Discrepancy",
    "destroy",
    "give",
    "held",
    "onsite",
    "put_onsite",
    "read_lines",
    "receive",
    "return_goods",
    "ship",
    "take",
]

BALANCE_CLAUSE = "mass balance: produced = held + in transit + installed + sampled + destroyed"
RECALL_CLAUSE = "recall: a recalled batch only moves back to its manufacturer or is destroyed"
HOLDER_ROLES = (Role.MANUFACTURER, Role.DISTRIBUTOR, Role.CONTRACTOR, Role.BUILDING_OWNER)


class Discrepancy(StrEnum):
    SHORT = "short"  # never loaded: stays with the shipper
    DAMAGED = "damaged"  # written off as destroyed
    LOST = "lost"  # written off as destroyed


# -- holdings ------------------------------------------------------------------


def held(ctx: Context, batch: str, holder: str, site: str) -> int:
    row = ctx.kv.get("holding", f"{batch}|{holder}|{site}")
    return 0 if row is None else int(row["qty"])


def _where(site: str) -> str:
    return f"on project {site}" if site else "at its own premises"


def take(ctx: Context, batch: dict[str, Any], holder: str, site: str, qty: int) -> None:
    """Remove ``qty`` from what ``holder`` holds of ``batch`` at ``site`` (mass balance)."""
    have = held(ctx, batch["id"], holder, site)
    if qty > have:
        raise RuleViolation(
            "custody.balance",
            f"{holder} holds {milli_text(have)} {batch['unit']} of batch {batch['id']} "
            f"{_where(site)}, not the {milli_text(qty)} this entry moves",
            BALANCE_CLAUSE,
        )
    ctx.kv.put("holding", f"{batch['id']}|{holder}|{site}", {"qty": have - qty})


def give(ctx: Context, batch: dict[str, Any], holder: str, site: str, qty: int) -> None:
    have = held(ctx, batch["id"], holder, site)
    ctx.kv.put("holding", f"{batch['id']}|{holder}|{site}", {"qty": have + qty})
    ctx.ref(f"org:{holder}")


def _transit(ctx: Context, batch: str, shipment: str, delta: int) -> None:
    row = ctx.kv.get("transit", f"{batch}|{shipment}") or {"qty": 0}
    ctx.kv.put("transit", f"{batch}|{shipment}", {"qty": int(row["qty"]) + delta})


def _destroyed(ctx: Context, batch: dict[str, Any], qty: int, reason: str) -> None:
    ctx.kv.put(
        "destroyed",
        f"{batch['id']}|{ctx.entry.seq}",
        {"qty": qty, "by": ctx.entry.actor, "reason": reason},
    )
    batch["destroyed"] += qty


def onsite(ctx: Context, project: str, batch: str) -> dict[str, Any]:
    """What a project has of a batch: received, inspected, re-tested, installed."""
    return ctx.kv.get("onsite", f"{project}|{batch}") or {
        "received": 0,
        "inspection": None,
        "retests_passed": [],
        "retests_failed": [],
        "installed": 0,
    }


def put_onsite(ctx: Context, project: str, batch: str, row: dict[str, Any]) -> None:
    ctx.kv.put("onsite", f"{project}|{batch}", row)


# -- payload pieces -------------------------------------------------------------


def read_lines(ctx: Context, p: Reader, *, min_items: int = 1) -> list[tuple[dict[str, Any], int]]:
    """``lines``: [{batch, unit, quantity}], one line per batch, unit = the batch's unit."""
    out = []
    for line in p.objs("lines", min_items=min_items):
        batch = require_batch(ctx, line.text("batch", max_len=40))
        unit = line.text("unit", max_len=8)
        if unit != batch["unit"]:
            raise RuleViolation(
                "custody.unit",
                f"{line.where}.unit: batch {batch['id']} is counted in {batch['unit']}, got {unit}",
            )
        out.append((batch, line.milli("quantity")))
    distinct(f"{p.where}.lines batch", (b["id"] for b, _ in out))
    return out


def _site(ctx: Context, p: Reader, name: str, holder: str) -> str:
    """A project site named in the payload ("" when absent); the holder must work on it."""
    if not p.has(name):
        return ""
    project = ctx.kv.get("project", p.ident(name))
    if project is None:
        raise RuleViolation("project.known", f"{p.where}.{name}: no project {p.data[name]!r}")
    if holder not in (project["contractor"], project["owner"]):
        raise RuleViolation(
            "custody.site",
            f"{holder} is neither contractor nor owner of project {project['id']}",
        )
    ctx.ref(f"project:{project['id']}")
    return str(project["id"])


def require_shipment(ctx: Context, key: str) -> dict[str, Any]:
    row = ctx.kv.get("shipment", key)
    if row is None:
        raise RuleViolation("custody.shipment", f"no shipment {key!r} (expected <shipper>|<no>)")
    ctx.ref(f"shipment:{key}")
    return row


def _new_shipment(ctx: Context, p: Reader, kind: str) -> dict[str, Any]:
    key = f"{ctx.entry.actor}|{p.ident('number')}"
    if ctx.kv.get("shipment", key) is not None:
        raise RuleViolation("custody.unique", f"shipment {key} is already recorded")
    return {
        "key": key,
        "kind": kind,
        "number": p.ident("number"),
        "from": ctx.entry.actor,
        "date": p.date("date").isoformat(),
        "document": p.sha256("document", optional=True),
        "lines": {},
        "open": True,
        "returns": None,
        "notes": [],
        "seq": ctx.entry.seq,
    }


def _dispatch(ctx: Context, ship_row: dict[str, Any], batch: dict[str, Any], qty: int) -> None:
    take(ctx, batch, ship_row["from"], ship_row["from_site"], qty)
    batch["in_transit"] += qty
    ctx.kv.put("batch", batch["id"], batch)
    _transit(ctx, batch["id"], ship_row["key"], qty)
    ship_row["lines"][batch["id"]] = {
        "unit": batch["unit"],
        "shipped": qty,
        "received": 0,
        "short": 0,
        "written_off": 0,
        "returned": 0,
    }


# -- handlers ---------------------------------------------------------------------


def ship(ctx: Context) -> None:
    """custody.ship, by the holder: batches leave its holding and are in transit."""
    acting_org(ctx, *HOLDER_ROLES)
    p = reader(ctx)
    row = _new_shipment(ctx, p, "shipment")
    to = require_org(ctx, p.text("to", max_len=18), *HOLDER_ROLES, what="recipient")
    if to["uscc"] == ctx.entry.actor:
        raise RuleViolation("custody.recipient", "a shipment must go to another organisation")
    row |= {
        "from_site": _site(ctx, p, "from_project", ctx.entry.actor),
        "to": to["uscc"],
        "to_site": _site(ctx, p, "to_project", to["uscc"]),
    }
    for batch, qty in read_lines(ctx, p):
        if batch["recalled"] and to["uscc"] != batch["manufacturer"]:
            raise RuleViolation(
                "recall.blocked",
                f"batch {batch['id']} was recalled at entry {batch['recalled']['seq']}; "
                f"it may be shipped only to its manufacturer {batch['manufacturer']}",
                RECALL_CLAUSE,
            )
        _dispatch(ctx, row, batch, qty)
    ctx.kv.put("shipment", row["key"], row)
    ctx.ref(f"shipment:{row['key']}")


def _remaining(line: dict[str, Any]) -> int:
    return int(line["shipped"] - line["received"] - line["short"] - line["written_off"])


def _receive_line(ctx: Context, row: dict[str, Any], batch: dict[str, Any], qty: int) -> None:
    line = row["lines"].get(batch["id"])
    if line is None:
        raise RuleViolation("custody.line", f"shipment {row['key']} carries no batch {batch['id']}")
    if qty > _remaining(line):
        raise RuleViolation(
            "custody.overreceipt",
            f"{milli_text(_remaining(line))} {batch['unit']} of batch {batch['id']} remain "
            f"in transit on {row['key']}, the receipt says {milli_text(qty)}",
            BALANCE_CLAUSE,
        )
    line["received"] += qty
    give(ctx, batch, row["to"], row["to_site"], qty)
    batch["in_transit"] -= qty
    ctx.kv.put("batch", batch["id"], batch)
    _transit(ctx, batch["id"], row["key"], -qty)
    if row["to_site"]:
        here = onsite(ctx, row["to_site"], batch["id"])
        here["received"] += qty
        put_onsite(ctx, row["to_site"], batch["id"], here)


def _settle(ctx: Context, row: dict[str, Any], kind: Discrepancy, note: str) -> None:
    """Close the shipment: what was not received is short (back to the shipper) or written off."""
    for batch_key, line in sorted(row["lines"].items()):
        rest = _remaining(line)
        if rest == 0:
            continue
        batch = require_batch(ctx, batch_key)
        if kind == Discrepancy.SHORT:
            line["short"] += rest
            give(ctx, batch, row["from"], row["from_site"], rest)
        else:
            line["written_off"] += rest
            _destroyed(ctx, batch, rest, f"{kind} in transit on {row['key']}: {note}")
        batch["in_transit"] -= rest
        ctx.kv.put("batch", batch_key, batch)
        _transit(ctx, batch_key, row["key"], -rest)


def receive(ctx: Context) -> None:
    """custody.receive, by the recipient: all or part of a shipment, with any discrepancy."""
    p = reader(ctx)
    row = require_shipment(ctx, p.text("shipment", max_len=120))
    if ctx.entry.actor != row["to"]:
        raise Forbidden(f"shipment {row['key']} is addressed to {row['to']}, not {ctx.entry.actor}")
    if not row["open"]:
        raise RuleViolation("custody.closed", f"shipment {row['key']} is already settled")
    for batch, qty in read_lines(ctx, p, min_items=0):
        _receive_line(ctx, row, batch, qty)
    p.date("date")
    if p.has("discrepancy"):
        d = p.obj("discrepancy")
        kind, note = d.one("kind", Discrepancy), d.text("note")
        row["notes"] = [*row["notes"], {"seq": ctx.entry.seq, "kind": kind, "note": note}]
        if p.flag("close", default=False):
            _settle(ctx, row, kind, note)
    elif p.flag("close", default=False) and any(_remaining(x) for x in row["lines"].values()):
        raise RuleViolation(
            "custody.discrepancy", "closing a shipment with goods missing needs a discrepancy"
        )
    row["open"] = any(_remaining(x) for x in row["lines"].values())
    ctx.kv.put("shipment", row["key"], row)
    if row["to_site"]:
        ctx.ref(f"project:{row['to_site']}")


def return_goods(ctx: Context) -> None:
    """custody.return: received goods go back, in transit, to the original shipper."""
    acting_org(ctx, *HOLDER_ROLES)
    p = reader(ctx)
    original = require_shipment(ctx, p.text("shipment", max_len=120))
    if ctx.entry.actor != original["to"]:
        raise Forbidden(f"only {original['to']}, the recipient of {original['key']}, returns it")
    row = _new_shipment(ctx, p, "return")
    row |= {
        "from_site": _site(ctx, p, "from_project", ctx.entry.actor)
        if p.has("from_project")
        else original["to_site"],
        "to": original["from"],
        "to_site": original["from_site"],
        "returns": original["key"],
        "reason": p.text("reason"),
    }
    for batch, qty in read_lines(ctx, p):
        line = original["lines"].get(batch["id"])
        left = 0 if line is None else line["received"] - line["returned"]
        if qty > left:
            raise RuleViolation(
                "custody.return_excess",
                f"{milli_text(left)} {batch['unit']} of batch {batch['id']} were received on "
                f"{original['key']} and not yet returned; the return says {milli_text(qty)}",
                BALANCE_CLAUSE,
            )
        original["lines"][batch["id"]]["returned"] += qty
        _dispatch(ctx, row, batch, qty)
    ctx.kv.put("shipment", original["key"], original)
    ctx.kv.put("shipment", row["key"], row)
    ctx.ref(f"shipment:{row['key']}", f"org:{row['to']}")


def destroy(ctx: Context) -> None:
    """custody.destroy, by the holder: quantity leaves the chain for good (CBV destroying)."""
    acting_org(ctx, *HOLDER_ROLES)
    p = reader(ctx)
    site = _site(ctx, p, "project", ctx.entry.actor)
    reason = p.text("reason")
    p.date("date")
    p.sha256("document", optional=True)
    for batch, qty in read_lines(ctx, p):
        take(ctx, batch, ctx.entry.actor, site, qty)
        _destroyed(ctx, batch, qty, reason)
        ctx.kv.put("batch", batch["id"], batch)


# -- entry types ---------------------------------------------------------------------

_HOLDERS = frozenset(r.value for r in HOLDER_ROLES)

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "custody.ship", "发货", "Ship goods", ship,
        _HOLDERS, "The holder ships goods it holds.",
        epcis=epcis.EventSpec("OBSERVE", "shipping", "in_transit", epcis.ship),
        records=(Record("shipment", by_actor("number")),),
        payload=payloads.CustodyShip,
    ),
    EntryType(
        "custody.receive", "收货", "Receive a shipment", receive,
        _HOLDERS, "The recipient receives a shipment.",
        epcis=epcis.EventSpec("OBSERVE", "receiving", "in_progress", epcis.receive),
        records=(Record("shipment", by_field("shipment")),),
        payload=payloads.CustodyReceive,
    ),
    EntryType(
        "custody.return", "退货", "Return goods", return_goods,
        _HOLDERS, "The recipient returns received goods.",
        epcis=epcis.EventSpec("OBSERVE", "shipping", "returned", epcis.ship),
        records=(Record("shipment", by_actor("number")), Record("shipment", by_field("shipment"))),
        payload=payloads.CustodyReturn,
    ),
    EntryType(
        "custody.destroy", "销毁", "Destroy goods", destroy,
        _HOLDERS, "The holder destroys goods it holds.",
        epcis=epcis.EventSpec("DELETE", "destroying", "destroyed", epcis.destroy),
        records=(),
        payload=payloads.CustodyDestroy,
    ),
)  # fmt: skip
"""Custody's entry types (:mod:`insutrace.trace.entrytype`)."""
