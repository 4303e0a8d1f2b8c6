"""The label page, scans, clone alerts and wall plates.

    GET  /pages/01/{gtin}/10/{lot}/21/{serial}?k=&s=   public: the label's verdict. A
                                                 client asking for ``application/json``
                                                 (Accept) gets JSON, anyone else the phone
                                                 page. The label's GS1 Digital Link itself
                                                 (``/01/…/21/…?k=&s=``) is answered by the
                                                 resolver (:mod:`insutrace.api.resolver`),
                                                 which redirects here with ``k`` and ``s``
    POST /01/{gtin}/10/{lot}/21/{serial}?k=&s=   a supervisor or contractor (token, the
                                                 organisation's server-held key) records
                                                 the scan: ``label.scan``, 201 receipt
    POST /scan                                   the same from the page's form (sign-in cookie)
    GET  /v1/alerts?kind=                        regulators, investigators, the authority:
                                                 clone, overscan and counterfeit alerts
    GET  /v1/buildings/{id}/plate.pdf?facade=    the building's parties, regulators …: the
                                                 façade's wall identification plate (PDF)

The path is read from the raw request path and parsed as a GS1 Digital Link (domain rules
§6), so a lot or serial holding a percent-encoded ``/`` resolves too; a GTIN with a wrong
check digit, a lot or serial outside GS1 CSET 82 or longer than 20, or a malformed
signature is a 400 (a bilingual error page for a browser). The verdict itself is
:func:`insutrace.trace.domain.labels.label_record`.
"""

from __future__ import annotations

from typing import Annotated, Any, cast
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from insutrace.api.authz import authorize_read
from insutrace.api.csrf import token_matches
from insutrace.api.deps import AccountDep, Services, ServicesDep
from insutrace.api.pages_common import bilingual
from insutrace.api.person_writes import write_as_person
from insutrace.api.plates import plate_content
from insutrace.api.problems import PROBLEM_RESPONSES, classify
from insutrace.api.resolver import PAGES, has_serial, headless, page, read_once
from insutrace.api.schemas import LabelVerdict, Receipt, ScanRequest
from insutrace.api.web import cookie_account, error_page, render, today
from insutrace.labels.render import wall_plate_pdf
from insutrace.trace.domain.labels import alerts, decode_signature, label_record
from insutrace.trace.domain.read import Verdict
from insutrace.trace.errors import Forbidden, LedgerError, MalformedInput, NotFound
from insutrace.trace.identifiers import check_key_id, parse_digital_link

__all__ = ["LINK", "PAGE", "Link", "prefers_json", "router"]

LINK = "/01/{gtin}/10/{lot}/21/{serial}"
PAGE = PAGES + LINK
JSON = "application/json"
HTML = "text/html"
_PROJECT_COOKIE = "insutrace_project"
_ASKS_JSON = ("application/json", "application/problem+json")

router = APIRouter(responses=PROBLEM_RESPONSES)

Gtin = Annotated[str, Path(min_length=1, max_length=14, description="GTIN-14 (AI 01).")]
Lot = Annotated[str, Path(min_length=1, max_length=60, description="Lot, AI 10 (CSET 82).")]
Serial = Annotated[str, Path(min_length=1, max_length=60, description="Serial, AI 21.")]
KeyId = Annotated[str | None, Query(max_length=16, description="Key id that signed the label.")]
Sig = Annotated[str | None, Query(max_length=200, description="base64url Ed25519 signature.")]


class Link:
    """The label a request names: GTIN, lot, serial from the raw path; key and signature."""

    def __init__(self, raw_path: str, k: str | None, s: str | None) -> None:
        link = parse_digital_link(f"https://resolver.invalid{raw_path}")
        if link.prefix is not None or link.lot is None or link.serial is None:
            raise MalformedInput(f"label path: expected {LINK}, got {raw_path!r:.120}")
        if (k is None) != (s is None):
            raise MalformedInput("label query: k (key id) and s (signature) come together")
        if k is not None:
            check_key_id("label key id", k)
        self.gtin, self.lot, self.serial = link.gtin, link.lot, link.serial
        self.key = k
        self.signature = decode_signature(s) if s is not None else None
        self.query = "" if k is None else f"?k={k}&s={s}"
        self.path = raw_path

    @classmethod
    def of(cls, request: Request, k: str | None, s: str | None) -> Link:
        """The label of a request to its page (``/pages`` + its Digital Link path)."""
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        return cls(path.removeprefix(PAGES), k, s)

    def scan_payload(self, project: str, verdict: str, by: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "schema": 1,
            "project": project,
            "gtin": self.gtin,
            "lot": self.lot,
            "serial": self.serial,
            "verdict": verdict,
            "by": by,
        }
        if self.key is not None:
            payload["key"] = self.key
            payload["sig"] = self.query.split("&s=", 1)[1]
        return payload


def prefers_json(accept: str) -> bool:
    """True when the Accept header (RFC 9110 §12.5.1) ranks JSON above HTML."""
    ranks: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranks[media.lower()] = max(q, ranks.get(media.lower(), 0.0))
    json_rank = max(ranks.get(m, 0.0) for m in _ASKS_JSON)
    html_rank = max(ranks.get(HTML, 0.0), ranks.get("application/xhtml+xml", 0.0))
    return json_rank > 0 and json_rank > html_rank


def _record(services: Services, link: Link) -> dict[str, Any]:
    """The label's record (:func:`label_record`), a function of the log and the day: read
    once per log head (:class:`~insutrace.api.tilecache.AnswerCache`), so a label scanned
    again while nothing was appended costs one query."""
    with services.ledger.store.read() as tx:
        args = (link.gtin, link.lot, link.serial, link.key, link.signature, today(services))
        key = (*tx.head(), *args)
        found = services.labels.get(key)
        if found is not None:
            return cast(dict[str, Any], found)
        record = label_record(read_once(tx), *args)
    services.labels.put(key, record)
    return record


def banner(record: dict[str, Any]) -> dict[str, str]:
    """The page's headline, worst thing first: a verdict other than genuine, else the worst
    alert on the label (a clone is never shown as the green 正品 genuine), else genuine."""
    if record["verdict"] == Verdict.GENUINE and record["alerts"]:
        return ALERT_TEXT[record["alerts"][0]["kind"]]
    return VERDICT_TEXT[record["verdict"]]


def _page(
    request: Request, services: Services, link: Link, record: dict[str, Any], **extra: Any
) -> HTMLResponse:
    account = cookie_account(services, request)
    here = link.path + link.query
    status = extra.pop("status", 200)
    context = {
        "record": record,
        "v": banner(record),
        "account": account,
        "here": here,
        "link_path": here,
        "project": request.cookies.get(_PROJECT_COOKIE, ""),
        "recorded": None,
        "scan_error": "",
        **extra,
    }
    response = render(request, "label.html", context, status)
    response.headers["Vary"] = "Accept, Cookie"
    return response


_VERDICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": LabelVerdict,
        "description": "The verdict: JSON when asked for, else the phone page (HTML).",
        "content": {HTML: {"schema": {"type": "string"}}},
    },
    400: {
        "description": "Not a label: problem details, or an HTML page for a browser.",
        "content": {HTML: {"schema": {"type": "string"}}},
    },
}


async def _resolve(
    request: Request, services: Services, k: str | None, s: str | None, recorded: int | None
) -> Response:
    wants_json = prefers_json(request.headers.get("accept", ""))
    try:
        link = Link.of(request, k, s)
    except MalformedInput as exc:
        if wants_json:
            raise
        return error_page(request, exc, 400)
    record = await run_in_threadpool(_record, services, link)
    if wants_json:
        body = LabelVerdict.model_validate(record).model_dump(mode="json")
        return JSONResponse(body, headers={"Vary": "Accept", "Cache-Control": "no-cache"})
    return _page(request, services, link, record, recorded=recorded)


@router.get(
    PAGE,
    response_model=None,
    responses=_VERDICT_RESPONSES,
    tags=["labels (public)"],
    summary="Resolve a label (GS1 Digital Link): its verdict",
)
async def resolve(
    request: Request,
    services: ServicesDep,
    gtin: Gtin,
    lot: Lot,
    serial: Serial,
    k: KeyId = None,
    s: Sig = None,
    recorded: Annotated[
        int | None, Query(ge=0, le=2**53, description="A scan just recorded (page notice).")
    ] = None,
) -> Response:
    """Genuine, unknown serial, bad signature, recalled, blacklisted or not qualified — with
    the product, manufacturer, report and lab, and the batch's custody in brief."""
    return headless(request, await _resolve(request, services, k, s, recorded))


@router.api_route(
    PAGES + "/01/{rest:path}", methods=["GET", "HEAD"], include_in_schema=False, response_model=None
)
async def resolve_encoded(
    request: Request, services: ServicesDep, rest: str, k: KeyId = None, s: Sig = None
) -> Response:
    """The same for a lot or serial with a percent-encoded ``/`` (CSET 82 allows it); the
    product and lot pages (:func:`insutrace.api.resolver.page`) for a path without a serial."""
    if not has_serial(request):
        return await page(request, services)
    return headless(request, await _resolve(request, services, k, s, None))


def _scan(services: Services, account: Any, payload: dict[str, Any]) -> Receipt:
    return write_as_person(services, account, "label.scan", payload, None)


@router.post(
    LINK,
    status_code=201,
    response_model=Receipt,
    tags=["labels (public)"],
    summary="Record a scan on site (label.scan, server-held key)",
)
async def record_scan(
    request: Request,
    services: ServicesDep,
    account: AccountDep,
    scan: ScanRequest,
    gtin: Gtin,
    lot: Lot,
    serial: Serial,
    k: KeyId = None,
    s: Sig = None,
) -> JSONResponse:
    """The project's supervisor or contractor records the scan and the verdict it saw (the
    ledger's verdict now, or 422 ``scan.verdict``). Same-serial scans on two projects, or
    more labels seen than issued, raise alerts for regulators (``GET /v1/alerts``)."""
    link = Link.of(request, k, s)
    payload = link.scan_payload(scan.project, scan.verdict, scan.by or account.name)
    receipt = await run_in_threadpool(_scan, services, account, payload)
    return JSONResponse(receipt.model_dump(), status_code=201)


def _same_origin(request: Request) -> bool:
    """A form post from this site (the cookie is SameSite=Lax; this is the second check)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.rstrip("/") == str(request.base_url).rstrip("/")


@router.post("/scan", include_in_schema=False, response_model=None)
async def scan_form(
    request: Request,
    services: ServicesDep,
    link: Annotated[str, Form(max_length=600)],
    verdict: Annotated[str, Form(max_length=20)],
    project: Annotated[str, Form(max_length=80)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The label page's form: record the scan for the signed-in account, back to the page."""
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    try:
        target = Link(parts.path, query.get("k"), query.get("s"))
    except MalformedInput as exc:
        return error_page(request, exc, 400)
    account = cookie_account(services, request)
    try:
        if account is None or not _same_origin(request) or not token_matches(request, csrf_token):
            raise Forbidden("sign in first: no valid sign-in on this browser")
        payload = target.scan_payload(project.strip(), verdict, account.name)
        receipt = await run_in_threadpool(_scan, services, account, payload)
    except LedgerError as exc:
        record = await run_in_threadpool(_record, services, target)
        status = classify(exc)[0]
        return _page(request, services, target, record, scan_error=bilingual(exc), status=status)
    here = target.path + (target.query or "?")
    response = RedirectResponse(f"{here}&recorded={receipt.seq}", status_code=303)
    response.set_cookie(_PROJECT_COOKIE, project.strip(), max_age=30 * 86400, samesite="lax")
    return response


# -- alerts and plates --------------------------------------------------------------------------

ALERT_KINDS = ("clone", "counterfeit", "overscan")
AlertKind = Annotated[str | None, Query(max_length=40, description="clone, overscan, counterfeit")]


@router.get("/v1/alerts", response_model=list[dict[str, Any]], tags=["labels"])
async def list_alerts(
    services: ServicesDep, account: AccountDep, kind: AlertKind = None
) -> list[dict[str, Any]]:
    """Label alerts, most recent first: a serial scanned on two projects (``clone``), more
    labels of a batch seen on sites than issued (``overscan``), scans of counterfeits."""
    if not account.reads_everything:
        raise Forbidden(f"role {account.role} may not read alerts (regulators, investigators)")
    if kind is not None and kind not in ALERT_KINDS:
        raise MalformedInput(
            f"unknown alert kind {kind!r}: expected one of {', '.join(ALERT_KINDS)}"
        )

    def read() -> list[dict[str, Any]]:
        with services.ledger.store.read() as tx:
            return alerts(tx, kind)

    return await run_in_threadpool(read)


_PDF: dict[int | str, dict[str, Any]] = {
    200: {"description": "The plate, A4 landscape.", "content": {"application/pdf": {}}}
}


@router.get(
    "/v1/buildings/{building}/plate.pdf",
    response_class=Response,
    responses=_PDF,
    tags=["state"],
)
async def plate(
    services: ServicesDep,
    account: AccountDep,
    building: Annotated[str, Path(min_length=1, max_length=200)],
    facade: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
) -> Response:
    """The wall identification plate (标识化管理) of one façade, from the ledger: accepted
    installations and surveyed sections; its QR opens ``/buildings/{id}``."""

    def build() -> bytes:
        with services.ledger.store.read() as tx:
            if tx.get("building", building) is None:
                raise NotFound(f"no building {building!r}")
            authorize_read(tx, account, {"building": building})
            content = plate_content(
                tx, building, facade, services.settings.resolver, today(services)
            )
        return wall_plate_pdf(content)

    pdf = await run_in_threadpool(build)
    disposition = 'inline; filename="wall-plate.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


VERDICT_TEXT: dict[str, dict[str, str]] = {
    Verdict.GENUINE: {
        "tone": "ok", "icon": "✓", "zh": "正品：已在账本登记",
        "en": "Genuine: registered in the ledger",
        "advice_zh": "标识与账本记录一致，检验报告有效。",
        "advice_en": "The label matches the ledger; a valid report qualifies the batch.",
    },
    Verdict.UNKNOWN_SERIAL: {
        "tone": "bad", "icon": "✕", "zh": "未登记的序列号",
        "en": "Unknown serial: this label was never issued",
        "advice_zh": "疑似假冒，请勿使用，并报告监理或主管部门。",
        "advice_en": "Suspected counterfeit: do not use it; tell the supervisor or regulator.",
    },
    Verdict.BAD_SIGNATURE: {
        "tone": "bad", "icon": "✕", "zh": "签名无效",
        "en": "Signature does not verify",
        "advice_zh": "标识被篡改或伪造，请勿使用，并报告监理或主管部门。",
        "advice_en": "Tampered or forged label: do not use it; report it.",
    },
    Verdict.RECALLED: {
        "tone": "bad", "icon": "!", "zh": "批次已召回",
        "en": "Batch recalled: do not install",
        "advice_zh": "该批次已被召回，请停止使用并隔离存放。",
        "advice_en": "Stop using the batch and keep it apart for return.",
    },
    Verdict.BLACKLISTED: {
        "tone": "bad", "icon": "!", "zh": "生产企业列入失信名单",
        "en": "Manufacturer on the credit blacklist",
        "advice_zh": "生产企业正受联合惩戒，请核实后再使用。",
        "advice_en": "The manufacturer is under joint punishment: check before use.",
    },
    Verdict.NOT_QUALIFIED: {
        "tone": "warn", "icon": "!", "zh": "无有效检验报告",
        "en": "Not qualified by a valid test report",
        "advice_zh": "该批次没有在有效期内的合格检验报告，不得进场使用。",
        "advice_en": "No valid qualifying report: the batch may not be used on site.",
    },
}  # fmt: skip


ALERT_TEXT: dict[str, dict[str, str]] = {
    "clone": {
        "tone": "warn", "icon": "!", "zh": "疑似克隆标识",
        "en": "Possible clone: this serial was scanned on more than one project",
        "advice_zh": "同一序列号已在多个项目扫码，一枚标识只能在一个项目：请核实并报告监理或主管部门。",
        "advice_en": "One label belongs on one project: check it and tell the supervisor or regulator.",
    },
    "counterfeit": {
        "tone": "warn", "icon": "!", "zh": "该序列号有假冒预警",
        "en": "Counterfeit alert on this serial",
        "advice_zh": "曾有人扫到该序列号的假冒标识：请核对实物与账本记录。",
        "advice_en": "A counterfeit of this serial was scanned before: check the goods against the ledger.",
    },
    "overscan": {
        "tone": "warn", "icon": "!", "zh": "批次扫码数超过发放数",
        "en": "More labels of this batch seen than were issued",
        "advice_zh": "该批次在现场出现的标识多于发放数量，可能存在复制标识：请核实。",
        "advice_en": "Copies of this batch's labels may be in use: check before use.",
    },
}  # fmt: skip
