"""The manufacturer's quality clerk in the browser (role ``manufacturer``).

    GET  /maker                                 products and batches with their standing
    POST /maker/products                        product.register
    POST /maker/batches                         batch.register
    GET  /maker/batches/{batch}                 standing, reports, label ranges, where it went
    POST /maker/batches/{batch}/labels          label.issue, from the next free serial offered
    GET  /maker/batches/{batch}/labels.pdf      print issued serials (?first=&count=): a
                                                label sheet signed with the server-held key
    POST /maker/batches/{batch}/reprint         label.reprint (a printer jam), then print
    POST /maker/batches/{batch}/void            label.void: serials never to be used
    POST /maker/batches/{batch}/recall          batch.recall after a failed re-test
    POST /maker/documents                       upload the factory report's PDF for the lab
                                                to cite (its SHA-256 is shown)

Every form posts through :class:`insutrace.api.pages.FormPost`: the same
authorization table as the API (a batch of another manufacturer is refused, 403) and the
type's payload model (a bad field is named beside it, nothing written). What the pages show
is the read model's (:mod:`insutrace.trace.domain.read`, :mod:`insutrace.trace.domain.clerk`).
"""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, get_args

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from insutrace.api.accounts import Account
from insutrace.api.csrf import CsrfDep
from insutrace.api.deps import Services, ServicesDep
from insutrace.api.entries import server_signer
from insutrace.api.pages import FormPost, signed_in
from insutrace.api.pages_common import FORM, bilingual, context
from insutrace.api.web import render, today
from insutrace.labels.codec import sign_label
from insutrace.labels.model import LabelContent
from insutrace.labels.render import label_sheet_pdf
from insutrace.trace.domain.clerk import (
    batch_reports,
    label_ranges,
    label_reprints,
    label_voids,
    next_serial,
    org_batches,
    org_products,
)
from insutrace.trace.domain.payloads import InsulationType, Polymer, Unit
from insutrace.trace.domain.read import (
    batch_standing,
    custody_hops,
    holders,
    in_transit,
    org_brief,
    require_batch_row,
)
from insutrace.trace.domain.rows import Serial, issued_range
from insutrace.trace.errors import Forbidden, LedgerError, MalformedInput, NotFound
from insutrace.trace.identifiers import build_digital_link

__all__ = ["MAX_PRINT", "router"]

router = APIRouter(prefix="/maker", include_in_schema=False)
ROLE = ("manufacturer",)
MAX_PRINT = 2000  # labels in one printed sheet file
BatchId = Annotated[str, Path(min_length=3, max_length=40)]
PDF_LIMIT = 20 * 1024 * 1024
TYPES_SHOWN = get_args(InsulationType)
POLYMERS = get_args(Polymer)
UNITS = get_args(Unit)


def _read(services: Services, fn: Any, *args: Any) -> Any:
    def run() -> Any:
        with services.ledger.store.read() as tx:
            return fn(tx, *args)

    return run_in_threadpool(run)


def _standing_summary(tx: Any, batch: Any, day: date) -> dict[str, Any]:
    standing = batch_standing(tx, batch["id"], day)
    listed = bool(standing["manufacturer"]) or any(standing["labs"].values())
    return {"batch": batch, "standing": standing, "listed": listed}


def _home(tx: Any, org: str, day: date) -> dict[str, Any]:
    products = org_products(tx, org)
    batches = [_standing_summary(tx, b, day) for b in org_batches(tx, org)]
    return {"products": products, "batches": batches}


async def _home_page(
    request: Request, services: Services, account: Account, status: int = 200, **extra: Any
) -> HTMLResponse:
    data = await _read(services, _home, account.org, today(services))
    ctx = context(
        account,
        **data,
        types=TYPES_SHOWN,
        polymers=POLYMERS,
        units=UNITS,
        form=extra.pop("form", {}),
        idem=_idem(),
        **extra,
    )
    return render(request, "maker.html", ctx, status)


@router.get("", response_model=None)
async def maker_home(request: Request, services: ServicesDep) -> Response:
    account = signed_in(services, request, *ROLE)
    return await _home_page(request, services, account)


def _idem() -> str:
    return secrets.token_urlsafe(16)


@router.post("/products", response_model=None)
async def register_product(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    gtin: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    name_en: Annotated[str, Form(max_length=200)] = "",
    type: Annotated[str, Form(max_length=40)] = "",
    polymer: Annotated[str, Form(max_length=40)] = "",
    thermosetting: Annotated[str, Form(max_length=5)] = "",
    standard: Annotated[str, Form(max_length=100)] = "",
    idem: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    account = signed_in(services, request, *ROLE)
    form = {"gtin": gtin, "name": name, "name_en": name_en, "type": type, "polymer": polymer,
            "standard": standard}  # fmt: skip
    payload: dict[str, Any] = {
        "schema": 1,
        "gtin": gtin.strip(),
        "name": name.strip(),
        "type": type,
        "polymer": polymer,
        "thermosetting": thermosetting == "1",
        "standard": standard.strip(),
    }
    if name_en.strip():
        payload["name_en"] = name_en.strip()
    post = FormPost(services, account, form, idem)
    receipt = await post.write("product.register", payload)
    if receipt is None:
        return await _home_page(request, services, account, post.status, errors=post.errors, form=form)  # fmt: skip
    done = f"已登记产品 {payload['gtin']}（账本条目 #{receipt.seq}） · Product registered (entry #{receipt.seq})"
    return await _home_page(request, services, account, done=done)


@router.post("/batches", response_model=None)
async def register_batch(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    product: Annotated[str, Form(max_length=20)] = "",
    lot: Annotated[str, Form(max_length=40)] = "",
    quantity: Annotated[str, Form(max_length=30)] = "",
    unit: Annotated[str, Form(max_length=10)] = "",
    production_date: Annotated[str, Form(max_length=20)] = "",
    declared_class: Annotated[str, Form(max_length=60)] = "",
    conductivity: Annotated[str, Form(max_length=20)] = "",
    density: Annotated[str, Form(max_length=20)] = "",
    idem: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    account = signed_in(services, request, *ROLE)
    form = {"product": product, "lot": lot, "quantity": quantity, "unit": unit,
            "production_date": production_date, "declared_class": declared_class,
            "conductivity": conductivity, "density": density}  # fmt: skip
    payload = {"schema": 1, **{k: v.strip() for k, v in form.items()}}
    post = FormPost(services, account, form, idem)
    receipt = await post.write("batch.register", payload)
    if receipt is None:
        return await _home_page(request, services, account, post.status, errors=post.errors, form=form)  # fmt: skip
    batch = f"{payload['product']}.{payload['lot']}"
    return RedirectResponse(f"/maker/batches/{batch}?done=registered&seq={receipt.seq}", 303)


# -- one batch ----------------------------------------------------------------------------


def _batch(tx: Any, batch: str, org: str, day: date) -> dict[str, Any]:
    row = require_batch_row(tx, batch)
    if row["manufacturer"] != org:
        raise Forbidden(f"batch {batch} is made by {row['manufacturer']}, not by {org}")
    product = tx.get("product", row["gtin"]) or {}
    return {
        "batch": row,
        "product": product,
        "standing": batch_standing(tx, batch, day),
        "reports": batch_reports(tx, row),
        "ranges": label_ranges(tx, batch),
        "ranges_reprinted": label_reprints(tx, batch),
        "ranges_voided": label_voids(tx, batch),
        "next_serial": next_serial(tx, row["gtin"]),
        "holders": [{**h, "org": org_brief(tx, h["holder"])} for h in holders(tx, batch)],
        "in_transit": in_transit(tx, batch),
        "hops": custody_hops(tx, batch),
    }


_DONE = {
    "registered": "已登记批次 · Batch registered",
    "issued": "已发放序列号 · Serials issued",
    "recalled": "已召回 · Recalled",
    "reprint": "已记录重印，请打印下方区间 · Reprint recorded: print the range below",
    "void": "已作废序列号 · Serials voided",
}


async def _batch_page(
    request: Request,
    services: Services,
    account: Account,
    batch: str,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    try:
        data = await _read(services, _batch, batch, account.org, today(services))
    except NotFound as exc:
        return _error(request, exc, 404)
    except Forbidden as exc:
        return _error(request, exc, 403)
    ctx = context(account, **data, form=extra.pop("form", {}), idem=_idem(), **extra)
    return render(request, "maker_batch.html", ctx, status)


def _error(request: Request, exc: LedgerError, status: int) -> HTMLResponse:
    ctx = {"title_zh": "无法打开此批次", "title_en": "Cannot open this batch",
           "detail": bilingual(exc), "back": "/maker", "back_label": "返回 Back"}  # fmt: skip
    return render(request, "error.html", ctx, status)


@router.get("/batches/{batch}", response_model=None)
async def batch_page(
    request: Request,
    services: ServicesDep,
    batch: BatchId,
    done: Annotated[str, Query(max_length=20)] = "",
    seq: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    account = signed_in(services, request, *ROLE)
    shown = _DONE.get(done, "")
    if shown and seq is not None:
        shown = f"{shown}（账本条目 #{seq}） · entry #{seq}"
    return await _batch_page(request, services, account, batch, done=shown)


@router.post("/batches/{batch}/labels", response_model=None)
async def issue_labels(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    batch: BatchId,
    first: Annotated[str, Form(max_length=30)] = "",
    count: Annotated[str, Form(max_length=10)] = "",
    idem: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    account = signed_in(services, request, *ROLE)
    form = {"first": first, "count": count}
    post = FormPost(services, account, form, idem)
    if fault := _count_fault(count):
        post.fault("count", fault)
    else:
        try:
            key = (await run_in_threadpool(server_signer, services, account.org)).key_id
        except LedgerError as exc:
            post.refused(exc)
    if not post:
        return await _batch_refused(request, services, account, batch, post, form)
    payload = {
        "schema": 1,
        "batch": batch,
        "first": first.strip(),
        "count": int(count),
        "resolver": services.settings.resolver,
        "key": key,
    }
    return await _batch_write(request, services, batch, post, form, "issued", "label.issue", payload)  # fmt: skip


@router.post("/batches/{batch}/recall", response_model=None)
async def recall(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    batch: BatchId,
    sample: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=600)] = "",
    idem: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    account = signed_in(services, request, *ROLE)
    form = {"sample": sample, "note": note}
    post = FormPost(services, account, form, idem)
    payload: dict[str, Any] = {"schema": 1, "batch": batch, "reason": "failed_retest",
                               "sample": sample.strip()}  # fmt: skip
    if note.strip():
        payload["note"] = note.strip()
    if not sample.strip():
        post.fault(
            "sample",
            "请填写不合格样品（项目编号|样品编号） · Enter the failed sample, <project>|<sample>",
        )
    return await _batch_write(request, services, batch, post, form, "recalled", "batch.recall", payload)  # fmt: skip


@router.post("/batches/{batch}/reprint", response_model=None)
async def reprint(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    batch: BatchId,
    first: Annotated[str, Form(max_length=30)] = "",
    count: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=600)] = "",
    idem: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """label.reprint, then the sheet of those serials (a printer jam: print them again)."""
    return await _range_entry(request, services, batch, "label.reprint",
                              first, count, reason, idem)  # fmt: skip


@router.post("/batches/{batch}/void", response_model=None)
async def void(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    batch: BatchId,
    first: Annotated[str, Form(max_length=30)] = "",
    count: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=600)] = "",
    idem: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """label.void: issued serials that must never be used."""
    return await _range_entry(request, services, batch, "label.void",
                              first, count, reason, idem)  # fmt: skip


async def _range_entry(
    request: Request,
    services: Services,
    batch: str,
    type: str,
    first: str,
    count: str,
    reason: str,
    idem: str,
) -> Response:
    account = signed_in(services, request, *ROLE)
    which = "reprint" if type == "label.reprint" else "void"
    form = {f"{which}_first": first, f"{which}_count": count, f"{which}_reason": reason}
    post = FormPost(services, account, form, idem, prefix=f"{which}_")
    if fault := _count_fault(count):
        post.fault("count", fault)
    if not reason.strip():
        post.fault("reason", "请填写原因 · Say why")
    payload = {"schema": 1, "batch": batch, "first": first.strip(),
               "count": int(count) if count.strip().isdigit() else 0, "reason": reason.strip()}  # fmt: skip
    return await _batch_write(request, services, batch, post, form, which, type, payload)


async def _batch_write(
    request: Request,
    services: Services,
    batch: str,
    post: FormPost,
    form: dict[str, str],
    done: str,
    type: str,
    payload: dict[str, Any],
) -> Response:
    """One entry written from the batch page: success redirects back with ``done`` and the
    entry's seq; a refusal re-renders the page with each fault beside its field."""
    receipt = await post.write(type, payload)
    if receipt is None:
        return await _batch_refused(request, services, post.account, batch, post, form)
    return RedirectResponse(f"/maker/batches/{batch}?done={done}&seq={receipt.seq}", 303)


async def _batch_refused(
    request: Request, services: Services, account: Account, batch: str, post: FormPost,
    form: dict[str, str],
) -> HTMLResponse:  # fmt: skip
    return await _batch_page(
        request, services, account, batch, post.status, errors=post.errors, form=form
    )


def _count_fault(count: str) -> str | None:
    if not count.strip().isdigit() or int(count) < 1:
        return "请输入正整数 · Enter a whole number of labels, 1 or more"
    return None


# -- printing -----------------------------------------------------------------------------


def _label_sheet(services: Services, org: str, batch: str, first: str, count: int) -> bytes:
    """A sheet of the batch's issued serials ``first`` … (``count`` of them), each label's
    QR signed with the organisation's server-held key that the range names."""
    start = Serial.parse(first)
    if start is None:
        raise MalformedInput("first: a serial ending in digits, e.g. SN000001 (序列号需以数字结尾)")
    if not 1 <= count <= MAX_PRINT:
        raise MalformedInput(
            f"count: 1 to {MAX_PRINT} labels a sheet (每次最多打印 {MAX_PRINT} 张)"
        )
    day = today(services)
    with services.ledger.store.read() as tx:
        data = _batch(tx, batch, org, day)
        row = tx.get("labels", batch)
        org_row = tx.get("org", org) or {}
    standing = data["standing"]
    report = standing["report"]
    if report is None:
        raise MalformedInput(
            "no factory report qualifies this batch today: labels name the report and its lab "
            "(本批次当前无有效出厂检验报告，标签须注明报告及检测机构)"
        )
    with services.ledger.store.read() as tx:
        lab = tx.get("org", report["lab"]) or {}
    cma = str((lab.get("lab") or {}).get("cma", ""))
    serials = [start.text(n) for n in range(start.number, start.number + count)]
    ranges = [issued_range(row, s) for s in serials]
    if any(r is None for r in ranges):
        missing = next(s for s, r in zip(serials, ranges, strict=True) if r is None)
        raise MalformedInput(
            f"serial {missing} is not issued for this batch, or was voided "
            f"(序列号 {missing} 未为本批次发放或已作废)"
        )
    vault = services.require_vault()
    record, product = data["batch"], data["product"]
    contents = []
    for serial, issued in zip(serials, ranges, strict=True):
        assert issued is not None
        signer = services.accounts.load_key(vault, org, str(issued["key"]))
        if signer is None:
            raise Forbidden(f"the server does not hold key {issued['key']} that signs this range")
        uri = build_digital_link(
            str(issued["resolver"]), record["gtin"], lot=record["lot"], serial=serial
        )
        contents.append(
            LabelContent(
                product_name_zh=str(product.get("name", ""))[:20],
                product_name_en=str(product.get("name_en") or product.get("name", ""))[:48],
                insulation_type=str(product.get("type", "")).upper()[:16],
                combustion_class=str(record["declared"]["label"])[:24],
                thermal_conductivity=Decimal(str(record["conductivity"])),
                manufacturer_name=str(org_row.get("name", org))[:24],
                manufacturer_uscc=org,
                lot=record["lot"],
                serial=serial,
                production_date=date.fromisoformat(str(record["production_date"])),
                factory_report_no=str(report["number"])[:24],
                lab_cma_no=cma,
                payload=sign_label(uri, signer.key_id, signer.private_key),
            )
        )
    return label_sheet_pdf(contents)


@router.get("/batches/{batch}/labels.pdf", response_model=None)
async def print_labels(
    request: Request,
    services: ServicesDep,
    batch: BatchId,
    first: Annotated[str, Query(max_length=30)] = "",
    count: Annotated[int, Query(ge=1, le=MAX_PRINT)] = 1,
) -> Response:
    user = signed_in(services, request, *ROLE)
    try:
        pdf = await run_in_threadpool(_label_sheet, services, user.org, batch, first, count)
    except LedgerError as exc:
        errors = {FORM: bilingual(exc)}
        status = 403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound) else 400
        return await _batch_page(request, services, user, batch, status, errors=errors)
    name = f"labels-{batch}-{first}-{count}.pdf"
    headers = {
        "Content-Disposition": f'inline; filename="{name}"',
        "Cache-Control": "private, no-store",
    }
    return Response(pdf, media_type="application/pdf", headers=headers)


# -- documents ---------------------------------------------------------------------------


async def read_pdf(upload: UploadFile | None, limit: int = PDF_LIMIT) -> bytes:
    """The uploaded file's bytes, if it is a PDF within ``limit``; MalformedInput otherwise."""
    if upload is None or not upload.filename:
        raise MalformedInput("document: choose a PDF file (请选择 PDF 文件)")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise MalformedInput(f"document: larger than {limit // (1024 * 1024)} MB (文件过大)")
    if not data.startswith(b"%PDF-"):
        raise MalformedInput("document: not a PDF file (文件不是 PDF)")
    return data


@router.post("/documents", response_model=None)
async def upload_document(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    document: Annotated[UploadFile | None, File()] = None,
    batch: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    account = signed_in(services, request, *ROLE)
    try:
        data = await read_pdf(document)
    except MalformedInput as exc:
        errors = {"document": bilingual(exc)}
        if batch:
            return await _batch_page(request, services, account, batch, 400, errors=errors)
        return await _home_page(request, services, account, 400, errors=errors)
    digest = await run_in_threadpool(services.blobs.put, data)
    done = (
        f"已上传，检测机构出具报告时引用此 SHA-256 · Uploaded: the lab cites this SHA-256 "
        f"in its report: {digest}"
    )
    if batch:
        return await _batch_page(request, services, account, batch, done=done, uploaded=digest)
    return await _home_page(request, services, account, done=done, uploaded=digest)
