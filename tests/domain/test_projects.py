"""Rule 6: projects, the combustion policy's design gate, small projects' local filing."""

from __future__ import annotations

from typing import Any

import pytest

from insutrace.trace.errors import Forbidden, MalformedInput, RuleViolation

from .conftest import DOC, TODAY, World


def section(position: str, design_class: str, sid: str = "S1", area: str = "500") -> dict[str, Any]:
    return {
        "id": sid,
        "name": "立面",
        "facade": "south",
        "position": position,
        "area_m2": area,
        "design_class": design_class,
    }


def project_row(world: World, project: str) -> dict[str, Any]:
    with world.ledger.store.read() as tx:
        row = tx.get("project", project)
    assert row is not None
    return row


def test_required_class_comes_from_the_policy(world: World) -> None:
    project = world.project()  # residential, 80 m, no cavity
    row = project_row(world, project)
    assert row["required"]["external_wall"] == {
        "minimum": "C",
        "label": "≥B1",
        "rule": "wall.row5.residential_27_to_100m",
        "clause": "GB 55037-2022 §6.6.6",
        "conditions": [],
    }
    with world.ledger.store.read() as tx:
        assert tx.get("building", project)["status"] == "under_construction"  # type: ignore[index]


@pytest.mark.parametrize(
    ("design", "sections", "rule", "clause"),
    [
        ({"use": "residential", "height_m": "80"}, [section("external_wall", "B2(E)")],
         "wall.row5.residential_27_to_100m", "GB 55037-2022 §6.6.6"),
        ({"use": "ice_snow_venue", "height_m": "20", "public_open": True},
         [section("external_wall", "B1(B)")], "venue.ice_snow", ""),
        ({"use": "cold_storage", "height_m": "15"}, [section("sandwich_core", "B2(D)")],
         "cold_storage.sandwich_core", "GB 50072-2021 §4.3.2(1)"),
        ({"use": "public", "height_m": "30", "contains_crowded_place": True},
         [section("external_wall", "B1(B)")], "wall.row3.crowded_place", "GB 55037-2022 §6.6.5"),
    ],
)  # fmt: skip
def test_a_design_below_the_required_class_is_refused(
    world: World, design: dict[str, Any], sections: list[dict[str, Any]], rule: str, clause: str
) -> None:
    with pytest.raises(RuleViolation, match="is below the") as err:
        world.project(sections=sections, design=design)
    assert err.value.rule == rule
    assert clause in err.value.clause


def test_cold_store_and_ice_rink_designs_that_comply(world: World) -> None:
    cold = world.project(
        sections=[section("sandwich_core", "B1(B)")],
        design={"use": "cold_storage", "height_m": "15"},
    )
    assert project_row(world, cold)["required"]["sandwich_core"]["conditions"] == [
        "thermoset_core_if_b1"
    ]
    rink = world.project(
        sections=[section("roof", "A(A2)")],
        design={"use": "ice_snow_venue", "height_m": "20", "public_open": True},
    )
    assert project_row(world, rink)["measures_required"] == {
        "special_fire_design": "no national clause found; treated as 人员密集场所 per GB 55037-2022 §6.6.5"
    }


def test_project_form(world: World) -> None:
    with pytest.raises(MalformedInput, match="either permit"):
        world.project(below_quota=True)
    with pytest.raises(
        RuleViolation, match=r"no version '1999' \(shipped: 2025\.1, 2026\.1"
    ) as err:
        world.project(policy={"id": "cn-national-2025", "version": "1999"})
    assert err.value.rule == "policy.version"
    with pytest.raises(Forbidden, match="building_owner"):
        world.add("project.register", {"id": "X"}, world["maker"])
    world.project(id="DUP")
    with pytest.raises(RuleViolation, match="already registered") as err:
        world.project(id="DUP")
    assert err.value.rule == "project.unique"


def test_small_project_works_only_after_local_filing(world: World) -> None:
    world.site_parties()
    world.org("regulator", "南京市玄武区住房和城乡建设局", "regulator")
    payload = {
        "id": "XW-1",
        "name": "社区服务中心外墙改造",
        "contractor": world.id("contractor"),
        "supervisor": world.id("supervisor"),
        "location": {"province": "江苏省", "city": "南京市", "address": "玄武区1号"},
        "design": {"use": "public", "height_m": "12"},
        "policy": {"id": "cn-national-2025", "version": "2025.1"},
        "below_quota": True,
        "sections": [section("external_wall", "B1(B)")],
    }
    world.add("project.register", payload, world["owner"])
    with pytest.raises(RuleViolation, match="not yet filed locally") as err:
        world.brief("XW-1")
    assert err.value.rule == "project.filed"
    filing = {"project": "XW-1", "number": "XWBA-1", "date": TODAY}
    with pytest.raises(Forbidden, match="regulator"):
        world.add("project.file", filing, world["owner"])
    world.add("project.file", filing, world["regulator"])
    with pytest.raises(RuleViolation, match="already filed") as err:
        world.add("project.file", filing, world["regulator"])
    assert err.value.rule == "project.filing"
    world.brief("XW-1")
    assert project_row(world, "XW-1")["filing"]["number"] == "XWBA-1"


def test_briefing_is_by_the_contractor(world: World) -> None:
    project = world.project()
    payload = {
        "project": project,
        "kind": "risk_notification",
        "date": TODAY,
        "attendees": ["张工"],
        "topics": ["动火作业"],
        "document": DOC,
    }
    with pytest.raises(Forbidden, match="contractor"):
        world.add("site.briefing", payload, world["supervisor"])
