"""The permit gate: every rule with an accepted and a refused case, and permit.decide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from insutrace.trace.domain.gate import DEFAULT_RULES, Outcome, decisions
from insutrace.trace.errors import Forbidden
from insutrace.trace.policy import load_policy, policy_ref

from .conftest import (
    DOC,
    MEASURES,
    RETEST_EXTRAS,
    TODAY,
    GateWorld,
    edited_policy,
    national,
    refused,
    results,
    rule_of,
)

# the rules a 2025.1 project's fire acceptance applies (the opt-in ones need policy 2026.2)
FINAL_RULES = {
    rule for rule, r in DEFAULT_RULES.items() if "fire_acceptance" in r.stages and not r.opt_in
}


def _rules(found: Any, ok: bool) -> set[str]:
    return {f.rule for f in found.findings if f.ok is ok}


def test_a_complete_project_passes_all_three_stages(world: GateWorld) -> None:
    project, _ = world.built_project()
    for stage in ("fire_design_review", "construction_permit", "fire_acceptance"):
        found = world.decide_as_evaluated(project, stage)
        assert found.outcome == Outcome.PASS, found.to_json()["reasons"]
    final = world.evaluate(project, "fire_acceptance")
    assert _rules(final, True) == FINAL_RULES - {"gate.thermoset"}
    chain = next(f for f in final.findings if f.rule == "gate.class_chain")
    assert "label = report = design = GB 8624 B1(B-s1,d0,t1)" in chain.message
    assert chain.entries and all(isinstance(s, int) for s in chain.entries)
    with world.ledger.store.read() as tx:
        rows = decisions(tx, project)
    assert rows["fire_acceptance"]["latest"]["outcome"] == "pass"
    assert len(rows["fire_acceptance"]["decisions"]) == 1


def test_design_stages_list_the_conditions_of_a_b1_design(world: GateWorld) -> None:
    project = world.project()
    found = world.evaluate(project, "fire_design_review")
    assert found.outcome == Outcome.PASS
    assert any("fire barrier belt" in note for note in found.notes)
    assert {f.rule for f in found.findings} == {"gate.required_class", "gate.filing"}


def test_required_class_is_judged_by_the_regulators_policy(
    world: GateWorld, short_tmp: Path
) -> None:
    project = world.project()  # residential 80 m: ≥ B1 nationally, B1(B) designed

    def strict(data: dict[str, Any]) -> None:
        rule_of(data, "wall.row5.residential_27_to_100m")["values"]["required"] = "A"

    path = edited_policy(short_tmp, "strict.1", strict)
    policy = policy_ref(path, "strict.1")
    found = world.evaluate(project, "fire_design_review", policy=national())
    assert found.outcome == Outcome.PASS
    with refused("permit.outcome", "gate.required_class"):
        world.decide(project, "fire_design_review", "pass", policy=policy)
    world.decide(project, "fire_design_review", "refuse", ["gate.required_class"], policy=policy)
    with world.ledger.store.read() as tx:
        latest = decisions(tx, project)["fire_design_review"]["latest"]
    assert latest["rules"] == ["gate.required_class"] and latest["policy"] == policy


def test_ice_venue_is_a_crowded_place_by_default(world: GateWorld, short_tmp: Path) -> None:
    venue = {"use": "ice_snow_venue", "height_m": "20", "public_open": True}
    a_class = [{"id": "E1", "name": "外墙", "facade": "east", "position": "external_wall",
                "area_m2": "100", "design_class": "A(A1)"}]  # fmt: skip
    project = world.project(sections=a_class, design=venue)
    found = world.evaluate(project, "fire_design_review")
    assert found.outcome == Outcome.PASS
    assert any("特殊消防设计" in note for note in found.notes)

    def lenient(data: dict[str, Any]) -> None:
        rule_of(data, "venue.ice_snow")["values"]["public_open_is_crowded_place"] = False

    path = edited_policy(short_tmp, "lenient.1", lenient)
    b1 = [{**a_class[0], "design_class": "B1(B)"}]
    weak = world.project(sections=b1, design=venue, policy=policy_ref(path, "lenient.1"))
    found = world.evaluate(weak, "fire_design_review", policy=national())
    assert found.refused_rules == ["gate.required_class"]
    assert "venue.ice_snow" in found.reasons[0].message


def test_a_small_project_needs_its_local_filing(world: GateWorld) -> None:
    world.site_parties()
    project = world.project(permit=None, below_quota=True)
    with refused("permit.outcome", "not filed locally"):
        world.decide(project, "construction_permit", "pass")
    world.decide(project, "construction_permit", "refuse", ["gate.filing"])
    payload = {"project": project, "number": "BA-2026-001", "date": TODAY}
    world.add("project.file", payload, world["regulator"])
    found = world.decide_as_evaluated(project, "construction_permit")
    assert found.outcome == Outcome.PASS
    assert "filed as BA-2026-001" in next(
        f.message for f in found.findings if f.rule == "gate.filing"
    )


def test_a_refused_stage_blocks_the_later_ones_until_it_passes(world: GateWorld) -> None:
    world.site_parties()
    project = world.project(permit=None, below_quota=True)
    world.decide(project, "construction_permit", "refuse", ["gate.filing"])
    found = world.evaluate(project, "fire_acceptance")
    assert "gate.stage_order" in found.refused_rules
    blocked = next(f for f in found.reasons if f.rule == "gate.stage_order")
    assert "construction_permit (施工许可)" in blocked.message and len(blocked.entries) == 1
    world.add(
        "project.file", {"project": project, "number": "BA-1", "date": TODAY}, world["regulator"]
    )
    assert world.decide_as_evaluated(project, "construction_permit").outcome == Outcome.PASS
    assert "gate.stage_order" not in world.evaluate(project, "fire_acceptance").refused_rules


def test_a_listed_contractor_refuses_the_construction_permit(world: GateWorld) -> None:
    project = world.project()
    assert world.evaluate(project, "construction_permit").outcome == Outcome.PASS
    listing = world.listing("contractor", "mohurd_bad_record", max_date="2027-11-22")
    found = world.evaluate(project, "construction_permit")
    assert found.refused_rules == ["gate.credit.contractor"]
    assert listing.split("|")[1] in found.reasons[0].message
    world.decide(project, "construction_permit", "refuse", ["gate.credit.contractor"])


def test_fire_acceptance_checks_manufacturer_and_lab_credit(world: GateWorld) -> None:
    project, _ = world.built_project()
    world.listing("maker", number="M-1")
    assert world.evaluate(project, "fire_acceptance").refused_rules == ["gate.credit.manufacturer"]
    world.listing("lab", "samr_serious_illegal", number="L-1", max_date="2029-11-22")
    found = world.evaluate(project, "fire_acceptance")
    assert found.refused_rules == ["gate.credit.lab", "gate.credit.manufacturer"]
    world.decide(project, "fire_acceptance", "refuse", found.refused_rules)


def test_acceptance_needs_the_attested_measures(world: GateWorld) -> None:
    project, _ = world.built_project(accept=False)
    found = world.evaluate(project, "fire_acceptance")
    assert found.refused_rules == ["gate.measures"]
    assert "no supervisor acceptance attests them" in found.reasons[0].message
    world.accept(project, "supervisor", MEASURES)
    assert world.evaluate(project, "fire_acceptance").outcome == Outcome.PASS


def test_acceptance_needs_the_works_complete(world: GateWorld) -> None:
    batch = world.qualified_batch(world.product())
    project = world.project()
    world.brief(project)
    world.on_site(project, batch)
    world.install(project, batch, "400", "400")
    found = world.evaluate(project, "fire_acceptance")
    assert {"gate.complete", "gate.measures"} == set(found.refused_rules)
    assert "section N1: 400 of 600 m² installed" in next(
        f.message for f in found.reasons if f.rule == "gate.complete"
    )


def test_installation_before_the_factory_report_is_refused(world: GateWorld) -> None:
    """A report qualifies a batch from its issue date on (read.qualifying_reports): an
    installation dated before it is refused on append, not admitted and refused later."""
    batch = world.batch(world.product())
    world.report(batch, issued_on="2026-11-10")
    project = world.project()
    world.brief(project)
    world.on_site(project, batch)
    payload = {"project": project, "section": "N1", "batch": batch, "quantity": "600",
               "area_m2": "600", "date": "2026-11-05"}  # fmt: skip
    with refused("install.qualified", "no qualifying factory report valid on 2026-11-05"):
        world.add("site.install", payload, world["contractor"])
    found = world.evaluate(project, "fire_acceptance")
    assert "no batch is installed on this project yet" in found.notes


def test_a_later_failed_retest_refuses_acceptance(world: GateWorld) -> None:
    project, batch = world.built_project(accept=False)
    sample = world.sample(project, batch)
    world.retest(project, sample, results=results(cls="B2(E)", **RETEST_EXTRAS))
    found = world.evaluate(project, "fire_acceptance")
    assert {"gate.retest", "gate.retest_class"} <= set(found.refused_rules)
    retest = next(f for f in found.reasons if f.rule == "gate.retest_class")
    assert "class GB 8624 B2(E) < declared" in retest.message


def test_the_class_chain_must_match_the_design(world: GateWorld) -> None:
    strong = world.batch(world.product(), declared_class="A(A1)")
    world.report(strong, results=results(cls="A(A1)"))
    project = world.project()
    world.brief(project)
    world.deliver("maker", "contractor", strong, "700", to_project=project)
    world.inspect(project, strong, label="A(A1)级")
    no_burn = [r for r in results(**RETEST_EXTRAS) if r["property"] != "combustion"]
    world.retest(project, world.sample(project, strong), results=no_burn)
    world.install(project, strong, "600", "600")
    world.accept(project, "supervisor", [])
    found = world.evaluate(project, "fire_acceptance")
    assert found.refused_rules == ["gate.class_chain"]
    assert "section N1 is designed GB 8624 B1(B), built GB 8624 A(A1)" in found.reasons[0].message
    exempt = next(f for f in found.findings if f.rule == "gate.retest_class")
    assert exempt.ok and "non-combustible" in exempt.message


def test_a_cold_store_b1_core_must_be_a_thermoset(world: GateWorld, short_tmp: Path) -> None:
    def lenient(data: dict[str, Any]) -> None:
        rule_of(data, "cold_storage.sandwich_core")["values"]["b1_core_thermoset"] = False

    path = edited_policy(short_tmp, "lenient.2", lenient)
    world.site_parties()
    core = [{"id": "W", "name": "冷间外墙", "facade": "perimeter", "position": "sandwich_core",
             "area_m2": "100", "design_class": "B1(B)"}]  # fmt: skip
    design = {"use": "cold_storage", "height_m": "15"}
    xps = world.product(type="composite_panel", core="xps")
    pir = world.product(type="composite_panel", core="pir", polymer="polyisocyanurate",
                        thermosetting=True)  # fmt: skip
    verdicts = {}
    for product, policy in ((xps, policy_ref(path, "lenient.2")), (pir, None)):
        project = world.project(
            sections=core, design=design, **({"policy": policy} if policy else {})
        )
        world.brief(project)
        batch = world.qualified_batch(product)
        world.on_site(project, batch)
        world.install(project, batch, "100", "100", section="W")
        world.accept(project, "supervisor", [])
        verdicts[product] = world.evaluate(project, "fire_acceptance", policy=national())
    assert verdicts[xps].refused_rules == ["gate.thermoset"]
    assert "polystyrene (thermoplastic)" in verdicts[xps].reasons[0].message
    assert verdicts[pir].outcome == Outcome.PASS and "gate.thermoset" in _rules(verdicts[pir], True)


def test_the_decision_must_state_the_evaluation(world: GateWorld) -> None:
    project, _ = world.built_project(accept=False)
    with refused("permit.outcome", "refuse — gate.measures"):
        world.decide(project, "fire_acceptance", "pass")
    with refused("permit.outcome", "the decision states refuse ['gate.complete']"):
        world.decide(project, "fire_acceptance", "refuse", ["gate.complete"])
    with pytest.raises(Forbidden):
        payload = {"project": project, "stage": "fire_acceptance", "outcome": "refuse",
                   "rules": ["gate.measures"], "number": "X1", "document": DOC}  # fmt: skip
        world.add("permit.decide", payload, world["contractor"])
    world.decide(project, "fire_acceptance", "refuse", ["gate.measures"], document=DOC)
    world.accept(project, "supervisor", MEASURES)
    world.decide(project, "fire_acceptance", "pass")
    with world.ledger.store.read() as tx:
        row = decisions(tx, project)["fire_acceptance"]
    assert row["latest"]["outcome"] == "pass" and len(row["decisions"]) == 2


def test_a_jurisdiction_policy_overrides_a_gate_rule(world: GateWorld, short_tmp: Path) -> None:
    def provincial(data: dict[str, Any]) -> None:
        data["jurisdiction"] = "CN-JS"
        data["rules"].append(
            {"id": "gate.credit.contractor", "clause": "江苏省住建厅 (provincial rule)",
             "confidence": "U", "values": {"fire_design_review": True}}
        )  # fmt: skip

    policy = load_policy(edited_policy(short_tmp, "js.1", provincial))
    project = world.project()
    world.listing("contractor", "mohurd_bad_record")
    found = world.evaluate(project, "fire_design_review", policy=policy)
    assert found.refused_rules == ["gate.credit.contractor"]
    assert found.reasons[0].clause == "江苏省住建厅 (provincial rule)"
    assert world.evaluate(project, "fire_design_review").outcome == Outcome.PASS
