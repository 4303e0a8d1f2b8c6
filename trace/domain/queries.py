"""Read-side summaries over the projections: a batch's balance and trace, wall records.

Where a batch is and where it went are answered by :mod:`insutrace.trace.domain.read`.

Every function takes a :class:`~insutrace.trace.store.base.KV` (a store transaction
from ``ledger.store.read()``, or the handler's ``ctx.kv``) and returns plain JSON.
Quantities are milli-units of the batch's unit, areas milli-m².
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..errors import NotFound
from ..store.base import KV
from .read import batch_walls, holders, in_transit, require_batch_row

__all__ = [
    "batch_trace",
    "mass_balance",
    "open_rectifications",
    "wall_identification",
]


def _sum(kv: KV, kind: str, batch: str) -> int:
    return sum(int(row["qty"]) for _, row in kv.scan(kind, f"{batch}|"))


def mass_balance(kv: KV, batch: str) -> dict[str, Any]:
    """Every bucket of the batch, summed from the detailed rows (not the batch's totals).

    ``balanced`` is the invariant produced = held + in transit + installed + sampled +
    destroyed; ``totals_agree`` says the batch row's running totals match the details.
    """
    row = require_batch_row(kv, batch)
    buckets = {
        "held": _sum(kv, "holding", batch),
        "in_transit": _sum(kv, "transit", batch),
        "installed": _sum(kv, "placed", batch),
        "sampled": _sum(kv, "sampled", batch),
        "destroyed": _sum(kv, "destroyed", batch),
    }
    negative = any(
        r["qty"] < 0 for kind in ("holding", "transit") for _, r in kv.scan(kind, f"{batch}|")
    )
    totals = all(row[k] == buckets[k] for k in ("in_transit", "installed", "sampled", "destroyed"))
    return {
        "batch": batch,
        "unit": row["unit"],
        "produced": row["produced"],
        **buckets,
        "balanced": row["produced"] == sum(buckets.values()) and not negative,
        "totals_agree": totals,
    }


def batch_trace(kv: KV, batch: str) -> dict[str, Any]:
    """Everything the projections know about a batch: record, reports, samples, balance."""
    row = require_batch_row(kv, batch)
    reports = [kv.get("report", key) for key in row["reports"]]
    samples = [
        kv.get("sample", key[len(batch) + 1 :]) for key, _ in kv.scan("sampled", f"{batch}|")
    ]
    return {
        "batch": row,
        "reports": reports,
        "samples": samples,
        "balance": mass_balance(kv, batch),
        "holders": holders(kv, batch),
        "in_transit": in_transit(kv, batch),
        "walls": batch_walls(kv, batch),
    }


def wall_identification(kv: KV, building: str) -> dict[str, Any]:
    """The wall identification record (标识化管理) of a building, façade by façade."""
    row = kv.get("building", building)
    if row is None:
        raise NotFound(f"no building {building!r}")
    facades = {key.split("|", 1)[1]: r["records"] for key, r in kv.scan("wallid", f"{building}|")}
    return {"building": row, "facades": facades}


def open_rectifications(kv: KV, on: date | None = None) -> list[dict[str, Any]]:
    """Rectification orders still open; with ``on``, only those past their deadline then."""
    return [
        row
        for _, row in kv.scan("rectification")
        if row["status"] == "open" and (on is None or date.fromisoformat(row["deadline"]) < on)
    ]
