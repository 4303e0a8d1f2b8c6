"""Refusals a person reads: one line for an error (:func:`bilingual`), and which of a form's
fields a refused write is about (:func:`field_errors`): Chinese first, English beside it,
the rule id and clause of a rule violation named. Who is signed in, and the forms' one
write path, are :mod:`insutrace.api.pages` (:func:`~insutrace.api.pages.signed_in`,
:class:`~insutrace.api.pages.FormPost`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from insutrace.api.accounts import Account
from insutrace.trace.domain.payloads import PayloadInvalid
from insutrace.trace.errors import (
    Conflict,
    Forbidden,
    LedgerError,
    MalformedInput,
    NotFound,
    RuleViolation,
    StorageError,
    Unavailable,
)

__all__ = ["FORM", "bilingual", "context", "field_errors"]

FORM = "form"  # the key of an error not about one field

_KINDS: tuple[tuple[type[LedgerError], str, str], ...] = (
    (Forbidden, "无权操作", "Not allowed"),
    (NotFound, "未找到", "Not found"),
    (Conflict, "与已有记录冲突", "Conflict"),
    (StorageError, "数据库暂不可用，请稍后再试", "Storage unavailable"),
    (Unavailable, "服务暂不可用", "Unavailable"),
    (MalformedInput, "输入格式不正确", "Malformed input"),
)


def bilingual(exc: LedgerError) -> str:
    """One line a person reads: Chinese first, then English; a rule's id and clause."""
    if isinstance(exc, RuleViolation):
        zh = exc.message.get("zh", "") if exc.message else ""
        clause = f" ({exc.clause})" if exc.clause else ""
        return f"{zh or '违反规则'} · {exc.reason} [{exc.rule}{clause}]"
    for cls, zh, en in _KINDS:
        if isinstance(exc, cls):
            return f"{zh} · {en}: {exc}"
    return f"出错了 · {exc}"


def field_errors(exc: LedgerError, fields: Iterable[str]) -> dict[str, str]:
    """Which of the form's ``fields`` a refusal is about, and what to say beside each; the
    rest under :data:`FORM` (shown above the form)."""
    known = set(fields)
    out: dict[str, str] = {}
    if isinstance(exc, PayloadInvalid):
        for item in exc.errors:
            parts = [p for p in str(item.get("pointer") or "").split("/") if p]
            if parts and parts[0] == "payload":
                parts = parts[1:]
            name = next((p for p in parts if p in known), FORM)
            detail = str(item.get("detail", ""))
            out.setdefault(name, f"格式不符 · {detail}")
        return out or {FORM: bilingual(exc)}
    pointer = getattr(exc, "pointer", None)
    if isinstance(pointer, str):
        name = pointer.rsplit("/", 1)[-1]
        if name in known:
            return {name: bilingual(exc)}
    if isinstance(exc, RuleViolation) and exc.rule.rsplit(".", 1)[-1] in known:
        return {exc.rule.rsplit(".", 1)[-1]: bilingual(exc)}  # product.gtin: the gtin field
    if isinstance(exc, MalformedInput | RuleViolation):
        # the handlers' messages start "<type>.<member>: …" (or name "payload.<member>")
        head = (exc.reason if isinstance(exc, RuleViolation) else str(exc)).split(":", 1)[0]
        for name in re.findall(r"\.([a-z_]+)", head):
            if name in known:
                return {name: bilingual(exc)}
    return {FORM: bilingual(exc)}


def context(account: Account, **extra: Any) -> dict[str, Any]:
    """A form page's context: the person, no errors, nothing done yet, and ``extra``."""
    return {"account": account, "errors": {}, "done": "", **extra}
