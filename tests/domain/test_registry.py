"""Rules 1-3: organisations (USCC, roles, CMA), products (GTIN, polymer), batches (GB 8624)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from insutrace.trace.clock import FixedClock
from insutrace.trace.errors import Forbidden, MalformedInput, RuleViolation

from .conftest import B1, World, gtin


def batch_row(world: World, batch: str) -> dict:
    with world.ledger.store.read() as tx:
        row = tx.get("batch", batch)
    assert row is not None
    return row


# -- rule 1: organisations -------------------------------------------------------------


def test_organisation_is_registered_with_roles_and_cma(world: World) -> None:
    with world.ledger.store.read() as tx:
        lab = tx.get("org", world.id("lab"))
        maker = tx.get("org", world.id("maker"))
    assert lab is not None and maker is not None
    assert lab["lab"] == {
        "cma": "231502280012",
        "issued_on": "2023-05-10",
        "expires_on": "2029-05-09",
    }
    assert maker["roles"] == ["manufacturer"] and maker["region"] == "320100"


def test_uscc_with_a_wrong_check_character_is_refused(world: World) -> None:
    payload = world.org_payload("某公司", ["distributor"])
    payload["id"] = payload["id"][:17] + ("0" if payload["id"][17] != "0" else "1")
    with pytest.raises(RuleViolation, match="uscc check character") as err:
        world.add("actor.register", payload, world.root)
    assert err.value.rule == "org.uscc" and err.value.clause == "GB 32100-2015 §4"


def test_only_the_root_registers_organisations(world: World) -> None:
    payload = world.org_payload("某公司", ["distributor"])
    with pytest.raises(Forbidden, match="root authority"):
        world.add("actor.register", payload, world["maker"])


def test_lab_cma_format_and_validity(world: World) -> None:
    bad = world.org_payload("某检测公司", ["testing_lab"], lab={"cma": "23990228001"})
    with pytest.raises(RuleViolation, match="12 digits") as err:
        world.add("actor.register", bad, world.root)
    assert err.value.rule == "org.cma"
    expired = world.org_payload("某检测公司", ["testing_lab"], lab={"cma": "190002280001"})
    with pytest.raises(RuleViolation, match="not on 2026-11-22") as err:
        world.add("actor.register", expired, world.root)
    assert err.value.rule == "org.cma_valid"
    missing = world.org_payload("某公司", ["distributor"], lab={"cma": "231502280012"})
    with pytest.raises(MalformedInput, match="only an organisation with role testing_lab"):
        world.add("actor.register", missing, world.root)


def test_cma_is_renewed_by_org_update(world: World, clock: FixedClock) -> None:
    payload = {"id": world.id("lab"), "lab": {"cma": "261502280077", "issued_on": "2026-06-01"}}
    world.add("org.update", payload, world.root)
    with world.ledger.store.read() as tx:
        lab = tx.get("org", world.id("lab"))
    assert lab is not None and lab["lab"]["expires_on"] == "2032-05-31"


# -- rule 2: products ---------------------------------------------------------------------


def test_product_records_type_polymer_and_thermoset(world: World) -> None:
    code = world.product(type="pir", polymer="polyisocyanurate", thermosetting=True, name="PIR板")
    with world.ledger.store.read() as tx:
        product = tx.get("product", code)
    assert product is not None and product["thermosetting"] is True
    assert product["domain"] == "insul.example.cn"


@pytest.mark.parametrize(
    ("over", "rule", "match"),
    [
        ({"gtin": gtin(1)[:-1] + str((int(gtin(1)[-1]) + 1) % 10)}, "product.gtin", "check digit"),
        ({"thermosetting": True}, "product.thermoset", "polystyrene is not a thermoset"),
        ({"polymer": "polyurethane"}, "product.polymer", "xps is polystyrene"),
    ],
)
def test_product_identity_and_polymer_rules(
    world: World, over: dict, rule: str, match: str
) -> None:
    with pytest.raises(RuleViolation, match=match) as err:
        world.product(**over)
    assert err.value.rule == rule


def test_composite_panel_names_its_core(world: World) -> None:
    with pytest.raises(MalformedInput, match="core: required for composite_panel"):
        world.product(type="composite_panel", polymer="polyisocyanurate", thermosetting=True)
    world.product(
        type="composite_panel", core="pir", polymer="polyisocyanurate", thermosetting=True
    )


def test_only_a_manufacturer_registers_products(world: World) -> None:
    with pytest.raises(Forbidden, match="manufacturer"):
        world.product(maker="dist")


# -- rule 3: batches ------------------------------------------------------------------------


def test_declared_class_is_parsed_from_every_market_form(world: World) -> None:
    code = world.product()
    forms = {
        "GB 8624 B1(B-s1,d0,t1)": "GB 8624 B1(B-s1,d0,t1)",
        "B1(C)级": "GB 8624 B1(C)",
        "B2（E）级": "GB 8624 B2(E)",
        "A(A1)级": "GB 8624 A(A1)",
        "A2": "GB 8624 A(A2)",
    }
    for label, canonical in forms.items():
        assert (
            batch_row(world, world.batch(code, declared_class=label))["declared"]["label"]
            == canonical
        )


def test_batch_row_keeps_quantity_in_milli_units_and_a_digital_link(world: World) -> None:
    row = batch_row(world, world.batch(world.product(), qty="1250.5", lot="L-7"))
    assert row["produced"] == 1_250_500 and row["unit"] == "m2"
    assert row["digital_link"].endswith("/10/L-7?11=261101")


@pytest.mark.parametrize(
    ("over", "rule", "match"),
    [
        ({"declared_class": "B1级(优)"}, "batch.declared_class", "expected a GB 8624-2012 label"),
        ({"declared_class": "B3"}, "batch.declared_class", "never allowed"),
        ({"production_date": "2026-12-01"}, "batch.production_date", "after the entry's date"),
    ],
)
def test_batch_rules(world: World, over: dict, rule: str, match: str) -> None:
    code = world.product()
    with pytest.raises(RuleViolation, match=match) as err:
        world.batch(code, **over)
    assert err.value.rule == rule


def test_only_the_products_manufacturer_registers_its_batches(world: World) -> None:
    code = world.product()
    world.org("maker2", "另一保温厂", "manufacturer")
    with pytest.raises(RuleViolation, match="made by") as err:
        world.batch(code, maker="maker2")
    assert err.value.rule == "batch.manufacturer"
    world.batch(code, lot="DUP")
    with pytest.raises(RuleViolation, match="is registered") as err:
        world.batch(code, lot="DUP")
    assert err.value.rule == "batch.unique"


def test_unit_must_be_a_known_unit(world: World) -> None:
    with pytest.raises(MalformedInput, match="unit: expected one of m2, m3, board, panel"):
        world.batch(world.product(), unit="kg")


def test_production_date_is_judged_at_the_entry_time(world: World, clock: FixedClock) -> None:
    clock.tick(timedelta(days=30))
    row = batch_row(world, world.batch(world.product(), production_date="2026-12-10"))
    assert row["production_date"] == "2026-12-10" and B1 in row["declared"]["label"]


def test_org_update_is_for_the_root_and_checks_the_cma(world: World) -> None:
    renewal = {"id": world.id("lab"), "lab": {"cma": "190002280001"}}
    with pytest.raises(Forbidden, match="root authority"):
        world.add("org.update", renewal, world["lab"])
    with pytest.raises(RuleViolation, match="not on 2026-11-22") as err:
        world.add("org.update", renewal, world.root)
    assert err.value.rule == "org.cma_valid"
