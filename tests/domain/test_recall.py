"""Rule 9: recall of a non-conforming batch; holders and walls are listed."""

from __future__ import annotations

from typing import Any

import pytest

from insutrace.trace.domain.read import recall_list
from insutrace.trace.errors import Forbidden

from .conftest import DOC, RETEST_EXTRAS, World, refused, results


@pytest.fixture
def failed(world: World) -> dict[str, str]:
    """A batch installed on one project, then failing its witnessed re-test on another."""
    batch = world.qualified_batch(world.product(), qty="1000")
    first = world.project()
    world.brief(first)
    world.on_site(first, batch, qty="300")
    world.install(first, batch, "200", "200")
    world.deliver("maker", "dist", batch, "400")
    second = world.project()
    world.deliver("dist", "contractor", batch, "150", to_project=second)
    world.inspect(second, batch)
    sample = world.sample(second, batch)
    world.retest(second, sample, results=results(cls="B2(E)", **RETEST_EXTRAS))
    return {"batch": batch, "first": first, "second": second, "sample": f"{second}|{sample}"}


def recall(world: World, who: str, **payload: Any) -> None:
    world.add("batch.recall", payload, world[who])


def test_recall_lists_current_holders_and_walls(world: World, failed: dict[str, str]) -> None:
    batch = failed["batch"]
    world.ship("dist", "contractor", batch, "50", to_project=failed["second"])  # in transit
    recall(world, "maker", batch=batch, reason="failed_retest", sample=failed["sample"])
    with world.ledger.store.read() as tx:
        notice = recall_list(tx, batch)
        snapshot = tx.get("recall", batch)
    held = {(h["holder"], h["site"]): h["qty"] for h in notice["holders"]}
    assert held == {
        (world.id("maker"), ""): 300_000,
        (world.id("dist"), ""): 200_000,
        (world.id("contractor"), failed["first"]): 98_000,
        (world.id("contractor"), failed["second"]): 148_000,
    }
    assert [t["qty"] for t in notice["in_transit"]] == [50_000]
    assert [(w["project"], w["section"], w["facade"], w["area"]) for w in notice["walls"]] == [
        (failed["first"], "N1", "north", 200_000)
    ]
    assert snapshot == notice
    assert notice["recalled"]["reasons"][0].startswith("tested class GB 8624 B2(E)")


def test_a_recalled_batch_moves_only_back_to_its_manufacturer(
    world: World, failed: dict[str, str]
) -> None:
    batch = failed["batch"]
    recall(world, "maker", batch=batch, reason="failed_retest", sample=failed["sample"])
    with refused("recall.blocked", "may be shipped only to its manufacturer"):
        world.ship("dist", "contractor", batch, "10")
    world.ship("dist", "maker", batch, "10")
    with refused("install.recalled"):
        world.install(failed["first"], batch, "10", "10")
    with refused("recall.once"):
        recall(world, "maker", batch=batch, reason="failed_retest", sample=failed["sample"])


def test_recall_needs_evidence_and_an_authorised_party(
    world: World, failed: dict[str, str]
) -> None:
    batch, other = failed["batch"], world.qualified_batch(world.product())
    with refused("recall.evidence", "no sample"):
        recall(world, "maker", batch=other, reason="failed_retest", sample=failed["sample"])
    with pytest.raises(Forbidden, match="manufacturer or a regulator"):
        world.org("maker2", "另一厂家", "manufacturer")
        recall(world, "maker2", batch=batch, reason="failed_retest", sample=failed["sample"])
    with pytest.raises(Forbidden, match="regulator or an investigator"):
        recall(
            world, "maker", batch=batch, reason="fraud", decision={"number": "X", "document": DOC}
        )
    world.org("fire", "南京市消防救援支队", "investigator")
    recall(world, "fire", batch=other, reason="fraud", decision={"number": "宁消调〔2026〕3号", "document": DOC})  # fmt: skip
    with pytest.raises(
        Forbidden, match="must be signed by a manufacturer or regulator or investigator"
    ):
        recall(world, "dist", batch=batch, reason="fraud")


def test_acceptance_is_blocked_by_a_recalled_batch_in_the_walls(
    world: World, failed: dict[str, str]
) -> None:
    recall(world, "maker", batch=failed["batch"], reason="failed_retest", sample=failed["sample"])
    batch = world.qualified_batch(world.product(), qty="1000")
    world.on_site(failed["first"], batch, qty="500")
    world.install(failed["first"], batch, "400", "400")
    with refused("accept.nonconforming", "is recalled"):
        world.accept(failed["first"], "supervisor", [])
