"""Wave-2 rules of policy cn-national-2025 2026.2 (docs/rules-wave2.md), on both backends.

Each rule: the refusal with its rule id and clause, and the nearest case that passes. The
ledger's clock starts on 2027-01-04, when 2026.2 (effective 2027-01-01) is the national
version in force, so batches and reports, which name no policy, are judged by it; projects
name 2026.2 explicitly. The facts asserted come from ../shared/reference/domain-rules.md
(W2.1 cold-store doors, W2.2 class ceilings and A-class methods, W2.3 product limits,
W2.4 report dates, W2.5 independence) and GB 55037-2022 §6.6.4/§6.6.5.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from insutrace.demo.scenario import RETEST_EXTRAS, section
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain.custody import RECALL_CLAUSE
from insutrace.trace.domain.reports import QUALIFY_CLAUSE
from insutrace.trace.errors import Forbidden, MalformedInput, RuleViolation
from insutrace.trace.policy import load_policy, policy_ref

from .conftest import MEASURES, GateWorld, results

NAME = "cn-national-2025"
WAVE2 = policy_ref(NAME, "2026.2")
NEW = load_policy(NAME, "2026.2")
FACTS = {"cavity": False, "contains_crowded_place": False}
DAY = date(2027, 1, 4)


@pytest.fixture
def clock() -> FixedClock:
    """The test ledgers' clock, on a day 2026.2 is in force."""
    return FixedClock(datetime(2027, 1, 4, 1, 0, tzinfo=UTC), step=timedelta(seconds=1))


@contextmanager
def refusal(rule: str, clause: str, match: str = "") -> Iterator[None]:
    """Expect RuleViolation ``rule`` citing ``clause`` (its catalogue clause or the policy's)."""
    with pytest.raises(RuleViolation) as info:
        yield
    assert info.value.rule == rule, info.value
    assert info.value.clause == clause, info.value
    assert match in info.value.reason, info.value.reason


def clause(rule_id: str) -> str:
    return NEW.rule(rule_id).clause


def project(world: GateWorld, **over: Any) -> str:
    design = {**FACTS, **over.pop("design", {})}
    return world.project(policy=WAVE2, design=design, **over)


def row(world: GateWorld, kind: str, key: str) -> dict[str, Any]:
    with world.ledger.store.read() as tx:
        found = tx.get(kind, key)
    assert found is not None
    return found


# -- 1. a missing fact never weakens a requirement --------------------------------------


def test_a_missing_cavity_fact_is_refused_naming_it(world: GateWorld) -> None:
    facts = clause("design.facts_required")
    with refusal("design.facts_required", facts, "design.cavity (GB 55037-2022 §6.6.6-§6.6.8)"):
        world.project(policy=WAVE2, design={"contains_crowded_place": False})
    with refusal("design.facts_required", facts, "design.contains_crowded_place"):
        world.project(policy=WAVE2, design={"cavity": False})
    assert row(world, "project", project(world))["design"]["cavity"] is False


def test_the_old_version_still_reads_an_absent_fact_as_absent(world: GateWorld) -> None:
    assert row(world, "project", world.project())["policy"]["version"] == "2025.1"


def test_an_elderly_care_building_states_free_standing_or_its_area(world: GateWorld) -> None:
    care = {"use": "elderly_care", "height_m": "20"}
    facts = clause("design.facts_required")
    with refusal("design.facts_required", facts, "design.elderly_free_standing"):
        project(world, design=care)
    with refusal("design.facts_required", facts, "design.elderly_combined_area_m2"):
        project(world, design={**care, "elderly_free_standing": False})
    a = [section("N1", "北立面", "north", "600", design_class="A(A1)")]
    project(world, design={**care, "elderly_free_standing": True}, sections=a)


def test_an_elderly_care_part_rules_whatever_the_main_use(world: GateWorld) -> None:
    """GB 55037-2022 §6.6.4: a combined elderly-care part > 500 m² asks for A, here in an
    80 m residential building whose own row asks only ≥B1."""
    row2 = NEW.rule("wall.row2.elderly_care")
    with refusal(row2.id, row2.clause, "below the A required"):
        project(world, design={"elderly_combined_area_m2": "600"})
    project(world, design={"elderly_combined_area_m2": "500"})  # not over 500 m²
    world.project(design={"elderly_combined_area_m2": "600"})  # 2025.1 keeps its reading


def test_a_crowded_place_part_asks_for_a_inside_a_cold_store(world: GateWorld) -> None:
    store = {"use": "cold_storage", "height_m": "12", "contains_crowded_place": True}
    internal = [section("I1", "内墙", "inside", "300", position="internal", design_class="B1(B)")]
    a_class = NEW.rule("internal.a_class_places")
    with refusal(a_class.id, a_class.clause):
        project(world, design=store, sections=internal)
    store["contains_crowded_place"] = False
    project(world, design=store, sections=internal)


def test_an_ice_snow_venue_states_its_public_use(world: GateWorld) -> None:
    venue = {"use": "ice_snow_venue", "height_m": "20"}
    with refusal("design.facts_required", clause("design.facts_required"), "design.public_open"):
        project(world, design=venue)
    project(world, design={**venue, "public_open": False})


# -- 2. cold-store doors, GB 50072-2021 §4.2.3 ------------------------------------------------


def door(width: str, height: str, faces: str = "A(A1)", **more: str) -> dict[str, Any]:
    facts = {"clear_width_m": width, "clear_height_m": height, "face_class": faces, **more}
    return {**section("D1", "冷藏间门", "corridor", "8", position="door_core"), "door": facts}


COLD = {"use": "cold_storage", "height_m": "12"}
DOOR_CLAUSE = "GB 50072-2021 §4.2.3"


def test_a_cold_room_door_needs_non_combustible_faces(world: GateWorld) -> None:
    with refusal("cold_storage.door", DOOR_CLAUSE, "door faces are GB 8624 B1(B)"):
        project(world, design=COLD, sections=[door("1.5", "2.4", faces="B1(B)")])
    project(world, design=COLD, sections=[door("1.5", "2.4", faces="A2-s1,d0,t0")])


def test_a_cold_room_door_core_is_at_least_b1(world: GateWorld) -> None:
    weak = {**door("1.5", "2.4"), "design_class": "B2(E)"}
    with refusal("cold_storage.door", DOOR_CLAUSE, "below the ≥B1 required"):
        project(world, design=COLD, sections=[weak])


def test_a_large_opening_needs_fire_integrity(world: GateWorld) -> None:
    with refusal(
        "cold_storage.door",
        DOOR_CLAUSE,
        "2.5 × 3 m needs fire integrity ≥ 0.5 h, the design states none",
    ):
        project(world, design=COLD, sections=[door("2.5", "3.0")])
    with refusal("cold_storage.door", DOOR_CLAUSE, "the design states 0.25 h"):
        project(world, design=COLD, sections=[door("2.5", "3.0", fire_integrity_h="0.25")])
    rated = project(world, design=COLD, sections=[door("2.5", "3.0", fire_integrity_h="0.5")])
    assert row(world, "project", rated)["measures_required"] == {
        "door_fire_integrity": DOOR_CLAUSE,
        "noncombustible_door_faces": DOOR_CLAUSE,
    }
    # exactly 2.1 × 2.7 m, or only one dimension over, does not trigger (both strict ">")
    for width, height in (("2.1", "2.7"), ("2.5", "2.7"), ("2.1", "3.0")):
        small = row(world, "project", project(world, design=COLD, sections=[door(width, height)]))
        assert small["measures_required"] == {"noncombustible_door_faces": DOOR_CLAUSE}


def test_door_facts_belong_to_door_sections(world: GateWorld) -> None:
    bare = section("D1", "冷藏间门", "corridor", "8", position="door_core")
    with pytest.raises(MalformedInput, match="door: required for door_core sections"):
        project(world, design=COLD, sections=[bare])


def test_the_gate_judges_a_door_section_by_its_opening(world: GateWorld) -> None:
    rated = project(world, design=COLD, sections=[door("2.5", "3.0", fire_integrity_h="1.0")])
    found = world.evaluate(rated, "fire_design_review", on=DAY)
    assert found.outcome.value == "pass"
    assert any("door fire integrity ≥ 0.5 h" in n for n in found.notes)


# -- 3. stages follow each other ------------------------------------------------------------


def test_a_construction_permit_needs_a_passed_fire_design_review(world: GateWorld) -> None:
    p = project(world)
    early = world.evaluate(p, "construction_permit", on=DAY)
    assert early.refused_rules == ["gate.stage_passed"]
    assert "no fire_design_review (消防设计审查) decision is on record" in early.reasons[0].message
    world.decide(p, "fire_design_review")
    assert world.evaluate(p, "construction_permit", on=DAY).outcome.value == "pass"


def test_the_old_version_only_notes_a_missing_review(world: GateWorld) -> None:
    p = world.project()
    found = world.evaluate(p, "construction_permit", on=DAY)
    assert found.outcome.value == "pass"
    assert "gate.stage_passed" not in {f.rule for f in found.findings}


def test_fire_acceptance_needs_the_supervisor_and_the_owner(world: GateWorld) -> None:
    p, _ = world.built_project(accept=False, policy=WAVE2, design=FACTS)
    world.decide(p, "fire_design_review")
    world.decide(p, "construction_permit")
    world.accept(p, "supervisor", MEASURES)
    found = world.evaluate(p, "fire_acceptance", on=DAY)
    assert found.refused_rules == ["gate.acceptance_signed"]
    assert (
        found.reasons[0].clause
        == "建设工程质量管理条例 Art. 16; GB 50411-2019 §3.4: acceptance signed by supervisor and owner"
    )
    world.accept(p, "owner")
    assert world.evaluate(p, "fire_acceptance", on=DAY).outcome.value == "pass"


# -- 4. impossible claims ----------------------------------------------------------------


CEILING = clause("plausibility.class_ceiling")


def test_a_polystyrene_foam_declared_a_class_is_refused(world: GateWorld) -> None:
    xps = world.product()
    with refusal("plausibility.class_ceiling", CEILING, "above what xps (polystyrene) can reach"):
        world.batch(xps, declared_class="A2-s1,d0,t0")
    world.batch(xps, declared_class="B1(B-s1,d0,t1)")


def test_a_report_giving_a_foam_an_a_class_is_refused(world: GateWorld) -> None:
    pu = world.product(type="pu", polymer="polyurethane", thermosetting=True)
    batch = world.batch(pu)
    with refusal("plausibility.class_ceiling", CEILING, "at best B"):
        world.report(batch, results=results("A(A1)"))
    world.report(batch)


def rock_wool(world: GateWorld) -> str:
    wool = world.product(
        name="岩棉板", type="rock_wool", polymer="inorganic", standard="GB/T 25975-2018"
    )
    return world.batch(wool, declared_class="A(A1)", density="140", conductivity="0.040")


def test_an_a_class_result_needs_the_a_class_methods(world: GateWorld) -> None:
    batch = rock_wool(world)
    methods = clause("plausibility.a_class_methods")
    partial = ["GB 8624-2012", "GB/T 5464-2010", "GB/T 10294-2008", "GB/T 6343-2009"]
    a1 = results("A(A1)", conductivity="0.038", density="140")
    with refusal("plausibility.a_class_methods", methods, "missing GB/T 14402"):
        world.report(batch, standards=partial, results=a1)
    world.report(batch, standards=[*partial, "GB/T 14402-2007"], results=a1)


def test_an_a2_result_needs_the_sbi_test(world: GateWorld) -> None:
    glass = world.product(name="玻璃棉板", type="glass_wool", polymer="inorganic")
    batch = world.batch(glass, declared_class="A2-s1,d0,t0", density="48")
    a2 = results("A2-s1,d0,t0", density="48")
    methods = clause("plausibility.a_class_methods")
    with refusal("plausibility.a_class_methods", methods, "missing GB/T 20284"):
        world.report(batch, standards=["GB 8624-2012", "GB/T 14402-2007"], results=a2)
    world.report(
        batch, standards=["GB 8624-2012", "GB/T 14402-2007", "GB/T 20284-2006"], results=a2
    )


def test_a_result_without_smoke_and_droplet_classes_is_refused(world: GateWorld) -> None:
    glass = world.product(name="玻璃棉板", type="glass_wool", polymer="inorganic")
    batch = world.batch(glass, declared_class="A2", density="48")
    full = ["GB 8624-2012", "GB/T 5464-2010", "GB/T 20284-2006"]
    sub = clause("plausibility.sub_classification")
    with refusal("plausibility.sub_classification", sub, "A(A2) states no smoke (s)"):
        world.report(batch, standards=full, results=results("A2", density="48"))
    with refusal("plausibility.sub_classification", sub, "no smoke toxicity (t)"):
        world.report(batch, standards=full, results=results("A2-s1,d0", density="48"))
    world.report(batch, standards=full, results=results("A2-s1,d0,t1", density="48"))


def test_report_dates_within_the_batch_and_the_policy(world: GateWorld) -> None:
    batch = world.batch(world.product(), production_date="2026-11-01")
    dates = clause("report.dates")
    with refusal("report.dates", dates, "before batch"):
        world.report(batch, issued_on="2026-10-31", valid_until="2027-10-30")
    with refusal("report.dates", dates, "366 days, longer than the 365 days"):
        world.report(batch, issued_on="2026-11-10", valid_until="2027-11-11")
    world.report(batch, issued_on="2026-11-01", valid_until="2027-11-01")
    assert row(world, "batch", batch)["qualified_by"]


# -- 5. independence ------------------------------------------------------------------------


def test_a_lab_cannot_qualify_its_own_batch(world: GateWorld) -> None:
    world.org(
        "own", "江苏自检保温材料有限公司", "manufacturer", "testing_lab", domain="own.example.cn"
    )
    batch = world.batch(world.product("own"), "own")
    with refusal("independence.lab", clause("independence.lab"), "its own report cannot qualify"):
        world.report(batch, lab="own")
    world.report(batch, lab="lab")


def test_the_supervisor_is_not_the_contractor(world: GateWorld) -> None:
    world.site_parties()
    world.org("both", "江苏监理施工一体有限公司", "contractor", "supervisor")
    rule = clause("independence.supervisor")
    with refusal("independence.supervisor", rule, "is the contractor of the project"):
        project(world, parties=("owner", "both", "both"))
    project(world, parties=("owner", "both", "supervisor"))


def test_the_witness_is_not_the_contractor(world: GateWorld) -> None:
    world.site_parties()
    world.org("self", "南京自建置业有限公司", "building_owner", "contractor")
    p = project(world, parties=("self", "self", "supervisor"))
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "self", batch, "100", to_project=p)
    rule = clause("independence.witness")
    with refusal("independence.witness", rule, "is the contractor of project"):
        world.sample(p, batch, parties=("self", "self", "lab"))
    world.sample(p, batch, parties=("supervisor", "self", "lab"))


# -- 6. re-test values against the product standard ---------------------------------------


def test_a_retest_below_the_standard_fails_naming_the_property(world: GateWorld) -> None:
    p = project(world)
    world.brief(p)
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "contractor", batch, "800", to_project=p)
    world.inspect(p, batch)
    weak = {**RETEST_EXTRAS, "compressive_strength": "120"}
    world.retest(p, world.sample(p, batch, sample="WS1"), results=results(**weak))
    found = row(world, "sample", f"{p}|WS1")["result"]
    assert found["passed"] is False
    assert found["reasons"] == [
        "compressive_strength 120 kPa is below the minimum 150 of GB/T 10801.2-2018 "
        f"(retest.limits.xps-10801.2-2018, {clause('retest.limits.xps-10801.2-2018')} [U])"
    ]
    with refusal("install.retest", "GB 55015-2021 §6.2.1", "failed witnessed re-test(s) WS1"):
        world.install(p, batch, "600", "600")
    world.add(
        "batch.recall", {"batch": batch, "reason": "failed_retest", "sample": f"{p}|WS1"}, "maker"
    )
    with refusal("install.recalled", RECALL_CLAUSE, "(failed_retest)"):
        world.install(p, batch, "600", "600")


def test_a_retest_within_the_limits_passes(world: GateWorld) -> None:
    p = project(world)
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "contractor", batch, "800", to_project=p)
    world.inspect(p, batch)
    world.retest(p, world.sample(p, batch, sample="WS1"))
    assert row(world, "sample", f"{p}|WS1")["result"]["passed"] is True


def test_the_old_version_does_not_judge_retest_limits(world: GateWorld) -> None:
    p = world.project()
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "contractor", batch, "800", to_project=p)
    world.inspect(p, batch)
    weak = {**RETEST_EXTRAS, "compressive_strength": "120"}
    world.retest(p, world.sample(p, batch, sample="WS1"), results=results(**weak))
    assert row(world, "sample", f"{p}|WS1")["result"]["passed"] is True


# -- 12. messages ---------------------------------------------------------------------------


def test_an_installation_refused_for_its_report_says_why(world: GateWorld) -> None:
    p = project(world)
    world.brief(p)
    xps = world.product()
    lacking = world.batch(xps)
    world.report(lacking, results=results(conductivity="0.040"))
    none = world.batch(xps)
    for batch in (lacking, none):
        world.deliver("maker", "contractor", batch, "100", to_project=p)
        world.inspect(p, batch)
        world.retest(p, world.sample(p, batch))
    with refusal(
        "install.qualified",
        QUALIFY_CLAUSE,
        "does not qualify: thermal conductivity 0.04 W/(m·K) exceeds the declared 0.032",
    ):
        world.install(p, lacking, "50", "50")
    with refusal("install.qualified", QUALIFY_CLAUSE, "no factory report was issued on it"):
        world.install(p, none, "50", "50")


def test_an_installation_without_a_retest_says_none_exists(world: GateWorld) -> None:
    p = project(world)
    world.brief(p)
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "contractor", batch, "100", to_project=p)
    world.inspect(p, batch)
    with refusal("install.retest", "GB 55015-2021 §6.2.1", "none is recorded"):
        world.install(p, batch, "50", "50")


# -- 5. declared affiliations -----------------------------------------------------------------


def affiliate(world: GateWorld, org: str, other: str, by: str, **over: Any) -> None:
    payload = {
        "org": world.id(org),
        "affiliate": world.id(other),
        "relation": "parent",
        "date": "2026-11-20",
        "document": "ab" * 32,
        **over,
    }
    world.add("org.affiliate", payload, by)


def test_a_lab_affiliated_with_the_maker_cannot_qualify_its_batch(world: GateWorld) -> None:
    world.org("sister", "江苏关联检测有限公司", "testing_lab")
    batch = world.batch(world.product())
    world.report(batch, lab="sister")  # not yet declared: an independent lab as far as known
    affiliate(world, "maker", "sister", "regulator")
    rule = clause("independence.lab")
    with refusal("independence.lab", rule, "is declared affiliated (parent, entry"):
        world.report(world.batch(world.product()), lab="sister")
    world.report(world.batch(world.product()), lab="lab")


def test_an_affiliated_supervisor_or_witness_is_refused(world: GateWorld) -> None:
    world.site_parties()
    affiliate(world, "contractor", "supervisor", "contractor", relation="same_group")
    rule = clause("independence.supervisor")
    with refusal("independence.supervisor", rule, "declared affiliated (same_group)"):
        project(world)
    world.org("monitor", "江苏独立监理有限公司", "supervisor")
    p = project(world, parties=("owner", "contractor", "monitor"))
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "contractor", batch, "100", to_project=p)
    affiliate(world, "maker", "owner", "owner", relation="shareholder")
    with refusal("independence.witness", clause("independence.witness"), "with the manufacturer"):
        world.sample(p, batch, parties=("owner", "contractor", "lab"))
    world.sample(p, batch, parties=("monitor", "contractor", "lab"))


def test_an_affiliation_is_declared_once_by_a_party_or_a_regulator(world: GateWorld) -> None:
    world.org("sister", "江苏关联检测有限公司", "testing_lab")
    with refusal("org.affiliate", "住建部令第57号 Art. 15; 建筑法 Art. 34", "with itself"):
        affiliate(world, "maker", "maker", "maker")
    with pytest.raises(Forbidden, match="is for either of them or a regulator"):
        affiliate(world, "maker", "sister", "dist")
    affiliate(world, "sister", "maker", "sister")
    with refusal("org.affiliate", "住建部令第57号 Art. 15; 建筑法 Art. 34", "already declared"):
        affiliate(world, "maker", "sister", "regulator")
    found = row(world, "affiliation", "|".join(sorted((world.id("maker"), world.id("sister")))))
    assert (found["relation"], found["by"]) == ("parent", world.id("sister"))


def test_a_complete_project_passes_all_three_stages_under_2026_2(world: GateWorld) -> None:
    p, _ = world.built_project(policy=WAVE2, design=FACTS)
    for stage in ("fire_design_review", "construction_permit", "fire_acceptance"):
        found = world.decide_as_evaluated(p, stage)
        assert found.outcome.value == "pass", found.to_json()["reasons"]
    final = world.evaluate(p, "fire_acceptance", on=DAY)
    passed = {f.rule for f in final.findings if f.ok}
    assert {"gate.stage_passed", "gate.acceptance_signed"} <= passed
    assert not final.reasons


def fail_elsewhere(world: GateWorld, batch: str) -> str:
    """A failed witnessed re-test of ``batch`` on another project; the sample key."""
    q = world.project(sections=[section("N1", "北立面", "north", "100")])
    world.deliver("maker", "contractor", batch, "10", to_project=q)
    world.inspect(q, batch)
    sample = world.sample(q, batch)
    world.retest(q, sample, results=results(conductivity="0.040", **RETEST_EXTRAS))
    return f"{q}|{sample}"


def test_an_acceptance_refused_for_a_recall_cites_the_recall(world: GateWorld) -> None:
    p = world.project(sections=[section("N1", "北立面", "north", "600")])
    world.brief(p)
    xps = world.product()
    recalled, failed = world.qualified_batch(xps), world.qualified_batch(xps)
    for batch in (recalled, failed):
        world.on_site(p, batch, "400")
        world.install(p, batch, "300", "300")
    world.add(
        "batch.recall",
        {"batch": recalled, "reason": "failed_retest", "sample": fail_elsewhere(world, recalled)},
        "maker",
    )
    fail_elsewhere(world, failed)  # non-conforming, not recalled
    with pytest.raises(RuleViolation) as info:
        world.accept(p, "supervisor", MEASURES)
    assert (info.value.rule, info.value.clause) == ("accept.nonconforming", RECALL_CLAUSE)
    assert info.value.reason == f"installed batch {recalled} is recalled"


def test_a_retest_giving_a_foam_an_a_class_is_refused(world: GateWorld) -> None:
    p = project(world)
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "contractor", batch, "100", to_project=p)
    world.inspect(p, batch)
    sample = world.sample(p, batch)
    with refusal("plausibility.class_ceiling", CEILING, "re-tested class GB 8624 A(A2-s1,d0,t0)"):
        world.retest(p, sample, results=results("A2-s1,d0,t0", **RETEST_EXTRAS))
    world.retest(p, sample)
