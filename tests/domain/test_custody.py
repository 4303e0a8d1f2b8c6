"""Rule 5: shipments, receipts, returns, destruction — and mass balance after each."""

from __future__ import annotations

from typing import Any

import pytest

from insutrace.trace.domain.queries import mass_balance
from insutrace.trace.domain.read import holders, in_transit
from insutrace.trace.errors import Forbidden, MalformedInput, RuleViolation

from .conftest import TODAY, World


@pytest.fixture
def batch(world: World) -> str:
    return world.batch(world.product(), qty="1000")


def state(world: World, batch: str) -> dict[str, Any]:
    with world.ledger.store.read() as tx:
        balance = mass_balance(tx, batch)
        held = {(h["holder"], h["site"]): h["qty"] for h in holders(tx, batch)}
        moving = in_transit(tx, batch)
    assert balance["balanced"] and balance["totals_agree"], balance
    return {"balance": balance, "held": held, "moving": moving}


def test_ship_and_receive_in_full(world: World, batch: str) -> None:
    shipment = world.ship("maker", "dist", batch, "400")
    s = state(world, batch)
    assert s["balance"]["in_transit"] == 400_000 and s["moving"][0]["shipment"] == shipment
    world.receive("dist", shipment, batch, "400")
    s = state(world, batch)
    assert s["held"] == {(world.id("maker"), ""): 600_000, (world.id("dist"), ""): 400_000}
    with pytest.raises(RuleViolation, match="already settled") as err:
        world.receive("dist", shipment, batch, "1")
    assert err.value.rule == "custody.closed"


def test_nobody_ships_more_than_they_hold(world: World, batch: str) -> None:
    with pytest.raises(RuleViolation, match=r"holds 1000 m2 of batch .* not the 1000\.5") as err:
        world.ship("maker", "dist", batch, "1000.5")
    assert err.value.rule == "custody.balance"
    with pytest.raises(RuleViolation, match="holds 0 m2") as err:
        world.ship("dist", "maker", batch, "1")
    assert err.value.rule == "custody.balance"


def test_partial_receipt_then_close_short_returns_the_rest_to_the_shipper(
    world: World, batch: str
) -> None:
    shipment = world.ship("maker", "dist", batch, "500")
    world.receive("dist", shipment, batch, "300")
    assert state(world, batch)["balance"]["in_transit"] == 200_000
    with pytest.raises(RuleViolation, match="needs a discrepancy") as err:
        world.receive("dist", shipment, batch, "", close=True)
    assert err.value.rule == "custody.discrepancy"
    world.receive(
        "dist", shipment, batch, "", close=True, discrepancy={"kind": "short", "note": "少装两托"}
    )
    s = state(world, batch)
    assert s["balance"]["in_transit"] == 0
    assert s["held"][(world.id("maker"), "")] == 700_000


def test_damaged_in_transit_is_written_off_as_destroyed(world: World, batch: str) -> None:
    shipment = world.ship("maker", "dist", batch, "500")
    world.receive(
        "dist", shipment, batch, "480", close=True, discrepancy={"kind": "damaged", "note": "破损"}
    )
    s = state(world, batch)
    assert s["balance"]["destroyed"] == 20_000 and s["balance"]["in_transit"] == 0


def test_receipt_rules(world: World, batch: str) -> None:
    shipment = world.ship("maker", "dist", batch, "100")
    with pytest.raises(RuleViolation, match=r"100 m2 of batch .* remain in transit") as err:
        world.receive("dist", shipment, batch, "101")
    assert err.value.rule == "custody.overreceipt"
    with pytest.raises(Forbidden, match="addressed to"):
        world.receive("lab", shipment, batch, "100")
    with pytest.raises(RuleViolation, match="counted in m2, got m3") as err:
        world.add(
            "custody.receive",
            {
                "shipment": shipment,
                "date": TODAY,
                "lines": [{"batch": batch, "unit": "m3", "quantity": "1"}],
            },
            world["dist"],
        )
    assert err.value.rule == "custody.unit"


def test_return_goes_back_to_the_original_shipper(world: World, batch: str) -> None:
    shipment = world.deliver("maker", "dist", batch, "300")
    payload = {
        "number": "TH-1",
        "shipment": shipment,
        "date": TODAY,
        "reason": "规格不符",
        "lines": [{"batch": batch, "unit": "m2", "quantity": "301"}],
    }
    with pytest.raises(RuleViolation, match=r"300 m2 of batch .* were received") as err:
        world.add("custody.return", payload, world["dist"])
    assert err.value.rule == "custody.return_excess"
    payload["lines"][0]["quantity"] = "120"
    world.add("custody.return", payload, world["dist"])
    world.receive("maker", f"{world.id('dist')}|TH-1", batch, "120")
    assert state(world, batch)["held"][(world.id("maker"), "")] == 820_000


def test_destroy_takes_from_the_holder(world: World, batch: str) -> None:
    payload = {
        "date": TODAY,
        "reason": "受潮报废",
        "lines": [{"batch": batch, "unit": "m2", "quantity": "50"}],
    }
    world.add("custody.destroy", payload, world["maker"])
    assert state(world, batch)["balance"]["destroyed"] == 50_000
    payload["lines"][0]["quantity"] = "951"
    with pytest.raises(RuleViolation) as err:
        world.add("custody.destroy", payload, world["maker"])
    assert err.value.rule == "custody.balance"


def test_shipment_form(world: World, batch: str) -> None:
    with pytest.raises(RuleViolation, match="another organisation") as err:
        world.ship("maker", "maker", batch, "1")
    assert err.value.rule == "custody.recipient"
    with pytest.raises(RuleViolation, match="must have role") as err:
        world.ship("maker", "lab", batch, "1")
    assert err.value.rule == "org.role"
    with pytest.raises(MalformedInput, match="quantity: expected a decimal string"):
        world.ship("maker", "dist", batch, "1e3")
    world.ship("maker", "dist", batch, "1", number="D-1")
    with pytest.raises(RuleViolation, match="already recorded") as err:
        world.ship("maker", "dist", batch, "1", number="D-1")
    assert err.value.rule == "custody.unique"
