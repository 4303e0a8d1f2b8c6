"""Issue 11 item 7: design changes (设计变更) approved by the designer and the drawing
reviewer; the gate and installation judge against the design in force (W2.6)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from insutrace.trace.domain.design import design_changes
from insutrace.trace.domain.gate import evaluate
from insutrace.trace.domain.read import design_in_force
from insutrace.trace.errors import Forbidden, RuleViolation

from .conftest import DOC, TODAY, World, refused


@contextmanager
def refused_with(rule: str, clause: str) -> Iterator[None]:
    """A refusal naming ``rule`` and citing ``clause``; nothing is written."""
    with pytest.raises(RuleViolation) as info:
        yield
    assert info.value.rule == rule, info.value
    assert clause in info.value.clause, info.value.clause


@pytest.fixture
def site(world: World) -> str:
    world.site_parties()
    world.org("designer", "江苏测试建筑设计研究院有限公司", "designer")
    world.org("reviewer", "江苏测试施工图审查中心有限公司", "drawing_reviewer")
    return world.project(id="P-DC", design={"use": "residential", "height_m": "80"})


def change(world: World, project: str, **over: Any) -> dict[str, Any]:
    payload = {
        "project": project,
        "number": "BG-001",
        "section": "N1",
        "design_class": "A",
        "material": "rock_wool",
        "reason": "提高外墙保温燃烧性能等级 raise the class",
        "document": DOC,
        "designer": world.id("designer"),
        "reviewer": world.id("reviewer"),
        **over,
    }
    world.append("design.change", payload, "owner")
    return payload


def approve(world: World, project: str, who: str, number: str = "BG-001") -> None:
    payload = {"project": project, "number": number, "date": TODAY, "document": DOC}
    world.append("design.approve", payload, who)


def in_force(world: World, project: str, section: str = "N1") -> dict[str, Any]:
    with world.ledger.store.read() as tx:
        row = tx.get("project", project)
        assert row is not None
        return dict(design_in_force(tx, row, section))


def test_a_change_is_in_force_once_designer_and_reviewer_approve(world: World, site: str) -> None:
    change(world, site)
    assert in_force(world, site)["design_class"] == "GB 8624 B1(B)"
    approve(world, site, "designer")
    assert in_force(world, site) == {
        "design_class": "GB 8624 B1(B)", "material": None, "change": None, "seq": in_force(world, site)["seq"]
    }  # fmt: skip
    approve(world, site, "reviewer")
    now = in_force(world, site)
    assert (now["design_class"], now["material"], now["change"]) == (
        "GB 8624 A",
        "rock_wool",
        "BG-001",
    )
    with world.ledger.store.read() as tx:
        (row,) = design_changes(tx, site)
    assert row["status"] == "in_force" and row["from"]["design_class"] == "GB 8624 B1(B)"
    assert row["approvals"]["designer"]["seq"] < row["approvals"]["reviewer"]["seq"]


def test_the_gate_judges_against_the_design_in_force(world: World, site: str) -> None:
    """After the change to A the gate reads the section as A, not the registered B1."""
    change(world, site)
    approve(world, site, "designer")
    approve(world, site, "reviewer")
    with world.ledger.store.read() as tx:
        evaluation = evaluate(tx, site, "fire_design_review", on=world.ledger.clock.now().date())
    messages = " ".join(f.message for f in evaluation.findings)
    assert "designed GB 8624 A" in messages and "designed GB 8624 B1" not in messages


def test_a_b1_batch_is_refused_on_a_section_changed_to_a(world: World, site: str) -> None:
    change(world, site)
    approve(world, site, "designer")
    approve(world, site, "reviewer")
    product = world.product()
    batch = world.qualified_batch(product)
    world.on_site(site, batch)
    world.brief(site)
    with refused("install.design_class", "below the section's designed GB 8624 A"):
        world.install(site, batch, "100", "100")


def test_a_change_below_the_required_class_is_refused(world: World, site: str) -> None:
    """An 80 m residential wall needs ≥ B1 (GB 55037-2022 §6.6.6): a change to B2 is refused."""
    with refused_with("wall.row5.residential_27_to_100m", "GB 55037-2022 §6.6.6"):
        change(world, site, design_class="B2", material=None)
    change(
        world, site, design_class="B1(B)", material="xps"
    )  # nearest pass: same class, new material


def test_only_the_named_designer_and_reviewer_approve(world: World, site: str) -> None:
    world.org("designer2", "另一设计院有限公司", "designer")
    change(world, site)
    with refused_with("design.approver", "住建部令第13号 Art. 14"):
        approve(world, site, "designer2")
    approve(world, site, "designer")
    with refused_with("design.approver", "住建部令第51号"):
        approve(world, site, "designer")
    with pytest.raises(Forbidden):
        approve(world, site, "owner")


def test_a_change_names_a_designer_and_a_reviewer_by_role(world: World, site: str) -> None:
    with refused("org.role", "must have role drawing_reviewer"):
        change(world, site, reviewer=world.id("designer"))


def test_a_change_must_change_something(world: World, site: str) -> None:
    with refused_with("design.no_change", "GB 50411-2019 §3.1.2"):
        change(world, site, design_class="B1(B)", material=None)


def test_a_stale_change_is_refused_when_its_approvals_complete(world: World, site: str) -> None:
    change(world, site, number="BG-001", design_class="A", material="rock_wool")
    change(world, site, number="BG-002", design_class="A", material="foam_glass")
    for who in ("designer", "reviewer"):
        approve(world, site, who, "BG-002")
    approve(world, site, "designer", "BG-001")
    with refused_with("design.stale", "GB 50411-2019 §3.1.2"):
        approve(world, site, "reviewer", "BG-001")


def test_an_unknown_section_or_change_is_refused(world: World, site: str) -> None:
    with refused("design.section"):
        change(world, site, section="S9")
    with refused("design.known"):
        approve(world, site, "designer", "BG-404")


def test_the_dossier_of_a_section_shows_the_change_and_its_approvals(
    world: World, site: str
) -> None:
    from insutrace.trace.backtrace import trace_section
    from insutrace.trace.dossier import build_dossier, verify_dossier

    change(world, site)
    approve(world, site, "designer")
    approve(world, site, "reviewer")
    with world.ledger.store.read() as tx:
        trace = trace_section(tx, site, "N1").to_json()
    nodes = {n["id"]: n for n in trace["nodes"]}
    node = nodes[f"design_change:{site}|BG-001"]
    assert node["facts"]["status"] == "in_force" and len(node["entries"]) == 3
    assert nodes[f"section:{site}|N1"]["facts"]["design_in_force"] == "GB 8624 A"
    approved = {e["from"] for e in trace["edges"] if e["kind"] == "approved"}
    assert approved == {f"org:{world.id('designer')}", f"org:{world.id('reviewer')}"}
    world.ledger.checkpoint()
    dossier = build_dossier(world.ledger, {"kind": "section", "id": f"{site}/N1"})
    assert f"design_change:{site}|BG-001" in {n["id"] for n in dossier["trace"]["nodes"]}
    check = verify_dossier(dossier)
    assert check.cited >= len(trace["entries"])


def test_numbers_dates_and_pending_state(world: World, site: str) -> None:
    change(world, site)
    with refused_with("design.unique", "InsuTrace ledger rule"):
        change(world, site)
    with refused_with("design.date", "InsuTrace ledger rule"):
        world.append("design.approve", {"project": site, "number": "BG-001",
                                        "date": "2099-01-01", "document": DOC}, "designer")  # fmt: skip
    with refused_with("design.class", "GB 8624-2012 §4"):
        change(world, site, number="BG-002", design_class="Z9")
    approve(world, site, "designer")
    approve(world, site, "reviewer")
    with refused_with("design.pending", "InsuTrace ledger rule"):
        approve(world, site, "reviewer")
