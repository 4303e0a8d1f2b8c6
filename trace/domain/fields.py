"""Reading entry payloads: typed fields, versioned payloads, deterministic values.

Every domain payload carries ``"schema": 1`` (the payload version of its entry type).
Values stored in projection rows are deterministic JSON: no floats. Quantities are
decimal strings in the payload (``"1250.5"``, at most 3 decimals) and integers of
**milli-units** in rows (``1250500``); measured values (thermal conductivity,
density, heights) stay canonical decimal strings. Calendar dates are ISO
``YYYY-MM-DD`` and are judged against the entry's own time in China Standard Time
(UTC+8), never the wall clock, so a replay reaches the same verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from ..actors import Context
from ..clock import CST, local_date
from ..errors import MalformedInput

__all__ = [
    "CST",
    "MILLI",
    "SCHEMA",
    "Reader",
    "decimal_text",
    "distinct",
    "from_milli",
    "local_date",
    "milli_text",
    "pointer_token",
    "reader",
]

SCHEMA = 1
MILLI = 1000
_IDENT = re.compile(r"[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff〔〕._:#()\-]{0,79}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_E = TypeVar("_E", bound=StrEnum)


def decimal_text(value: Decimal) -> str:
    """Canonical text of a non-negative decimal: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def from_milli(milli: int) -> Decimal:
    return Decimal(milli) / MILLI


def milli_text(milli: int) -> str:
    """Milli-units as canonical decimal text (``1250500`` -> ``"1250.5"``)."""
    return decimal_text(from_milli(milli))


def pointer_token(name: str | int) -> str:
    """One reference token of an RFC 6901 JSON Pointer (§3: ``~`` as ``~0``, ``/`` as ``~1``)."""
    return str(name).replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Reader:
    """Typed access to one JSON object of a payload; ``where`` names it in errors and
    ``pointer`` is its RFC 6901 JSON Pointer within the entry (``/payload/sections/0``)."""

    data: dict[str, Any]
    where: str
    pointer: str = "/payload"

    def _bad(self, name: str, expected: str, got: Any) -> MalformedInput:
        shown = repr(got)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return MalformedInput(
            f"{self.where}.{name}: expected {expected}, got {shown}",
            f"{self.pointer}/{pointer_token(name)}",
        )

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        if name not in self.data or self.data[name] is None:
            raise self._bad(name, "a value", None)
        return self.data[name]

    def text(self, name: str, *, max_len: int = 200, optional: bool = False) -> str:
        """A non-empty string of at most ``max_len`` characters ("" when optional and absent)."""
        value = self.data.get(name)
        if value is None and optional:
            return ""
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            raise self._bad(name, f"a non-empty string of at most {max_len} characters", value)
        return value.strip()

    def ident(self, name: str) -> str:
        """An identifier usable in keys: letters, digits, CJK, ``〔〕. _ : # ( ) -``; ≤ 80 chars."""
        value = self.data.get(name)
        if not isinstance(value, str) or not _IDENT.fullmatch(value):
            raise self._bad(name, "an identifier of letters, digits and ._:#()-", value)
        return value

    def flag(self, name: str, *, default: bool | None = None) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self._bad(name, "true or false", value)
        return value

    def integer(self, name: str, *, minimum: int = 0) -> int:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._bad(name, f"an integer >= {minimum}", value)
        return value

    def decimal(self, name: str, *, places: int = 3, positive: bool = True) -> Decimal:
        """A decimal written as a JSON string (``"0.032"``), at most ``places`` decimals."""
        value = self.data.get(name)
        match = _DECIMAL.fullmatch(value) if isinstance(value, str) else None
        if match is None or len(match.group(2) or ".") - 1 > places:
            raise self._bad(name, f"a decimal string with at most {places} decimals", value)
        number = Decimal(value)  # type: ignore[arg-type]
        if positive and number <= 0:
            raise self._bad(name, "a value > 0", value)
        return number

    def milli(self, name: str) -> int:
        """A positive quantity as integer milli-units (3 decimals at most)."""
        try:
            return int(self.decimal(name, places=3) * MILLI)
        except InvalidOperation as exc:  # pragma: no cover - guarded by the pattern
            raise self._bad(name, "a decimal quantity", self.data.get(name)) from exc

    def day(self, name: str, *, optional: bool = False) -> date | None:
        """An ISO calendar date ``YYYY-MM-DD``."""
        value = self.data.get(name)
        if value is None and optional:
            return None
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise self._bad(name, "a date YYYY-MM-DD", value) from None

    def date(self, name: str) -> date:
        day = self.day(name)
        assert day is not None
        return day

    def choice(self, name: str, enum: type[_E], *, optional: bool = False) -> _E | None:
        value = self.data.get(name)
        if value is None and optional:
            return None
        if value not in {m.value for m in enum}:
            raise self._bad(name, "one of " + ", ".join(m.value for m in enum), value)
        return enum(value)

    def one(self, name: str, enum: type[_E]) -> _E:
        value = self.choice(name, enum)
        assert value is not None
        return value

    def sha256(self, name: str, *, optional: bool = False) -> str:
        """A document referenced by its SHA-256 (64 lower-case hex digits)."""
        value = self.data.get(name)
        if value is None and optional:
            return ""
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            raise self._bad(name, "a SHA-256 as 64 lower-case hex digits", value)
        return value

    def obj(self, name: str) -> Reader:
        value = self.data.get(name)
        if not isinstance(value, dict):
            raise self._bad(name, "an object", value)
        return Reader(value, f"{self.where}.{name}", f"{self.pointer}/{pointer_token(name)}")

    def objs(self, name: str, *, min_items: int = 1, max_items: int = 200) -> list[Reader]:
        value = self.data.get(name)
        if (
            not isinstance(value, list)
            or not min_items <= len(value) <= max_items
            or not all(isinstance(v, dict) for v in value)
        ):
            raise self._bad(name, f"a list of {min_items}-{max_items} objects", value)
        base = f"{self.pointer}/{pointer_token(name)}"
        return [Reader(v, f"{self.where}.{name}[{i}]", f"{base}/{i}") for i, v in enumerate(value)]

    def texts(self, name: str, *, min_items: int = 1, max_items: int = 50) -> list[str]:
        value = self.data.get(name)
        if (
            not isinstance(value, list)
            or not min_items <= len(value) <= max_items
            or not all(isinstance(v, str) and v.strip() and len(v) <= 200 for v in value)
        ):
            raise self._bad(name, f"a list of {min_items}-{max_items} non-empty strings", value)
        return [v.strip() for v in value]

    def choices(self, name: str, enum: type[_E], *, min_items: int = 1) -> list[_E]:
        allowed = {m.value for m in enum}
        values = self.texts(name, min_items=min_items)
        if any(v not in allowed for v in values) or len(set(values)) != len(values):
            raise self._bad(name, "distinct values among " + ", ".join(sorted(allowed)), values)
        return [enum(v) for v in values]


def reader(ctx: Context) -> Reader:
    """The payload of the entry being admitted, after checking its ``schema`` version."""
    payload = Reader(ctx.entry.payload, ctx.entry.type)
    version = ctx.entry.payload.get("schema")
    if version != SCHEMA:
        raise payload._bad("schema", f"payload version {SCHEMA}", version)
    return payload


def distinct(where: str, values: Iterable[str]) -> None:
    """Refuse a list that names the same thing twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise MalformedInput(f"{where}: {value!r} appears twice")
        seen.add(value)
