"""Every policy version stays: entries are judged, and replayed, by the version they name.

The national policy ships 2025.1 and 2026.1, which differ in one value:
``industrial.sandwich_core_noncombustible.apply_to_cold_storage`` (false, then true), so a
cold store's B1 sandwich-panel core meets 2025.1 and is refused by 2026.1.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from insutrace.cli.main import app
from insutrace.trace.domain.gate import Evaluation, Outcome, Stage, evaluate
from insutrace.trace.errors import MalformedInput, RuleViolation
from insutrace.trace.policy import Policy, load_policy, policy_ref

from .conftest import DOC, TODAY, World, refused

NAME = "cn-national-2025"
OLD = policy_ref(NAME, "2025.1")
NEW = policy_ref(NAME, "2026.1")
DAY = date.fromisoformat(TODAY)
COLD = {"use": "cold_storage", "height_m": "15"}
B1_CORE = [
    {
        "id": "W",
        "name": "冷间外墙",
        "facade": "perimeter",
        "position": "sandwich_core",
        "area_m2": "100",
        "design_class": "B1(B)",
    }
]
A_CORE = [{**B1_CORE[0], "design_class": "A(A2)"}]


def project_row(world: World, project: str) -> dict[str, Any]:
    with world.ledger.store.read() as tx:
        row: dict[str, Any] = tx.get("project", project)
    return row


def judged(world: World, project: str, policy: Policy | None = None) -> Evaluation:
    with world.ledger.store.read() as tx:
        return evaluate(tx, project, Stage.FIRE_DESIGN_REVIEW, on=DAY, policy=policy)


def regulator(world: World) -> None:
    world.org("regulator", "南京市住房和城乡建设局", "regulator")
    lists = {"authority": world.id("regulator"), "lists": ["ndrc_serious"]}
    world.add("credit.authorize", lists, world.root)


def listing(world: World, policy: dict[str, str], number: str) -> None:
    payload = {
        "subject": world.id("maker"),
        "list": "ndrc_serious",
        "policy": policy,
        "decision": {"number": number, "date": TODAY, "document": DOC},
        "min_date": "2027-11-22",
        "max_date": "2028-11-22",
        "reason": "出具虚假检测报告",
    }
    world.add("credit.list", payload, world["regulator"])


def test_a_new_project_is_judged_by_the_version_it_names(world: World) -> None:
    old = world.project(sections=B1_CORE, design=COLD, policy=OLD)
    assert project_row(world, old)["policy"] == OLD
    assert (
        project_row(world, old)["required"]["sandwich_core"]["rule"] == "cold_storage.sandwich_core"
    )
    size = world.ledger.size()
    with pytest.raises(
        RuleViolation, match=r"designed class GB 8624 B1\(B\) is below the A required"
    ) as err:
        world.project(sections=B1_CORE, design=COLD, policy=NEW)
    assert (err.value.rule, err.value.clause) == (
        "industrial.sandwich_core_noncombustible",
        "GB 50016-2014(2018) §3.2.17",
    )
    assert world.ledger.size() == size
    new = world.project(sections=A_CORE, design=COLD, policy=NEW)
    assert project_row(world, new)["policy"] == NEW


def test_the_gate_judges_an_old_project_by_its_own_version(world: World) -> None:
    old = world.project(sections=B1_CORE, design=COLD, policy=OLD)
    found = judged(world, old)
    assert found.outcome == Outcome.PASS and found.policy == OLD
    stricter = judged(world, old, load_policy(NAME, "2026.1"))
    assert stricter.refused_rules == ["gate.required_class"] and stricter.policy == NEW
    regulator(world)
    decision = {"project": old, "stage": "fire_design_review", "outcome": "pass", "rules": []}
    world.add("permit.decide", {**decision, "number": "JD1"}, world["regulator"])
    with refused("permit.outcome", "refuse — gate.required_class"):
        world.add("permit.decide", {**decision, "number": "JD2", "policy": NEW}, world["regulator"])
    refusal = {**decision, "outcome": "refuse", "rules": ["gate.required_class"], "policy": NEW}
    world.add("permit.decide", {**refusal, "number": "JD3"}, world["regulator"])
    with world.ledger.store.read() as tx:
        row = tx.get("permit", f"{old}|fire_design_review")
    assert row["latest"]["policy"] == NEW and len(row["decisions"]) == 2


def test_an_entry_from_before_digests_names_its_version(world: World) -> None:
    project = world.project(policy={"id": NAME, "version": "2025.1"})
    assert project_row(world, project)["policy"] == OLD
    size = world.ledger.size()
    with refused("policy.digest", f"expected the SHA-256 of policy {NAME} 2026.1"):
        world.project(policy={"id": NAME, "version": "2026.1"})
    assert world.ledger.size() == size


def test_a_digest_must_be_that_of_the_shipped_text(world: World) -> None:
    world.site_parties()
    size = world.ledger.size()
    with refused("policy.digest", f"expected sha256 {OLD['sha256']}, the entry names"):
        world.project(policy={**OLD, "sha256": NEW["sha256"]})
    with pytest.raises(MalformedInput, match=r"policy\.sha256: expected a SHA-256"):
        world.project(policy={**OLD, "sha256": "not-a-digest"})
    with refused("policy.version", "'cn-nowhere': no such packaged policy"):
        world.project(policy={**OLD, "id": "cn-nowhere"})
    assert world.ledger.size() == size


def test_a_credit_listing_names_the_digest_of_its_version(world: World) -> None:
    regulator(world)
    with refused("policy.digest", f"expected the SHA-256 of policy {NAME} 2026.1"):
        listing(world, {"id": NAME, "version": "2026.1"}, "XY1")
    with refused("policy.digest", "the entry names " + "0" * 64):
        listing(world, {**NEW, "sha256": "0" * 64}, "XY1")
    listing(world, NEW, "XY1")
    with world.ledger.store.read() as tx:
        row = tx.get("listing", f"{world.id('regulator')}|XY1")
    assert row["policy"] == NEW


def test_rebuild_replays_each_entry_by_its_version(
    world: World, store_url: str, tmp_path: Path
) -> None:
    legacy = world.project(sections=B1_CORE, design=COLD, policy={"id": NAME, "version": "2025.1"})
    world.project(sections=A_CORE, design=COLD, policy=NEW)
    before = world.ledger.store.projection_digest()
    assert world.ledger.rebuild() == before
    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["--home", str(home), "--db", store_url, "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"digest {before} (identical to before)" in result.output
    assert project_row(world, legacy)["policy"] == OLD
