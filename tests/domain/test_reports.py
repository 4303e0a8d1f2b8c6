"""Rule 4: a factory report qualifies its batch only on one sample by one accredited lab."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from insutrace.trace.clock import FixedClock
from insutrace.trace.errors import Forbidden, RuleViolation

from .conftest import World, results


def report_row(world: World, number: str) -> dict[str, Any]:
    with world.ledger.store.read() as tx:
        row = tx.get("report", f"{world.id('lab')}|{number}")
    assert row is not None
    return row


def qualified_by(world: World, batch: str) -> list[str]:
    with world.ledger.store.read() as tx:
        row = tx.get("batch", batch)
    assert row is not None
    return list(row["qualified_by"])


def test_a_complete_report_qualifies_its_batch(world: World) -> None:
    batch = world.batch(world.product())
    world.report(batch, number="R-OK")
    row = report_row(world, "R-OK")
    assert row["qualifies"] and row["reasons"] == []
    assert qualified_by(world, batch) == [f"{world.id('lab')}|R-OK"]


def _other_sample() -> list[dict[str, Any]]:
    out = results()
    out[2]["sample"] = "S2"
    return out


def _other_lab() -> list[dict[str, Any]]:
    out = results()
    out[0]["lab"] = "91320100MA0000099X"
    return out


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"results": _other_sample()}, "density was tested on sample S2, not on S1"),
        (
            {"results": _other_lab()},
            "combustion was tested by 91320100MA0000099X, not by the issuing lab",
        ),
        ({"results": results()[:2]}, "density was not tested"),
        ({"results": results(cls="B2(E)")}, "tested class GB 8624 B2(E) is below the declared"),
        ({"results": results(conductivity="0.036")}, "0.036 W/(m·K) exceeds the declared 0.032"),
        (
            {"valid_until": "2026-11-20", "issued_on": "2026-01-10"},
            "the report expired on 2026-11-20",
        ),
    ],
)
def test_a_non_qualifying_report_is_recorded_with_its_reason(
    world: World, over: dict[str, Any], reason: str
) -> None:
    batch = world.batch(world.product())
    world.report(batch, number="R-NO", **over)
    row = report_row(world, "R-NO")
    assert not row["qualifies"]
    assert any(reason in r for r in row["reasons"]), row["reasons"]
    assert qualified_by(world, batch) == []


def test_a_lab_whose_cma_expired_does_not_qualify(world: World, clock: FixedClock) -> None:
    world.org(
        "oldlab",
        "某老牌检测站",
        "testing_lab",
        lab={"cma": "201502280003", "issued_on": "2020-12-01"},
    )
    batch = world.batch(world.product())
    clock.tick(timedelta(days=20))
    world.report(batch, lab="oldlab", number="R-OLD", issued_on="2026-12-05")
    with world.ledger.store.read() as tx:
        row = tx.get("report", f"{world.id('oldlab')}|R-OLD")
    assert row is not None and row["reasons"] == [
        f"CMA 201502280003 of {world.id('oldlab')} expired on 2026-11-30"
    ]


def test_report_refusals(world: World) -> None:
    batch = world.batch(world.product())
    with pytest.raises(Forbidden, match="testing_lab"):
        world.report(batch, lab="maker")
    world.report(batch, number="R-1")
    with pytest.raises(RuleViolation, match="already issued report R-1") as err:
        world.report(batch, number="R-1")
    assert err.value.rule == "report.unique"
    with pytest.raises(RuleViolation, match="after the entry's date") as err:
        world.report(batch, issued_on="2026-12-01")
    assert err.value.rule == "report.issued_on"
    with pytest.raises(RuleViolation, match="no batch") as err:
        world.report("06900000000014.NOPE")
    assert err.value.rule == "batch.known"
