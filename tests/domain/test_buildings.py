"""Rule 8: existing buildings — survey, owner inspections, rectification, wall records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from insutrace.trace.clock import FixedClock
from insutrace.trace.domain.queries import open_rectifications, wall_identification
from insutrace.trace.errors import Forbidden, MalformedInput

from .conftest import DOC, TODAY, World, refused

BUILDING = "GL-HNL-008-03"


def survey(world: World, **over: Any) -> dict[str, Any]:
    facade = {
        "facade": "north",
        "position": "external_wall",
        "insulation_type": "eps",
        "class": "B2",
        "manufacturer": "不详",
        "installed_year": 2011,
        "area_m2": "2100",
    }
    return {
        "id": BUILDING,
        "name": "颐和苑小区3号楼",
        "owner": world.id("owner"),
        "address": "江苏省南京市鼓楼区湖南路8号",
        "use": "residential",
        "height_m": "54.3",
        "survey": {"date": TODAY, "surveyor": "江苏某检测中心", "document": DOC},
        "facades": [
            facade,
            {**facade, "facade": "east", "insulation_type": "unknown", "class": "unknown"},
        ],
        **over,
    }


@pytest.fixture
def building(world: World) -> str:
    world.site_parties()
    world.org("regulator", "南京市住房和城乡建设局", "regulator")
    world.add("building.register_survey", survey(world), world["owner"])
    return BUILDING


def inspect(world: World, defects: list[dict[str, Any]], who: str = "owner") -> None:
    payload = {
        "building": BUILDING,
        "date": TODAY,
        "inspector": "安全员 郑华",
        "facades": ["north", "east"],
        "document": DOC,
        "defects": defects,
    }
    world.add("building.inspect", payload, world[who])


DETACHMENT = {"id": "D1", "kind": "detachment", "facade": "north", "location": "12层", "severity": "critical"}  # fmt: skip
NO_BELT = {"id": "D2", "kind": "missing_fire_barrier_belt", "facade": "east", "location": "全立面", "severity": "major"}  # fmt: skip


def order(
    world: World, defects: list[str], deadline: str = "2027-01-06", number: str = "ZG-1"
) -> None:
    payload = {
        "building": BUILDING,
        "number": number,
        "date": TODAY,
        "deadline": deadline,
        "defects": defects,
        "measures": "按A级材料修复并增设防火隔离带",
    }
    world.add("rectification.order", payload, world["regulator"])


def test_a_building_without_history_is_registered_from_a_survey(
    world: World, building: str
) -> None:
    with world.ledger.store.read() as tx:
        record = wall_identification(tx, building)
    assert record["building"]["source"] == "survey"
    assert record["facades"]["north"][0]["class"] == "GB 8624 B2"
    assert record["facades"]["east"][0]["class"] == "unknown"
    with refused("building.unique", "already has a history"):
        world.add("building.register_survey", survey(world), world["owner"])


def test_survey_rules(world: World) -> None:
    world.site_parties()
    with pytest.raises(Forbidden, match="only its own buildings"):
        world.add(
            "building.register_survey", survey(world, owner=world.id("maker")), world["owner"]
        )
    bad = survey(world)
    bad["facades"][0]["class"] = "B1级(优)"
    with refused("survey.class"):
        world.add("building.register_survey", bad, world["owner"])


def test_periodic_inspection_by_the_owner_records_defects(world: World, building: str) -> None:
    with pytest.raises(Forbidden, match="inspected by its owner"):
        inspect(world, [DETACHMENT], who="regulator")
    with pytest.raises(MalformedInput, match="kind: expected one of damage"):
        inspect(world, [{**DETACHMENT, "kind": "rust"}])
    inspect(world, [DETACHMENT, NO_BELT])
    with refused("defect.unique"):
        inspect(world, [DETACHMENT])
    with world.ledger.store.read() as tx:
        assert tx.get("defect", f"{building}|D2")["status"] == "open"  # type: ignore[index]


def test_rectification_order_and_late_completion(
    world: World, building: str, clock: FixedClock
) -> None:
    inspect(world, [DETACHMENT, NO_BELT])
    with refused("rectification.deadline", "must be after the order date"):
        order(world, ["D1"], deadline=TODAY)
    with refused("rectification.defect", "defect D9"):
        order(world, ["D9"])
    with pytest.raises(Forbidden, match="regulator"):
        world.add("rectification.order", {"building": BUILDING}, world["owner"])
    order(world, ["D1", "D2"], deadline="2026-12-20")
    with refused("rectification.defect", "not yet ordered"):
        order(world, ["D1"], number="ZG-2")
    clock.tick(timedelta(days=40))
    with world.ledger.store.read() as tx:
        assert [o["number"] for o in open_rectifications(tx, on=clock.now().date())] == ["ZG-1"]
    done = {"building": BUILDING, "number": "ZG-1", "date": "2026-12-30", "document": DOC}
    world.add("rectification.complete", done, world["owner"])
    with refused("rectification.open", "must be open, is completed"):
        world.add("rectification.complete", done, world["owner"])
    with world.ledger.store.read() as tx:
        row = tx.get("rectification", f"{building}|ZG-1")
        defect = tx.get("defect", f"{building}|D1")
    assert row is not None and row["completed"]["overdue"] is True
    assert defect is not None and defect["status"] == "rectified"
