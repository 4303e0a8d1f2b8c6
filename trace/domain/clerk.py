"""What a manufacturer's quality clerk asks of the projections: its products and batches,
the label ranges of a batch, the next serial free to issue, and a report's rows by batch.

Like :mod:`insutrace.trace.domain.read` (which answers a batch's standing and where it
went), one function per question; the clerk's pages show these and compute nothing else.
"""

from __future__ import annotations

from typing import Any

from ..store.base import KV
from .rows import BatchRow, ReportRow, Serial

__all__ = [
    "DEFAULT_SERIAL",
    "batch_reports",
    "lab_reports",
    "label_ranges",
    "next_serial",
    "org_batches",
    "org_products",
]

DEFAULT_SERIAL = Serial("SN", 6, 1)  # SN000001: the first serial of a GTIN's first range


def org_products(kv: KV, org: str) -> list[dict[str, Any]]:
    """The products the organisation registered, in the order registered."""
    found = [row for _, row in kv.scan("product") if row.get("manufacturer") == org]
    return sorted(found, key=lambda r: int(r.get("seq", 0)))


def org_batches(kv: KV, org: str) -> list[BatchRow]:
    """The organisation's batches, newest first."""
    found: list[BatchRow] = [row for _, row in kv.scan("batch") if row["manufacturer"] == org]  # type: ignore[misc]
    return sorted(found, key=lambda r: -int(r["seq"]))


def label_ranges(kv: KV, batch: str) -> list[dict[str, Any]]:
    """The serial ranges issued for the batch, oldest first (``label.issue``)."""
    row = kv.get("labels", batch)
    return list(row["ranges"]) if row else []


def next_serial(kv: KV, gtin: str) -> str:
    """The first serial after every range issued for the GTIN, in the form of its latest
    range (prefix and digit count), or ``SN000001`` for a GTIN with none: the serial the
    next ``label.issue`` of any batch of that product can start at without overlap."""
    ranges = [r for _, row in kv.scan("labels", f"{gtin}.") for r in row["ranges"]]
    if not ranges:
        return DEFAULT_SERIAL.text(DEFAULT_SERIAL.number)
    latest = max(ranges, key=lambda r: int(r["seq"]))
    form = Serial(latest["prefix"], int(latest["width"]), 0)
    same = [r for r in ranges if (r["prefix"], int(r["width"])) == (form.prefix, form.width)]
    return form.text(max(int(r["start"]) + int(r["count"]) for r in same))


def batch_reports(kv: KV, batch: BatchRow) -> list[ReportRow]:
    """Every report issued for the batch, qualifying or not, newest first."""
    found: list[ReportRow] = []
    for key in batch["reports"]:
        row = kv.get("report", key)
        if row is not None:
            found.append(row)  # type: ignore[arg-type]
    return sorted(found, key=lambda r: -int(r["seq"]))


def lab_reports(kv: KV, lab: str, limit: int = 50) -> list[ReportRow]:
    """The lab's factory reports, newest first (at most ``limit``)."""
    found: list[ReportRow] = [row for _, row in kv.scan("report", f"{lab}|")]  # type: ignore[misc]
    return sorted(found, key=lambda r: -int(r["seq"]))[:limit]
