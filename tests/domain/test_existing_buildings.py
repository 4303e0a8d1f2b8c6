"""Issue 11 item 10: hazard ledgers of existing buildings (隐患、整改、销号、责任清单), listed
supervision (挂牌督办) and the insulation class sign (W2.9)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from insutrace.trace.domain.existing import hazard_ledger, org_hazard_ledger, signage_status
from insutrace.trace.domain.persons import PersonKey
from insutrace.trace.errors import Forbidden

from .conftest import DOC, TODAY, World, refused
from .refusal import refused_with

KEY = PersonKey(b"k" * 32)
BUILDING = "GL-T-001"
DAY = date.fromisoformat(TODAY)


def register_building(world: World, use: str = "residential", cls: str = "B2") -> None:
    facade = {"facade": "south", "position": "external_wall", "insulation_type": "eps",
              "class": cls, "installed_year": 2010, "area_m2": "1800"}  # fmt: skip
    world.append("building.register_survey", {
        "id": BUILDING, "name": "测试小区1号楼", "owner": world.id("owner"),
        "address": "江苏省南京市鼓楼区测试路1号", "use": use, "height_m": "54",
        "survey": {"date": TODAY, "surveyor": "测试检测中心", "document": DOC},
        "facades": [facade, {**facade, "facade": "north", "class": "B1"}],
    }, "owner")  # fmt: skip


@pytest.fixture
def estate(world: World) -> str:
    world.site_parties()
    world.org("regulator", "南京市消防救援支队", "regulator")
    register_building(world)
    world.append("person.register", {"person": KEY.person_id("11010519491231002X"),
                                     "name": "孙安全", "role": "safety_manager"}, "owner")  # fmt: skip
    return BUILDING


SAFETY = KEY.person_id("11010519491231002X")


def hazard(world: World, hid: str, severity: str = "general", **over: Any) -> None:
    payload = {"building": BUILDING, "id": hid, "date": TODAY, "source": "facade_inspection",
               "kind": "protective_layer_cracked", "severity": severity, "location": "南立面5层",
               "description": "抹面层开裂", "document": DOC, **over}  # fmt: skip
    world.append("hazard.record", payload, over.pop("who", "owner"))


def assign(world: World, hid: str, deadline: str = "2026-12-31", **over: Any) -> None:
    payload = {"building": BUILDING, "hazard": hid, "person": SAFETY, "date": TODAY,
               "deadline": deadline, "measures": "铲除重做", **over}  # fmt: skip
    world.append("hazard.assign", payload, "owner")


def close(world: World, hid: str, who: str = "owner") -> None:
    payload = {"building": BUILDING, "hazard": hid, "date": TODAY, "evidence": DOC}
    world.append("hazard.close", payload, who)


def supervise(world: World, hid: str) -> None:
    payload = {"building": BUILDING, "hazard": hid, "number": "GP-01", "date": TODAY,
               "deadline": "2027-03-31", "document": DOC}  # fmt: skip
    world.append("hazard.supervise", payload, "regulator")


def test_the_four_lists_of_a_building_and_of_its_owner(world: World, estate: str) -> None:
    for hid in ("H1", "H2", "H3"):
        hazard(world, hid)
    assign(world, "H1")
    assign(world, "H2", deadline="2026-11-23")
    close(world, "H1")
    with world.ledger.store.read() as tx:
        ledger = hazard_ledger(tx, estate, date(2026, 11, 30))
        mine = org_hazard_ledger(tx, world.id("owner"), date(2026, 11, 30))
    assert [h["id"] for h in ledger["hazards"]] == ["H1", "H2", "H3"]
    assert [(h["id"], h["overdue"]) for h in ledger["rectification"]] == [("H2", True)]
    assert [h["id"] for h in ledger["closed"]] == ["H1"]
    assert ledger["closed"][0]["closure"]["evidence"] == DOC
    assert [(r["hazard"], r["name"], r["status"]) for r in ledger["responsibility"]] == [
        ("H1", "孙安全", "closed"), ("H2", "孙安全", "assigned")]  # fmt: skip
    assert mine["buildings"] == [estate] and mine["closed"] == ledger["closed"]


def test_a_hazard_is_closed_only_after_assignment(world: World, estate: str) -> None:
    hazard(world, "H1")
    with refused("hazard.close_unassigned"):
        close(world, "H1")
    with refused("hazard.deadline"):
        assign(world, "H1", deadline=TODAY)
    assign(world, "H1")
    close(world, "H1")


def test_the_responsible_person_is_the_owners(world: World, estate: str) -> None:
    hazard(world, "H1")
    other = KEY.person_id("440524188001010014")
    world.append("person.register", {"person": other, "name": "周监理", "role": "witness"}, "supervisor")  # fmt: skip
    with refused("hazard.responsible"):
        assign(world, "H1", person=other)
    with pytest.raises(Forbidden):
        world.append("hazard.assign", {"building": BUILDING, "hazard": "H1", "person": SAFETY,
                                       "date": TODAY, "deadline": "2026-12-31",
                                       "measures": "x"}, "contractor")  # fmt: skip


def test_only_a_major_hazard_is_put_under_listed_supervision(world: World, estate: str) -> None:
    hazard(world, "H1")
    hazard(world, "H2", severity="major")
    with refused_with("hazard.supervise_major", "消防法 (2021) Art. 54–55"):
        supervise(world, "H1")
    supervise(world, "H2")
    assign(world, "H2")
    with refused_with("hazard.listed_close", "消防法 (2021) Art. 54–55", "GP-01"):
        close(world, "H2")
    close(world, "H2", who="regulator")
    with world.ledger.store.read() as tx:
        ledger = hazard_ledger(tx, estate, DAY)
    assert ledger["closed"][0]["closure"]["by"] == world.id("regulator")
    assert ledger["responsibility"][0]["supervision"] == "GP-01"


def test_a_sandwich_panel_core_below_a_by_a_sleeping_area_is_major(world: World) -> None:
    world.site_parties()
    register_building(world, use="crowded_place")
    panel = {"core": "eps", "core_class": "B2", "sleeping_area": True, "area_m2": "600"}
    kind = {"kind": "sandwich_panel_combustible_core", "source": "sandwich_panel_survey"}
    with refused_with("hazard.major_criterion", "GB 35181-2017 §6.10"):
        hazard(world, "H1", panel=panel, **kind)
    hazard(world, "H1", severity="major", panel=panel, **kind)
    hazard(world, "H2", panel={**panel, "sleeping_area": False}, **kind)  # not a sleeping area


def test_the_sign_states_the_weakest_class_on_record(world: World, estate: str) -> None:
    sign = {"building": BUILDING, "id": "S1", "location": "一层主入口", "date": TODAY, "photo": DOC}
    with world.ledger.store.read() as tx:
        assert signage_status(tx, estate)["status"] == "missing"
    with refused_with("signage.class", "应急管理部令第5号", "B2"):
        world.append("signage.post", {**sign, "class": "B1"}, "owner")
    world.append("signage.post", {**sign, "class": "B2"}, "owner")
    with world.ledger.store.read() as tx:
        status = signage_status(tx, estate)
    assert (status["required"], status["status"], status["insulation_class"]) == (
        True,
        "posted",
        "B2",
    )


def test_ids_dates_states_and_labels(world: World, estate: str) -> None:
    hazard(world, "H1")
    with refused_with("hazard.unique", "InsuTrace ledger rule"):
        hazard(world, "H1")
    with refused_with("hazard.date", "InsuTrace ledger rule"):
        hazard(world, "H2", date="2099-01-01")
    with refused_with("hazard.known", "InsuTrace ledger rule"):
        assign(world, "H9")
    panel = {"core": "eps", "core_class": "Q7", "sleeping_area": False, "area_m2": "10"}
    with refused_with("hazard.core_class", "GB 8624-2012 §4"):
        hazard(world, "H3", kind="sandwich_panel_combustible_core", panel=panel)
    assign(world, "H1")
    with refused_with("hazard.open", "InsuTrace ledger rule"):
        assign(world, "H1")
    sign = {"building": BUILDING, "id": "S1", "location": "入口", "class": "B2", "date": TODAY, "photo": DOC}  # fmt: skip
    world.append("signage.post", sign, "owner")
    with refused_with("signage.unique", "InsuTrace ledger rule"):
        world.append("signage.post", sign, "owner")
