"""The projection rows the read model answers from: their keys, spelt once, and their types.

A projection key joins identifiers with ``|`` (``report``/<lab>|<number>, ``placed``/
<batch>|<project>|<section> …) except a batch, whose id is ``<gtin14>.<lot>`` (the GS1
element strings AI (01) and AI (10) it is labelled with, domain rules §6). Every handler
and query that builds or splits one of these keys calls the function here, so a row
written under one spelling is never looked up under another.

The row types are :class:`~typing.TypedDict` views of the JSON the handlers store: the
fields the read model relies on, typed. A store hands back ``dict[str, Any]``;
:func:`report_row`, :func:`batch_row` and :func:`shipment_row` read one row by key as its
type (None when absent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from ..store.base import KV

__all__ = [
    "BatchRow",
    "Holder",
    "ReportRow",
    "Serial",
    "ShipmentRow",
    "Transit",
    "Wall",
    "batch_key",
    "batch_row",
    "holding_key",
    "issued_range",
    "onsite_key",
    "placed_key",
    "report_key",
    "report_row",
    "scan_key",
    "shipment_row",
    "split_key",
    "transit_key",
    "voided_range",
]


def batch_key(gtin: str, lot: str) -> str:
    """``batch``/<gtin14>.<lot>: one batch is one lot of one GTIN (GS1 AI 01 + AI 10)."""
    return f"{gtin}.{lot}"


def report_key(lab: str, number: str) -> str:
    """``report``/<lab USCC>|<number>: a report number is unique per issuing lab."""
    return f"{lab}|{number}"


def holding_key(batch: str, holder: str, site: str) -> str:
    """``holding``/<batch>|<holder>|<site>; site "" is the holder's own premises."""
    return f"{batch}|{holder}|{site}"


def transit_key(batch: str, shipment: str) -> str:
    """``transit``/<batch>|<shipment>: the open quantity of one shipment line."""
    return f"{batch}|{shipment}"


def placed_key(batch: str, project: str, section: str) -> str:
    """``placed``/<batch>|<project>|<section>: what of a batch went into one wall section."""
    return f"{batch}|{project}|{section}"


def onsite_key(project: str, batch: str) -> str:
    """``onsite``/<project>|<batch>: a batch's receipt, inspection and re-tests on a site."""
    return f"{project}|{batch}"


def scan_key(batch: str, serial: str) -> str:
    """``scan``/<batch>|<serial>: the projects one label was scanned on."""
    return f"{batch}|{serial}"


def split_key(key: str, prefix: str, parts: int) -> list[str]:
    """The ``parts`` identifiers after ``prefix|`` in a scanned key (the last keeps any ``|``)."""
    return key[len(prefix) + 1 :].split("|", parts - 1)


class ReportRow(TypedDict):
    """``report``/<lab>|<number>, written by ``report.issue`` (trace/domain/reports.py)."""

    lab: str
    number: str
    batch: str
    sample: str
    issued_on: str
    valid_until: str
    results: dict[str, dict[str, Any]]
    qualifies: bool
    reasons: list[str]
    seq: int


class BatchRow(TypedDict):
    """``batch``/<gtin>.<lot>, written by ``batch.register`` and the custody handlers."""

    id: str
    gtin: str
    lot: str
    manufacturer: str
    unit: str
    digital_link: str
    declared: dict[str, Any]
    reports: list[str]
    qualified_by: list[str]
    recalled: dict[str, Any] | None
    non_conforming: list[Any]
    produced: int  # milli-units of ``unit``, and the running totals of where it went
    in_transit: int
    installed: int
    sampled: int
    destroyed: int
    seq: int


# ``from`` is a Python keyword, so this row type is spelt in the functional form.
ShipmentRow = TypedDict(
    "ShipmentRow",
    {
        "key": str,
        "kind": str,
        "date": str,
        "from": str,
        "to": str,
        "from_site": str,
        "to_site": str,
        "lines": dict[str, dict[str, Any]],
        "seq": int,
    },
)
"""``shipment``/<key>, written by the custody handlers (trace/domain/custody.py)."""


class Wall(TypedDict):
    """One wall section a batch went into (``placed`` row with its project's section)."""

    project: str
    section: str
    building: str | None
    facade: str | None
    position: str | None
    contractor: str | None
    qty: int
    area: int
    entries: list[int]


class Holder(TypedDict):
    """Who holds some of a batch now; site "" is the holder's own premises."""

    holder: str
    site: str
    qty: int


Transit = TypedDict("Transit", {"shipment": str, "from": str | None, "to": str | None, "qty": int})
"""An open shipment line of a batch (from/to None when the shipment row is missing)."""


def report_row(kv: KV, key: str) -> ReportRow | None:
    return cast("ReportRow | None", kv.get("report", key))


def batch_row(kv: KV, key: str) -> BatchRow | None:
    return cast("BatchRow | None", kv.get("batch", key))


def shipment_row(kv: KV, key: str) -> ShipmentRow | None:
    return cast("ShipmentRow | None", kv.get("shipment", key))


_SERIAL = re.compile(r"(.*?)([0-9]+)")  # fullmatch: the shortest prefix, all trailing digits


@dataclass(frozen=True)
class Serial:
    """A serial split into its prefix and its trailing digits (``SN000042``: SN, 6, 42);
    the ``labels`` row stores each issued range in this form."""

    prefix: str
    width: int
    number: int

    @classmethod
    def parse(cls, value: str) -> Serial | None:
        match = _SERIAL.fullmatch(value)
        if match is None:
            return None
        return cls(match.group(1), len(match.group(2)), int(match.group(2)))

    def text(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}"


def voided_range(row: dict[str, Any] | None, serial: str) -> dict[str, Any] | None:
    """The ``label.void`` of a ``labels`` row that voided ``serial``, if any."""
    parsed = Serial.parse(serial)
    if row is None or parsed is None:
        return None
    for v in row.get("voided", []):
        if (v["prefix"], v["width"]) == (parsed.prefix, parsed.width) and (
            v["start"] <= parsed.number < v["start"] + v["count"]
        ):
            found: dict[str, Any] = v
            return found
    return None


def issued_range(row: dict[str, Any] | None, serial: str) -> dict[str, Any] | None:
    """The range of a ``labels`` row that issued ``serial``, if any and not voided since."""
    parsed = Serial.parse(serial)
    if row is None or parsed is None or voided_range(row, serial) is not None:
        return None
    for r in row["ranges"]:
        if (r["prefix"], r["width"]) == (parsed.prefix, parsed.width) and (
            r["start"] <= parsed.number < r["start"] + r["count"]
        ):
            found: dict[str, Any] = r
            return found
    return None
