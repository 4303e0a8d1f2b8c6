"""The read model (trace/domain/read.py): one answer per question, on both backends.

The cases where the former duplicates disagreed are pinned here: a report issued after a
day does not qualify the batch on that day (the gate said so, the label verdict and the
installation check did not), and the custody hops, walls and recall list are the one
answer the resolver, the back-trace and the recall notice all show.
"""

from __future__ import annotations

from datetime import date

import pytest

from insutrace.trace.domain.read import (
    batch_standing,
    building_walls,
    custody_hops,
    project_evidence,
    qualifying_report,
    qualifying_reports,
    recall_list,
    shipments,
)
from insutrace.trace.domain.rows import batch_key, report_key, split_key
from insutrace.trace.errors import NotFound

from .conftest import DAY, GateWorld


def test_a_report_qualifies_only_within_its_validity(world: GateWorld) -> None:
    batch = world.batch(world.product())
    world.report(batch, issued_on="2026-11-10", valid_until="2027-11-09")
    with world.ledger.store.read() as tx:
        before = qualifying_reports(tx, batch, date(2026, 11, 5))
        first_day = qualifying_reports(tx, batch, date(2026, 11, 10))
        last_day = qualifying_report(tx, batch, date(2027, 11, 9))
        after = qualifying_reports(tx, batch, date(2027, 11, 10))
    assert before == [] and after == []
    assert [r["issued_on"] for r in first_day] == ["2026-11-10"]
    assert last_day is not None and last_day["valid_until"] == "2027-11-09"


def test_a_report_that_does_not_qualify_never_counts(world: GateWorld) -> None:
    batch = world.batch(world.product())
    # expired when recorded: on the books, never in the batch's qualified_by
    world.report(batch, issued_on="2025-01-01", valid_until="2025-12-31")
    with world.ledger.store.read() as tx:
        assert qualifying_reports(tx, batch, DAY) == []
        assert qualifying_reports(tx, batch, date(2025, 6, 1)) == []
        assert batch_standing(tx, batch, DAY)["report"] is None


def test_standing_names_the_report_the_recall_and_the_listings(world: GateWorld) -> None:
    _, batch = world.built_project()
    maker_listing = world.listing("maker")
    lab_listing = world.listing("lab")
    with world.ledger.store.read() as tx:
        found = batch_standing(tx, batch, DAY)
    assert found["batch"] == batch and found["day"] == DAY.isoformat()
    assert found["report"] is not None and found["report"]["lab"] == world.id("lab")
    assert found["reports"] == [found["report"]]
    assert found["recalled"] is None
    assert [x["id"] for x in found["manufacturer"]] == [maker_listing]
    assert {lab: [x["id"] for x in xs] for lab, xs in found["labs"].items()} == {
        world.id("lab"): [lab_listing]
    }


def test_standing_of_an_unknown_batch_is_not_found(world: GateWorld) -> None:
    with world.ledger.store.read() as tx, pytest.raises(NotFound, match="no batch"):
        batch_standing(tx, "06900000000014.NOPE", DAY)


def test_custody_hops_are_every_shipment_oldest_first(world: GateWorld) -> None:
    project, batch = world.built_project(accept=False)
    with world.ledger.store.read() as tx:
        hops = custody_hops(tx, batch)
        rows = shipments(tx, batch)
    assert [(h["from"]["uscc"], h["to"]["uscc"]) for h in hops] == [  # type: ignore[index]
        (world.id("maker"), world.id("dist")),
        (world.id("dist"), world.id("contractor")),
    ]
    assert [h["to_project"] for h in hops] == [None, project]
    assert [h["seq"] for h in hops] == sorted(h["seq"] for h in hops)
    assert [h["shipment"] for h in hops] == [s["key"] for s in rows]
    with world.ledger.store.read() as tx:
        assert len(custody_hops(tx, batch, limit=1)) == 1


def test_the_recall_list_is_the_notice_and_the_back_trace_in_one(world: GateWorld) -> None:
    project, batch = world.built_project(accept=False)
    with world.ledger.store.read() as tx:
        notice = recall_list(tx, batch)
    (wall,) = notice["walls"]
    assert (wall["project"], wall["section"], wall["facade"]) == (project, "N1", "north")
    assert wall["entries"] and set(wall["entries"]) <= set(notice["entries"])
    assert {(h["holder"], h["site"]) for h in notice["holders"]} >= {
        (world.id("dist"), ""),
        (world.id("contractor"), project),
    }
    assert [p["project"] for p in notice["projects"]] == [project]
    assert {r["org"] for r in notice["recipients"]} == {world.id("dist"), world.id("contractor")}
    assert notice["in_transit"] == [] and notice["recalled"] is None


def test_project_evidence_lists_each_installed_batch(world: GateWorld) -> None:
    project, batch = world.built_project(accept=False)
    with world.ledger.store.read() as tx:
        (use,) = project_evidence(tx, tx.get("project", project) or {})
    assert use.batch["id"] == batch and list(use.placed) == ["N1"]
    assert use.onsite["installed"] > 0 and use.declared.label().startswith("GB 8624 B1")


def test_building_walls_carry_the_standing_of_their_batch(world: GateWorld) -> None:
    project, batch = world.built_project()
    with world.ledger.store.read() as tx:
        building = (tx.get("project", project) or {})["building"]
        (wall,) = building_walls(tx, building, DAY)
        report = batch_standing(tx, batch, DAY)["report"]
    assert report is not None
    assert (wall["project"], wall["section"], wall["batch"]) == (project, "N1", batch)
    assert wall["report"] == f"{report['lab']}/{report['number']}"
    assert wall["recalled"] is None and wall["non_conforming"] is False
    assert wall["accepted"] is True
    with world.ledger.store.read() as tx, pytest.raises(NotFound, match="no building"):
        building_walls(tx, "NO-SUCH-BUILDING", DAY)


def test_keys_are_spelt_once() -> None:
    assert batch_key("06900000000014", "L1") == "06900000000014.L1"
    assert report_key("91350100M000100Y43", "R-1") == "91350100M000100Y43|R-1"
    assert split_key("B.1|org|site|x", "B.1", 2) == ["org", "site|x"]
