"""The server's web pages: server-rendered, bilingual (Chinese first, English beside it), no
JavaScript, readable on a 390 x 844 phone screen.

    GET  /                 what the ledger is, its size and latest checkpoint, links
    GET  /check?payload=   paste a label's QR text: redirected to its label page
    GET  /blacklist?q=     who is listed now; or one organisation's status and history
    GET  /buildings/{id}   a building's wall identification (the wall plate's QR target)
    GET  /signin           a person signs in: username, password, and the TOTP code when
    POST /signin           they enabled one; a server-side session (:mod:`insutrace.api.sessions`)
                           whose random id is the HttpOnly cookie; rate-limited; a post from
                           another site is refused (login CSRF)
    POST /signout          (CSRF token) ends the session

The label page itself, ``/01/{gtin}/10/{lot}/21/{serial}``, is in
:mod:`insutrace.api.label_routes`. Templates are plain Jinja2 (``api/templates``), with
autoescaping on.

A page asked for by someone not signed in (no session cookie, no API token) is sent gzip
compressed when the browser accepts it (:class:`CompressPublicPages`): the label page a
phone opens from a QR code then takes a few KB. A signed-in person's pages are sent as they
are, since they carry the session's CSRF token beside text the request chose (BREACH).
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from insutrace.api.accounts import Account
from insutrace.api.csrf import CsrfDep, csrf_token, same_origin
from insutrace.api.deps import Services, ServicesDep
from insutrace.api.plates import TYPES, facade_name, plate_rows
from insutrace.api.sessions import COOKIE as SESSION_COOKIE
from insutrace.api.sessions import WINDOW, client_ip, current_session, set_session_cookie
from insutrace.labels.codec import parse_label_uri, split_label
from insutrace.trace.checkpoint import Checkpoint
from insutrace.trace.domain.credit import credit_status, listed_now
from insutrace.trace.domain.fields import local_date
from insutrace.trace.domain.read import building_standing
from insutrace.trace.errors import LedgerError, MalformedInput, NotFound
from insutrace.trace.store.base import Tx

__all__ = ["COOKIE", "CompressPublicPages", "cookie_account", "render", "router", "today"]

COOKIE = "insutrace_token"  # earlier releases' token cookie: cleared at sign-in
LISTS = {
    "ndrc_ordinary": "一般失信 NDRC ordinary",
    "ndrc_serious": "严重失信 NDRC serious",
    "samr_serious_illegal": "严重违法失信 SAMR",
    "mohurd_bad_record": "不良行为记录 MOHURD",
}
HOPS = {"shipment": "发货 shipped", "return": "退货 returned"}
ALERTS = {"clone": "克隆 clone", "counterfeit": "假冒 counterfeit", "overscan": "超发 overscan"}
UNITS = {"m2": "m²", "m3": "m³", "board": "块 boards", "panel": "张 panels"}

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
# the templates ship with the package and change only with it: compiled once per process,
# never a stat of each template file on every render
templates.env.auto_reload = False
templates.env.globals.update(
    type_name=lambda kind: TYPES.get(kind, kind),
    list_name=lambda kind: LISTS.get(kind, kind),
    hop_kind=lambda kind: HOPS.get(kind, kind),
    alert_name=lambda kind: ALERTS.get(kind, kind),
    unit=lambda unit: UNITS.get(unit, unit),
    quantity=lambda milli: "-" if milli is None else f"{milli / 1000:g}",
    csrf_token=csrf_token,
    signed_in=lambda request: cookie_account(request.app.state.services, request),
)
router = APIRouter(include_in_schema=False)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page, never cached by shared caches (it may name the signed-in account)."""
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def today(services: Services) -> date:
    return local_date(services.ledger.clock.now())


def cookie_account(services: Services, request: Request) -> Account | None:
    """The person signed in on this browser (their server-side session is live), if any.
    ``Account.person`` names them; ``Account.org`` and ``role`` are their organisation's."""
    session = current_session(request)
    return None if session is None else session.account


def _read(services: Services, fn: Any, *args: Any) -> Any:
    def run() -> Any:
        with services.ledger.store.read() as tx:
            return fn(tx, *args)

    return run_in_threadpool(run)


# -- home --------------------------------------------------------------------------------------


def _log_state(tx: Tx) -> dict[str, Any]:
    size, _ = tx.head()
    latest = tx.latest_checkpoint()
    checkpoint = None
    if latest is not None:
        body = latest[1].split("\n\n", 1)[0] + "\n"
        parsed = Checkpoint.parse(body)
        checkpoint = {"origin": parsed.origin, "size": parsed.size, "root": parsed.root.hex()}
    return {"size": size, "checkpoint": checkpoint}


@router.get("/")
async def home(request: Request, services: ServicesDep) -> HTMLResponse:
    state: dict[str, Any] = await _read(services, _log_state)
    return render(request, "home.html", state)


# -- label check -------------------------------------------------------------------------------


def label_path(payload: str) -> str:
    """The local path of a label payload's page: ``/01/…/21/…?k=…&s=…``."""
    uri, key_id, _ = split_label(payload)
    link = parse_label_uri(uri)
    path = "/".join(
        ["", "01", link.gtin, "10", quote(link.lot, safe=""), "21", quote(link.serial, safe="")]
    )
    return f"{path}?k={quote(key_id)}&s={payload.rsplit('&s=', 1)[1]}"


@router.get("/check", response_model=None)
async def check(request: Request, payload: Annotated[str, Query(max_length=400)] = "") -> Response:
    """The paste form; a payload that parses goes to its label page."""
    payload = payload.strip()
    if not payload:
        return render(request, "check.html", {"payload": "", "error": ""})
    try:
        return RedirectResponse(label_path(payload), status_code=303)
    except MalformedInput as exc:
        return render(request, "check.html", {"payload": payload, "error": str(exc)}, 400)


# -- blacklist ---------------------------------------------------------------------------------


@router.get("/blacklist")
async def blacklist(
    request: Request, services: ServicesDep, q: Annotated[str, Query(max_length=100)] = ""
) -> HTMLResponse:
    """Listed now; or by credit code or name, current status and history (credit module)."""
    q, day = q.strip(), today(services)
    if not q:
        listed = await _read(services, listed_now, day)
        return render(request, "blacklist.html", {"q": "", "results": listed, "error": ""})
    results = await _read(services, credit_status, q, day)
    return render(request, "blacklist.html", {"q": q, "results": results, "error": ""})


# -- buildings ---------------------------------------------------------------------------------


@router.get("/buildings/{building}")
async def building(request: Request, services: ServicesDep, building: str) -> HTMLResponse:
    """What the building's wall plates say, worst first: the walls holding a recalled or
    non-conforming batch and the open rectification orders, then façade by façade."""
    day = today(services)
    try:
        row, facades = await _read(services, plate_rows, building, day)
        standing = await _read(services, building_standing, building, day)
    except NotFound as exc:
        return error_page(request, exc, 404)
    shown = [(facade_name(name), rows) for name, rows in facades.items()]
    context = {"building": row, "facades": shown, "standing": standing, "facade_name": facade_name}
    return render(request, "building.html", context)


# -- sign-in -----------------------------------------------------------------------------------


def _local(next_path: str) -> str:
    """Only a path on this site: never an open redirect."""
    ok = next_path.startswith("/") and not next_path.startswith("//") and "\\" not in next_path
    return next_path if ok else "/"


def _signin_page(
    request: Request, next_path: str, *, errors: dict[str, str] | None = None, **extra: Any
) -> HTMLResponse:
    status = extra.pop("status", 200)
    context = {
        "account": cookie_account(request.app.state.services, request),
        "next": _local(next_path),
        "errors": errors or {},
        "username": "",
        "ask_code": False,
        **extra,
    }
    return render(request, "signin.html", context, status)


@router.get("/signin")
async def signin_form(
    request: Request, next: Annotated[str, Query(max_length=600)] = "/"
) -> HTMLResponse:
    return _signin_page(request, next)


def _check_signin(
    services: Services, username: str, password: str, code: str, ip: str
) -> tuple[Account | None, dict[str, str], int]:
    """(the person, errors by field, status) of a sign-in attempt."""
    sessions = services.sessions
    limited = sessions.limited(username, ip)
    if limited is not None:
        which = "该账号" if limited == "account" else "此网络地址"
        en = "this account" if limited == "account" else "this address"
        minutes = int(WINDOW.total_seconds() // 60)
        message = (
            f"{which}登录失败次数过多，请 {minutes} 分钟后再试 · "
            f"Too many failed sign-ins for {en}: try again in {minutes} minutes"
        )
        return None, {"form": message}, 429
    account = services.accounts.check_password(username, password)
    if account is None:
        sessions.record_failure(username, ip)
        return None, {"password": "用户名或密码错误 · Wrong username or password"}, 401
    if account.person is not None and account.person.totp:
        if not code.strip():
            return (
                None,
                {"code": "请输入动态验证码 · Enter the code from your authenticator app"},
                401,
            )
        if not services.accounts.check_totp(account.id, code):
            sessions.record_failure(username, ip)
            return None, {"code": "动态验证码错误 · Wrong authenticator code"}, 401
    sessions.clear_failures(username)
    return account, {}, 200


@router.post("/signin", response_model=None)
async def signin(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
    next: Annotated[str, Form(max_length=600)] = "/",
) -> Response:
    """A person's sign-in: a new server-side session, its id in an HttpOnly cookie."""
    if not same_origin(request):
        message = "拒绝跨站登录请求 · Refused: the sign-in was posted from another site"
        return _signin_page(request, next, errors={"form": message}, status=403)
    username = username.strip().lower()
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "请输入用户名 · Enter your username"
    if not password:
        errors["password"] = "请输入密码 · Enter your password"
    if errors:
        return _signin_page(request, next, errors=errors, username=username, status=400)
    ip = client_ip(request)
    account, errors, status = await run_in_threadpool(
        _check_signin, services, username, password, code, ip
    )
    if account is None:
        ask = "code" in errors
        return _signin_page(
            request, next, errors=errors, username=username, ask_code=ask, status=status
        )
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await run_in_threadpool(services.sessions.close, old)  # no session fixation
    session_id, _ = await run_in_threadpool(services.sessions.open, account, ip)
    response = RedirectResponse(_local(next), status_code=303)
    set_session_cookie(response, request, session_id)
    response.delete_cookie(COOKIE)  # the token cookie of earlier releases
    return response


@router.post("/signout")
async def signout(request: Request, services: ServicesDep, _: CsrfDep) -> RedirectResponse:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await run_in_threadpool(services.sessions.close, session_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- errors ------------------------------------------------------------------------------------

_ERRORS = {
    400: ("无法识别的标识", "Not a valid label"),
    404: ("未找到", "Not found"),
}


def error_page(request: Request, exc: LedgerError, status: int) -> HTMLResponse:
    zh, en = _ERRORS.get(status, ("出错了", "Something went wrong"))
    context = {"title_zh": zh, "title_en": en, "detail": str(exc)}
    return render(request, "error.html", context, status)


# -- compression ---------------------------------------------------------------------------------


class CompressPublicPages:
    """ASGI middleware: an HTML page of at least :attr:`MIN_SIZE` bytes, asked for without a
    session cookie or an ``Authorization`` header by a client that accepts gzip, is sent
    with ``Content-Encoding: gzip`` (and ``Vary: Accept-Encoding``). Nothing else is
    touched: API answers, tiles, documents, and every page of a signed-in person (its CSRF
    token beside text the request chose could be guessed from compressed sizes: BREACH)."""

    MIN_SIZE = 1024

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _public_gzip(Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        parts: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                if headers.get("content-type", "").startswith("text/html") and not headers.get(
                    "content-encoding"
                ):
                    start = message
                    return
                await send(message)
            elif start is None:
                await send(message)
            else:
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await _send_compressed(send, start, b"".join(parts))

        await self.app(scope, receive, hold)


def _public_gzip(headers: Headers) -> bool:
    if "authorization" in headers or SESSION_COOKIE in headers.get("cookie", ""):
        return False
    return any(
        part.split(";", 1)[0].strip().lower() == "gzip" and not part.replace(" ", "").endswith("q=0")
        for part in headers.get("accept-encoding", "").split(",")
    )  # fmt: skip


async def _send_compressed(send: Send, start: Message, body: bytes) -> None:
    headers = MutableHeaders(raw=list(start["headers"]))
    if len(body) >= CompressPublicPages.MIN_SIZE:
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers["content-encoding"] = "gzip"
        headers["content-length"] = str(len(body))
    headers.add_vary_header("Accept-Encoding")
    await send({**start, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})
