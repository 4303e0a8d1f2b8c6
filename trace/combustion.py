"""Combustion performance classes of building materials, GB 8624-2012.

GB 8624-2012 groups seven sub-classes into four basic classes::

    basic class   sub-classes   typical test methods
    A             A1, A2        GB/T 5464 non-combustibility, GB/T 14402 calorific value
    B1            B, C          GB/T 20284 SBI, GB/T 8626 single flame
    B2            D, E          GB/T 20284 SBI, GB/T 8626 single flame
    B3            F             (no performance determined)

Order, strongest first: A1 > A2 > B > C > D > E > F; a product meets every class at or below
its own. A2, B and C also state smoke production (s1-s3), flaming droplets (d0-d2) and smoke
toxicity (t0-t2, GB/T 20285); D states s and d.

Label forms accepted by :func:`parse_class` (parentheses and comma may be full-width, a
trailing 级 and a leading ``GB 8624`` or ``GB 8624-2012`` are optional)::

    GB 8624 B1(B-s1,d0,t1)     basic(sub-additional classification)
    B1(C)级  B2(E)级  A(A1)级   basic(sub)
    A1  A2  A2-s1,d0,t1        an A sub-class on its own
    A  B1  B2  B3              a basic class on its own

Anything else raises :class:`MalformedInput`. Requirement specs (``"A"``, ``"≥B1"``,
``">=B2"``) are read by :func:`parse_requirement` into the weakest sub-class that satisfies
them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from insutrace.trace.errors import MalformedInput

__all__ = [
    "BasicClass",
    "CombustionClass",
    "SubClass",
    "parse_class",
    "parse_requirement",
    "requirement_label",
]


class SubClass(StrEnum):
    """A GB 8624-2012 sub-class, declared strongest first."""

    A1 = "A1"
    A2 = "A2"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"

    @property
    def rank(self) -> int:
        """0 for A1 (strongest) up to 6 for F (weakest)."""
        return _SUB_ORDER.index(self)

    @property
    def basic(self) -> BasicClass:
        """The basic class this sub-class belongs to."""
        return next(b for b in BasicClass if self in b.sub_classes)

    def at_least(self, other: SubClass) -> bool:
        """True when this sub-class is ``other`` or stronger."""
        return self.rank <= other.rank


class BasicClass(StrEnum):
    """A GB 8624-2012 basic class (A, B1, B2, B3)."""

    A = "A"
    B1 = "B1"
    B2 = "B2"
    B3 = "B3"

    @property
    def sub_classes(self) -> tuple[SubClass, ...]:
        """The sub-classes of this basic class, strongest first."""
        return _SUBS_OF[self]

    @property
    def weakest(self) -> SubClass:
        """The weakest sub-class: what a label stating only the basic class guarantees."""
        return _SUBS_OF[self][-1]


_SUB_ORDER = tuple(SubClass)
_SUBS_OF = {
    BasicClass.A: (SubClass.A1, SubClass.A2),
    BasicClass.B1: (SubClass.B, SubClass.C),
    BasicClass.B2: (SubClass.D, SubClass.E),
    BasicClass.B3: (SubClass.F,),
}
# Which additional classifications a sub-class may state: (smoke and droplets, toxicity).
_WITH_SMOKE_DROPLETS = frozenset({SubClass.A2, SubClass.B, SubClass.C, SubClass.D})
_WITH_TOXICITY = frozenset({SubClass.A2, SubClass.B, SubClass.C})

_FULL_WIDTH = str.maketrans({"（": "(", "）": ")", "，": ","})
_EXTRA = r"-s(?P<s{n}>[1-3]),\s*d(?P<d{n}>[0-2])(?:,\s*t(?P<t{n}>[0-2]))?"
_LABEL = re.compile(
    r"(?:GB\s?8624(?:-2012)?\s*)?"
    r"(?:(?P<basic>A|B1|B2|B3)(?:\((?P<sub>A1|A2|B|C|D|E|F)(?:" + _EXTRA.format(n=1) + r")?\))?"
    r"|(?P<bare>A1|A2)(?:" + _EXTRA.format(n=2) + r")?)"
    r"级?"
)
_REQUIREMENT = re.compile(r"(?P<op>≥|>=|＞=|≧)?\s*(?P<cls>A1|A2|A|B1|B2|B3|B|C|D|E|F)级?")


@dataclass(frozen=True)
class CombustionClass:
    """A declared GB 8624-2012 class.

    ``sub_class`` is None when the label states only the basic class (``B1``, ``B2级``); such
    a product is credited with the weakest sub-class of its basic class when compared
    (:attr:`effective_sub_class`), since nothing stronger is declared. ``smoke``,
    ``droplets`` and ``toxicity`` are the digits of s1-s3, d0-d2 and t0-t2.
    """

    basic_class: BasicClass
    sub_class: SubClass | None = None
    smoke: int | None = None
    droplets: int | None = None
    toxicity: int | None = None

    def __post_init__(self) -> None:
        if self.sub_class is not None and self.sub_class.basic is not self.basic_class:
            raise MalformedInput(
                f"combustion sub-class: expected one of "
                f"{', '.join(self.basic_class.sub_classes)} for basic class "
                f"{self.basic_class}, got {self.sub_class}"
            )
        self._check_additional()

    def _check_additional(self) -> None:
        if (self.smoke is None) != (self.droplets is None):
            raise MalformedInput("combustion class: expected smoke and droplets stated together")
        if self.smoke is not None and self.sub_class not in _WITH_SMOKE_DROPLETS:
            raise MalformedInput(
                f"combustion class: expected no s/d/t for sub-class {self.sub_class}, "
                f"got s{self.smoke},d{self.droplets}"
            )
        if self.toxicity is not None and (
            self.smoke is None or self.sub_class not in _WITH_TOXICITY
        ):
            raise MalformedInput(
                f"combustion class: expected toxicity only after s and d for A2, B or C, "
                f"got t{self.toxicity} for {self.sub_class}"
            )
        _check_range("smoke", self.smoke, 1, 3)
        _check_range("droplets", self.droplets, 0, 2)
        _check_range("toxicity", self.toxicity, 0, 2)

    @property
    def effective_sub_class(self) -> SubClass:
        """The stated sub-class, or the weakest of the basic class when none is stated."""
        return self.sub_class or self.basic_class.weakest

    def meets(self, required: SubClass | str) -> bool:
        """True when this class is at least ``required`` (GB 8624-2012 order A1 > ... > F).

        ``required`` is a sub-class or a requirement spec such as ``"≥B1"``; B3/F meets only F.
        """
        minimum = parse_requirement(required) if isinstance(required, str) else required
        return self.effective_sub_class.at_least(minimum)

    def label(self) -> str:
        """Canonical label, e.g. ``GB 8624 B1(B-s1,d0,t1)``, ``GB 8624 A(A1)``, ``GB 8624 B2``."""
        if self.sub_class is None:
            return f"GB 8624 {self.basic_class}"
        return f"GB 8624 {self.basic_class}({self.sub_class}{self._additional()})"

    def _additional(self) -> str:
        if self.smoke is None:
            return ""
        text = f"-s{self.smoke},d{self.droplets}"
        return text if self.toxicity is None else f"{text},t{self.toxicity}"

    def __str__(self) -> str:
        return self.label()


def _check_range(name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise MalformedInput(f"combustion {name}: expected {low}-{high}, got {value}")


def _digit(text: str | None) -> int | None:
    return None if text is None else int(text)


def parse_class(label: str) -> CombustionClass:
    """Parse a GB 8624-2012 class label in any of the market forms listed in the module doc."""
    match = _LABEL.fullmatch(label.strip().translate(_FULL_WIDTH))
    if match is None:
        raise MalformedInput(
            "combustion class: expected a GB 8624-2012 label such as "
            f"'GB 8624 B1(B-s1,d0,t1)', 'B1(C)级' or 'A2', got {label!r}"
        )
    if match["bare"] is not None:
        sub = SubClass(match["bare"])
        return _with_additional(sub.basic, sub, match, "2")
    sub_text = match["sub"]
    basic = BasicClass(match["basic"])
    return _with_additional(basic, None if sub_text is None else SubClass(sub_text), match, "1")


def _with_additional(
    basic: BasicClass, sub: SubClass | None, match: re.Match[str], n: str
) -> CombustionClass:
    return CombustionClass(
        basic, sub, _digit(match["s" + n]), _digit(match["d" + n]), _digit(match["t" + n])
    )


def parse_requirement(spec: str) -> SubClass:
    """Read a requirement spec into the weakest sub-class that satisfies it.

    ``"A"`` -> A2, ``"≥B1"`` / ``">=B1"`` / ``"B1"`` -> C, ``"≥B2"`` -> E, ``"B3"`` -> F; a
    sub-class (``"A1"``, ``"≥B"``) stands for itself. A basic class in a requirement means
    "this basic class or better", hence its weakest sub-class.
    """
    match = _REQUIREMENT.fullmatch(spec.strip().translate(_FULL_WIDTH))
    if match is None:
        raise MalformedInput(
            f"combustion requirement: expected a class such as 'A', '≥B1' or '>=B2', got {spec!r}"
        )
    text = match["cls"]
    if text in BasicClass.__members__:
        return BasicClass(text).weakest
    return SubClass(text)


def requirement_label(minimum: SubClass) -> str:
    """Short spec for a minimum sub-class, the inverse of :func:`parse_requirement`.

    A2 -> ``"A"``, C -> ``"≥B1"``, E -> ``"≥B2"``, F -> ``"≥B3"``; other sub-classes keep their
    own name (``"A1"``, ``"≥B"``, ``"≥D"``).
    """
    if minimum is SubClass.A1:
        return "A1"
    basic = minimum.basic
    if minimum is basic.weakest:
        return "A" if basic is BasicClass.A else f"≥{basic}"
    return f"≥{minimum}"
