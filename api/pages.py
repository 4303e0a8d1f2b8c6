"""What the signed-in pages share: who is signed in, the one place they write from, and how a
refusal becomes a message beside the field it concerns.

Every page module asks :func:`signed_in` for the person: a redirect to the sign-in page when
nobody is signed in, a 403 page (Chinese first) for a role the page is not for (raised as
:class:`Refused`, which the app answers with that response). Pages:
:mod:`.pages_site` (site supervisor), :mod:`.pages_regulator` (regulator),
:mod:`.pages_investigator` (investigator), :mod:`.pages_manufacturer` (quality clerk),
:mod:`.pages_lab` (testing lab), :mod:`.pages_admin` (accounts). Authorization is the API's
own table (:mod:`insutrace.api.authz`): reads by :func:`~insutrace.api.authz.authorize_read`,
writes by the server-signed write path of :mod:`insutrace.api.entries`, which checks
:func:`~insutrace.api.authz.authorize_write`. The clerk's and the lab's forms post through
:class:`FormPost` (parse, typed payload, :func:`write`, each refusal beside its field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from insutrace.api.accounts import Account
from insutrace.api.authz import authorize_read, authorize_write
from insutrace.api.csrf import same_origin, token_matches
from insutrace.api.deps import Services
from insutrace.api.entries import check_declared_payload, idempotent_id, server_signer
from insutrace.api.pages_common import FORM, bilingual, field_errors
from insutrace.api.person_writes import write_as_person
from insutrace.api.problems import classify
from insutrace.api.schemas import Receipt
from insutrace.api.web import cookie_account, render
from insutrace.trace.domain.payloads import PayloadInvalid
from insutrace.trace.errors import Conflict, Forbidden, LedgerError, MalformedInput, RuleViolation
from insutrace.trace.ledger import ServerWrite

__all__ = [
    "ROLE_NAMES",
    "FormErrors",
    "FormPost",
    "Refused",
    "denied",
    "install_refusals",
    "page",
    "read",
    "refused_page",
    "require_csrf_header",
    "signed_in",
    "write",
    "write_all",
]


class Refused(Exception):
    """A page the signed-in account may not see (or nobody is signed in): raised out of a
    route, it is answered with :attr:`response` (:func:`install_refusals`)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def install_refusals(app: FastAPI) -> None:
    """A route that lets :class:`Refused` out is answered with the refusal's response."""

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return exc.response


ROLE_NAMES = {
    "authority": "根认证机构",
    "manufacturer": "生产企业",
    "distributor": "经销商",
    "testing_lab": "检测机构",
    "contractor": "施工单位",
    "supervisor": "监理单位",
    "building_owner": "建设单位",
    "regulator": "监管部门",
    "investigator": "调查机构",
    "designer": "设计单位",
    "drawing_reviewer": "施工图审查机构",
}
"""Every account role (:data:`insutrace.trace.entrytype.ROLES`) as a person reads it."""


def signed_in(services: Services, request: Request, *roles: str) -> Account:
    """The signed-in account, if its role is one of ``roles`` (any role when none is given);
    else :class:`Refused` carrying the sign-in redirect (back here after) or a 403 page that
    says, Chinese first, whom the page (or, for a post, the action) is for."""
    account = cookie_account(services, request)
    if account is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Refused(RedirectResponse(f"/signin?next={quote(here, safe='')}", status_code=303))
    if roles and account.role not in roles:
        zh = "、".join(ROLE_NAMES.get(r, r) for r in roles)
        mine = ROLE_NAMES.get(account.role, account.role)
        what_zh, what_en = ("此操作", "This action") if request.method == "POST" else ("此页面", "This page")  # fmt: skip
        raise Refused(
            refused_page(
                request,
                account,
                f"{what_zh}仅供{zh}使用（您的角色：{mine}） · "
                f"{what_en} is for {', '.join(roles)}; you are signed in as {account.role}",
            )
        )
    return account


def refused_page(
    request: Request, account: Account | None, detail: str, status: int = 403
) -> HTMLResponse:
    """The refusal page (``#refused``): ``detail`` should read Chinese first."""
    context = {"account": account, "detail": detail}
    return render(request, "refused.html", context, status)


def denied(request: Request, account: Account | None, exc: LedgerError) -> HTMLResponse:
    """The refusal page of an error a page's read or write met (another organisation's
    object, one that does not exist), with the status the API answers it with."""
    return refused_page(request, account, bilingual(exc), classify(exc)[0])


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


# -- the clerk's and the lab's forms ----------------------------------------------------------


class FormPost:
    """One post of a form: parse it, build the typed payload, write it through :func:`write`
    under the page's idempotency key; a fault the page finds first (:meth:`fault`) or the
    ledger's refusal (:meth:`refused`) becomes messages beside the form's ``fields`` (the rest
    under :data:`~insutrace.api.pages_common.FORM`), and nothing is written.

    ``prefix`` is put before each field's name where one page holds several forms with the
    same fields (``reprint_count``); ``lists`` names payload lists filled by several fields:
    ``{"results": ("combustion_class", ...)}`` puts a fault in ``/payload/results/1`` beside
    the second of them."""

    def __init__(
        self,
        services: Services,
        account: Account,
        fields: Iterable[str],
        idem: str,
        *,
        prefix: str = "",
        lists: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.services, self.account = services, account
        self.fields = [name.removeprefix(prefix) for name in fields]
        self.key = f"web:{idem}" if idem else None
        self.prefix = prefix
        self.lists = dict(lists or {})
        self.errors: dict[str, str] = {}
        self.status = 200

    def __bool__(self) -> bool:
        """The post holds no fault yet."""
        return not self.errors

    def fault(self, name: str, message: str) -> None:
        """A field the page itself finds wrong (400)."""
        self._put(name, message)
        self.status = 400

    def refused(self, exc: LedgerError) -> None:
        """The refusal ``exc``, each message beside the field it concerns."""
        found = field_errors(exc, [*self.fields, *self.lists])
        for member, names in self.lists.items():
            if member not in found:
                continue
            for item in getattr(exc, "errors", None) or []:
                at = re.search(rf"/{member}/(\d+)", str(item.get("pointer", "")))
                if at and int(at.group(1)) < len(names):
                    found.setdefault(names[int(at.group(1))], found[member])
            if any(name in found for name in names):
                found.pop(member)
        for name, message in found.items():
            self._put(name, message)
        self.status = classify(exc)[0]

    def _put(self, name: str, message: str) -> None:
        self.errors[name if name == FORM else f"{self.prefix}{name}"] = message

    async def write(
        self, type: str, payload: dict[str, Any], *, blob: bytes | None = None
    ) -> Receipt | None:
        """The entry's receipt, or None when the post is refused (see :attr:`errors`).
        ``blob`` (a document the entry cites) is stored only once the entry is written."""
        if self.errors:
            return None
        try:
            receipt = await run_in_threadpool(
                write, self.services, self.account, type, payload, self.key
            )
        except LedgerError as exc:
            self.refused(exc)
            return None
        if blob is not None:
            await run_in_threadpool(self.services.blobs.put, blob)
        return receipt
