"""Read-side questions over the projections: where a batch is, where it went, balances.

Every function takes a :class:`~insutrace.trace.store.base.KV` (a store transaction
from ``ledger.store.read()``, or the handler's ``ctx.kv``) and returns plain JSON.
Quantities are milli-units of the batch's unit, areas milli-m².
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..errors import NotFound
from ..store.base import KV

__all__ = [
    "batch_trace",
    "holders",
    "in_transit",
    "mass_balance",
    "open_rectifications",
    "recall_notice",
    "wall_identification",
    "walls",
]


def _batch(kv: KV, batch: str) -> dict[str, Any]:
    row = kv.get("batch", batch)
    if row is None:
        raise NotFound(f"no batch {batch!r}")
    return row


def holders(kv: KV, batch: str) -> list[dict[str, Any]]:
    """Who holds the batch now, and where (site "" = own premises, else a project)."""
    out = []
    for key, row in kv.scan("holding", f"{batch}|"):
        holder, site = key[len(batch) + 1 :].split("|", 1)
        if row["qty"] > 0:
            out.append({"holder": holder, "site": site, "qty": row["qty"]})
    return out


def in_transit(kv: KV, batch: str) -> list[dict[str, Any]]:
    """Open shipment lines of the batch: [{shipment, from, to, qty}]."""
    out = []
    for key, row in kv.scan("transit", f"{batch}|"):
        if row["qty"] > 0:
            shipment = key[len(batch) + 1 :]
            ship = kv.get("shipment", shipment) or {}
            out.append(
                {
                    "shipment": shipment,
                    "from": ship.get("from"),
                    "to": ship.get("to"),
                    "qty": row["qty"],
                }
            )
    return out


def walls(kv: KV, batch: str) -> list[dict[str, Any]]:
    """The wall sections the batch went into: project, section, building, façade, qty, area."""
    out = []
    for key, row in kv.scan("placed", f"{batch}|"):
        project_id, section = key[len(batch) + 1 :].split("|", 1)
        project = kv.get("project", project_id) or {"building": None, "sections": {}}
        facade = project["sections"].get(section, {}).get("facade")
        out.append(
            {
                "project": project_id,
                "section": section,
                "building": project["building"],
                "facade": facade,
                "qty": row["qty"],
                "area": row["area"],
            }
        )
    return out


def _sum(kv: KV, kind: str, batch: str) -> int:
    return sum(int(row["qty"]) for _, row in kv.scan(kind, f"{batch}|"))


def mass_balance(kv: KV, batch: str) -> dict[str, Any]:
    """Every bucket of the batch, summed from the detailed rows (not the batch's totals).

    ``balanced`` is the invariant produced = held + in transit + installed + sampled +
    destroyed; ``totals_agree`` says the batch row's running totals match the details.
    """
    row = _batch(kv, batch)
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


def recall_notice(kv: KV, batch: str) -> dict[str, Any]:
    """For a recall: the batch, its current holders, what is in transit and its walls."""
    row = _batch(kv, batch)
    return {
        "batch": batch,
        "digital_link": row["digital_link"],
        "manufacturer": row["manufacturer"],
        "recalled": row["recalled"],
        "unit": row["unit"],
        "holders": holders(kv, batch),
        "in_transit": in_transit(kv, batch),
        "walls": walls(kv, batch),
    }


def batch_trace(kv: KV, batch: str) -> dict[str, Any]:
    """Everything the projections know about a batch: record, reports, samples, balance."""
    row = _batch(kv, batch)
    reports = [kv.get("report", key) for key in row["reports"]]
    samples = [
        kv.get("sample", key[len(batch) + 1 :]) for key, _ in kv.scan("sampled", f"{batch}|")
    ]
    return {
        "batch": row,
        "reports": reports,
        "samples": samples,
        "balance": mass_balance(kv, batch),
        **{
            k: v
            for k, v in recall_notice(kv, batch).items()
            if k in ("holders", "in_transit", "walls")
        },
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
