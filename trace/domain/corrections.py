"""Corrections: new entries that reference the entry they correct; nothing is edited.

``entry.correct`` names the entry it corrects (``corrects``: its seq), the record
that entry created (``target``: kind and id), a reason, and the new values of a
few correctable fields (``set``). Only the record's author may correct it (the root
authority for organisations). Each value is checked as on registration. Fields
that decisions were already taken on — a batch's declared class or conductivity
once a report or site work used them — are not corrected: record a new batch or a
recall instead. The target row keeps ``corrections: [{seq, fields, reason}]``; the
original entry stays in the log, untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..actors import ROOT, Context
from ..entrytype import ORGANISATION_ROLES, EntryType
from ..epcis_map import ERROR_DECLARATION
from ..errors import Forbidden, MalformedInput, RuleViolation
from . import payloads
from .batches import class_row, parse_declared
from .fields import Reader, decimal_text, local_date, reader

__all__ = ["CORRECTABLE", "TYPES", "correct_entry"]

Check = Callable[[Context, Reader, str], Any]


def _text(ctx: Context, s: Reader, name: str) -> Any:
    return s.text(name)


def _location(ctx: Context, s: Reader, name: str) -> Any:
    loc = s.obj(name)
    return {k: loc.text(k) for k in ("province", "city", "address")}


def _past_date(ctx: Context, s: Reader, name: str) -> Any:
    day = s.date(name)
    if day > local_date(ctx.time):
        raise RuleViolation("correct.value", f"{s.where}.{name} {day} is in the future")
    return day.isoformat()


def _conductivity(ctx: Context, s: Reader, name: str) -> Any:
    return decimal_text(s.decimal(name, places=4))


def _density(ctx: Context, s: Reader, name: str) -> Any:
    return decimal_text(s.decimal(name, places=1))


def _declared(ctx: Context, s: Reader, name: str) -> Any:
    return class_row(parse_declared(s.text(name, max_len=40), "batch.declared_class"))


# kind -> (author field of the row or ROOT, {field: check})
CORRECTABLE: dict[str, tuple[str, dict[str, Check]]] = {
    "org": (ROOT, {"name": _text, "name_en": _text, "address": _text}),
    "product": ("manufacturer", {"name": _text, "name_en": _text, "standard": _text}),
    "batch": (
        "manufacturer",
        {
            "production_date": _past_date,
            "conductivity": _conductivity,
            "density": _density,
            "declared": _declared,
        },
    ),
    "project": ("owner", {"name": _text, "location": _location}),
    "building": ("owner", {"name": _text, "address": _text}),
}
_DECIDED = {"declared", "conductivity"}


def _author(row: dict[str, Any], field: str) -> str:
    return ROOT if field == ROOT else str(row[field])


def _target(ctx: Context, p: Reader) -> tuple[str, str, dict[str, Any]]:
    t = p.obj("target")
    kind = t.text("kind", max_len=20)
    if kind not in CORRECTABLE:
        raise MalformedInput(
            f"{t.where}.kind: expected one of {', '.join(CORRECTABLE)}, got {kind!r}"
        )
    key = t.text("id", max_len=120)
    row = ctx.kv.get(kind, key)
    if row is None:
        raise RuleViolation("correct.target", f"no {kind} {key!r}")
    corrects = p.integer("corrects")
    if row["seq"] != corrects:
        raise RuleViolation(
            "correct.target",
            f"entry {corrects} did not create {kind} {key}; entry {row['seq']} did",
        )
    return kind, key, row


def _decided(kind: str, row: dict[str, Any], fields: set[str]) -> None:
    used = kind == "batch" and (row["reports"] or row["installed"] or row["sampled"])
    touched = sorted(fields & _DECIDED)
    if used and touched:
        raise RuleViolation(
            "correct.decided",
            f"{', '.join(touched)} of batch {row['id']} already fed reports or site work; "
            "register a new batch or recall this one",
        )


def correct_entry(ctx: Context) -> None:
    """entry.correct, by the record's author: new values for correctable fields."""
    p = reader(ctx)
    kind, key, row = _target(ctx, p)
    author_field, checks = CORRECTABLE[kind]
    if ctx.entry.actor != _author(row, author_field):
        raise Forbidden(f"only the author of {kind} {key} may correct it")
    new = p.obj("set")
    unknown = sorted(set(new.data) - set(checks))
    if unknown or not new.data:
        raise MalformedInput(
            f"{new.where}: expected some of {', '.join(checks)}, got {unknown or 'none'}"
        )
    _decided(kind, row, set(new.data))
    values = {name: checks[name](ctx, new, name) for name in sorted(new.data)}
    reason = p.text("reason", max_len=500)
    history = [
        *row.get("corrections", []),
        {"seq": ctx.entry.seq, "fields": values, "reason": reason},
    ]
    ctx.kv.put(kind, key, {**row, **values, "corrections": history})
    ctx.ref(f"entry:{row['seq']}", f"{kind}:{key}")


# -- entry types ---------------------------------------------------------------------

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "entry.correct", "更正记录", "Correct a record", correct_entry,
        ORGANISATION_ROLES, "The author of a record corrects it.",
        epcis=ERROR_DECLARATION,
        records=(),
        payload=payloads.EntryCorrect,
    ),
)  # fmt: skip
"""Corrections' entry types (:mod:`insutrace.trace.entrytype`)."""
