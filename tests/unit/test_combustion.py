"""GB 8624-2012 classes: parsing the market forms, ordering, labels, requirement specs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insutrace.trace.combustion import (
    BasicClass,
    CombustionClass,
    SubClass,
    parse_class,
    parse_requirement,
    requirement_label,
)
from insutrace.trace.errors import MalformedInput

A1, A2, B, C, D, E, F = SubClass


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("GB 8624 B1(B-s1,d0,t1)", CombustionClass(BasicClass.B1, B, 1, 0, 1)),
        ("GB 8624-2012 B1(C-s2,d1,t0)", CombustionClass(BasicClass.B1, C, 2, 1, 0)),
        ("B1(C)级", CombustionClass(BasicClass.B1, C)),
        ("B2(E)级", CombustionClass(BasicClass.B2, E)),
        ("B2(D-s3,d2)", CombustionClass(BasicClass.B2, D, 3, 2)),
        ("A(A1)级", CombustionClass(BasicClass.A, A1)),
        ("A2", CombustionClass(BasicClass.A, A2)),
        ("A2-s1,d0,t0", CombustionClass(BasicClass.A, A2, 1, 0, 0)),
        ("A1", CombustionClass(BasicClass.A, A1)),
        ("A1级", CombustionClass(BasicClass.A, A1)),
        ("A", CombustionClass(BasicClass.A)),
        ("B1", CombustionClass(BasicClass.B1)),
        ("B2级", CombustionClass(BasicClass.B2)),
        ("B3", CombustionClass(BasicClass.B3)),
        ("B3(F)", CombustionClass(BasicClass.B3, F)),
    ],
)
def test_market_forms(label: str, expected: CombustionClass) -> None:
    assert parse_class(label) == expected


@pytest.mark.parametrize("label", ["B1（B-s1，d0，t1）级", "GB 8624 B1（C）", "A（A1）级"])
def test_full_width_punctuation(label: str) -> None:
    half = label.replace("（", "(").replace("）", ")").replace("，", ",")
    assert parse_class(label) == parse_class(half)


@pytest.mark.parametrize(
    ("label", "canonical"),
    [
        ("B1(B-s1,d0,t1)级", "GB 8624 B1(B-s1,d0,t1)"),
        ("A1", "GB 8624 A(A1)"),
        ("A2-s1,d0,t1", "GB 8624 A(A2-s1,d0,t1)"),
        ("B2级", "GB 8624 B2"),
    ],
)
def test_canonical_label(label: str, canonical: str) -> None:
    assert parse_class(label).label() == canonical
    assert str(parse_class(label)) == canonical


@st.composite
def _classes(draw: st.DrawFn) -> CombustionClass:
    basic = draw(st.sampled_from(BasicClass))
    sub = draw(st.none() | st.sampled_from(basic.sub_classes))
    if sub not in (A2, B, C, D) or not draw(st.booleans()):
        return CombustionClass(basic, sub)
    smoke, droplets = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    toxicity = draw(st.none() | st.integers(0, 2)) if sub is not D else None
    return CombustionClass(basic, sub, smoke, droplets, toxicity)


@given(_classes())
def test_label_round_trip(cls: CombustionClass) -> None:
    assert parse_class(cls.label()) == cls


@pytest.mark.parametrize(
    ("spec", "met_by"),
    [
        ("≥B1", {A1, A2, B, C}),
        (">=B1", {A1, A2, B, C}),
        ("A", {A1, A2}),
        ("≥B2", {A1, A2, B, C, D, E}),
        ("A1", {A1}),
        ("B3", set(SubClass)),
    ],
)
def test_meets_follows_the_order(spec: str, met_by: set[SubClass]) -> None:
    for sub in SubClass:
        assert CombustionClass(sub.basic, sub).meets(spec) == (sub in met_by), sub


def test_basic_class_alone_counts_as_its_weakest_sub_class() -> None:
    b1 = parse_class("B1")
    assert b1.effective_sub_class is C
    assert b1.meets("≥B1")
    assert not b1.meets(B)
    assert parse_class("A").meets("A")
    assert not parse_class("A").meets(A1)


def test_b3_meets_nothing_above_f() -> None:
    b3 = parse_class("B3")
    assert [b3.meets(sub) for sub in SubClass] == [False] * 6 + [True]


@given(st.sampled_from(SubClass), st.sampled_from(SubClass))
def test_meets_is_rank_order(product: SubClass, required: SubClass) -> None:
    cls = CombustionClass(product.basic, product)
    assert cls.meets(required) == (list(SubClass).index(product) <= list(SubClass).index(required))


@pytest.mark.parametrize(
    ("spec", "minimum"),
    [
        ("A", A2),
        ("A级", A2),
        ("A1", A1),
        ("≥B1", C),
        ("≥ B1", C),
        (">=B1", C),
        ("B1", C),
        ("≥B2", E),
        (">=B2", E),
        ("≥B", B),
        ("B3", F),
    ],
)
def test_parse_requirement(spec: str, minimum: SubClass) -> None:
    assert parse_requirement(spec) is minimum


@pytest.mark.parametrize("sub", list(SubClass))
def test_requirement_label_round_trip(sub: SubClass) -> None:
    assert parse_requirement(requirement_label(sub)) is sub


def test_requirement_labels_use_basic_classes() -> None:
    assert [requirement_label(s) for s in (A2, C, E)] == ["A", "≥B1", "≥B2"]


def test_rejects_unknown_label() -> None:
    with pytest.raises(MalformedInput, match=r"combustion class: expected a GB 8624-2012 label"):
        parse_class("A2fl-s1")


def test_rejects_empty_label() -> None:
    with pytest.raises(MalformedInput, match=r"combustion class: .* got ''"):
        parse_class("")


def test_rejects_sub_class_of_another_basic_class() -> None:
    with pytest.raises(MalformedInput, match=r"sub-class: expected one of B, C for basic class B1"):
        parse_class("B1(D)级")


def test_rejects_additional_classification_on_a1() -> None:
    with pytest.raises(MalformedInput, match=r"expected no s/d/t for sub-class A1"):
        parse_class("A(A1-s1,d0,t0)")


def test_rejects_toxicity_on_d() -> None:
    with pytest.raises(
        MalformedInput, match=r"expected toxicity only after s and d for A2, B or C"
    ):
        parse_class("B2(D-s1,d0,t1)")


def test_rejects_smoke_class_out_of_range() -> None:
    with pytest.raises(MalformedInput, match=r"combustion class: expected a GB 8624-2012 label"):
        parse_class("B1(B-s4,d0,t1)")


def test_rejects_smoke_without_droplets() -> None:
    with pytest.raises(MalformedInput, match=r"smoke and droplets stated together"):
        CombustionClass(BasicClass.B1, B, smoke=1)


def test_rejects_out_of_range_value_in_constructor() -> None:
    with pytest.raises(MalformedInput, match=r"combustion droplets: expected 0-2, got 3"):
        CombustionClass(BasicClass.B1, B, smoke=1, droplets=3)


def test_rejects_unknown_requirement() -> None:
    with pytest.raises(MalformedInput, match=r"combustion requirement: expected .* got '≤B1'"):
        parse_requirement("≤B1")
