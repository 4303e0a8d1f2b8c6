"""What the signed-in pages share: who may open them, and refusals a person reads.

A page for signed-in people asks :func:`page_user` for the person (a redirect to the sign-in
page when nobody is signed in, a 403 page for a role the page is not for). A refused form
write is shown beside its field by :func:`field_errors`: Chinese first, English beside it,
the rule id and clause of a rule violation named, and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from insutrace.api.accounts import Account
from insutrace.api.web import cookie_account, render
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

__all__ = ["FORM", "bilingual", "field_errors", "forbidden_page", "page_user"]

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


def forbidden_page(
    request: Request, account: Account | None, why_zh: str, why_en: str
) -> HTMLResponse:
    who = f"{account.name} · {account.org} ({account.role})" if account else ""
    context = {
        "title_zh": "无权访问此页面",
        "title_en": "Not for your role",
        "detail": f"{why_zh} · {why_en} {who}".strip(),
        "back": "/account" if account else "/signin",
        "back_label": "我的账号 My account" if account else "登录 Sign in",
    }
    return render(request, "error.html", context, 403)


def page_user(
    request: Request, roles: Iterable[str] | None = None
) -> Account | HTMLResponse | RedirectResponse:
    """The signed-in person, if their role is one of ``roles`` (any role when None); else
    the sign-in page (nobody signed in) or a 403 page (another role)."""
    account = cookie_account(request.app.state.services, request)
    if account is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(here, safe='/')}", status_code=303)
    allowed = tuple(roles) if roles is not None else None
    if allowed is not None and account.role not in allowed:
        names = ", ".join(allowed)
        return forbidden_page(
            request, account, f"此页面仅供 {names} 使用", f"This page is for {names}."
        )
    return account


def context(account: Account, **extra: Any) -> dict[str, Any]:
    return {"account": account, "errors": {}, "done": "", **extra}
