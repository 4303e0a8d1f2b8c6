"""The server's web pages: server-rendered, bilingual (Chinese first, English beside it), no
JavaScript, readable on a 390 x 844 phone screen.

    GET  /                 what the ledger is, its size and latest checkpoint, links
    GET  /check?payload=   paste a label's QR text: redirected to its label page
    GET  /blacklist?q=     who is listed now; or one organisation's status and history
    GET  /buildings/{id}   a building's wall identification (the wall plate's QR target)
    GET  /signin           a token kept in an HttpOnly cookie, so that a supervisor's or a
    POST /signin           contractor's scan can be recorded from the label page
    POST /signout

The label page itself, ``/01/{gtin}/10/{lot}/21/{serial}``, is in
:mod:`insutrace.api.label_routes`. Templates are plain Jinja2 (``api/templates``), with
autoescaping on.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from insutrace.api.accounts import Account
from insutrace.api.deps import Services, ServicesDep
from insutrace.api.plates import TYPES, facade_name, plate_rows
from insutrace.labels.codec import parse_label_uri, split_label
from insutrace.trace.checkpoint import Checkpoint
from insutrace.trace.domain.credit import credit_status, listed_now
from insutrace.trace.domain.fields import local_date
from insutrace.trace.domain.read import building_standing
from insutrace.trace.errors import LedgerError, MalformedInput, NotFound
from insutrace.trace.store.base import Tx

__all__ = ["COOKIE", "cookie_account", "render", "router", "today"]

COOKIE = "insutrace_token"
COOKIE_MAX_AGE = 8 * 3600  # one working day
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
templates.env.globals.update(
    type_name=lambda kind: TYPES.get(kind, kind),
    list_name=lambda kind: LISTS.get(kind, kind),
    hop_kind=lambda kind: HOPS.get(kind, kind),
    alert_name=lambda kind: ALERTS.get(kind, kind),
    unit=lambda unit: UNITS.get(unit, unit),
    quantity=lambda milli: "-" if milli is None else f"{milli / 1000:g}",
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
    """The account whose token the sign-in cookie holds, if it is still valid."""
    token = request.cookies.get(COOKIE)
    return services.accounts.authenticate(token) if token else None


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


@router.get("/signin")
async def signin_form(
    request: Request, services: ServicesDep, next: Annotated[str, Query(max_length=600)] = "/"
) -> HTMLResponse:
    account = cookie_account(services, request)
    context = {"account": account, "next": _local(next), "error": ""}
    return render(request, "signin.html", context)


@router.post("/signin", response_model=None)
async def signin(
    request: Request,
    services: ServicesDep,
    token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=600)] = "/",
) -> Response:
    account = services.accounts.authenticate(token.strip())
    if account is None:
        context = {"account": None, "next": _local(next), "error": "令牌无效 Unknown token"}
        return render(request, "signin.html", context, 401)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token.strip(),
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
async def signout() -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
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
