"""Rule 7: briefing, arrival inspection, witnessed re-test, installation, acceptance."""

from __future__ import annotations

import pytest

from insutrace.trace.domain.queries import mass_balance, wall_identification
from insutrace.trace.errors import Forbidden

from .conftest import RETEST_EXTRAS, TODAY, World, refused, results

MEASURES = ["door_window_fire_integrity", "fire_barrier_belt", "protective_layer"]


@pytest.fixture
def site(world: World) -> tuple[str, str]:
    """A briefed 80 m residential project (N1: 600 m², B1) and a qualified XPS batch."""
    batch = world.qualified_batch(world.product())
    project = world.project()
    world.brief(project)
    return project, batch


def test_installation_needs_the_whole_evidence_chain(world: World, site: tuple[str, str]) -> None:
    project, batch = site
    with refused("install.received", "never received on this project"):
        world.install(project, batch, "100", "100")
    world.deliver("maker", "contractor", batch, "800", to_project=project)
    with refused("install.inspected", "no accepted arrival inspection"):
        world.install(project, batch, "100", "100")
    world.inspect(project, batch)
    with refused("install.retest", "no passed"):
        world.install(project, batch, "100", "100")
    world.retest(project, world.sample(project, batch))
    world.install(project, batch, "100", "100")
    with world.ledger.store.read() as tx:
        balance = mass_balance(tx, batch)
        record = wall_identification(tx, project)["facades"]["north"][0]
    assert balance["installed"] == 100_000 and balance["sampled"] == 2_000 and balance["balanced"]
    assert record["class"] == "GB 8624 B1(B-s1,d0,t1)" and record["contractor"] == world.id(
        "contractor"
    )


def test_installation_needs_briefing_and_risk_notification(world: World) -> None:
    batch = world.qualified_batch(world.product())
    project = world.project()
    world.on_site(project, batch)
    with refused("install.briefing", "no technical_briefing and no risk_notification"):
        world.install(project, batch, "100", "100")


def test_a_failed_retest_makes_the_batch_non_conforming(
    world: World, site: tuple[str, str]
) -> None:
    project, batch = site
    world.deliver("maker", "contractor", batch, "800", to_project=project)
    world.inspect(project, batch)
    sample = world.sample(project, batch)
    world.retest(project, sample, results=results(cls="B2(E)", **RETEST_EXTRAS))
    with world.ledger.store.read() as tx:
        row = tx.get("batch", batch)
        result = tx.get("sample", f"{project}|{sample}")["result"]  # type: ignore[index]
    assert row is not None and row["non_conforming"][0]["sample"] == sample
    assert not result["passed"] and "below the declared" in result["reasons"][0]
    with refused("install.retest"):
        world.install(project, batch, "100", "100")


def test_an_unqualified_batch_is_not_installed(world: World, site: tuple[str, str]) -> None:
    project, _ = site
    batch = world.batch(world.product())
    world.on_site(project, batch)
    with refused("install.qualified", "no qualifying factory report valid on 2026-11-22"):
        world.install(project, batch, "100", "100")


def test_arrival_inspection_compares_label_and_declared_class(
    world: World, site: tuple[str, str]
) -> None:
    project, batch = site
    with refused("inspect.received"):
        world.inspect(project, batch)
    world.deliver("maker", "contractor", batch, "800", to_project=project)
    with refused("inspect.label_class", "label says GB 8624 B2(E)"):
        world.inspect(project, batch, label="B2(E)级")
    world.inspect(project, batch, label="B2(E)级", accepted=False)
    with pytest.raises(Forbidden, match="supervisor"):
        world.add(
            "site.inspect",
            {
                "project": project,
                "batch": batch,
                "date": TODAY,
                "label_class": "B1",
                "accepted": True,
            },
            world["contractor"],
        )


def test_witnessed_sampling_rules(world: World, site: tuple[str, str]) -> None:
    project, batch = site
    world.deliver("maker", "contractor", batch, "10", to_project=project)
    payload = {
        "project": project,
        "sample": "WS-1",
        "batch": batch,
        "quantity": "2",
        "date": TODAY,
        "lab": world.id("lab"),
        "sampler": {"name": "王取样", "org": world.id("contractor")},
        "witness": "赵监理",
    }
    with pytest.raises(Forbidden, match="supervisor"):
        world.add("site.sample", payload, world["contractor"])
    with refused("sample.sampler", "not for the contractor"):
        world.add("site.sample", {**payload, "sampler": {"name": "某人", "org": world.id("dist")}}, world["supervisor"])  # fmt: skip
    with refused("org.role", "must have role testing_lab"):
        world.add("site.sample", {**payload, "lab": world.id("maker")}, world["supervisor"])
    with refused("custody.balance"):
        world.add("site.sample", {**payload, "quantity": "11"}, world["supervisor"])
    world.add("site.sample", payload, world["owner"])  # the owner may witness too
    with refused("sample.unique"):
        world.add("site.sample", payload, world["supervisor"])


def test_retest_rules(world: World, site: tuple[str, str]) -> None:
    project, batch = site
    world.deliver("maker", "contractor", batch, "10", to_project=project)
    sample = world.sample(project, batch)
    world.org("lab2", "另一检测机构", "testing_lab")
    with pytest.raises(Forbidden, match="was sent to"):
        world.add("site.retest_result", {"project": project, "sample": sample}, world["lab2"])
    world.retest(project, sample, results=results())  # no compressive strength etc.
    with world.ledger.store.read() as tx:
        result = tx.get("sample", f"{project}|{sample}")["result"]  # type: ignore[index]
    assert result["reasons"][:2] == [
        "compressive_strength was not tested",
        "water_absorption was not tested",
    ]
    with refused("retest.once"):
        world.retest(project, sample)


def test_section_area_and_designed_class(world: World, site: tuple[str, str]) -> None:
    project, batch = site
    world.on_site(project, batch)
    with refused("install.area", "section N1 has 600 m² left"):
        world.install(project, batch, "601", "601")
    weak = world.qualified_batch(world.product(), declared_class="B2(E)")
    world.deliver("maker", "contractor", weak, "100", to_project=project)
    world.inspect(project, weak, label="B2(E)级")
    world.retest(project, world.sample(project, weak))
    with refused("install.design_class", "below the section's designed GB 8624 B1(B)"):
        world.install(project, weak, "50", "50")


def test_cold_store_b1_core_must_be_a_thermoset(world: World) -> None:
    world.site_parties()
    core = [{"id": "W", "name": "冷间外墙", "facade": "perimeter", "position": "sandwich_core",
             "area_m2": "1000", "design_class": "B1(B)"}]  # fmt: skip
    project = world.project(sections=core, design={"use": "cold_storage", "height_m": "15"})
    world.brief(project)
    xps_panel = world.product(type="composite_panel", core="xps")
    pir_panel = world.product(
        type="composite_panel", core="pir", polymer="polyisocyanurate", thermosetting=True
    )
    for product in (xps_panel, pir_panel):
        batch = world.qualified_batch(product)
        world.on_site(project, batch)
        if product == xps_panel:
            with refused("install.thermoset", "must be a thermoset"):
                world.install(project, batch, "100", "100", section="W")
        else:
            world.install(project, batch, "100", "100", section="W")


def test_acceptance_is_refused_while_evidence_is_missing(
    world: World, site: tuple[str, str]
) -> None:
    project, batch = site
    world.on_site(project, batch)
    world.install(project, batch, "400", "400")
    with refused("accept.incomplete", "section N1: 400 of 600 m² installed"):
        world.accept(project, "supervisor", MEASURES)
    world.install(project, batch, "200", "200")
    with refused("accept.measures", "not attested by the supervisor: fire_barrier_belt"):
        world.accept(project, "supervisor", ["door_window_fire_integrity"])
    with pytest.raises(Forbidden):
        world.accept(project, "contractor", MEASURES)
    world.accept(project, "supervisor", MEASURES)
    with refused("accept.once"):
        world.accept(project, "supervisor", MEASURES)
    world.accept(project, "owner")
    with world.ledger.store.read() as tx:
        assert tx.get("project", project)["status"] == "accepted"  # type: ignore[index]
        assert tx.get("building", project)["status"] == "in_use"  # type: ignore[index]
    with refused("project.accepted"):
        world.install(project, batch, "1", "1")


def test_retest_frequency_is_checked_before_acceptance(world: World) -> None:
    world.site_parties()
    big = [{"id": "N1", "name": "北立面", "facade": "north", "position": "external_wall",
            "area_m2": "6000", "design_class": "B1(B)"}]  # fmt: skip
    project = world.project(sections=big)
    world.brief(project)
    batch = world.qualified_batch(world.product(), qty="7000")
    world.on_site(project, batch, qty="7000")
    world.install(project, batch, "6000", "6000")
    with refused("retest.frequency", "1 passed re-test(s), 2 required for 6000 m²"):
        world.accept(project, "supervisor", MEASURES)
    world.retest(project, world.sample(project, batch))
    world.accept(project, "supervisor", MEASURES)
