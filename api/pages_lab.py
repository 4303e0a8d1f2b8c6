"""The testing lab in the browser (role ``testing_lab``): issue a factory report of a batch
(``report.issue``) or a witnessed sample's re-test result (``site.retest_result``) from a
form, the PDF attached (uploaded here, or the SHA-256 of the one the manufacturer uploaded).

    GET  /lab            the forms and the lab's latest reports
    POST /lab/reports    report.issue
    POST /lab/retests    site.retest_result

The same authorization table and payload models as the API (via
:func:`insutrace.api.person_writes.write_as_person`): a refused field is named beside it,
Chinese first, and nothing is written (not even the attached PDF).
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
from insutrace.api.pages_common import context, field_errors, forbidden_page, page_user
from insutrace.api.pages_manufacturer import read_pdf
from insutrace.api.person_writes import write_as_person
from insutrace.api.problems import classify
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
    user = page_user(request, ROLE)
    if not isinstance(user, Account):
        return user
    return await _page(request, services, user)


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


_RESULT_OF = {"0": "combustion_class", "1": "conductivity", "2": "density"}


def _errors(
    exc: LedgerError, form: dict[str, str], results: list[dict[str, Any]]
) -> dict[str, str]:
    """Field errors; a fault inside ``/payload/results/N`` is shown beside that result's field."""
    names = [
        {"combustion": "combustion_class", "thermal_conductivity": "conductivity"}.get(
            str(r["property"]), str(r["property"])
        )
        for r in results
    ]
    errors = field_errors(exc, [*form, "results"])
    if "results" in errors:
        pointers = [str(i.get("pointer", "")) for i in getattr(exc, "errors", [])]
        for pointer in pointers:
            found = re.search(r"/results/(\d+)", pointer)
            if found and int(found.group(1)) < len(names):
                errors[names[int(found.group(1))]] = errors["results"]
        if any(n in errors for n in names):
            errors.pop("results")
    return errors


async def _document(upload: UploadFile | None, sha256: str) -> tuple[bytes | None, str]:
    """(the PDF to store, or None, its SHA-256): an upload wins over a typed hash."""
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
    return None, typed


async def _submit(
    request: Request,
    services: Services,
    account: Account,
    type: str,
    payload: dict[str, Any],
    data: bytes | None,
    idem: str,
) -> Any:
    receipt = await run_in_threadpool(
        write_as_person, services, account, type, payload, f"web:{idem}" if idem else None
    )
    if data is not None:  # stored once the entry citing it is written: a refusal stores nothing
        await run_in_threadpool(services.blobs.put, data)
    return receipt


def _role_check(request: Request, session: Any) -> Account | Response:
    account: Account = session.account
    if account.role not in ROLE:
        return forbidden_page(
            request, account, "此操作仅供检测机构", "Only a testing lab does this."
        )
    return account


@router.post("/reports", response_model=None)
async def issue_report(
    request: Request,
    services: ServicesDep,
    session: CsrfDep,
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
    account = _role_check(request, session)
    if not isinstance(account, Account):
        return account
    form = {"batch": batch, "number": number, "sample": sample, "issued_on": issued_on,
            "valid_until": valid_until, "combustion_class": combustion_class,
            "conductivity": conductivity, "density": density, "sha256": sha256}  # fmt: skip
    results = _results(combustion_class, conductivity, density)
    try:
        data, digest = await _document(document, sha256)
        payload = {
            "schema": 1,
            "number": number.strip(),
            "batch": batch.strip(),
            "sample": sample.strip(),
            "issued_on": issued_on.strip(),
            "valid_until": valid_until.strip(),
            "document": digest,
            "standards": sorted({str(r["standard"]) for r in results}),
            "results": results,
        }
        receipt = await _submit(request, services, account, "report.issue", payload, data, idem)
    except LedgerError as exc:
        errors = _errors(exc, {**form, "document": ""}, results)
        return await _page(request, services, account, classify(exc)[0],
                           report_errors=errors, report_form=form)  # fmt: skip
    done = f"已出具报告 {payload['number']}（账本条目 #{receipt.seq}） · Report issued (entry #{receipt.seq})"
    return await _page(request, services, account, done=done)


@router.post("/retests", response_model=None)
async def record_retest(
    request: Request,
    services: ServicesDep,
    session: CsrfDep,
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
    account = _role_check(request, session)
    if not isinstance(account, Account):
        return account
    form = {"project": project, "sample": sample, "number": number, "date": date,
            "combustion_class": combustion_class, "conductivity": conductivity,
            "density": density, "sha256": sha256}  # fmt: skip
    results = _results(combustion_class, conductivity, density)
    try:
        data, digest = await _document(document, sha256)
        payload = {
            "schema": 1,
            "project": project.strip(),
            "sample": sample.strip(),
            "number": number.strip(),
            "date": date.strip(),
            "document": digest,
            "results": results,
        }
        receipt = await _submit(
            request, services, account, "site.retest_result", payload, data, idem
        )
    except LedgerError as exc:
        errors = _errors(exc, {**form, "document": ""}, results)
        return await _page(request, services, account, classify(exc)[0],
                           retest_errors=errors, retest_form=form)  # fmt: skip
    done = f"已记录复验结果 {payload['number']}（账本条目 #{receipt.seq}） · Re-test recorded (entry #{receipt.seq})"
    return await _page(request, services, account, done=done)
