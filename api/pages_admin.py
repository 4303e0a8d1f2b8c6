"""People manage their own sign-in; an organisation's administrator manages its people;
the root authority's administrator manages every account and its tokens.

    GET  /account                        who I am; change my password; my TOTP second factor
    POST /account/password               current and new password
    POST /account/totp                   enable (a fresh secret and its first code) or disable
    GET  /admin/people                   the organisation's administrator: its people
    POST /admin/people                   add a person (a password is generated when left empty)
    POST /admin/people/{id}/reset        a new password, shown once; their sessions end
    POST /admin/people/{id}/active       deactivate (their sessions end) or reactivate
    GET  /admin/accounts                 the authority's administrator: every account, tokens
    POST /admin/accounts/{id}/active     deactivate or reactivate any account
    POST /admin/accounts/{id}/revoke     revoke every token of the account

Every form carries the session's CSRF token (:mod:`insutrace.api.csrf`). An administrator's
post about a person of another organisation is refused (403) and changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

import pyotp
from fastapi import APIRouter, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from insutrace.api.accounts import (
    MIN_PASSWORD,
    USERNAME,
    Account,
    new_password,
)
from insutrace.api.csrf import CsrfDep
from insutrace.api.deps import Services, ServicesDep
from insutrace.api.pages import Refused, refused_page, signed_in
from insutrace.api.pages_common import FORM, bilingual, context
from insutrace.api.person_writes import person_device_keys, revoke_device_keys
from insutrace.api.web import render
from insutrace.trace.errors import LedgerError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
AccountId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ISSUER = "InsuTrace"


# -- my account ---------------------------------------------------------------------------


def _account_page(
    request: Request, services: Services, account: Account, status: int = 200, **extra: Any
) -> HTMLResponse:
    secret = extra.pop("secret", None) or pyotp.random_base32()
    username = account.person.username if account.person else ""
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    keys = person_device_keys(services, account)
    ctx = context(account, secret=secret, otpauth=uri, device_keys=keys, **extra)
    return render(request, "account.html", ctx, status)


@router.get("/account", response_model=None)
async def my_account(request: Request, services: ServicesDep) -> Response:
    account = signed_in(services, request)
    return await run_in_threadpool(_account_page, request, services, account)


@router.post("/account/password", response_model=None)
async def change_password(
    request: Request,
    services: ServicesDep,
    session: CsrfDep,
    current: Annotated[str, Form(max_length=200)] = "",
    new: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    account = session.account
    errors: dict[str, str] = {}
    username = account.person.username if account.person else ""
    if not await run_in_threadpool(services.accounts.check_password, username, current):
        errors["current"] = "当前密码不正确 · The current password is wrong"
    if not MIN_PASSWORD <= len(new) <= 200:
        errors["new"] = f"新密码需 {MIN_PASSWORD}-200 个字符 · {MIN_PASSWORD} to 200 characters"
    if errors:
        return await run_in_threadpool(
            _account_page, request, services, account, 400, errors=errors
        )
    await run_in_threadpool(services.accounts.set_password, account.id, new)
    # the change ended every session, this one too: sign in again with the new password
    return RedirectResponse("/signin?next=/account", status_code=303)


@router.post("/account/totp", response_model=None)
async def set_totp(
    request: Request,
    services: ServicesDep,
    session: CsrfDep,
    action: Annotated[str, Form(max_length=10)] = "",
    secret: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    account = session.account
    if action == "disable":
        await run_in_threadpool(services.accounts.set_totp, account.id, None)
        fresh = services.accounts.account(account.id)
        return await run_in_threadpool(
            _account_page,
            request,
            services,
            fresh,
            done="已停用动态验证码 · Authenticator code turned off",
        )
    valid = len(secret) >= 16 and secret.isalnum() and secret.upper() == secret
    code = code.strip().replace(" ", "")
    if not valid or not code.isdigit() or not pyotp.TOTP(secret).verify(code, valid_window=1):
        errors = {"code": "验证码与密钥不符，请重新输入 · The code does not match the secret"}
        return await run_in_threadpool(
            _account_page, request, services, account, 400, errors=errors,
            secret=secret if valid else None,
        )  # fmt: skip
    await run_in_threadpool(services.accounts.set_totp, account.id, secret)
    fresh = services.accounts.account(account.id)
    return await run_in_threadpool(
        _account_page,
        request,
        services,
        fresh,
        done="已启用动态验证码 · Authenticator code turned on",
    )


# -- the organisation's people ----------------------------------------------------------------


def _refused(request: Request, account: Account, zh: str, en: str) -> Response:
    return refused_page(request, account, f"{zh} · {en}")


def _administrator(
    request: Request, services: Services, roles: tuple[str, ...], zh: str, en: str
) -> Account:
    """The signed-in administrator (of an organisation of ``roles``; any when empty), for a
    page or a post; else :class:`~insutrace.api.pages.Refused` (the sign-in page, or the
    refusal ``zh`` · ``en``)."""
    account = signed_in(services, request, *roles)
    if not account.manages_people:
        raise Refused(_refused(request, account, zh, en))
    return account


def _admin(request: Request, services: Services) -> Account:
    """The administrator of an organisation's people."""
    return _administrator(request, services, (), "仅本单位管理员可管理人员",
                          "Only the organisation's administrator manages its people.")  # fmt: skip


def _people_page(
    request: Request, services: Services, admin: Account, status: int = 200, **extra: Any
) -> HTMLResponse:
    people = services.accounts.people(admin.org)
    ctx = context(admin, people=people, form=extra.pop("form", {}), **extra)
    return render(request, "people.html", ctx, status)


@router.get("/admin/people", response_model=None)
async def people(request: Request, services: ServicesDep) -> Response:
    admin = _admin(request, services)
    return _people_page(request, services, admin)


@router.post("/admin/people", response_model=None)
async def add_person(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    name: Annotated[str, Form(max_length=200)] = "",
    title: Annotated[str, Form(max_length=100)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=300)] = "",
    admin_flag: Annotated[str, Form(alias="admin", max_length=5)] = "",
) -> Response:
    admin = _admin(request, services)
    form = {"name": name, "title": title, "username": username}
    username = username.strip().lower()
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "请输入姓名 · Enter the person's name"
    if not USERNAME.fullmatch(username):
        errors["username"] = (
            "用户名需 3-32 位小写字母、数字或 . _ -，以字母开头 · "
            "3 to 32 of a-z 0-9 . _ -, starting with a letter"
        )
    if password and not MIN_PASSWORD <= len(password) <= 200:
        errors["password"] = f"密码需 {MIN_PASSWORD}-200 个字符 · {MIN_PASSWORD} to 200 characters"
    if errors:
        return _people_page(request, services, admin, 400, errors=errors, form=form)
    chosen = password or new_password()
    try:
        made = await run_in_threadpool(
            lambda: services.accounts.create_person(
                admin.org, admin.role, name, username, chosen,
                title=title, admin=admin_flag == "1",
            )
        )  # fmt: skip
    except LedgerError as exc:
        errors = {"username": bilingual(exc)}
        return _people_page(request, services, admin, 409, errors=errors, form=form)
    shown = "" if password else chosen
    done = f"已添加 {made.name}（{username}） · Added {made.name} ({username})"
    return _people_page(request, services, admin, done=done, new_password=shown, for_user=username)


def _own_person(services: Services, admin: Account, person_id: int) -> Account | None:
    """The person, if they belong to the administrator's organisation."""
    found = services.accounts.find(person_id)
    if found is None or found.org != admin.org or found.person is None:
        return None
    return found


@router.post("/admin/people/{person_id}/reset", response_model=None)
async def reset_password(
    request: Request, services: ServicesDep, _: CsrfDep, person_id: AccountId
) -> Response:
    admin = _admin(request, services)
    target = await run_in_threadpool(_own_person, services, admin, person_id)
    if target is None:
        return _refused(
            request, admin, "不能管理其他单位的人员", "That person is not of your organisation."
        )
    chosen = new_password()
    await run_in_threadpool(services.accounts.set_password, target.id, chosen)
    username = target.person.username if target.person else ""
    done = f"已重置 {target.name} 的密码 · Password of {target.name} reset"
    return _people_page(request, services, admin, done=done, new_password=chosen, for_user=username)


@router.post("/admin/people/{person_id}/active", response_model=None)
async def set_person_active(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    person_id: AccountId,
    active: Annotated[str, Form(max_length=1)] = "0",
) -> Response:
    admin = _admin(request, services)
    target = await run_in_threadpool(_own_person, services, admin, person_id)
    if target is None:
        return _refused(
            request, admin, "不能管理其他单位的人员", "That person is not of your organisation."
        )
    if target.id == admin.id:
        errors = {FORM: "不能停用自己的账号 · You cannot deactivate your own account"}
        return _people_page(request, services, admin, 400, errors=errors)
    await run_in_threadpool(services.accounts.set_active, target.id, active == "1")
    zh, en = ("已恢复", "Reactivated") if active == "1" else ("已停用", "Deactivated")
    done = f"{zh} {target.name} · {en} {target.name}"
    if active != "1":  # their phones sign no more: each device key of theirs is revoked
        try:
            revoked = await run_in_threadpool(revoke_device_keys, services, admin, target)
        except LedgerError as exc:
            return _people_page(request, services, admin, 503, errors={FORM: bilingual(exc)})
        if revoked:
            done += f"（设备密钥已吊销 {len(revoked)} 个 · {len(revoked)} device key(s) revoked）"
    return _people_page(request, services, admin, done=done)


# -- every account (the root authority) ---------------------------------------------------------


def _authority(request: Request, services: Services) -> Account:
    """The administrator of the root authority: every account."""
    return _administrator(request, services, ("authority",), "仅根认证机构管理员可用",
                          "For the root authority's administrator.")  # fmt: skip


def _accounts_page(
    request: Request, services: Services, admin: Account, status: int = 200, **extra: Any
) -> HTMLResponse:
    rows = [
        (a, [t for t in services.accounts.tokens(a.id) if t.live])
        for a in services.accounts.accounts()
    ]
    return render(request, "accounts.html", context(admin, rows=rows, **extra), status)


@router.get("/admin/accounts", response_model=None)
async def all_accounts(request: Request, services: ServicesDep) -> Response:
    admin = _authority(request, services)
    return await run_in_threadpool(_accounts_page, request, services, admin)


@router.post("/admin/accounts/{account_id}/active", response_model=None)
async def set_account_active(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    account_id: AccountId,
    active: Annotated[str, Form(max_length=1)] = "0",
) -> Response:
    admin = _authority(request, services)
    if account_id == admin.id:
        errors = {FORM: "不能停用自己的账号 · You cannot deactivate your own account"}
        return await run_in_threadpool(_accounts_page, request, services, admin, 400, errors=errors)
    try:
        target = await run_in_threadpool(services.accounts.set_active, account_id, active == "1")
    except LedgerError as exc:
        errors = {FORM: bilingual(exc)}
        return await run_in_threadpool(_accounts_page, request, services, admin, 404, errors=errors)
    zh, en = (
        ("已恢复", "Reactivated")
        if target.active
        else ("已停用（令牌已吊销）", "Deactivated (tokens revoked)")
    )
    done = f"{zh} {target.name} · {en}"
    if not target.active:  # their phones sign no more: each device key of theirs is revoked
        try:
            revoked = await run_in_threadpool(revoke_device_keys, services, admin, target)
        except LedgerError as exc:
            errors = {FORM: bilingual(exc)}
            return await run_in_threadpool(
                _accounts_page, request, services, admin, 503, errors=errors
            )
        if revoked:
            done += f"（设备密钥已吊销 {len(revoked)} 个 · {len(revoked)} device key(s) revoked）"
    return await run_in_threadpool(_accounts_page, request, services, admin, done=done)


@router.post("/admin/accounts/{account_id}/revoke", response_model=None)
async def revoke_tokens(
    request: Request, services: ServicesDep, _: CsrfDep, account_id: AccountId
) -> Response:
    admin = _authority(request, services)
    try:
        target = await run_in_threadpool(services.accounts.account, account_id)
    except LedgerError as exc:
        errors = {FORM: bilingual(exc)}
        return await run_in_threadpool(_accounts_page, request, services, admin, 404, errors=errors)
    count = await run_in_threadpool(services.accounts.revoke_all_tokens, account_id)
    done = f"已吊销 {target.name} 的 {count} 个令牌 · Revoked {count} token(s) of {target.name}"
    return await run_in_threadpool(_accounts_page, request, services, admin, done=done)
