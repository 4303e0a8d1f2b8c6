"""The national policy file and the checks that read it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insutrace.trace.combustion import SubClass, parse_class
from insutrace.trace.errors import MalformedInput, NotFound
from insutrace.trace.policy import (
    BuildingDesign,
    BuildingUse,
    Confidence,
    CreditList,
    InsulationPosition,
    MeasureCode,
    Policy,
    ancillary_measures,
    available_policies,
    current_policy,
    is_serious_lab_case,
    listing_period,
    load_policy,
    policy_ref,
    required_class,
    retest_samples_required,
)

NAME = "cn-national-2025"
POLICY = load_policy(NAME, "2025.1")
A1, A2, B, C, D, E, F = SubClass
Use = BuildingUse
Pos = InsulationPosition


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TEXT_2025_1)
    return data


def _packaged_file(version: str) -> Traversable:
    return resources.files("insutrace.trace") / "policies" / NAME / f"{version}.json"


TEXT_2025_1 = _packaged_file("2025.1").read_text("utf-8")


def _edited(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = _raw()
    edit(data)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in data["rules"] if r["id"] == rule_id)
    return found


def _codes(measures: Any) -> list[MeasureCode]:
    return [m.code for m in measures]


# --- loading --------------------------------------------------------------------------------


def test_packaged_policy_metadata() -> None:
    assert (NAME, "2025.1") in available_policies()
    assert (POLICY.id, POLICY.jurisdiction, POLICY.version) == (NAME, "CN", "2025.1")
    assert POLICY.effective_date == date(2025, 1, 1)
    assert len(POLICY.wall_table) == 12


def test_load_by_path_equals_load_by_name(tmp_path: Path) -> None:
    path = tmp_path / "copy.json"
    path.write_bytes(_packaged_file("2025.1").read_bytes())
    assert load_policy(path) == POLICY
    assert load_policy(str(path)) == POLICY


def test_the_digest_binds_the_exact_bytes(tmp_path: Path) -> None:
    assert POLICY.sha256 == hashlib.sha256(_packaged_file("2025.1").read_bytes()).hexdigest()
    reserialised = load_policy(_edited(tmp_path, lambda data: None))
    assert reserialised.sha256 != POLICY.sha256
    assert replace(reserialised, sha256=POLICY.sha256) == POLICY


def test_every_table_row_and_rule_has_clause_and_confidence() -> None:
    for rule in POLICY.rules.values():
        assert rule.clause
        assert rule.confidence in set(Confidence)
    assert POLICY.rule("wall.row3.crowded_place").clause == "GB 55037-2022 §6.6.5"


def test_unconfirmed_values_are_tagged_u() -> None:
    for rule_id in ("retest.frequency", "venue.ice_snow", "wall.b1b2.fire_barrier_belt"):
        assert POLICY.rule(rule_id).confidence is Confidence.UNCONFIRMED


def test_unknown_policy_name() -> None:
    with pytest.raises(NotFound, match=r"policy 'cn-nowhere': no such packaged policy"):
        load_policy("cn-nowhere")


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"policy file .*absent\.json: no such file"):
        load_policy(tmp_path / "absent.json")


def test_policy_name_cannot_escape_the_package() -> None:
    with pytest.raises(MalformedInput, match=r"policy name: expected lower-case letters"):
        load_policy("..")


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"id": ', encoding="utf-8")
    with pytest.raises(MalformedInput, match=r"policy .*bad\.json: invalid JSON at line 1"):
        load_policy(path)


def test_missing_rule(tmp_path: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        data["rules"] = [r for r in data["rules"] if r["id"] != "retest.frequency"]

    with pytest.raises(MalformedInput, match=r"\.rules: expected every rule .* retest\.frequency"):
        load_policy(_edited(tmp_path, drop))


def test_bad_confidence_tag(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _rule(data, "wall.floor")["confidence"] = "[S]"

    with pytest.raises(MalformedInput, match=r"rules\[0\]\.confidence: expected 'V', 'S' or 'U'"):
        load_policy(_edited(tmp_path, edit))


def test_bad_class_spec(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["external_wall_table"][5]["values"]["required"] = "B1+"

    with pytest.raises(
        MalformedInput,
        match=r"\[5\]\.values\.required: expected a class such as 'A' or '≥B1', got 'B1\+'",
    ):
        load_policy(_edited(tmp_path, edit))


def test_number_given_as_string(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _rule(data, "retest.frequency")["values"]["area_per_retest_m2"] = "5000"

    with pytest.raises(MalformedInput, match=r"area_per_retest_m2: expected a number, got '5000'"):
        load_policy(_edited(tmp_path, edit))


def test_unknown_row_condition(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["external_wall_table"][4]["when"]["floors_over"] = 33

    with pytest.raises(
        MalformedInput, match=r"\[4\]\.when: expected conditions among .*'floors_over'"
    ):
        load_policy(_edited(tmp_path, edit))


def test_unknown_use_in_row(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["external_wall_table"][1]["when"]["uses"] = ["airport"]

    with pytest.raises(
        MalformedInput, match=r"when\.uses: expected a non-empty list of residential"
    ):
        load_policy(_edited(tmp_path, edit))


def test_duplicate_rule_id(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["rules"].append(dict(data["rules"][0]))

    with pytest.raises(MalformedInput, match=r"\.id: expected a unique rule id, got 'wall\.floor'"):
        load_policy(_edited(tmp_path, edit))


def test_bad_effective_date(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["effective_date"] = "2025-13-01"

    with pytest.raises(MalformedInput, match=r"effective_date: expected an ISO date"):
        load_policy(_edited(tmp_path, edit))


def test_empty_wall_table(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["external_wall_table"] = []

    with pytest.raises(MalformedInput, match=r"external_wall_table: expected at least one row"):
        load_policy(_edited(tmp_path, edit))


# --- the external-wall table, every row at and around its boundaries --------------------------


def _wall(use: BuildingUse, height: float, **extra: Any) -> tuple[str, SubClass]:
    req = required_class(POLICY, BuildingDesign(use, height, **extra))
    return req.rule_id, req.minimum


R0 = "wall.row0.composite_no_cavity"
R1 = "wall.row1.hangar"
R2 = "wall.row2.elderly_care"
R3 = "wall.row3.crowded_place"
R4 = "wall.row4.residential_over_100m"
R5 = "wall.row5.residential_27_to_100m"
R6 = "wall.row6.residential_up_to_27m"
R7 = "wall.row7.other_over_50m"
R8 = "wall.row8.other_24_to_50m"
R9 = "wall.row9.other_up_to_24m"
R10 = "wall.row10.cavity_over_24m"
R11 = "wall.row11.cavity_up_to_24m"


@pytest.mark.parametrize(
    ("use", "height", "extra", "expected"),
    [
        # row 0: composite wall, non-combustible layers >= 50 mm, no cavity, any use/height
        (Use.RESIDENTIAL, 150, {"composite_noncombustible_layer_mm": 50}, (R0, E)),
        (Use.CROWDED_PLACE, 30, {"composite_noncombustible_layer_mm": 60}, (R0, E)),
        (Use.RESIDENTIAL, 150, {"composite_noncombustible_layer_mm": 49.9}, (R4, A2)),
        (
            Use.RESIDENTIAL,
            150,
            {"composite_noncombustible_layer_mm": 50, "has_cavity": True},
            (R10, A2),
        ),
        # row 1: hangar
        (Use.HANGAR, 10, {}, (R1, A2)),
        (Use.HANGAR, 10, {"has_cavity": True}, (R1, A2)),
        # row 2: elderly care, free-standing or combined part > 500 m2
        (Use.ELDERLY_CARE, 10, {"elderly_free_standing": True}, (R2, A2)),
        (Use.ELDERLY_CARE, 10, {"elderly_combined_area_m2": 500.1}, (R2, A2)),
        (Use.ELDERLY_CARE, 10, {"elderly_combined_area_m2": 500}, (R9, E)),
        # row 3: 人员密集场所 or a building containing one
        (Use.CROWDED_PLACE, 5, {}, (R3, A2)),
        (Use.RESIDENTIAL, 20, {"contains_crowded_place": True}, (R3, A2)),
        (Use.PUBLIC, 20, {"contains_crowded_place": True, "has_cavity": True}, (R3, A2)),
        # rows 4-6: residential without cavity, bands at 27 and 100 m
        (Use.RESIDENTIAL, 100.01, {}, (R4, A2)),
        (Use.RESIDENTIAL, 100, {}, (R5, C)),
        (Use.RESIDENTIAL, 27.01, {}, (R5, C)),
        (Use.RESIDENTIAL, 27, {}, (R6, E)),
        (Use.RESIDENTIAL, 0, {}, (R6, E)),
        # rows 7-9: other buildings without cavity, bands at 24 and 50 m
        (Use.PUBLIC, 50.01, {}, (R7, A2)),
        (Use.PUBLIC, 50, {}, (R8, C)),
        (Use.INDUSTRIAL, 24.01, {}, (R8, C)),
        (Use.PUBLIC, 24, {}, (R9, E)),
        (Use.COLD_STORAGE, 12, {}, (R9, E)),
        (Use.ICE_SNOW_VENUE, 30, {}, (R8, C)),
        # rows 10-11: with cavity, band at 24 m (residential too)
        (Use.PUBLIC, 24.01, {"has_cavity": True}, (R10, A2)),
        (Use.RESIDENTIAL, 60, {"has_cavity": True}, (R10, A2)),
        (Use.PUBLIC, 24, {"has_cavity": True}, (R11, C)),
        (Use.RESIDENTIAL, 24, {"has_cavity": True}, (R11, C)),
    ],
)
def test_wall_table(
    use: BuildingUse, height: float, extra: dict[str, Any], expected: tuple[str, SubClass]
) -> None:
    assert _wall(use, height, **extra) == expected


def test_wall_requirement_carries_clause_and_label() -> None:
    req = required_class(POLICY, BuildingDesign(Use.RESIDENTIAL, 54))
    assert (req.label, req.clause, req.confidence) == ("≥B1", "GB 55037-2022 §6.6.6", "S")
    assert req.met_by(parse_class("B1(B-s1,d0,t1)"))
    assert not req.met_by(parse_class("B2(D)级"))


_uses = st.sampled_from([Use.RESIDENTIAL, Use.PUBLIC, Use.INDUSTRIAL, Use.COLD_STORAGE])


@given(_uses, st.booleans(), st.floats(0, 300), st.floats(0, 300))
def test_wall_requirement_never_weakens_with_height(
    use: BuildingUse, cavity: bool, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    weaker = required_class(POLICY, BuildingDesign(use, low, has_cavity=cavity))
    stronger = required_class(POLICY, BuildingDesign(use, high, has_cavity=cavity))
    assert stronger.minimum.at_least(weaker.minimum)
    assert weaker.minimum.at_least(E)


def test_floor_lifts_a_row_below_b2(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["external_wall_table"][9]["values"]["required"] = "B3"

    policy = load_policy(_edited(tmp_path, edit))
    req = required_class(policy, BuildingDesign(Use.PUBLIC, 10))
    assert (req.rule_id, req.minimum, req.clause) == ("wall.floor", E, "GB 55037-2022 §6.6.1")


# --- internal, roof, sandwich cores, doors, venues -----------------------------------------


def _req(use: BuildingUse, position: InsulationPosition, **extra: Any) -> Any:
    return required_class(POLICY, BuildingDesign(use, 20, position=position, **extra))


@pytest.mark.parametrize(
    "extra",
    [
        {"contains_crowded_place": True},
        {"open_flame_or_fuel": True},
        {"evacuation_or_refuge": True},
    ],
)
def test_internal_a_class_places(extra: dict[str, Any]) -> None:
    req = _req(Use.PUBLIC, Pos.INTERNAL, **extra)
    assert (req.rule_id, req.minimum) == ("internal.a_class_places", A2)


def test_internal_elsewhere_is_b1_low_smoke_with_cover() -> None:
    req = _req(Use.RESIDENTIAL, Pos.INTERNAL)
    assert (req.rule_id, req.minimum) == ("internal.general", C)
    assert _codes(req.conditions) == [
        MeasureCode.LOW_SMOKE_LOW_TOXICITY,
        MeasureCode.NONCOMBUSTIBLE_PROTECTIVE_LAYER,
    ]


@pytest.mark.parametrize("position", [Pos.INTERNAL, Pos.ROOF, Pos.EXTERNAL_WALL])
def test_elderly_care_is_a_everywhere(position: InsulationPosition) -> None:
    req = _req(Use.ELDERLY_CARE, position, elderly_free_standing=True)
    assert (req.rule_id, req.minimum) == (R2, A2)


@pytest.mark.parametrize(("slab_h", "expected"), [(1.0, E), (2.0, E), (0.99, C), (None, C)])
def test_roof_by_slab_fire_resistance(slab_h: float | None, expected: SubClass) -> None:
    req = _req(Use.PUBLIC, Pos.ROOF, roof_slab_fire_resistance_h=slab_h)
    assert (req.rule_id, req.minimum) == ("roof.general", expected)


def test_cold_storage_sandwich_core_b1_must_be_thermoset() -> None:
    req = _req(Use.COLD_STORAGE, Pos.SANDWICH_CORE)
    assert (req.rule_id, req.minimum, req.clause) == (
        "cold_storage.sandwich_core",
        C,
        "GB 50072-2021 §4.3.2(1)",
    )
    assert _codes(req.conditions) == [MeasureCode.THERMOSET_CORE_IF_B1]


def test_gb50016_3_2_17_switch_makes_cold_storage_cores_a(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _rule(data, "industrial.sandwich_core_noncombustible")["values"][
            "apply_to_cold_storage"
        ] = True

    policy = load_policy(_edited(tmp_path, edit))
    design = BuildingDesign(Use.COLD_STORAGE, 12, position=Pos.SANDWICH_CORE)
    req = required_class(policy, design)
    assert (req.rule_id, req.minimum) == ("industrial.sandwich_core_noncombustible", A2)


def test_industrial_sandwich_core_is_non_combustible() -> None:
    req = _req(Use.INDUSTRIAL, Pos.SANDWICH_CORE)
    assert (req.rule_id, req.minimum, req.confidence) == (
        "industrial.sandwich_core_noncombustible",
        A2,
        Confidence.UNCONFIRMED,
    )


def test_other_sandwich_core_follows_the_wall_table() -> None:
    assert _req(Use.PUBLIC, Pos.SANDWICH_CORE).rule_id == R9


def test_cold_storage_internal_needs_non_combustible_layer() -> None:
    req = _req(Use.COLD_STORAGE, Pos.INTERNAL)
    assert (req.rule_id, req.minimum, req.clause) == (
        "cold_storage.internal",
        C,
        "GB 50072-2021 §4.3.2(2)",
    )
    assert _codes(req.conditions) == [MeasureCode.NONCOMBUSTIBLE_PROTECTIVE_LAYER]


@pytest.mark.parametrize(
    ("width", "height", "integrity"),
    [(2.2, 2.8, True), (2.1, 2.8, False), (2.2, 2.7, False), (1.2, 2.1, False)],
)
def test_cold_room_door(width: float, height: float, integrity: bool) -> None:
    req = _req(Use.COLD_STORAGE, Pos.DOOR_CORE, door_width_m=width, door_height_m=height)
    assert (req.rule_id, req.minimum) == ("cold_storage.door", C)
    expected = [MeasureCode.NONCOMBUSTIBLE_DOOR_FACES]
    if integrity:
        expected.append(MeasureCode.DOOR_FIRE_INTEGRITY)
    assert _codes(req.conditions) == expected


def test_door_core_outside_cold_storage() -> None:
    with pytest.raises(MalformedInput, match=r"door_core: expected use cold_storage, got 'public'"):
        _req(Use.PUBLIC, Pos.DOOR_CORE, door_width_m=1, door_height_m=2)


def test_door_core_needs_opening_size() -> None:
    with pytest.raises(MalformedInput, match=r"door_height_m: expected the door opening size"):
        _req(Use.COLD_STORAGE, Pos.DOOR_CORE)


@pytest.mark.parametrize("position", list(Pos)[:4])
def test_public_ice_snow_venue_is_a_with_special_design(position: InsulationPosition) -> None:
    req = _req(Use.ICE_SNOW_VENUE, position, public_open=True)
    assert (req.rule_id, req.minimum, req.confidence) == ("venue.ice_snow", A2, "U")
    assert _codes(req.conditions) == [MeasureCode.SPECIAL_FIRE_DESIGN]


def test_ice_snow_venue_default_is_configurable(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _rule(data, "venue.ice_snow")["values"]["public_open_is_crowded_place"] = False

    policy = load_policy(_edited(tmp_path, edit))
    req = required_class(policy, BuildingDesign(Use.ICE_SNOW_VENUE, 20, public_open=True))
    assert (req.rule_id, req.minimum) == (R9, E)


def test_design_rejects_negative_height() -> None:
    with pytest.raises(MalformedInput, match=r"design\.height_m: expected a finite number >= 0"):
        BuildingDesign(Use.RESIDENTIAL, -1)


def test_design_rejects_nan() -> None:
    with pytest.raises(MalformedInput, match=r"design\.elderly_combined_area_m2: .* got nan"):
        BuildingDesign(Use.ELDERLY_CARE, 10, elderly_combined_area_m2=float("nan"))


def test_design_rejects_unhashable_use() -> None:
    with pytest.raises(MalformedInput, match=r"design\.use: expected one of .* got \['public'\]"):
        BuildingDesign(["public"], 10)  # type: ignore[arg-type]


def test_design_rejects_unknown_use() -> None:
    with pytest.raises(MalformedInput, match=r"design\.use: expected one of .* got 'school'"):
        BuildingDesign("school", 10)  # type: ignore[arg-type]


# --- ancillary measures when B1/B2 is used ---------------------------------------------------

BELT = MeasureCode.FIRE_BARRIER_BELT
DOORS = MeasureCode.DOOR_WINDOW_FIRE_INTEGRITY
LAYER = MeasureCode.PROTECTIVE_LAYER
STRIP = MeasureCode.ROOF_WALL_JUNCTION_STRIP


def _measures(use: BuildingUse, height: float, label: str, **kw: Any) -> list[MeasureCode]:
    design = BuildingDesign(use, height, position=kw.pop("position", Pos.EXTERNAL_WALL))
    return _codes(ancillary_measures(POLICY, design, parse_class(label), **kw))


@pytest.mark.parametrize(
    ("use", "height", "label", "expected"),
    [
        (Use.RESIDENTIAL, 27, "B1", [BELT, LAYER]),
        (Use.RESIDENTIAL, 27.01, "B1", [BELT, DOORS, LAYER]),
        (Use.RESIDENTIAL, 20, "B2(E)级", [BELT, DOORS, LAYER]),
        (Use.PUBLIC, 24, "B1(B-s1,d0,t1)", [BELT, LAYER]),
        (Use.PUBLIC, 24.01, "B1", [BELT, DOORS, LAYER]),
        (Use.INDUSTRIAL, 10, "B1", [BELT, DOORS, LAYER]),
        (Use.RESIDENTIAL, 200, "A(A1)级", []),
        (Use.RESIDENTIAL, 200, "A2", []),
    ],
)
def test_wall_measures(
    use: BuildingUse, height: float, label: str, expected: list[MeasureCode]
) -> None:
    assert _measures(use, height, label) == expected


def test_wall_measures_carry_policy_values_and_clauses() -> None:
    design = BuildingDesign(Use.PUBLIC, 30)
    belt, doors, layer = ancillary_measures(POLICY, design, parse_class("B1"))
    assert (belt.rule_id, belt.clause, belt.values) == (
        "wall.b1b2.fire_barrier_belt",
        "GB 50016-2014(2018) §6.7.7(2)",
        {"min_height_mm": 300},
    )
    assert doors.values == {"fire_integrity_h": 0.5}
    assert layer.values == {"ground_floor_min_mm": 15, "other_floors_min_mm": 5}


def test_measure_values_come_from_the_policy_file(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _rule(data, "wall.b1b2.fire_barrier_belt")["values"]["min_height_mm"] = 500

    policy = load_policy(_edited(tmp_path, edit))
    belt = ancillary_measures(policy, BuildingDesign(Use.PUBLIC, 30), parse_class("B1"))[0]
    assert belt.values == {"min_height_mm": 500}
    assert "≥ 500 mm" in belt.text


@pytest.mark.parametrize(("adjoining", "strip"), [("B2", True), ("B1(C)级", True), ("A2", False)])
def test_roof_wall_junction_strip(adjoining: str, strip: bool) -> None:
    codes = _measures(Use.PUBLIC, 30, "B1", adjoining_class=parse_class(adjoining))
    assert (STRIP in codes) is strip


def test_roof_measures() -> None:
    codes = _measures(Use.PUBLIC, 30, "B2", position=Pos.ROOF, adjoining_class=parse_class("B1"))
    assert codes == [MeasureCode.ROOF_PROTECTIVE_LAYER, STRIP]


def test_internal_b1_needs_10_mm_cover() -> None:
    design = BuildingDesign(Use.RESIDENTIAL, 30, position=Pos.INTERNAL)
    (cover,) = ancillary_measures(POLICY, design, parse_class("B1"))
    assert (cover.code, cover.values) == (MeasureCode.INTERNAL_COVER, {"min_mm": 10})


def test_no_measures_for_cold_storage_cores() -> None:
    assert _measures(Use.COLD_STORAGE, 10, "B1", position=Pos.SANDWICH_CORE) == []


# --- re-test frequency and credit listings ---------------------------------------------------


@pytest.mark.parametrize(
    ("area", "samples"), [(1, 1), (4999.99, 1), (5000, 1), (5000.01, 2), (10000, 2), (12345, 3)]
)
def test_retest_one_per_5000_m2_or_part(area: float, samples: int) -> None:
    assert retest_samples_required(POLICY, area) == samples


def test_retest_frequency_is_a_policy_value(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _rule(data, "retest.frequency")["values"]["area_per_retest_m2"] = 1000

    assert retest_samples_required(load_policy(_edited(tmp_path, edit)), 5000.5) == 6


@pytest.mark.parametrize("area", [0, -1, float("inf")])
def test_retest_rejects_non_positive_area(area: float) -> None:
    with pytest.raises(MalformedInput, match=r"net_wall_area_m2: expected a finite number > 0"):
        retest_samples_required(POLICY, area)


@pytest.mark.parametrize(
    ("credit_list", "months"),
    [
        (CreditList.NDRC_ORDINARY, (3, 12)),
        (CreditList.NDRC_SERIOUS, (12, 36)),
        (CreditList.SAMR_SERIOUS_ILLEGAL, (12, None)),
        (CreditList.MOHURD_BAD_RECORD, (6, 36)),
    ],
)
def test_listing_periods(credit_list: CreditList, months: tuple[int, int | None]) -> None:
    period = listing_period(POLICY, credit_list)
    assert (period.min_months, period.max_months) == months
    assert period.rule_id == f"credit.{credit_list}"


def test_two_false_reports_make_a_serious_lab_case() -> None:
    assert not is_serious_lab_case(POLICY, 1)
    assert is_serious_lab_case(POLICY, 2)


def test_policy_rule_lookup_of_unknown_id() -> None:
    with pytest.raises(NotFound, match=r"policy cn-national-2025: no rule 'wall\.row99'"):
        POLICY.rule("wall.row99")


def test_policy_is_a_value() -> None:
    assert isinstance(POLICY, Policy)
    assert load_policy(NAME, "2025.1") == POLICY


# --- versions ---------------------------------------------------------------------------------


def _values(policy: Policy) -> dict[str, dict[str, Any]]:
    return {rule.id: dict(rule.values) for rule in policy.rules.values()}


def test_every_version_stays_loadable() -> None:
    assert available_policies() == [
        (NAME, "2025.1"),
        (NAME, "2026.1"),
        (NAME, "2026.3"),  # by effective date, not by name: 2026-12-03, before 2026.2
        (NAME, "2026.2"),
        (NAME, "2027.1"),
    ]
    newer = load_policy(NAME, "2026.1")
    assert (newer.id, newer.version, newer.effective_date) == (NAME, "2026.1", date(2026, 7, 1))
    assert newer.sha256 == hashlib.sha256(_packaged_file("2026.1").read_bytes()).hexdigest()


def test_the_second_version_changes_one_value() -> None:
    old, new = _values(POLICY), _values(load_policy(NAME, "2026.1"))
    changed = {
        (rule_id, key): (values[key], new[rule_id][key])
        for rule_id, values in old.items()
        for key in values
        if new[rule_id][key] != values[key]
    }
    assert changed == {
        ("industrial.sandwich_core_noncombustible", "apply_to_cold_storage"): (False, True)
    }
    assert new.keys() == old.keys()
    assert all(new[r].keys() == old[r].keys() for r in old)
    rule = POLICY.rule("industrial.sandwich_core_noncombustible")
    assert rule.confidence is Confidence.UNCONFIRMED
    assert "apply_to_cold_storage" in load_policy(NAME, "2026.1").description


def test_the_version_in_force_on_a_date() -> None:
    assert current_policy(NAME, date(2026, 6, 30)).version == "2025.1"
    assert current_policy(NAME, date(2026, 7, 1)).version == "2026.1"
    assert current_policy(NAME, date(2026, 12, 2)).version == "2026.1"
    assert current_policy(NAME, date(2026, 12, 3)).version == "2026.3"
    assert current_policy(NAME, date(2026, 12, 31)).version == "2026.3"
    assert current_policy(NAME, date(2027, 1, 1)).version == "2026.2"  # its one day
    assert current_policy(NAME, date(2027, 1, 2)).version == "2027.1"
    assert current_policy(NAME).version == load_policy(NAME).version == "2027.1"
    with pytest.raises(NotFound, match=r"no version in force on 2024-12-31 \(the first, 2025\.1"):
        current_policy(NAME, date(2024, 12, 31))


def test_policy_ref_names_id_version_and_digest(tmp_path: Path) -> None:
    newer = load_policy(NAME, "2026.1")
    assert policy_ref(NAME, "2025.1") == {"id": NAME, "version": "2025.1", "sha256": POLICY.sha256}
    assert policy_ref(NAME, on=date(2026, 1, 1))["version"] == "2025.1"
    assert policy_ref(NAME, on=date(2026, 12, 2)) == {
        "id": NAME,
        "version": "2026.1",
        "sha256": newer.sha256,
    }
    path = _edited(tmp_path, lambda data: data.update(version="js.1"))
    assert policy_ref(str(path)) == {
        "id": str(path),
        "version": "js.1",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def test_unknown_version_lists_the_shipped_ones() -> None:
    shipped = r"shipped: 2025\.1, 2026\.1, 2026\.3, 2026\.2, 2027\.1"
    with pytest.raises(NotFound, match=rf"no version '1999' \({shipped}\)"):
        load_policy(NAME, "1999")
    with pytest.raises(MalformedInput, match=r"policy version: expected lower-case letters"):
        load_policy(NAME, "../2025.1")


def test_a_path_with_another_version_is_not_found(tmp_path: Path) -> None:
    path = _edited(tmp_path, lambda data: None)
    with pytest.raises(NotFound, match=r"version 2025\.1, not 2026\.1"):
        load_policy(path, "2026.1")


def test_a_policy_file_must_be_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"id": "café"}'.encode("latin-1"))
    with pytest.raises(MalformedInput, match=r"latin1\.json: expected UTF-8 text"):
        load_policy(path)


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A packaged-policy folder of our own (``tmp_path/policies``), caches cleared around it."""
    import insutrace.trace.policy as policy_module

    monkeypatch.setattr(policy_module.resources, "files", lambda package: tmp_path)
    policy_module._packaged.cache_clear()
    policy_module._versions.cache_clear()
    yield tmp_path / "policies"
    policy_module._packaged.cache_clear()
    policy_module._versions.cache_clear()


def _ship(folder: Path, name: str, **fields: str) -> None:
    data = {**_raw(), **fields}
    (folder / NAME).mkdir(parents=True, exist_ok=True)
    (folder / NAME / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")


def test_a_misplaced_version_file_is_refused(package: Path) -> None:
    _ship(package, "2027.1")  # says version 2025.1 inside
    with pytest.raises(MalformedInput, match=r"2027\.1\.json: id and version: expected .* 2027\.1"):
        load_policy(NAME, "2027.1")


def test_two_versions_may_not_share_an_effective_date(package: Path) -> None:
    _ship(package, "2025.1")
    _ship(package, "2025.2", version="2025.2")
    with pytest.raises(MalformedInput, match=r"one version per date, got '2025\.1 and 2025\.2"):
        current_policy(NAME)


def test_versions_follow_their_effective_dates_not_their_names(package: Path) -> None:
    _ship(package, "2025.1")
    _ship(package, "2025.2", version="2025.2", effective_date="2025-06-01")
    _ship(package, "2025.9", version="2025.9", effective_date="2025-03-01")  # shipped later
    assert [v for _, v in available_policies()] == ["2025.1", "2025.9", "2025.2"]
    assert current_policy(NAME, date(2025, 4, 1)).version == "2025.9"
    assert current_policy(NAME, date(2025, 6, 1)).version == "2025.2"
    assert current_policy(NAME).version == load_policy(NAME).version == "2025.2"
