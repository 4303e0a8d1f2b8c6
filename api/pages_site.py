"""The site supervisor's pages, phone first.

    GET  /site                                my projects
    GET  /site/projects/{id}                  the project: its batches on site and the
                                              checklist — what the permit gate still
                                              refuses before installation (施工许可) and
                                              before acceptance (消防验收)
    GET  /site/projects/{id}/delivery         a delivery session: scan labels one after
                                              another with the camera (BarcodeDetector, else
                                              the bundled jsQR), see each verdict, and record
                                              the scans and the arrival inspection in one go;
                                              queued in the browser while offline
    POST /site/projects/{id}/delivery         (JSON, from the page's queue) the scans and the
                                              inspection, all or none, with the page's
                                              idempotency key, signed by the organisation
    POST /site/projects/{id}/delivery/signed  (JSON, from the page's queue) the same, as
                                              statements the phone signed with the person's
                                              device key (sign.js), all or none
    POST /site/device-key                     (JSON, CSRF header) enrol this phone's key:
                                              key.add naming the signed-in person
    GET  /sw.js                               the service worker: the site pages and their
                                              scripts open with no network
    GET  /site/projects/{id}/sample           witnessed sampling for re-test (见证取样)
    POST /site/projects/{id}/sample

A delivery recorded on a phone that holds an enrolled device key is signed there, at the
moment the supervisor records it (a scan once its verdict is shown: offline, when the
network returns), queued as signed statements and sent when online; without WebCrypto
Ed25519 or a secure context, the page queues what is recorded and the server signs it when
sent. The page says which.

The checklist is the gate's own evaluation (:func:`insutrace.trace.domain.gate.evaluate`);
what a label is, the label verdict (:func:`insutrace.trace.domain.labels.label_record`,
the label page's JSON).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from insutrace.api.accounts import Account
from insutrace.api.authz import authorize_write
from insutrace.api.csrf import require_csrf
from insutrace.api.deps import Services, ServicesDep
from insutrace.api.entries import check_declared_payload
from insutrace.api.label_routes import ALERT_TEXT, VERDICT_TEXT, Link
from insutrace.api.pages import (
    FormErrors,
    Refused,
    denied,
    form_errors,
    page,
    read,
    require_csrf_header,
    signed_in,
    write,
    write_all,
)
from insutrace.api.person_writes import enrol_device_key, entry_authors, live_device_keys
from insutrace.api.problems import classify
from insutrace.api.web import today
from insutrace.trace.actors import check_device_key
from insutrace.trace.domain.fields import milli_text
from insutrace.trace.domain.gate import STAGE_NAMES, Stage, evaluate
from insutrace.trace.domain.read import project_list, site_batches, testing_labs
from insutrace.trace.entry import Statement
from insutrace.trace.errors import Forbidden, LedgerError, MalformedInput, NotFound
from insutrace.trace.keys import key_id_of
from insutrace.trace.ledger import ClientWrite
from insutrace.trace.rules import catalogue
from insutrace.trace.store.base import Tx

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

SITE_ROLES = ("supervisor", "contractor", "building_owner")
MAX_PHOTO = 2 * 1024 * 1024
MAX_SCANS = 200
DISCREPANCIES = {
    "short": "数量短少 short",
    "damaged": "破损 damaged",
    "wrong_product": "货不对板 wrong product",
    "label_mismatch": "标识不符 label mismatch",
    "other": "其他 other",
}
CHECKLIST = (
    (Stage.CONSTRUCTION_PERMIT, "安装前", "Before installation"),
    (Stage.FIRE_ACCEPTANCE, "验收前", "Before acceptance"),
)


def rule_text(rule_id: str) -> str:
    """The catalogue's Chinese statement of a rule ("" when it has none)."""
    entry = catalogue().get(rule_id)
    return entry.zh if entry is not None else ""


# -- the page's scripts ----------------------------------------------------------------------

STATIC = Path(__file__).with_name("static")
ASSETS = {"scan.js", "queue.js", "sign.js", "device.js", "offline.js", "jsQR.js", "jsQR.LICENSE"}
CACHED_ASSETS = ("jsQR.js", "offline.js", "queue.js", "sign.js", "scan.js", "device.js")


@router.get("/site-assets/{name}", response_model=None)
async def asset(name: str) -> Response:
    """The delivery session's scripts, served by the app itself (no CDN)."""
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    kind = "text/javascript" if name.endswith(".js") else "text/plain"
    body = await run_in_threadpool((STATIC / name).read_bytes)
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response(body, media_type=f"{kind}; charset=utf-8", headers=headers)


@lru_cache(maxsize=1)
def _service_worker() -> bytes:
    """sw.js with its version: a digest of itself and of every script it caches, so a
    changed asset is a changed worker, which the browser installs in place of the old."""
    digest = hashlib.sha256()
    for name in ["sw.js", *CACHED_ASSETS]:
        digest.update((STATIC / name).read_bytes())
    assets = json.dumps([f"/site-assets/{n}" for n in CACHED_ASSETS])
    text = (STATIC / "sw.js").read_text(encoding="utf-8")
    text = text.replace('"__VERSION__"', json.dumps(digest.hexdigest()[:16]))
    return text.replace('["__ASSETS__"]', assets).encode()


@router.get("/sw.js", response_model=None)
async def service_worker() -> Response:
    """The service worker, at the root so its scope holds /site; revalidated on each visit."""
    headers = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
    return Response(_service_worker(), media_type="text/javascript; charset=utf-8", headers=headers)


def _site_page(
    request: Request, name: str, account: Account, context: dict[str, Any], status: int = 200
) -> Response:
    """A site page, naming its person (their account id) for the service worker, which keeps
    the pages of one person only."""
    response = page(request, name, account, context, status=status)
    response.headers["X-InsuTrace-Person"] = str(account.id)
    return response


# -- my projects ------------------------------------------------------------------------------


@router.get("/site", response_model=None)
async def my_projects(request: Request, services: ServicesDep) -> Response:
    account = signed_in(services, request, *SITE_ROLES)
    projects = await read(services, account, {"org": account.org}, project_list, account.org)
    return _site_page(request, "site_projects.html", account, {"projects": projects})


# -- a project and its checklist --------------------------------------------------------------


def _checklist(tx: Tx, project: str, on: Any) -> list[dict[str, Any]]:
    out = []
    for stage, zh, en in CHECKLIST:
        evaluation = evaluate(tx, project, stage, on=on)
        out.append(
            {
                "stage": stage.value,
                "stage_zh": STAGE_NAMES[stage],
                "zh": zh,
                "en": en,
                "outcome": evaluation.outcome.value,
                "missing": [{**f.to_json(), "zh": rule_text(f.rule)} for f in evaluation.reasons],
                "notes": list(evaluation.notes),
            }
        )
    return out


def _project(tx: Tx, project_id: str, on: Any) -> dict[str, Any]:
    row = tx.get("project", project_id)
    if row is None:
        raise NotFound(f"no project {project_id!r}")
    return {
        "project": row,
        "batches": site_batches(tx, project_id),
        "checklist": _checklist(tx, project_id, on),
    }


@router.get("/site/projects/{project}", response_model=None)
async def project_page(request: Request, services: ServicesDep, project: str) -> Response:
    try:
        account = signed_in(services, request)
        found = await read(
            services, account, {"project": project}, _project, project, today(services)
        )
    except (Forbidden, NotFound) as exc:
        return denied(request, account, exc)
    return _site_page(request, "site_project.html", account, {**found, "milli": milli_text})


# -- the delivery session ---------------------------------------------------------------------


def _delivery(tx: Tx, project_id: str) -> dict[str, Any]:
    row = tx.get("project", project_id)
    if row is None:
        raise NotFound(f"no project {project_id!r}")
    return {"project": row, "batches": site_batches(tx, project_id)}


def _verdict_texts() -> dict[str, dict[str, str]]:
    texts = {k: {"zh": v["zh"], "en": v["en"], "tone": v["tone"]} for k, v in VERDICT_TEXT.items()}
    for kind, v in ALERT_TEXT.items():
        texts[f"alert:{kind}"] = {"zh": v["zh"], "en": v["en"], "tone": v["tone"]}
    return texts


@router.get("/site/projects/{project}/delivery", response_model=None)
async def delivery_page(request: Request, services: ServicesDep, project: str) -> Response:
    try:
        account = signed_in(services, request, "supervisor")
        found = await read(services, account, {"project": project}, _delivery, project)
    except (Forbidden, NotFound) as exc:
        return denied(request, account, exc)
    context = {
        **found,
        "discrepancies": DISCREPANCIES,
        "verdicts": json.dumps(_verdict_texts(), ensure_ascii=False),
        "milli": milli_text,
        "signing": json.dumps(_signing(services, account, project), ensure_ascii=False),
    }
    return _site_page(request, "site_delivery.html", account, context)


def _signing(services: Services, account: Account, project: str) -> dict[str, Any]:
    """What the page needs to sign on the phone: who signs, for which organisation, the
    person's device keys the log holds valid, and where to enrol and send."""
    person = account.person.username if account.person is not None else ""
    return {
        "person": person,
        "name": account.name,
        "org": account.org,
        "keys": [row["id"] for row in live_device_keys(services, account)],
        "enrol": "/site/device-key",
        "post": f"/site/projects/{quote(project, safe='')}/delivery/signed",
    }


_SCAN_FIELDS = {"project": "scans", "gtin": "scans", "lot": "scans", "serial": "scans"}
_INSPECT_FIELDS = {
    "batch": "batch",
    "label_class": "label_class",
    "accepted": "accepted",
    "counted": "counted",
    "discrepancy": "discrepancy",
    "note": "note",
    "photos": "photos",
    "date": "",
}
_INSPECT_RULES = {
    "inspect.received": "batch",
    "inspect.label_class": "label_class",
    "inspect.counted": "counted",
    "batch.known": "batch",
    "scan.verdict": "scans",
}
_DATA_URL = re.compile(r"^data:(image/(?:jpeg|png|webp));base64,([A-Za-z0-9+/=]+)$")


def _photo(data: Any, i: int) -> bytes:
    match = _DATA_URL.match(data) if isinstance(data, str) else None
    if match is None:
        raise MalformedInput(
            f"photo {i + 1}: expected a JPEG, PNG or WebP image", "/payload/photos"
        )
    try:
        raw = base64.b64decode(match.group(2), validate=True)
    except binascii.Error:
        raise MalformedInput(f"photo {i + 1}: not base64", "/payload/photos") from None
    if len(raw) > MAX_PHOTO:
        raise MalformedInput(f"photo {i + 1}: more than {MAX_PHOTO} bytes", "/payload/photos")
    return raw


def _scan_items(project: str, scans: Any, by: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(scans, list) or len(scans) > MAX_SCANS:
        raise MalformedInput(f"scans: a list of at most {MAX_SCANS} labels")
    items = []
    for scan in scans:
        if not isinstance(scan, dict) or not isinstance(scan.get("link"), str):
            raise MalformedInput("scans: each scan names its label link", "/payload/scans")
        parts = urlsplit(scan["link"])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        link = Link(parts.path, query.get("k"), query.get("s"))
        verdict = scan.get("verdict")
        items.append(("label.scan", link.scan_payload(project, str(verdict), by)))
    return items


def _inspection(services: Services, project: str, form: Any) -> tuple[dict[str, Any], list[bytes]]:
    if not isinstance(form, dict):
        raise MalformedInput("inspection: an object", "/payload")
    photos = [_photo(p, i) for i, p in enumerate(form.get("photos") or [])]
    payload: dict[str, Any] = {
        "schema": 1,
        "project": project,
        "batch": form.get("batch"),
        "date": today(services).isoformat(),
        "label_class": form.get("label_class"),
        "accepted": form.get("accepted") is True,
    }
    for name in ("counted", "discrepancy", "note"):
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            payload[name] = value.strip()
    if photos:
        payload["photos"] = [hashlib.sha256(p).hexdigest() for p in photos]
    return payload, photos


def _problem(errors: FormErrors, exc: LedgerError) -> JSONResponse:
    status, slug = classify(exc)
    body = {
        "type": f"about:blank#{slug}",
        "title": "未能记录 Not recorded",
        "status": status,
        "detail": str(exc),
        "fields": errors.fields,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@router.post("/site/projects/{project}/delivery", response_model=None)
async def record_delivery(request: Request, services: ServicesDep, project: str) -> Response:
    """The delivery session's queue sends one delivery: its scans and its inspection."""
    try:
        account = signed_in(services, request, "supervisor")
    except Refused:
        return _signin_first()  # kept in the page's outbox: sent once signed in again
    try:
        require_csrf_header(request)
        body = json.loads(await request.body())
        if not isinstance(body, dict) or not isinstance(body.get("key"), str):
            raise MalformedInput("a delivery is a JSON object with its idempotency key")
        key = body["key"][:120]
        items = _scan_items(project, body.get("scans", []), account.name)
        photos: list[bytes] = []
        if body.get("inspection") is not None:
            inspection, photos = _inspection(services, project, body["inspection"])
            items.append(("site.inspect", inspection))
        if not items:
            raise MalformedInput("nothing to record: scan a label or fill in the inspection")
        for photo in photos:
            await run_in_threadpool(services.blobs.put, photo)
        seqs = await run_in_threadpool(write_all, services, account, items, f"delivery:{key}")
    except json.JSONDecodeError:
        exc = MalformedInput("the delivery is not JSON")
        return _problem(form_errors(exc, {}, {}), exc)
    except LedgerError as exc:
        return _problem(form_errors(exc, {**_SCAN_FIELDS, **_INSPECT_FIELDS}, _INSPECT_RULES), exc)
    return JSONResponse({"seqs": seqs, "types": [t for t, _ in items]}, status_code=201)


def _signin_first() -> JSONResponse:
    """Signed out: the page keeps the delivery in its outbox until a new sign-in."""
    signin: dict[str, Any] = {
        "title": "请先登录 Sign in first",
        "status": 401,
        "fields": {"": "请先登录 Sign in first"},
    }
    return JSONResponse(signin, status_code=401, media_type="application/problem+json")


SIGNED_TYPES = ("label.scan", "site.inspect")
_SIGNED_RULES = {**_INSPECT_RULES, "key.device": "", "key.holder": ""}


def _statements(body: Any, project: str) -> list[tuple[bytes, Statement]]:
    if not isinstance(body, dict) or not isinstance(body.get("key"), str):
        raise MalformedInput("a delivery is a JSON object with its idempotency key")
    if body.get("unsigned"):
        raise MalformedInput("scans not signed yet: the page signs each once its verdict is shown")
    texts = body.get("statements")
    if not isinstance(texts, list) or not texts or len(texts) > MAX_SCANS + 1:
        raise MalformedInput(f"statements: a list of 1 to {MAX_SCANS + 1} signed statements")
    out = []
    for text in texts:
        if not isinstance(text, str):
            raise MalformedInput("statements: each is the canonical text of a signed statement")
        data = text.encode()
        statement = Statement.from_bytes(data)
        if statement.type not in SIGNED_TYPES:
            raise MalformedInput(
                f"a delivery signs only {', '.join(SIGNED_TYPES)}, not {statement.type}"
            )
        if statement.payload.get("project") != project:
            raise MalformedInput(
                "a statement of this delivery names another project", "/payload/project"
            )
        out.append((data, statement))
    return out


def _check_signed(
    services: Services, account: Account, statements: list[tuple[bytes, Statement]]
) -> None:
    """Each statement: signed by a live device key the signed-in person holds (rule
    ``key.device``), for their organisation, of a type and on a project they may write, with
    a payload its type's model takes."""
    if account.person is None:
        raise Forbidden("only a person signed in with a password signs on a device")
    ledger = services.ledger
    with ledger.store.read() as tx:
        for _, st in statements:
            check_device_key(tx, account.org, st.key, account.person.username)
            authorize_write(tx, account, st.type, st.actor, st.payload, types=ledger.types)
    for _, st in statements:
        check_declared_payload(ledger.types, st.type, st.payload)


def _signed_photos(
    services: Services, body: dict[str, Any], statements: list[tuple[bytes, Statement]]
) -> list[bytes]:
    """The photos sent with the delivery: each one an inspection statement cites by SHA-256,
    and every photo cited either sent with it or already in the document store."""
    cited = {
        h for _, st in statements for h in st.payload.get("photos") or [] if isinstance(h, str)
    }
    photos = [_photo(p, i) for i, p in enumerate(body.get("photos") or [])]
    sent = {hashlib.sha256(photo).hexdigest() for photo in photos}
    for i, photo in enumerate(photos):
        if hashlib.sha256(photo).hexdigest() not in cited:
            raise MalformedInput(f"photo {i + 1}: no statement cites it", "/payload/photos")
    for digest in sorted(cited - sent):
        if not services.blobs.has(digest):
            raise MalformedInput(
                f"photo {digest[:12]}… is cited but was not sent", "/payload/photos"
            )
    return photos


@router.post("/site/projects/{project}/delivery/signed", response_model=None)
async def record_signed_delivery(request: Request, services: ServicesDep, project: str) -> Response:
    """The delivery session's queue sends a delivery the phone signed: its statements are
    logged as signed, all or none; the answer names each entry and who signed it."""
    try:
        account = signed_in(services, request, "supervisor")
    except Refused:
        return _signin_first()
    try:
        require_csrf_header(request)
        body = json.loads(await request.body())
        statements = _statements(body, project)
        await run_in_threadpool(_check_signed, services, account, statements)
        photos = _signed_photos(services, body, statements)
        for photo in photos:
            await run_in_threadpool(services.blobs.put, photo)
        writes = [ClientWrite(data) for data, _ in statements]
        receipts = await run_in_threadpool(services.ledger.append_batch, writes)
        authors = await run_in_threadpool(entry_authors, services, [r.entry for r in receipts])
    except json.JSONDecodeError:
        exc = MalformedInput("the delivery is not JSON")
        return _problem(form_errors(exc, {}, {}), exc)
    except LedgerError as exc:
        fields = {**_SCAN_FIELDS, **_INSPECT_FIELDS}
        return _problem(form_errors(exc, fields, _SIGNED_RULES), exc)
    answer = {
        "seqs": [r.seq for r in receipts],
        "types": [r.entry.type for r in receipts],
        "signed": [
            {"seq": r.seq, "time": r.entry.signed_time, "logged": r.entry.time,
             **authors.get(r.seq, {})}
            for r in receipts
        ],
        "duplicate": all(r.duplicate for r in receipts),
    }  # fmt: skip
    return JSONResponse(answer, status_code=200 if answer["duplicate"] else 201)


_PUBLIC_KEY = re.compile(r"^[A-Za-z0-9+/]{43}=$")


@router.post("/site/device-key", response_model=None)
async def enrol_device(request: Request, services: ServicesDep) -> Response:
    """Enrol this phone's key: the organisation adds it as the signed-in person's device key
    (``key.add``, signed by its server-held key)."""
    try:
        account = signed_in(services, request, *SITE_ROLES)
    except Refused:
        return _signin_first()
    try:
        require_csrf_header(request)
        body = json.loads(await request.body())
        if not isinstance(body, dict):
            raise MalformedInput("a device key is a JSON object")
        public, device = body.get("public_key"), body.get("device")
        if not isinstance(public, str) or not _PUBLIC_KEY.match(public):
            raise MalformedInput(
                "public_key: an Ed25519 public key, 32 bytes in base64", "/payload/public_key"
            )
        if not isinstance(device, str) or not device.strip():
            raise MalformedInput("device: a label for this device", "/payload/device")
        receipt = await run_in_threadpool(
            enrol_device_key, services, account, public, device.strip()[:100]
        )
    except json.JSONDecodeError:
        exc = MalformedInput("the device key is not JSON")
        return _problem(form_errors(exc, {}, {}), exc)
    except LedgerError as exc:
        return _problem(form_errors(exc, {}, {}), exc)
    kid = key_id_of(base64.b64decode(public))
    return JSONResponse({"seq": receipt.seq, "key": kid}, status_code=201)


# -- witnessed sampling -----------------------------------------------------------------------


def _sampling(tx: Tx, project_id: str, on: Any) -> dict[str, Any]:
    found = _delivery(tx, project_id)
    return {**found, "labs": testing_labs(tx, on)}


_SAMPLE_FIELDS = {
    "sample": "sample",
    "batch": "batch",
    "quantity": "quantity",
    "lab": "lab",
    "sampler": "sampler_name",
    "witness": "witness",
    "date": "",
}
_SAMPLE_RULES = {
    "sample.unique": "sample",
    "sample.lab": "lab",
    "sample.sampler": "sampler_org",
    "batch.known": "batch",
    "custody.held": "quantity",
    "custody.balance": "quantity",
    "org.known": "lab",
    "org.role": "lab",
}


@router.get("/site/projects/{project}/sample", response_model=None)
async def sample_form(request: Request, services: ServicesDep, project: str) -> Response:
    try:
        account = signed_in(services, request, "supervisor", "building_owner")
        found = await read(
            services, account, {"project": project}, _sampling, project, today(services)
        )
    except (Forbidden, NotFound) as exc:
        return denied(request, account, exc)
    form = {"witness": account.name, "sampler_org": found["project"]["contractor"]}
    context = {
        **found,
        "form": form,
        "errors": FormErrors(),
        "recorded": request.query_params.get("recorded"),
    }
    return _site_page(request, "site_sample.html", account, context)


@router.post("/site/projects/{project}/sample", response_model=None)
async def record_sample(
    request: Request,
    services: ServicesDep,
    project: str,
    sample: Annotated[str, Form(max_length=80)] = "",
    batch: Annotated[str, Form(max_length=80)] = "",
    quantity: Annotated[str, Form(max_length=20)] = "",
    lab: Annotated[str, Form(max_length=40)] = "",
    sampler_name: Annotated[str, Form(max_length=60)] = "",
    sampler_org: Annotated[str, Form(max_length=40)] = "",
    witness: Annotated[str, Form(max_length=200)] = "",
    idempotency: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    try:
        account = signed_in(services, request, "supervisor", "building_owner")
        await require_csrf(request)
    except Forbidden as exc:
        return denied(request, account, exc)
    form = {
        "sample": sample.strip(),
        "batch": batch.strip(),
        "quantity": quantity.strip(),
        "lab": lab.strip(),
        "sampler_name": sampler_name.strip(),
        "sampler_org": sampler_org.strip(),
        "witness": witness.strip(),
    }
    payload = {
        "schema": 1,
        "project": project,
        "sample": form["sample"],
        "batch": form["batch"],
        "quantity": form["quantity"],
        "date": today(services).isoformat(),
        "lab": form["lab"],
        "sampler": {"name": form["sampler_name"], "org": form["sampler_org"]},
        "witness": form["witness"],
    }
    try:
        receipt = await run_in_threadpool(
            write,
            services,
            account,
            "site.sample",
            payload,
            f"sample:{idempotency}" if idempotency else None,
        )
    except LedgerError as exc:
        errors = form_errors(exc, _SAMPLE_FIELDS, _SAMPLE_RULES)
        _sampler_member(exc, errors)
        try:
            found = await read(
                services, account, {"project": project}, _sampling, project, today(services)
            )
        except (Forbidden, NotFound) as refusal:
            return denied(request, account, refusal)
        context = {**found, "form": form, "errors": errors, "recorded": None}
        return _site_page(request, "site_sample.html", account, context, status=classify(exc)[0])
    return RedirectResponse(
        f"/site/projects/{project}/sample?recorded={receipt.seq}", status_code=303
    )


def _sampler_member(exc: LedgerError, errors: FormErrors) -> None:
    """A fault inside ``sampler`` belongs beside its name or its organisation."""
    for item in getattr(exc, "errors", None) or []:
        if item["pointer"].startswith("/payload/sampler/org"):
            errors.fields.pop("sampler_name", None)
            errors.add("sampler_org", "此项填写有误：", item["detail"])
