"""The testing lab in the browser (role ``testing_lab``): issue a factory report of a batch
(``report.issue``) or a witnessed sample's re-test result (``site.retest_result``) from a
form, the PDF attached (uploaded here, or the SHA-256 of the one the manufacturer uploaded).

    GET  /lab            the forms and the lab's latest reports
    POST /lab/reports    report.issue
    POST /lab/retests    site.retest_result

The same authorization table and payload models as the API (each form posts through
:class:`insutrace.api.pages.FormPost`): a refused field is named beside it, Chinese first,
and nothing is written (not even the attached PDF).
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from insutrace.api.accounts import Account
from insutrace.api.csrf import CsrfDep
from insutrace.api.deps import Services, ServicesDep
from insutrace.api.pages import FormPost, signed_in
from insutrace.api.pages_common import context
from insutrace.api.pages_manufacturer import read_pdf
from insutrace.api.web import render
from insutrace.trace.blobs import sha256_hex
from insutrace.trace.domain.clerk import lab_reports
from insutrace.trace.errors import LedgerError, MalformedInput

__all__ = ["router"]

router = APIRouter(prefix="/lab", include_in_schema=False)
ROLE = ("testing_lab",)
_SHA256 = re.compile(r"[0-9a-f]{64}")
STANDARDS = {
    "combustion": "GB 8624-2012",
    "thermal_conductivity": "GB/T 10294-2008",
    "density": "GB/T 6343-2009",
}
RESULT_FIELDS = ("combustion_class", "conductivity", "density")


async def _page(
    request: Request, services: Services, account: Account, status: int = 200, **extra: Any
) -> HTMLResponse:
    def read() -> Any:
        with services.ledger.store.read() as tx:
            return lab_reports(tx, account.org)

    reports = await run_in_threadpool(read)
    ctx = context(
        account,
        reports=reports,
        standards=STANDARDS,
        report_form=extra.pop("report_form", {}),
        retest_form=extra.pop("retest_form", {}),
        report_errors=extra.pop("report_errors", {}),
        retest_errors=extra.pop("retest_errors", {}),
        idem=secrets.token_urlsafe(16),
        **extra,
    )
    return render(request, "lab.html", ctx, status)


@router.get("", response_model=None)
async def lab_home(request: Request, services: ServicesDep) -> Response:
    account = signed_in(services, request, *ROLE)
    return await _page(request, services, account)


def _results(combustion_class: str, conductivity: str, density: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    if combustion_class.strip():
        results.append({"property": "combustion", "standard": STANDARDS["combustion"],
                        "class": combustion_class.strip()})  # fmt: skip
    if conductivity.strip():
        results.append({"property": "thermal_conductivity",
                        "standard": STANDARDS["thermal_conductivity"], "value": conductivity.strip()})  # fmt: skip
    if density.strip():
        results.append({"property": "density", "standard": STANDARDS["density"],
                        "value": density.strip()})  # fmt: skip
    return results


def _typed(form: dict[str, str], *names: str) -> dict[str, str]:
    """The payload members typed into the form's fields ``names``, as typed (trimmed)."""
    return {name: form[name].strip() for name in names}


_FIELD_OF = {"combustion": "combustion_class", "thermal_conductivity": "conductivity"}


def _post(services: Services, account: Account, form: dict[str, str], results: list[dict[str, Any]], idem: str) -> FormPost:  # fmt: skip
    """The form's post: a fault inside ``/payload/results/N`` is shown beside the field that
    filled that result."""
    names = [_FIELD_OF.get(str(r["property"]), str(r["property"])) for r in results]
    return FormPost(services, account, [*form, "document"], idem, lists={"results": names})


async def _document(post: FormPost, upload: UploadFile | None, sha256: str) -> tuple[bytes | None, str]:  # fmt: skip
    """(the PDF to store, or None, its SHA-256): an upload wins over a typed hash."""
    try:
        if upload is not None and upload.filename:
            data = await read_pdf(upload)
            return data, sha256_hex(data)
        typed = sha256.strip().lower()
        if not _SHA256.fullmatch(typed):
            raise MalformedInput(
                "document: attach the report PDF, or give the SHA-256 of the one uploaded "
                "(请上传报告 PDF，或填写已上传文件的 SHA-256)",
                pointer="/payload/document",
            )
    except LedgerError as exc:
        post.refused(exc)
        return None, ""
    return None, typed


@router.post("/reports", response_model=None)
async def issue_report(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    batch: Annotated[str, Form(max_length=40)] = "",
    number: Annotated[str, Form(max_length=60)] = "",
    sample: Annotated[str, Form(max_length=60)] = "",
    issued_on: Annotated[str, Form(max_length=20)] = "",
    valid_until: Annotated[str, Form(max_length=20)] = "",
    combustion_class: Annotated[str, Form(max_length=60)] = "",
    conductivity: Annotated[str, Form(max_length=20)] = "",
    density: Annotated[str, Form(max_length=20)] = "",
    sha256: Annotated[str, Form(max_length=80)] = "",
    document: Annotated[UploadFile | None, File()] = None,
    idem: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    account = signed_in(services, request, *ROLE)
    form = {"batch": batch, "number": number, "sample": sample, "issued_on": issued_on,
            "valid_until": valid_until, "combustion_class": combustion_class,
            "conductivity": conductivity, "density": density, "sha256": sha256}  # fmt: skip
    results = _results(combustion_class, conductivity, density)
    post = _post(services, account, form, results, idem)
    data, digest = await _document(post, document, sha256)
    payload = {
        "schema": 1,
        **_typed(form, "number", "batch", "sample", "issued_on", "valid_until"),
        "document": digest,
        "standards": sorted({str(r["standard"]) for r in results}),
        "results": results,
    }
    receipt = await post.write("report.issue", payload, blob=data)
    if receipt is None:
        return await _page(request, services, account, post.status,
                           report_errors=post.errors, report_form=form)  # fmt: skip
    done = f"已出具报告 {payload['number']}（账本条目 #{receipt.seq}） · Report issued (entry #{receipt.seq})"
    return await _page(request, services, account, done=done)


@router.post("/retests", response_model=None)
async def record_retest(
    request: Request,
    services: ServicesDep,
    _: CsrfDep,
    project: Annotated[str, Form(max_length=80)] = "",
    sample: Annotated[str, Form(max_length=60)] = "",
    number: Annotated[str, Form(max_length=60)] = "",
    date: Annotated[str, Form(max_length=20)] = "",
    combustion_class: Annotated[str, Form(max_length=60)] = "",
    conductivity: Annotated[str, Form(max_length=20)] = "",
    density: Annotated[str, Form(max_length=20)] = "",
    sha256: Annotated[str, Form(max_length=80)] = "",
    document: Annotated[UploadFile | None, File()] = None,
    idem: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    account = signed_in(services, request, *ROLE)
    form = {"project": project, "sample": sample, "number": number, "date": date,
            "combustion_class": combustion_class, "conductivity": conductivity,
            "density": density, "sha256": sha256}  # fmt: skip
    results = _results(combustion_class, conductivity, density)
    post = _post(services, account, form, results, idem)
    data, digest = await _document(post, document, sha256)
    payload = {
        "schema": 1,
        **_typed(form, "project", "sample", "number", "date"),
        "document": digest,
        "results": results,
    }
    receipt = await post.write("site.retest_result", payload, blob=data)
    if receipt is None:
        return await _page(request, services, account, post.status,
                           retest_errors=post.errors, retest_form=form)  # fmt: skip
    done = f"已记录复验结果 {payload['number']}（账本条目 #{receipt.seq}） · Re-test recorded (entry #{receipt.seq})"
    return await _page(request, services, account, done=done)
