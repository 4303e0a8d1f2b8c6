"""What the role pages share: who is signed in, the one place they write from, and how a
refusal becomes a message beside the field it concerns.

Pages: :mod:`.pages_site` (site supervisor), :mod:`.pages_regulator` (regulator),
:mod:`.pages_investigator` (investigator). Authorization is the API's own table
(:mod:`insutrace.api.authz`): reads by :func:`~insutrace.api.authz.authorize_read`, writes
by the server-signed write path of :mod:`insutrace.api.entries`, which checks
:func:`~insutrace.api.authz.authorize_write`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from insutrace.api.accounts import Account
from insutrace.api.authz import authorize_read, authorize_write
from insutrace.api.csrf import same_origin, token_matches
from insutrace.api.deps import Services
from insutrace.api.entries import check_declared_payload, idempotent_id, server_signer
from insutrace.api.person_writes import write_as_person
from insutrace.api.schemas import Receipt
from insutrace.api.web import cookie_account, render
from insutrace.trace.domain.payloads import PayloadInvalid
from insutrace.trace.errors import Conflict, Forbidden, LedgerError, MalformedInput, RuleViolation
from insutrace.trace.ledger import ServerWrite

__all__ = [
    "FormErrors",
    "Refused",
    "page",
    "read",
    "refused_page",
    "require_csrf_header",
    "signed_in",
    "write",
    "write_all",
]


class Refused(Exception):
    """A page the signed-in account may not see (or nobody is signed in)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def signed_in(services: Services, request: Request, *roles: str) -> Account:
    """The signed-in account, if its role is one of ``roles`` (any role when none is given);
    else :class:`Refused` carrying the sign-in redirect or a 403 page."""
    account = cookie_account(services, request)
    if account is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Refused(RedirectResponse(f"/signin?next={quote(here, safe='')}", status_code=303))
    if roles and account.role not in roles:
        allowed = ", ".join(roles)
        raise Refused(
            refused_page(
                request, account, f"role {account.role} may not use this page (allowed: {allowed})"
            )
        )
    return account


def refused_page(request: Request, account: Account | None, detail: str) -> HTMLResponse:
    context = {"account": account, "detail": detail}
    return render(request, "refused.html", context, 403)


def page(request: Request, name: str, account: Account, context: dict[str, Any], status: int = 200) -> HTMLResponse:  # fmt: skip
    return render(request, name, {"account": account, **context}, status)


async def read(
    services: Services,
    account: Account,
    scope: Mapping[str, str],
    fn: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> Any:
    """``fn(tx, *args)`` in one read transaction, after the API's read check of ``scope``
    (``{"project": id}``, ``{"batch": id}`` …; empty: regulators, investigators and the
    authority only)."""

    def run() -> Any:
        with services.ledger.store.read() as tx:
            if scope:
                authorize_read(tx, account, scope)
            elif not account.reads_everything:
                raise Forbidden(
                    f"{account.org} ({account.role}) may not read this: "
                    "regulators, investigators and the authority only"
                )
            return fn(tx, *args, **kwargs)

    return await run_in_threadpool(run)


# -- writing ----------------------------------------------------------------------------------


def write(
    services: Services, account: Account, type: str, payload: dict[str, Any], key: str | None
) -> Receipt:
    """One server-signed entry, as ``POST /v1/<type>`` writes it (model, authorization,
    Idempotency-Key), naming the person (:func:`~insutrace.api.person_writes.write_as_person`):
    every page writes through here or :func:`write_all`."""
    return write_as_person(services, account, type, payload, key)


def write_all(
    services: Services, account: Account, items: list[tuple[str, dict[str, Any]]], key: str
) -> list[int]:
    """Several server-signed entries in one transaction, all or none (a delivery session's
    scans and inspection): each checked as :func:`write` checks one; ``key`` (the page's
    idempotency key) makes a resend return the first result. Returns their seqs."""
    ledger = services.ledger
    for type, payload in items:
        check_declared_payload(ledger.types, type, payload)
    with ledger.store.read() as tx:
        for type, payload in items:
            authorize_write(tx, account, type, account.org, payload, types=ledger.types)
    signer = server_signer(services, account.org)
    # one statement id per item, from the page's key: a resend finds the entries themselves
    writes = [
        ServerWrite(t, p, signer, id=idempotent_id(account.id, f"{key}#{i}"))
        for i, (t, p) in enumerate(items)
    ]
    try:
        receipts = ledger.append_batch(writes)
    except Conflict as exc:
        if "statement id" in str(exc):
            raise Conflict(
                f"Idempotency-Key {key!r:.60} was used for a different request"
            ) from None
        raise
    for receipt in receipts:
        if not receipt.duplicate:
            services.accounts.record_author(receipt.seq, account)
    return [r.seq for r in receipts]


def require_csrf_header(request: Request) -> None:
    """A page script's post (JSON, not a form): from this site, carrying the session's CSRF
    token in ``X-CSRF-Token`` (:mod:`insutrace.api.csrf`); Forbidden otherwise."""
    if not same_origin(request):
        raise Forbidden("拒绝跨站提交 refused: posted from another site")
    if not token_matches(request, request.headers.get("x-csrf-token")):
        raise Forbidden(
            "表单已过期或来源不明，请刷新页面后重试 the security token does not match: reload the page"
        )


# -- refusals beside their fields -------------------------------------------------------------


@dataclass
class FormErrors:
    """Messages by form field (``""``: the form as a whole), Chinese first."""

    fields: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def add(self, name: str, zh: str, en: str) -> None:
        text = f"{zh} {en}".strip()
        self.fields[name] = f"{self.fields[name]}；{text}" if name in self.fields else text

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


def form_errors(exc: LedgerError, by_member: Mapping[str, str], by_rule: Mapping[str, str]) -> FormErrors:  # fmt: skip
    """The refusal ``exc`` as messages beside fields: a payload member's fault beside the
    field that fills it (``by_member``: payload member → field), a rule's beside the field it
    concerns (``by_rule``: rule id → field); anything else for the form as a whole."""
    errors = FormErrors()
    if isinstance(exc, PayloadInvalid):
        for item in exc.errors:
            parts = item["pointer"].split("/")
            member = parts[2] if len(parts) > 2 else ""
            errors.add(by_member.get(member, ""), "此项填写有误：", item["detail"])
    elif isinstance(exc, RuleViolation):
        zh = exc.message.get("zh", "") if isinstance(exc.message, dict) else ""
        errors.add(by_rule.get(exc.rule, ""), zh, f"({exc.rule}; {exc.clause}) {exc.reason}")
    elif isinstance(exc, MalformedInput):
        pointer = getattr(exc, "pointer", None) or ""
        parts = pointer.split("/")
        member = parts[2] if len(parts) > 2 else ""
        errors.add(by_member.get(member, ""), "此项填写有误：", str(exc))
    elif isinstance(exc, Forbidden):
        errors.add("", "无权执行此操作：", str(exc))
    else:
        errors.add("", "未能记录：", str(exc))
    return errors
