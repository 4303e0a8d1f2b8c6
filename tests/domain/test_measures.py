"""Issue 11 item 8: ancillary measures recorded with their own evidence (GB 50016 §6.7)."""

from __future__ import annotations

from typing import Any

import pytest

from insutrace.trace.domain.measures import project_measures
from insutrace.trace.errors import Forbidden

from .conftest import DOC, TODAY, World, refused
from .refusal import refused_with


@pytest.fixture
def site(world: World) -> str:
    return world.project(id="P-M", design={"use": "residential", "height_m": "80"})


def record(world: World, project: str, kind: str, who: str = "contractor", **over: Any) -> None:
    payload = {
        "project": project,
        "id": over.pop("id", f"M{world.next()}"),
        "kind": kind,
        "section": "N1",
        "date": TODAY,
        "document": DOC,
        **over,
    }
    world.append("measure.record", payload, who)


def rock_wool_batch(world: World) -> str:
    product = world.product(type="rock_wool", polymer="inorganic", standard="GB/T 25975-2018",
                            name="岩棉防火隔离带")  # fmt: skip
    return world.batch(product, declared_class="GB 8624 A(A1)")


def belt(batch: str, **over: Any) -> dict[str, Any]:
    return {"barrier": {"batch": batch, "class": "A(A1)", "height_mm": "300", "floors": 26, **over}}


def test_a_barrier_belt_is_recorded_with_its_batch_and_document(world: World, site: str) -> None:
    batch = rock_wool_batch(world)
    record(world, site, "fire_barrier_belt", id="M1", **belt(batch))
    with world.ledger.store.read() as tx:
        (row,) = project_measures(tx, site)
    assert row["facts"] == {
        "batch": batch,
        "class": "GB 8624 A(A1)",
        "height_mm": "300",
        "floors": 26,
    }
    assert row["document"] == DOC and row["by"] == world.id("contractor")


def test_a_barrier_belt_is_a_class_and_at_least_300_mm(world: World, site: str) -> None:
    batch = rock_wool_batch(world)
    with refused_with("measure.barrier_height", "GB 50016-2014 (2018) §6.7.7(2)", "290 mm"):
        record(world, site, "fire_barrier_belt", **belt(batch, height_mm="290"))
    xps = world.batch(world.product())
    with refused_with("measure.barrier_class", "GB 50016-2014 (2018) §6.7.7(2)"):
        record(world, site, "fire_barrier_belt", **belt(xps, **{"class": "B1(B)"}))
    with refused_with("measure.barrier_batch", "§6.7.7(2)"):
        record(world, site, "fire_barrier_belt", **belt(xps))
    record(world, site, "fire_barrier_belt", **belt(batch, height_mm="300"))


def test_the_protective_layer_on_b1_insulation(world: World, site: str) -> None:
    layer = {"ground_floor_mm": "14", "other_floors_mm": "5", "material": "抗裂砂浆"}
    with refused_with("measure.protective_layer", "GB 50016-2014 (2018) §6.7.8"):
        record(world, site, "protective_layer", protective_layer=layer)
    record(world, site, "protective_layer", protective_layer={**layer, "ground_floor_mm": "15"})


def test_window_integrity_on_a_b1_residential_building_over_27_m(world: World, site: str) -> None:
    windows = {"integrity_h": "0.45", "openings": 120, "certificate": "GJ-01"}
    with refused_with("measure.window_integrity", "GB 50016-2014 (2018) §6.7.7(1)"):
        record(world, site, "door_window", door_window=windows)
    record(world, site, "door_window", door_window={**windows, "integrity_h": "0.5"})


def test_no_integrity_is_required_of_b1_on_a_residential_building_of_27_m(world: World) -> None:
    low = world.project(id="P-L", design={"use": "residential", "height_m": "27"})
    windows = {"integrity_h": "0.3", "openings": 40, "certificate": "GJ-02"}
    record(world, low, "door_window", door_window=windows)


def test_a_fire_engineering_design_is_recorded_by_the_owner(world: World, site: str) -> None:
    facts = {"number": "TS-2026-01", "title": "特殊消防设计专家评审", "reviewed_by": "省专家组"}
    record(world, site, "fire_engineering", who="owner", section=None, fire_engineering=facts)
    with world.ledger.store.read() as tx:
        assert [r["kind"] for r in project_measures(tx, site)] == ["fire_engineering"]


def test_only_parties_record_and_ids_are_unique(world: World, site: str) -> None:
    facts = {"number": "TS-1", "title": "特殊消防设计", "reviewed_by": "专家组"}
    with pytest.raises(Forbidden):
        record(world, site, "fire_engineering", who="maker", section=None, fire_engineering=facts)
    record(world, site, "fire_engineering", id="MX", section=None, fire_engineering=facts)
    with refused("measure.unique"):
        record(world, site, "fire_engineering", id="MX", section=None, fire_engineering=facts)


def test_dates_sections_and_class_labels(world: World, site: str) -> None:
    layer = {"ground_floor_mm": "15", "other_floors_mm": "5", "material": "抗裂砂浆"}
    with refused_with("measure.date", "InsuTrace ledger rule"):
        record(world, site, "protective_layer", date="2099-01-01", protective_layer=layer)
    with refused_with("install.section", "InsuTrace"):
        record(world, site, "protective_layer", section="Z9", protective_layer=layer)
    with refused_with("measure.class", "GB 8624-2012 §4"):
        record(world, site, "fire_barrier_belt", **belt(rock_wool_batch(world), **{"class": "Q"}))
    record(world, site, "protective_layer", protective_layer=layer)
