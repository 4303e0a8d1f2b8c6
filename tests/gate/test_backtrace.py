"""Back-tracing from a wall, a building, a label, a batch or an incident; the recall list."""

from __future__ import annotations

import pytest

from insutrace.trace.backtrace import (
    batch_of_label,
    trace_batch,
    trace_building,
    trace_incident,
    trace_label,
    trace_section,
)
from insutrace.trace.domain.read import recall_list
from insutrace.trace.errors import MalformedInput, NotFound

from .conftest import DOC, TODAY, GateWorld, refused


def _kinds(trace: dict[str, object]) -> set[str]:
    return {n["kind"] for n in trace["nodes"]}  # type: ignore[attr-defined,index]


def test_a_wall_traces_to_everyone_upstream(world: GateWorld) -> None:
    project, batch = world.built_project()
    world.decide_as_evaluated(project, "fire_acceptance")
    with world.ledger.store.read() as tx:
        found = trace_section(tx, project, "N1").to_json()
    ids = {n["id"] for n in found["nodes"]}
    maker, dist, lab = world.id("maker"), world.id("dist"), world.id("lab")
    for expected in (
        f"org:{maker}", f"batch:{batch}", f"section:{project}|N1", f"project:{project}",
        f"building:{project}", f"inspection:{project}|{batch}", f"acceptance:{project}",
        f"permit:{project}|fire_acceptance", f"org:{lab}", f"org:{world.id('supervisor')}",
    ):  # fmt: skip
        assert expected in ids, expected
    assert any(n["kind"] == "report" for n in found["nodes"])
    sample = next(n for n in found["nodes"] if n["kind"] == "sample")
    assert sample["facts"]["witness"]["role"] == "supervisor" and sample["facts"]["passed"]
    hops = [(e["from"], e["to"]) for e in found["edges"] if e["kind"].startswith("custody:")]
    assert hops == [
        (f"org:{maker}", f"org:{dist}"),
        (f"org:{dist}", f"org:{world.id('contractor')}"),
    ]
    assert all(len(e["entries"]) == 2 for e in found["edges"] if e["kind"].startswith("custody:"))
    acceptance = next(n for n in found["nodes"] if n["kind"] == "acceptance")
    assert acceptance["facts"]["by"] == ["owner", "supervisor"]
    with world.ledger.store.read() as tx:
        size = tx.head()[0]
    assert found["entries"] and max(found["entries"]) < size
    assert found["recall"][0]["walls"][0]["section"] == "N1"


def test_the_recall_list_names_every_project_wall_and_holder(world: GateWorld) -> None:
    project, batch = world.built_project(accept=False)
    other = world.project(sections=[
        {"id": "S1", "name": "南立面", "facade": "south", "position": "external_wall",
         "area_m2": "100", "design_class": "B1(B)"},
        {"id": "S2", "name": "东立面", "facade": "east", "position": "external_wall",
         "area_m2": "50", "design_class": "B1(B)"},
    ])  # fmt: skip
    world.brief(other)
    world.deliver("dist", "contractor", batch, "190", to_project=other)
    world.inspect(other, batch)
    world.retest(other, world.sample(other, batch))
    world.install(other, batch, "100", "100", section="S1")
    world.install(other, batch, "50", "50", section="S2")
    with world.ledger.store.read() as tx:
        notice = recall_list(tx, batch)
    walls = {(w["project"], w["section"]) for w in notice["walls"]}
    assert walls == {(project, "N1"), (other, "S1"), (other, "S2")}
    assert {p["project"] for p in notice["projects"]} == {project, other}
    recipients = {(r["org"], r["site"]) for r in notice["recipients"]}
    contractor = world.id("contractor")
    assert recipients == {(world.id("dist"), ""), (contractor, project), (contractor, other)}
    held = {(h["holder"], h["site"]): h["qty"] for h in notice["holders"]}
    assert held[(world.id("dist"), "")] == 10_000 and held[(contractor, other)] == 38_000
    assert held[(contractor, project)] == 198_000
    assert all(isinstance(s, int) for s in notice["entries"])


def test_a_label_and_a_batch_trace_the_same_batch(world: GateWorld) -> None:
    _, batch = world.built_project()
    gtin, lot = batch.split(".", 1)
    uri = f"https://insul.example.cn/01/{gtin}/10/{lot}/21/SN000123?k=abcd&s=xyz"
    assert batch_of_label(uri) == (batch, "SN000123")
    with world.ledger.store.read() as tx:
        by_label = trace_label(tx, uri).to_json()
        by_batch = trace_batch(tx, batch).to_json()
    assert by_label["subject"]["serial"] == "SN000123"
    assert by_label["nodes"] == by_batch["nodes"] and "section" in _kinds(by_batch)
    with pytest.raises(MalformedInput, match="no lot"):
        batch_of_label(f"https://insul.example.cn/01/{gtin}")


def test_an_incident_traces_its_building(world: GateWorld) -> None:
    project, batch = world.built_project()
    incident = {"id": "FIRE-2026-001", "building": project, "date": TODAY, "kind": "fire",
                "facades": ["north"], "description": "外墙保温层起火", "document": DOC}  # fmt: skip
    with refused("building.known"):
        world.add("incident.record", {**incident, "building": "nowhere"}, world["investigator"])
    world.add("incident.record", incident, world["investigator"])
    with refused("incident.unique"):
        world.add("incident.record", incident, world["investigator"])
    with world.ledger.store.read() as tx:
        found = trace_incident(tx, "FIRE-2026-001").to_json()
        building = trace_building(tx, project).to_json()
    assert {"incident", "section", "batch", "report"} <= _kinds(found)
    assert found["nodes"] == building["nodes"]
    assert found["recall"][0]["batch"] == batch


def test_unknown_subjects_are_not_found(world: GateWorld) -> None:
    project = world.project()
    with world.ledger.store.read() as tx:
        with pytest.raises(NotFound, match="no section"):
            trace_section(tx, project, "X9")
        with pytest.raises(NotFound):
            trace_batch(tx, "06900000000000.L1")
        with pytest.raises(NotFound):
            trace_incident(tx, "none")
        empty = trace_section(tx, project, "N1").to_json()
    assert "batch" not in _kinds(empty) and empty["recall"] == []
