"""Versioned combustion-class policy: which class an insulation product needs, and what else.

A policy file (JSON, ``policies/{id}/{version}.json`` in this package or any path) holds an
id, a version, a jurisdiction, an effective date, the external-wall table and named rules. Every
version ever shipped stays in the package, so an entry is always judged by the version it
names; the version in force on a date is the one with the latest effective date not after it
(:func:`current_policy`). An entry names ``policy {id, version, sha256}`` (:func:`policy_ref`):
the SHA-256 of the version file's exact bytes binds the entry to the text that judged it
(docs/policies.md). Every
rule carries its clause and a confidence tag — ``V`` read from the normative text, ``S`` from a
secondary source quoting it, ``U`` expected but not confirmed — and every threshold the checks
use is a value in the file, so a jurisdiction can review and override it without code changes.

What the national policy encodes:

- External walls, GB 55037-2022 §6.6 with GB 50016-2014(2018) §6.7: the table's rows in order,
  first match wins; heights compare the upper band with ">" and the lower with "≤"; §6.6.1 is
  a floor under every row (never below B2).
- B1/B2 on a wall or roof, GB 50016 §6.7.7-§6.7.10: fire barrier belts, door/window fire
  integrity, protective layer thickness, roof/wall junction strip (:func:`ancillary_measures`).
- Internal insulation, GB 50016 §6.7.2; roofs, GB 50016 §6.7.10.
- Cold storage, GB 50072-2021 §4.3.2 and §4.2.3; the stricter GB 50016 §3.2.17
  (non-combustible sandwich cores) is a switch, off by default for cold storage.
- Indoor ice/snow venues open to the public: treated as 人员密集场所 (A) with a special
  fire-engineering design (特殊消防设计) expected — a policy default, not a national clause.
- On-site re-test frequency, GB 50411-2019 §4.2.2; credit-listing periods (NDRC, SAMR, MOHURD).

Everything here is a pure function of a :class:`Policy` and typed inputs.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

from insutrace.trace.combustion import (
    BasicClass,
    CombustionClass,
    SubClass,
    parse_requirement,
    requirement_label,
)
from insutrace.trace.errors import MalformedInput, NotFound

__all__ = [
    "LIMITS_PREFIX",
    "NATIONAL",
    "UNDIGESTED_VERSIONS",
    "BuildingDesign",
    "BuildingUse",
    "Confidence",
    "CreditList",
    "InsulationPosition",
    "ListingPeriod",
    "Measure",
    "MeasureCode",
    "Policy",
    "PolicyValue",
    "Requirement",
    "Rule",
    "WallCondition",
    "WallRow",
    "ancillary_measures",
    "available_policies",
    "current_policy",
    "is_serious_lab_case",
    "listing_period",
    "load_policy",
    "offline_window",
    "policy_ref",
    "required_class",
    "retest_samples_required",
]

PolicyValue = bool | int | float | str


class Confidence(StrEnum):
    """How a rule was established (see the reference's tags)."""

    VERIFIED = "V"
    SECONDARY = "S"
    UNCONFIRMED = "U"


class BuildingUse(StrEnum):
    """Building use, as far as the combustion rules distinguish it."""

    RESIDENTIAL = "residential"
    PUBLIC = "public"
    CROWDED_PLACE = "crowded_place"  # 人员密集场所
    ELDERLY_CARE = "elderly_care"  # 老年人照料设施
    HANGAR = "hangar"
    INDUSTRIAL = "industrial"
    COLD_STORAGE = "cold_storage"  # 冷库
    ICE_SNOW_VENUE = "ice_snow_venue"  # 室内冰雪场馆


class InsulationPosition(StrEnum):
    """Where the insulation sits."""

    EXTERNAL_WALL = "external_wall"
    INTERNAL = "internal"
    SANDWICH_CORE = "sandwich_core"
    ROOF = "roof"
    DOOR_CORE = "door_core"  # cold-room door in a fire wall, GB 50072 §4.2.3


class CreditList(StrEnum):
    """Credit lists whose publication periods the policy holds (rule ``credit.{value}``)."""

    NDRC_ORDINARY = "ndrc_ordinary"
    NDRC_SERIOUS = "ndrc_serious"
    SAMR_SERIOUS_ILLEGAL = "samr_serious_illegal"
    MOHURD_BAD_RECORD = "mohurd_bad_record"


class MeasureCode(StrEnum):
    """Stable codes of the extra conditions and ancillary measures."""

    THERMOSET_CORE_IF_B1 = "thermoset_core_if_b1"
    NONCOMBUSTIBLE_PROTECTIVE_LAYER = "noncombustible_protective_layer"
    LOW_SMOKE_LOW_TOXICITY = "low_smoke_low_toxicity"
    SPECIAL_FIRE_DESIGN = "special_fire_design"
    NONCOMBUSTIBLE_DOOR_FACES = "noncombustible_door_faces"
    DOOR_FIRE_INTEGRITY = "door_fire_integrity"
    FIRE_BARRIER_BELT = "fire_barrier_belt"
    DOOR_WINDOW_FIRE_INTEGRITY = "door_window_fire_integrity"
    PROTECTIVE_LAYER = "protective_layer"
    ROOF_WALL_JUNCTION_STRIP = "roof_wall_junction_strip"
    ROOF_PROTECTIVE_LAYER = "roof_protective_layer"
    INTERNAL_COVER = "internal_cover"


# --- policy file model ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One policy rule: id, clause, confidence and its values (validated at load)."""

    id: str
    clause: str
    confidence: Confidence
    values: Mapping[str, PolicyValue] = field(default_factory=dict, hash=False)

    def _value(self, key: str) -> PolicyValue:
        if key not in self.values:
            raise MalformedInput(f"policy rule {self.id}: expected value {key!r}, got none")
        return self.values[key]

    def number(self, key: str) -> float:
        """A numeric value."""
        value = self._value(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MalformedInput(f"policy rule {self.id}.{key}: expected a number, got {value!r}")
        return float(value)

    def text(self, key: str) -> str:
        """A text value."""
        value = self._value(key)
        if not isinstance(value, str):
            raise MalformedInput(f"policy rule {self.id}.{key}: expected text, got {value!r}")
        return value

    def flag(self, key: str) -> bool:
        """A boolean switch."""
        value = self._value(key)
        if not isinstance(value, bool):
            raise MalformedInput(f"policy rule {self.id}.{key}: expected true/false, got {value!r}")
        return value

    def minimum(self, key: str = "required") -> SubClass:
        """A class requirement spec (``"A"``, ``"≥B1"``) as the weakest sub-class meeting it."""
        value = self._value(key)
        if not isinstance(value, str):
            raise MalformedInput(f"policy rule {self.id}.{key}: expected a class, got {value!r}")
        return parse_requirement(value)


@dataclass(frozen=True)
class WallCondition:
    """The ``when`` of an external-wall table row; None means "any".

    Heights: the row matches when ``height_m > height_over_m`` and
    ``height_m <= height_at_most_m`` (GB 55037 §6.6 bands). ``positions`` lists where the row
    applies (the elderly-care row also covers internal and roof insulation).
    """

    uses: frozenset[BuildingUse] | None = None
    cavity: bool | None = None
    crowded_place: bool | None = None
    composite_min_layer_mm: float | None = None
    elderly_free_standing_or_area_over_m2: float | None = None
    height_over_m: float | None = None
    height_at_most_m: float | None = None
    positions: frozenset[InsulationPosition] = frozenset({InsulationPosition.EXTERNAL_WALL})


@dataclass(frozen=True)
class WallRow:
    """One row of the external-wall table: the rule (with ``required``) and its condition."""

    rule: Rule
    when: WallCondition


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy file; ``sha256`` is the hex SHA-256 of its exact bytes."""

    id: str
    version: str
    jurisdiction: str
    effective_date: date
    description: str
    wall_table: tuple[WallRow, ...]
    rules: Mapping[str, Rule] = field(hash=False)
    sha256: str = field(kw_only=True)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id; NotFound when the policy has none."""
        if rule_id not in self.rules:
            raise NotFound(f"policy {self.id}: no rule {rule_id!r}")
        return self.rules[rule_id]

    def optional(self, rule_id: str) -> Rule | None:
        """A rule this version may carry (the wave-2 rules): None when it does not, and then
        its check does not apply, as it did not when entries named this version."""
        return self.rules.get(rule_id)

    def retest_limits(self, standard: str) -> Rule | None:
        """The limits of ``standard`` (a product standard with its edition, as a product
        names it, spaces ignored), or None when the version holds none for it."""
        wanted = "".join(standard.split()).upper()
        for rule_id, rule in self.rules.items():
            named = rule.values.get("standard")
            if (
                rule_id.startswith(LIMITS_PREFIX)
                and isinstance(named, str)
                and "".join(named.split()).upper() == wanted
            ):
                return rule
        return None


# --- inputs and outputs of the checks ------------------------------------------------------


def _check_non_negative(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise MalformedInput(f"design.{name}: expected a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class BuildingDesign:
    """What the rules need to know about a building and where the insulation goes.

    ``composite_noncombustible_layer_mm`` is, for a no-cavity composite wall (insulation
    between two non-combustible layers), the thinner layer's thickness; None for other walls.
    ``public_open`` matters for indoor ice/snow venues; ``open_flame_or_fuel`` and
    ``evacuation_or_refuge`` for internal insulation (GB 50016 §6.7.2);
    ``roof_slab_fire_resistance_h`` for roofs (GB 50016 §6.7.10, unknown counts as below the
    threshold); ``door_width_m`` / ``door_height_m`` for cold-room doors (GB 50072 §4.2.3).
    """

    use: BuildingUse
    height_m: float
    position: InsulationPosition = InsulationPosition.EXTERNAL_WALL
    has_cavity: bool = False
    composite_noncombustible_layer_mm: float | None = None
    contains_crowded_place: bool = False
    elderly_free_standing: bool = False
    elderly_combined_area_m2: float = 0.0
    public_open: bool = False
    open_flame_or_fuel: bool = False
    evacuation_or_refuge: bool = False
    roof_slab_fire_resistance_h: float | None = None
    door_width_m: float | None = None
    door_height_m: float | None = None

    def __post_init__(self) -> None:
        _check_enum("use", BuildingUse, self.use)
        _check_enum("position", InsulationPosition, self.position)
        for name in (
            "height_m",
            "composite_noncombustible_layer_mm",
            "elderly_combined_area_m2",
            "roof_slab_fire_resistance_h",
            "door_width_m",
            "door_height_m",
        ):
            _check_non_negative(name, getattr(self, name))

    @property
    def crowded(self) -> bool:
        """A 人员密集场所, or a building containing one (GB 55037 §6.6.5)."""
        return self.use == BuildingUse.CROWDED_PLACE or self.contains_crowded_place


def _check_enum(name: str, enum: type[StrEnum], value: object) -> None:
    if value not in list(enum):
        choices = ", ".join(enum)
        raise MalformedInput(f"design.{name}: expected one of {choices}, got {value!r}")


@dataclass(frozen=True)
class Measure:
    """An extra condition or ancillary measure, with the rule and clause that ask for it."""

    code: MeasureCode
    text: str
    rule_id: str
    clause: str
    confidence: Confidence
    values: Mapping[str, float] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Requirement:
    """The minimum class for a design, the rule that set it, and conditions beyond the class.

    ``conditions`` are not checkable from the class alone (thermoset core, low smoke and
    toxicity, special fire design ...); callers verify them against the product record.
    """

    minimum: SubClass
    rule_id: str
    clause: str
    confidence: Confidence
    conditions: tuple[Measure, ...] = ()

    @property
    def label(self) -> str:
        """The minimum as a spec, e.g. ``"A"``, ``"≥B1"``."""
        return requirement_label(self.minimum)

    def met_by(self, product: CombustionClass) -> bool:
        """True when the product's class is at least the minimum (conditions not included)."""
        return product.meets(self.minimum)


@dataclass(frozen=True)
class ListingPeriod:
    """Publication period of a credit listing, in months; ``max_months`` None if unbounded."""

    credit_list: CreditList
    min_months: int
    max_months: int | None
    rule_id: str
    clause: str
    confidence: Confidence


# --- loading ------------------------------------------------------------------------------

_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")
_POLICY_PACKAGE = "insutrace.trace"

# (id, version) shipped before entries named a policy's digest: the log is append-only, so an
# entry naming one of these without ``sha256`` still reads as naming the shipped text.
UNDIGESTED_VERSIONS = frozenset({("cn-national-2025", "2025.1")})
# The national policy: what judges an entry that names no policy (a batch, a report) is its
# version in force on the entry's date (:func:`current_policy`).
NATIONAL = "cn-national-2025"

# Values each named rule must carry: key -> kind ("number", "class", "flag"; "?" = optional).
_RULE_SCHEMA: dict[str, dict[str, str]] = {
    "wall.floor": {"required": "class"},
    "wall.b1b2.fire_barrier_belt": {"belt_class": "class", "min_height_mm": "number"},
    "wall.b1b2.door_window_integrity": {
        "fire_integrity_h": "number",
        "b1_exempt_residential_max_height_m": "number",
        "b1_exempt_public_max_height_m": "number",
    },
    "wall.b1b2.protective_layer": {
        "ground_floor_min_mm": "number",
        "other_floors_min_mm": "number",
    },
    "roof_wall.junction_strip": {"strip_class": "class", "min_width_mm": "number"},
    "roof.general": {
        "slab_fire_resistance_h": "number",
        "required_if_slab_at_least": "class",
        "required_otherwise": "class",
        "b1b2_protective_layer_min_mm": "number",
    },
    "internal.a_class_places": {"required": "class"},
    "internal.general": {"required": "class", "b1_cover_min_mm": "number"},
    "cold_storage.sandwich_core": {"required": "class", "b1_core_thermoset": "flag"},
    "cold_storage.internal": {"required": "class"},
    "cold_storage.door": {
        "core_required": "class",
        "opening_width_over_m": "number",
        "opening_height_over_m": "number",
        "fire_integrity_h": "number",
    },
    "industrial.sandwich_core_noncombustible": {
        "required": "class",
        "apply_to_cold_storage": "flag",
    },
    "venue.ice_snow": {
        "public_open_is_crowded_place": "flag",
        "required": "class",
        "special_fire_design_expected": "flag",
    },
    "retest.frequency": {"area_per_retest_m2": "number"},
    "credit.ndrc_ordinary": {"min_months": "number", "max_months": "number?"},
    "credit.ndrc_serious": {"min_months": "number", "max_months": "number?"},
    "credit.samr_serious_illegal": {"min_months": "number", "max_months": "number?"},
    "credit.mohurd_bad_record": {"min_months": "number", "max_months": "number?"},
    "credit.lab_false_reports": {"serious_case_min_reports": "number"},
}
# Rules a version may carry (wave 2, from 2026.2 on): checked when present; a version
# without one does not apply its check, so entries judged by older versions replay as
# they were judged.
_OPTIONAL_RULE_SCHEMA: dict[str, dict[str, str]] = {
    "design.facts_required": {
        "cavity": "flag",
        "crowded_place": "flag",
        "elderly_care": "flag",
        "ice_snow_public_use": "flag",
    },
    "design.part_rules_any_use": {"applies": "flag"},
    "stages.sequence": {
        "fire_review_before_permit": "flag",
        "acceptance_by_supervisor_and_owner": "flag",
    },
    "plausibility.class_ceiling": {
        "eps": "class?",
        "xps": "class?",
        "pu": "class?",
        "pir": "class?",
        "phenolic": "class?",
    },
    "plausibility.a_class_methods": {
        "a1_all": "text",
        "a2_any": "text",
        "a2_all": "text",
    },
    "plausibility.sub_classification": {"smoke_droplets": "flag", "toxicity": "flag"},
    "report.dates": {"type_test_max_age_days": "number"},
    "independence.lab": {"manufacturer_or_affiliate": "flag"},
    "independence.supervisor": {"not_contractor": "flag"},
    "independence.witness": {"not_contractor_or_manufacturer": "flag"},
    # in 2026.3 and 2027.1 (not in 2026.2, in force on 2027-01-01 alone): how long after
    # its signed time a client-signed statement is admitted (docs/offline.md)
    "entry.offline_window": {"max_hours": "number"},
}
# Per product standard and edition: ``retest.limits.<slug>`` with ``standard`` (as products
# name it) and any of these limits.
_LIMIT_KEYS: dict[str, str] = {
    "standard": "text",
    "thermal_conductivity_max": "number?",
    "density_min": "number?",
    "compressive_strength_min": "number?",
    "water_absorption_max": "number?",
    "tensile_strength_perpendicular_min": "number?",
}
LIMITS_PREFIX = "retest.limits."
_WHEN_KEYS = frozenset(
    {
        "uses",
        "cavity",
        "crowded_place",
        "composite_min_layer_mm",
        "elderly_free_standing_or_area_over_m2",
        "height_over_m",
        "height_at_most_m",
        "positions",
    }
)
_E = TypeVar("_E", bound=StrEnum)


def _bad(where: str, expected: str, got: object) -> MalformedInput:
    shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
    return MalformedInput(f"{where}: expected {expected}, got {shown}")


def _str(obj: Mapping[str, object], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(f"{where}.{key}", "a non-empty string", value)
    return value


def _obj(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _bad(where, "a JSON object", value)
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise _bad(where, "a JSON array", value)
    return value


def _check_kind(kind: str, value: object, where: str) -> None:
    if kind == "flag" and not isinstance(value, bool):
        raise _bad(where, "true or false", value)
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _bad(where, "a number", value)
    if kind == "class" and not _is_class_spec(value):
        raise _bad(where, "a class such as 'A' or '≥B1'", value)
    if kind == "text" and (not isinstance(value, str) or not value):
        raise _bad(where, "a non-empty string", value)


def _is_class_spec(value: object) -> bool:
    try:
        return isinstance(value, str) and bool(parse_requirement(value))
    except MalformedInput:
        return False


def _scalar(value: object, where: str) -> PolicyValue:
    if not isinstance(value, bool | int | float | str):
        raise _bad(where, "a string, number or true/false", value)
    return value


def _parse_values(rule_id: str, raw: object, where: str) -> dict[str, PolicyValue]:
    values = {k: _scalar(v, f"{where}.{k}") for k, v in _obj(raw, where).items()}
    schema = _RULE_SCHEMA.get(rule_id) or _OPTIONAL_RULE_SCHEMA.get(rule_id, {})
    if rule_id.startswith(LIMITS_PREFIX):
        schema = _LIMIT_KEYS
        unknown = sorted(set(values) - set(schema))
        if unknown:
            raise _bad(where, f"limits among {', '.join(schema)}", unknown[0])
    for key, kind in schema.items():
        if key not in values and not kind.endswith("?"):
            raise _bad(f"{where}.{key}", f"a {kind} value", None)
        if key in values:
            _check_kind(kind.rstrip("?"), values[key], f"{where}.{key}")
    return values


def _parse_rule(raw: object, where: str) -> Rule:
    obj = _obj(raw, where)
    rule_id = _str(obj, "id", where)
    confidence = _str(obj, "confidence", where)
    if confidence not in set(Confidence):
        raise _bad(f"{where}.confidence", "'V', 'S' or 'U'", confidence)
    values = _parse_values(rule_id, obj.get("values", {}), f"{where}.values")
    return Rule(rule_id, _str(obj, "clause", where), Confidence(confidence), values)


def _opt(obj: Mapping[str, object], key: str, kind: str, where: str) -> object:
    if key not in obj:
        return None
    _check_kind(kind, obj[key], f"{where}.{key}")
    return obj[key]


def _opt_number(obj: Mapping[str, object], key: str, where: str) -> float | None:
    value = _opt(obj, key, "number", where)
    return float(value) if isinstance(value, int | float) else None


def _opt_flag(obj: Mapping[str, object], key: str, where: str) -> bool | None:
    value = _opt(obj, key, "flag", where)
    return value if isinstance(value, bool) else None


def _enum_set(enum: type[_E], obj: Mapping[str, object], key: str, where: str) -> frozenset[_E]:
    raw = obj[key]
    items = _list(raw, f"{where}.{key}")
    if not items or any(item not in set(enum) for item in items):
        raise _bad(f"{where}.{key}", f"a non-empty list of {', '.join(enum)}", raw)
    return frozenset(enum(str(item)) for item in items)


def _parse_when(raw: object, where: str) -> WallCondition:
    obj = _obj(raw, where)
    unknown = sorted(set(obj) - _WHEN_KEYS)
    if unknown:
        raise _bad(where, f"conditions among {', '.join(sorted(_WHEN_KEYS))}", unknown[0])
    positions = frozenset({InsulationPosition.EXTERNAL_WALL})
    return WallCondition(
        uses=_enum_set(BuildingUse, obj, "uses", where) if "uses" in obj else None,
        cavity=_opt_flag(obj, "cavity", where),
        crowded_place=_opt_flag(obj, "crowded_place", where),
        composite_min_layer_mm=_opt_number(obj, "composite_min_layer_mm", where),
        elderly_free_standing_or_area_over_m2=_opt_number(
            obj, "elderly_free_standing_or_area_over_m2", where
        ),
        height_over_m=_opt_number(obj, "height_over_m", where),
        height_at_most_m=_opt_number(obj, "height_at_most_m", where),
        positions=(
            _enum_set(InsulationPosition, obj, "positions", where)
            if "positions" in obj
            else positions
        ),
    )


def _parse_row(raw: object, where: str) -> WallRow:
    rule = _parse_rule(raw, where)
    _check_kind("class", rule.values.get("required"), f"{where}.values.required")
    return WallRow(rule, _parse_when(_obj(raw, where).get("when"), f"{where}.when"))


def _parse_rules(raw: object, where: str, rows: tuple[WallRow, ...]) -> dict[str, Rule]:
    """Named rules, plus the table rows so that every rule id resolves through Policy.rule."""
    rules = {row.rule.id: row.rule for row in rows}
    if len(rules) != len(rows):
        raise _bad(f"{where} (external_wall_table)", "unique rule ids", sorted(rules))
    for i, item in enumerate(_list(raw, where)):
        rule = _parse_rule(item, f"{where}[{i}]")
        if rule.id in rules:
            raise _bad(f"{where}[{i}].id", "a unique rule id", rule.id)
        rules[rule.id] = rule
    missing = sorted(set(_RULE_SCHEMA) - set(rules))
    if missing:
        raise _bad(where, "every rule the checks use", f"missing {', '.join(missing)}")
    return rules


def _parse_date(obj: Mapping[str, object], where: str) -> date:
    text = _str(obj, "effective_date", where)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _bad(f"{where}.effective_date", "an ISO date YYYY-MM-DD", text) from exc


def _parse_policy(raw: object, where: str, digest: str) -> Policy:
    obj = _obj(raw, where)
    rows = _list(obj.get("external_wall_table"), f"{where}.external_wall_table")
    if not rows:
        raise _bad(f"{where}.external_wall_table", "at least one row", rows)
    table = tuple(
        _parse_row(row, f"{where}.external_wall_table[{i}]") for i, row in enumerate(rows)
    )
    return Policy(
        id=_str(obj, "id", where),
        version=_str(obj, "version", where),
        jurisdiction=_str(obj, "jurisdiction", where),
        effective_date=_parse_date(obj, where),
        description=str(obj.get("description", "")),
        wall_table=table,
        rules=_parse_rules(obj.get("rules"), f"{where}.rules", table),
        sha256=digest,
    )


def _is_path(path_or_name: str | Path) -> bool:
    return isinstance(path_or_name, Path) or "/" in path_or_name or path_or_name.endswith(".json")


def _checked_name(what: str, name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise _bad(f"policy {what}", "lower-case letters, digits, '.' and '-'", name)
    return name


def _parse_bytes(source: str, data: bytes) -> Policy:
    """Parse one policy file; its digest is the SHA-256 of exactly these bytes."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"policy {source}: expected UTF-8 text, got {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        raise MalformedInput(
            f"policy {source}: invalid JSON at line {exc.lineno}: {exc.msg}"
        ) from exc
    return _parse_policy(raw, f"policy {source}", hashlib.sha256(data).hexdigest())


def _load_path(path: Path) -> Policy:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise NotFound(f"policy file {path}: no such file") from exc
    return _parse_bytes(str(path), data)


def _folder(policy_id: str) -> Traversable:
    folder = resources.files(_POLICY_PACKAGE) / "policies" / _checked_name("name", policy_id)
    if not folder.is_dir():
        raise NotFound(f"policy {policy_id!r}: no such packaged policy")
    return folder


@lru_cache(maxsize=64)
def _packaged(policy_id: str, version: str) -> Policy:
    """``policies/{id}/{version}.json``; the file must name the id and version of its place."""
    resource = _folder(policy_id) / f"{_checked_name('version', version)}.json"
    if not resource.is_file():
        shipped = ", ".join(p.version for p in _versions(policy_id))
        raise NotFound(f"policy {policy_id}: no version {version!r} (shipped: {shipped})")
    source = f"{policy_id}/{version}.json"
    policy = _parse_bytes(source, resource.read_bytes())
    if (policy.id, policy.version) != (policy_id, version):
        placed, named = f"{policy_id} {version}", f"{policy.id} {policy.version}"
        raise _bad(f"policy {source}: id and version", placed, named)
    return policy


@lru_cache(maxsize=16)
def _versions(policy_id: str) -> tuple[Policy, ...]:
    """Every shipped version of ``policy_id``, by effective date (one version per date)."""
    folder = _folder(policy_id)
    names = sorted(
        f.name.removesuffix(".json") for f in folder.iterdir() if f.name.endswith(".json")
    )
    if not names:
        raise NotFound(f"policy {policy_id!r}: no version is shipped")
    found = sorted((_packaged(policy_id, name) for name in names), key=lambda p: p.effective_date)
    for older, newer in pairwise(found):
        if older.effective_date == newer.effective_date:
            both = f"{older.version} and {newer.version} on {newer.effective_date}"
            raise _bad(f"policy {policy_id}: effective dates", "one version per date", both)
    return tuple(found)


def current_policy(policy_id: str, on: date | None = None) -> Policy:
    """The version of ``policy_id`` in force on ``on``: the latest effective date not after
    it (dated parameters, as OpenFisca's periods); with no date, the latest version."""
    versions = _versions(policy_id)
    in_force = [p for p in versions if on is None or p.effective_date <= on]
    if not in_force:
        first = versions[0]
        raise NotFound(
            f"policy {policy_id}: no version in force on {on} "
            f"(the first, {first.version}, takes effect on {first.effective_date})"
        )
    return in_force[-1]


def load_policy(path_or_name: str | Path, version: str | None = None) -> Policy:
    """Load and validate a policy file: a path, or a packaged policy id with a version
    (default: its latest, :func:`current_policy`).

    Raises NotFound when there is no such file or version and MalformedInput, naming the JSON
    path of the first problem, when the file is not a complete, well-typed policy.
    """
    if _is_path(path_or_name):
        policy = _load_path(Path(path_or_name))
        if version is not None and policy.version != version:
            raise NotFound(f"policy file {path_or_name}: version {policy.version}, not {version}")
        return policy
    if version is None:
        return current_policy(str(path_or_name))
    return _packaged(str(path_or_name), version)


def available_policies() -> list[tuple[str, str]]:
    """Every (id, version) packaged with the ledger, each id's versions by effective date."""
    folder = resources.files(_POLICY_PACKAGE) / "policies"
    ids = sorted(f.name for f in folder.iterdir() if f.is_dir() and _NAME.fullmatch(f.name))
    return [(policy_id, p.version) for policy_id in ids for p in _versions(policy_id)]


def policy_ref(
    policy_id: str, version: str | None = None, *, on: date | None = None
) -> dict[str, str]:
    """The ``policy {id, version, sha256}`` an entry names: a packaged version (default: the
    one in force on ``on``, else the latest) or the policy file at a path."""
    if version is None and not _is_path(policy_id):
        policy = current_policy(policy_id, on)
    else:
        policy = load_policy(policy_id, version)
    return {"id": policy_id, "version": policy.version, "sha256": policy.sha256}


# --- required class -------------------------------------------------------------------------


def _measure(rule: Rule, code: MeasureCode, text: str, **values: float) -> Measure:
    return Measure(code, text, rule.id, rule.clause, rule.confidence, values)


def _requirement(rule: Rule, key: str = "required", *conditions: Measure) -> Requirement:
    return Requirement(rule.minimum(key), rule.id, rule.clause, rule.confidence, conditions)


def _matches(c: WallCondition, d: BuildingDesign) -> bool:
    layer = d.composite_noncombustible_layer_mm
    elderly_area = c.elderly_free_standing_or_area_over_m2
    return all(
        (
            c.uses is None or d.use in c.uses,
            c.cavity is None or d.has_cavity == c.cavity,
            c.crowded_place is None or d.crowded == c.crowded_place,
            c.composite_min_layer_mm is None
            or (layer is not None and layer >= c.composite_min_layer_mm),
            elderly_area is None
            or d.elderly_free_standing
            or d.elderly_combined_area_m2 > elderly_area,
            c.height_over_m is None or d.height_m > c.height_over_m,
            c.height_at_most_m is None or d.height_m <= c.height_at_most_m,
        )
    )


def _first_row(policy: Policy, design: BuildingDesign, position: InsulationPosition) -> Rule | None:
    for row in policy.wall_table:
        if position in row.when.positions and _matches(row.when, design):
            return row.rule
    return None


def _external_wall(policy: Policy, design: BuildingDesign) -> Requirement:
    """GB 55037-2022 §6.6.2-§6.6.8 table, first match, floored by §6.6.1."""
    floor = _requirement(policy.rule("wall.floor"))
    row = _first_row(policy, design, InsulationPosition.EXTERNAL_WALL)
    if row is None:
        return floor
    found = _requirement(row)
    return found if found.minimum.at_least(floor.minimum) else floor


def _cold_storage_core(policy: Policy) -> Requirement:
    """GB 50072-2021 §4.3.2(1): core ≥ B1, and a B1 core must be thermosetting."""
    rule = policy.rule("cold_storage.sandwich_core")
    if not rule.flag("b1_core_thermoset"):
        return _requirement(rule)
    text = "a B1 core must be thermosetting (PU/PIR, phenolic), not thermoplastic (EPS, XPS)"
    return _requirement(rule, "required", _measure(rule, MeasureCode.THERMOSET_CORE_IF_B1, text))


def _sandwich_core(policy: Policy, design: BuildingDesign) -> Requirement:
    """Cold storage per GB 50072 (or GB 50016 §3.2.17 when switched on); industrial per
    GB 50016 §3.2.17; any other building's sandwich-panel wall per the external-wall table."""
    strict = policy.rule("industrial.sandwich_core_noncombustible")
    if design.use == BuildingUse.COLD_STORAGE:
        applies = strict.flag("apply_to_cold_storage")
        return _requirement(strict) if applies else _cold_storage_core(policy)
    if design.use == BuildingUse.INDUSTRIAL:
        return _requirement(strict)
    return _external_wall(policy, design)


def _internal(policy: Policy, design: BuildingDesign) -> Requirement:
    """GB 50072 §4.3.2(2) for cold storage; GB 55037 §6.6.4 elderly care; GB 50016 §6.7.2."""
    if design.use == BuildingUse.COLD_STORAGE:
        rule = policy.rule("cold_storage.internal")
        cover = _measure(rule, MeasureCode.NONCOMBUSTIBLE_PROTECTIVE_LAYER, "non-combustible cover")
        return _requirement(rule, "required", cover)
    row = _first_row(policy, design, InsulationPosition.INTERNAL)
    if row is not None:
        return _requirement(row)
    if design.crowded or design.open_flame_or_fuel or design.evacuation_or_refuge:
        return _requirement(policy.rule("internal.a_class_places"))
    return _internal_general(policy.rule("internal.general"))


def _internal_general(rule: Rule) -> Requirement:
    """GB 50016 §6.7.2(2)(3): ≥ B1, low smoke and toxicity, non-combustible cover."""
    return _requirement(
        rule,
        "required",
        _measure(rule, MeasureCode.LOW_SMOKE_LOW_TOXICITY, "low-smoke, low-toxicity material"),
        _measure(
            rule,
            MeasureCode.NONCOMBUSTIBLE_PROTECTIVE_LAYER,
            "non-combustible protective cover over the insulation",
        ),
    )


def _roof(policy: Policy, design: BuildingDesign) -> Requirement:
    """GB 55037 §6.6.4 elderly care; else GB 50016 §6.7.10 by the roof slab's fire resistance."""
    row = _first_row(policy, design, InsulationPosition.ROOF)
    if row is not None:
        return _requirement(row)
    rule = policy.rule("roof.general")
    slab = design.roof_slab_fire_resistance_h
    strong_slab = slab is not None and slab >= rule.number("slab_fire_resistance_h")
    return _requirement(rule, "required_if_slab_at_least" if strong_slab else "required_otherwise")


def _door_core(policy: Policy, design: BuildingDesign) -> Requirement:
    """GB 50072-2021 §4.2.3: cold-room door in a fire wall."""
    if design.use != BuildingUse.COLD_STORAGE:
        raise _bad("design.position door_core", "use cold_storage", str(design.use))
    if design.door_width_m is None or design.door_height_m is None:
        raise _bad("design.door_width_m/door_height_m", "the door opening size", None)
    rule = policy.rule("cold_storage.door")
    faces = _measure(rule, MeasureCode.NONCOMBUSTIBLE_DOOR_FACES, "non-combustible door faces")
    wide = design.door_width_m > rule.number("opening_width_over_m")
    high = design.door_height_m > rule.number("opening_height_over_m")
    either = rule.values.get("size_rule", "both") == "either"  # the "and" reading is U
    if not ((wide or high) if either else (wide and high)):
        return _requirement(rule, "core_required", faces)
    hours = rule.number("fire_integrity_h")
    integrity = _measure(
        rule, MeasureCode.DOOR_FIRE_INTEGRITY, f"door fire integrity ≥ {hours:g} h", hours=hours
    )
    return _requirement(rule, "core_required", faces, integrity)


def _venue(policy: Policy, design: BuildingDesign) -> Requirement | None:
    """Indoor ice/snow venue open to the public: 人员密集场所 by policy (no national clause)."""
    if not (design.use == BuildingUse.ICE_SNOW_VENUE and design.public_open):
        return None
    rule = policy.rule("venue.ice_snow")
    if not rule.flag("public_open_is_crowded_place"):
        return None
    if not rule.flag("special_fire_design_expected"):
        return _requirement(rule)
    text = "special fire-engineering design (特殊消防设计) expected"
    return _requirement(rule, "required", _measure(rule, MeasureCode.SPECIAL_FIRE_DESIGN, text))


_BY_POSITION: dict[InsulationPosition, Callable[[Policy, BuildingDesign], Requirement]] = {
    InsulationPosition.EXTERNAL_WALL: _external_wall,
    InsulationPosition.SANDWICH_CORE: _sandwich_core,
    InsulationPosition.INTERNAL: _internal,
    InsulationPosition.ROOF: _roof,
    InsulationPosition.DOOR_CORE: _door_core,
}


def required_class(policy: Policy, design: BuildingDesign) -> Requirement:
    """The minimum GB 8624 class for the design's insulation, with the rule that sets it.

    External walls follow the GB 55037-2022 §6.6 table (first match, §6.6.1 floor); internal
    insulation GB 50016 §6.7.2; roofs GB 50016 §6.7.10; cold storage GB 50072-2021 §4.3.2 and
    §4.2.3; an ice/snow venue open to the public the policy's 人员密集场所 default. Sandwich
    cores outside cold storage and industry are read as external walls.
    """
    venue = _venue(policy, design)
    if venue is not None:
        return venue
    found = _BY_POSITION[InsulationPosition(design.position)](policy, design)
    return _part_rules(policy, design, found)


def _is_part_row(when: WallCondition) -> bool:
    return when.crowded_place is True or when.elderly_free_standing_or_area_over_m2 is not None


def _part_rules(policy: Policy, design: BuildingDesign, found: Requirement) -> Requirement:
    """GB 55037-2022 §6.6.4 and §6.6.5 govern a part of a building (an elderly-care part, a
    crowded-place part) whatever its main use: with ``design.part_rules_any_use`` the
    stricter of the use's requirement and every matching part row holds (a sandwich-panel
    wall read as an external wall; internal insulation also by GB 50016 §6.7.2(1))."""
    switch = policy.optional("design.part_rules_any_use")
    if switch is None or not switch.flag("applies"):
        return found
    position = InsulationPosition(design.position)
    if position == InsulationPosition.SANDWICH_CORE:
        position = InsulationPosition.EXTERNAL_WALL
    candidates = [
        _requirement(row.rule)
        for row in policy.wall_table
        if _is_part_row(row.when) and position in row.when.positions and _matches(row.when, design)
    ]
    if position == InsulationPosition.INTERNAL and design.crowded:
        candidates.append(_requirement(policy.rule("internal.a_class_places")))
    for other in candidates:
        if not found.minimum.at_least(other.minimum):
            found = other
    return found


# --- ancillary measures -------------------------------------------------------------------


def _is_b1_b2(product: CombustionClass | None) -> bool:
    return product is not None and product.basic_class in (BasicClass.B1, BasicClass.B2)


def _fire_barrier_belt(policy: Policy) -> Measure:
    rule = policy.rule("wall.b1b2.fire_barrier_belt")
    height = rule.number("min_height_mm")
    cls = requirement_label(rule.minimum("belt_class"))
    text = f"{cls}-class fire barrier belt (防火隔离带) at every floor, ≥ {height:g} mm high"
    return _measure(rule, MeasureCode.FIRE_BARRIER_BELT, text, min_height_mm=height)


def _door_window_exempt(rule: Rule, design: BuildingDesign, product: CombustionClass) -> bool:
    if product.basic_class != BasicClass.B1:
        return False
    if design.use == BuildingUse.RESIDENTIAL:
        return design.height_m <= rule.number("b1_exempt_residential_max_height_m")
    if design.use == BuildingUse.PUBLIC:
        return design.height_m <= rule.number("b1_exempt_public_max_height_m")
    return False


def _door_window(policy: Policy, design: BuildingDesign, product: CombustionClass) -> list[Measure]:
    rule = policy.rule("wall.b1b2.door_window_integrity")
    if _door_window_exempt(rule, design, product):
        return []
    hours = rule.number("fire_integrity_h")
    text = f"external doors and windows with fire integrity ≥ {hours:g} h"
    return [_measure(rule, MeasureCode.DOOR_WINDOW_FIRE_INTEGRITY, text, fire_integrity_h=hours)]


def _protective_layer(policy: Policy) -> Measure:
    rule = policy.rule("wall.b1b2.protective_layer")
    ground, other = rule.number("ground_floor_min_mm"), rule.number("other_floors_min_mm")
    text = (
        "non-combustible protective layer fully covering the insulation, "
        f"≥ {ground:g} mm on the ground floor, ≥ {other:g} mm elsewhere"
    )
    values = {"ground_floor_min_mm": ground, "other_floors_min_mm": other}
    return _measure(rule, MeasureCode.PROTECTIVE_LAYER, text, **values)


def _junction(policy: Policy, adjoining: CombustionClass | None) -> list[Measure]:
    if not _is_b1_b2(adjoining):
        return []
    rule = policy.rule("roof_wall.junction_strip")
    width = rule.number("min_width_mm")
    cls = requirement_label(rule.minimum("strip_class"))
    text = f"{cls}-class strip ≥ {width:g} mm wide at the roof/wall junction"
    return [_measure(rule, MeasureCode.ROOF_WALL_JUNCTION_STRIP, text, min_width_mm=width)]


def _wall_measures(
    policy: Policy,
    design: BuildingDesign,
    product: CombustionClass,
    adjoining: CombustionClass | None,
) -> list[Measure]:
    """GB 50016 §6.7.7-§6.7.10 for a B1/B2 external-wall product."""
    return [
        _fire_barrier_belt(policy),
        *_door_window(policy, design, product),
        _protective_layer(policy),
        *_junction(policy, adjoining),
    ]


def _roof_measures(policy: Policy, adjoining: CombustionClass | None) -> list[Measure]:
    """GB 50016 §6.7.10 for a B1/B2 roof product."""
    rule = policy.rule("roof.general")
    thickness = rule.number("b1b2_protective_layer_min_mm")
    text = f"non-combustible protective layer ≥ {thickness:g} mm over the roof insulation"
    layer = _measure(rule, MeasureCode.ROOF_PROTECTIVE_LAYER, text, min_mm=thickness)
    return [layer, *_junction(policy, adjoining)]


def _internal_measures(
    policy: Policy, design: BuildingDesign, product: CombustionClass
) -> list[Measure]:
    """GB 50016 §6.7.2(3): a B1 internal insulation needs a non-combustible cover ≥ 10 mm."""
    if design.use == BuildingUse.COLD_STORAGE or product.basic_class != BasicClass.B1:
        return []
    rule = policy.rule("internal.general")
    thickness = rule.number("b1_cover_min_mm")
    text = f"non-combustible cover ≥ {thickness:g} mm over the B1 insulation"
    return [_measure(rule, MeasureCode.INTERNAL_COVER, text, min_mm=thickness)]


def ancillary_measures(
    policy: Policy,
    design: BuildingDesign,
    product_class: CombustionClass,
    *,
    adjoining_class: CombustionClass | None = None,
) -> list[Measure]:
    """Construction measures required because the product is B1 or B2 (GB 50016 §6.7.2,
    §6.7.7-§6.7.10).

    ``adjoining_class`` is the roof insulation's class when the product goes on the external
    wall, and the wall's when it goes on the roof; the junction strip is required only when
    both are known to be B1/B2. A-class products need none of these; other positions have none.
    """
    if not _is_b1_b2(product_class):
        return []
    if design.position == InsulationPosition.EXTERNAL_WALL:
        return _wall_measures(policy, design, product_class, adjoining_class)
    if design.position == InsulationPosition.ROOF:
        return _roof_measures(policy, adjoining_class)
    if design.position == InsulationPosition.INTERNAL:
        return _internal_measures(policy, design, product_class)
    return []


# --- re-test frequency and credit listings --------------------------------------------------


def retest_samples_required(policy: Policy, net_wall_area_m2: float) -> int:
    """Witnessed on-site re-tests for one manufacturer's product (GB 55015-2021 §6.2.1,
    GB 50411-2019 §4.2.2): one per ``area_per_retest_m2`` of net wall area or part of it."""
    if not (math.isfinite(net_wall_area_m2) and net_wall_area_m2 > 0):
        raise _bad("net_wall_area_m2", "a finite number > 0", net_wall_area_m2)
    per = policy.rule("retest.frequency").number("area_per_retest_m2")
    if per <= 0:
        raise _bad(f"policy {policy.id}: retest.frequency.area_per_retest_m2", "> 0", per)
    return math.ceil(Fraction(net_wall_area_m2) / Fraction(per))


def listing_period(policy: Policy, credit_list: CreditList) -> ListingPeriod:
    """Minimum and maximum publication period of a credit listing (NDRC 信用修复管理办法,
    SAMR Order 44, MOHURD bad records), from the policy."""
    rule = policy.rule(f"credit.{CreditList(credit_list)}")
    maximum = int(rule.number("max_months")) if "max_months" in rule.values else None
    return ListingPeriod(
        CreditList(credit_list),
        int(rule.number("min_months")),
        maximum,
        rule.id,
        rule.clause,
        rule.confidence,
    )


def offline_window(policy: Policy) -> timedelta | None:
    """How long before its log time a client-signed statement may have been signed
    (``entry.offline_window``, docs/offline.md); None when the version has no window, and
    then a statement is admitted only within the ledger's clock skew, as before it."""
    rule = policy.optional("entry.offline_window")
    if rule is None:
        return None
    hours = rule.number("max_hours")
    if not hours > 0:
        raise MalformedInput(f"policy rule {rule.id}.max_hours: expected hours > 0, got {hours!r}")
    return timedelta(hours=hours)


def is_serious_lab_case(policy: Policy, false_reports: int) -> bool:
    """True when a lab's false reports on insulation materials make a serious case (SAMR 2026):
    qualification revoked and serious-dishonesty listing."""
    if false_reports < 0:
        raise _bad("false_reports", "a count >= 0", false_reports)
    return false_reports >= policy.rule("credit.lab_false_reports").number(
        "serious_case_min_reports"
    )
