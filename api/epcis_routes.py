"""EPCIS 2.0 over HTTP: query, export and capture (GS1 EPCIS 2.0 REST binding, openapi 2.0.0).

* ``GET /epcis/events`` and the per-resource forms (``/epcis/eventTypes/{t}/events``,
  ``/epcis/bizSteps/{s}/events``, ``/epcis/dispositions/{d}/events``,
  ``/epcis/bizLocations/{l}/events``, ``/epcis/readPoints/{r}/events``, ``/epcis/epcs/{epc}/events``)
  answer an ``EPCISQueryDocument`` (SimpleEventQuery, §8.2.7.1) for the standard parameters
  :data:`PARAMETERS`; any other parameter is a 400 problem naming it (rule ``epcis.query``).
  Paging: ``perPage`` (default 30, at most 1000) and an opaque ``nextPageToken``; a further
  page is announced by ``Link: <…>; rel="next"``. ``GET /epcis/events/{eventID}``: one event.
* ``GET /epcis/export``: the CLI's ``export-epcis`` over HTTP (the same function).
* ``POST /epcis/capture`` takes an EPCIS 2.0 JSON-LD document. A document that is not
  receivable (schema, EPC schemes, quantities without units, times out of order) is a 400
  problem listing each fault with its JSON pointer. Otherwise the answer is 202 with a
  capture job at ``/epcis/capture/{id}``: every event is written as its entry, signed with
  the capturing organisation's server-held key, or — if one event is refused, with its
  rule — none is (``GS1-Capture-Error-Behaviour: rollback``, the only behaviour offered).
  An event whose ``eventID`` was captured before is not written again.

Events are those of :func:`insutrace.trace.epcis.ledger_events`, one mapping for all.
An account that does not read everything sees the events of the entries its organisation
wrote or is named in (the ``org`` filter of ``GET /v1/entries``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from insutrace.api.accounts import Account
from insutrace.api.authz import FILTERS, authorize_write
from insutrace.api.deps import AccountDep, Services, ServicesDep
from insutrace.api.entries import server_signer
from insutrace.api.interop_tables import capture_table, event_index_table
from insutrace.api.problems import PROBLEM_RESPONSES, TYPE_BASE, classify, problem_response
from insutrace.trace.clock import format_time
from insutrace.trace.entry import Entry
from insutrace.trace.epcis import (
    CONTEXT,
    EPCIS_CONTEXT,
    event_hash,
    event_mappings,
    export_epcis,
    identified,
    ledger_events,
)
from insutrace.trace.epcis_capture import (
    CapturedEvent,
    Fault,
    capture_key,
    events_of,
    read_document,
)
from insutrace.trace.epcis_map import VOC, EventSpec, Uris
from insutrace.trace.errors import (
    Forbidden,
    LedgerError,
    MalformedInput,
    NotFound,
    RuleViolation,
    Unavailable,
)
from insutrace.trace.ledger import ServerWrite
from insutrace.trace.rules import explain

__all__ = ["PARAMETERS", "router"]

_PROBLEM = PROBLEM_RESPONSES[400]["content"]
router = APIRouter(
    prefix="/epcis",
    tags=["EPCIS 2.0"],
    responses={
        **PROBLEM_RESPONSES,
        406: {"description": "EPCIS version not served", "content": _PROBLEM},
        413: {"description": "Capture limits exceeded", "content": _PROBLEM},
    },
)


class LinkedData(JSONResponse):
    """EPCIS 2.0 JSON-LD documents and events."""

    media_type = "application/ld+json"


VERSION_HEADERS = {
    "GS1-EPCIS-Version": "2.0.0",
    "GS1-CBV-Version": "2.0.0",
    "GS1-EPC-Format": "Always_GS1_Digital_Link",
    "GS1-Extensions": f"insu={VOC}",
    "GS1-Vendor-Version": "InsuTrace",
}
CAPTURE_LIMIT = 5000
CAPTURE_FILE_SIZE_LIMIT = 8 * 1024 * 1024
SCHEMA_FILE = "EPCIS-JSON-Schema.json"
LIST_PARAMETERS = (
    "eventType",
    "EQ_action",
    "EQ_bizStep",
    "EQ_disposition",
    "EQ_readPoint",
    "EQ_bizLocation",
    "EQ_eventID",
    "MATCH_epc",
    "MATCH_anyEPC",
    "MATCH_epcClass",
    "MATCH_anyEPCClass",
)
TIME_PARAMETERS = ("GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime")
PARAMETERS = frozenset((*LIST_PARAMETERS, *TIME_PARAMETERS, "perPage", "nextPageToken"))
"""The SimpleEventQuery parameters this endpoint answers (list values are pipe-delimited)."""


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**VERSION_HEADERS, **(extra or {})}


def _problem(status: int, slug: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    response = problem_response(status, slug, detail, request.url.path, **extra)
    response.headers.update(VERSION_HEADERS)
    return response


def _refusal(rule: str, detail: str, faults: list[dict[str, Any]]) -> dict[str, Any]:
    clause, message = explain(rule, "", {})
    return {"rule": rule, "clause": clause, "message": message, "errors": faults}


def _version_refused(request: Request, version: str | None) -> JSONResponse | None:
    if version is not None and not version.startswith("2."):
        return _problem(
            406,
            "epcis-version",
            f"GS1-EPCIS-Version {version} is not served: this server speaks EPCIS 2.0.0",
            request,
        )
    return None


# -- query --------------------------------------------------------------------------------


def _split(value: str) -> set[str]:
    return {v for v in value.split("|") if v}


def _word(value: object) -> str:
    text = str(value or "")
    for prefix in ("https://ref.gs1.org/cbv/BizStep-", "https://ref.gs1.org/cbv/Disp-"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    for prefix in ("urn:epcglobal:cbv:bizstep:", "urn:epcglobal:cbv:disp:"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _time(name: str, value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise _QueryFault(name, f"{name}={value!r} is not a date-time with an offset")
    return when


class _QueryFault(Exception):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name
        self.detail = detail


def _epcs(event: dict[str, Any], fields: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for name in fields:
        value = event.get(name)
        if isinstance(value, list):
            found.update(str(v) for v in value)
        elif isinstance(value, str):
            found.add(value)
    return found


def _classes(event: dict[str, Any], fields: tuple[str, ...]) -> set[str]:
    return {str(q.get("epcClass")) for name in fields for q in event.get(name) or []}


_ANY_EPC = ("epcList", "childEPCs", "parentID", "inputEPCList", "outputEPCList")
_ANY_CLASS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def _matcher(params: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """The SimpleEventQuery predicate (§8.2.7.1) of the given parameters."""
    lists = {k: _split(v) for k, v in params.items() if k in LIST_PARAMETERS}
    times = {k: _time(k, v) for k, v in params.items() if k in TIME_PARAMETERS}
    for name in ("EQ_bizStep", "EQ_disposition"):
        if name in lists:
            lists[name] = {_word(v) for v in lists[name]}

    def event_time(event: dict[str, Any], name: str) -> datetime:
        return datetime.fromisoformat(str(event[name]).replace("Z", "+00:00"))

    def matches(event: dict[str, Any]) -> bool:
        checks: dict[str, object] = {
            "eventType": event.get("type"),
            "EQ_action": event.get("action"),
            "EQ_bizStep": _word(event.get("bizStep")),
            "EQ_disposition": _word(event.get("disposition")),
            "EQ_readPoint": (event.get("readPoint") or {}).get("id"),
            "EQ_bizLocation": (event.get("bizLocation") or {}).get("id"),
            "EQ_eventID": event.get("eventID"),
        }
        for name, wanted in lists.items():
            if name in checks:
                if str(checks[name]) not in wanted:
                    return False
            elif name == "MATCH_epc":
                if not _epcs(event, ("epcList", "childEPCs")) & wanted:
                    return False
            elif name == "MATCH_anyEPC":
                if not _epcs(event, _ANY_EPC) & wanted:
                    return False
            elif name == "MATCH_epcClass":
                if not _classes(event, ("quantityList", "childQuantityList")) & wanted:
                    return False
            elif name == "MATCH_anyEPCClass" and not _classes(event, _ANY_CLASS) & wanted:
                return False
        for name, bound in times.items():
            when = event_time(event, "eventTime" if "eventTime" in name else "recordTime")
            if (name.startswith("GE_") and when < bound) or (
                name.startswith("LT_") and when >= bound
            ):
                return False
        return True

    return matches


def _candidate_types(services: Services, params: dict[str, str]) -> list[str]:
    """Entry types whose mapping can produce the event type and business step asked for
    (the static parts of a mapping), so the rest of the log is not mapped at all."""
    kinds = _split(params.get("eventType", ""))
    steps = {_word(s) for s in _split(params.get("EQ_bizStep", ""))}
    out = []
    for name, m in event_mappings(services.ledger.types).items():
        if isinstance(m, EventSpec) and (
            (kinds and m.event_type not in kinds) or (steps and _word(m.biz_step) not in steps)
        ):
            continue
        out.append(name)
    return out


def _token(params: dict[str, str], after: int) -> str:
    bound = json.dumps(
        sorted((k, v) for k, v in params.items() if k not in ("nextPageToken", "perPage"))
    )
    digest = hashlib.sha256(bound.encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(f"{after}.{digest}".encode()).decode().rstrip("=")


def _read_token(params: dict[str, str]) -> int:
    raw = params.get("nextPageToken")
    if raw is None:
        return -1
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        after, digest = text.split(".", 1)
        seq = int(after)
    except (ValueError, UnicodeDecodeError):
        raise _QueryFault(
            "nextPageToken", "the nextPageToken is not one this server issued"
        ) from None
    if _token(params, seq) != raw or digest == "":
        raise _QueryFault("nextPageToken", "the nextPageToken belongs to another query")
    return seq


def _per_page(params: dict[str, str]) -> int:
    raw = params.get("perPage", "30")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise _QueryFault("perPage", f"perPage={raw!r} is not an integer from 1 to 1000")
    return int(raw)


def run_query(
    services: Services, account: Account, params: dict[str, str]
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the events matching ``params`` and the seq to resume after, if more."""
    matches = _matcher(params)
    after, per_page = _read_token(params), _per_page(params)
    refs = () if account.reads_everything else tuple(r.format(account.org) for r in FILTERS["org"])
    u = Uris(services.settings.resolver)
    found: list[dict[str, Any]] = []
    last = after
    by_id = "EQ_eventID" in params  # else hash only the events returned
    with services.ledger.store.read() as tx:
        for seq, event in ledger_events(
            services.ledger,
            tx,
            u,
            refs=refs,
            types=_candidate_types(services, params) or ["(none)"],
            start=after + 1,
            identify=by_id,
        ):
            if matches(event):
                if len(found) == per_page:
                    return found, last
                found.append(event if "eventID" in event else identified(event))
                last = seq
    return found, None


def _query_document(events: list[dict[str, Any]], created: datetime) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(created),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events},
            }
        },
    }


async def _answer_query(
    request: Request, services: Services, account: Account, fixed: dict[str, str]
) -> Response:
    refused = _version_refused(request, request.headers.get("GS1-EPCIS-Version"))
    if refused is not None:
        return refused
    given = list(request.query_params.multi_items())
    names = [k for k, _ in given]
    unknown = sorted({k for k in names if k not in PARAMETERS})
    twice = sorted({k for k in names if names.count(k) > 1})
    faults = [
        {
            "pointer": None,
            "parameter": k,
            "detail": f"unknown query parameter {k}",
            "rule": "epcis.query",
        }
        for k in unknown
    ] + [
        {
            "pointer": None,
            "parameter": k,
            "detail": f"{k} is given more than once",
            "rule": "epcis.query",
        }
        for k in twice
    ]
    clash = sorted(set(fixed) & set(names))
    faults += [
        {
            "pointer": None,
            "parameter": k,
            "detail": f"{k} is fixed by the path",
            "rule": "epcis.query",
        }
        for k in clash
    ]
    if faults:
        detail = "; ".join(str(f["detail"]) for f in faults)
        return _problem(
            400, "epcis-query", detail, request, **_refusal("epcis.query", detail, faults)
        )
    params = {**dict(given), **fixed}
    try:
        events, more = await run_in_threadpool(run_query, services, account, params)
    except _QueryFault as exc:
        fault = {
            "pointer": None,
            "parameter": exc.name,
            "detail": exc.detail,
            "rule": "epcis.query",
        }
        return _problem(
            400, "epcis-query", exc.detail, request, **_refusal("epcis.query", exc.detail, [fault])
        )
    headers = _headers()
    if more is not None:
        query = {k: v for k, v in dict(given).items() if k != "nextPageToken"}
        query["nextPageToken"] = _token(params, more)
        link = f"{request.url.path}?{urlencode(query)}"
        headers["Link"] = f'<{link}>; rel="next"'
    document = _query_document(events, services.ledger.clock.now())
    return LinkedData(document, headers=headers)


@router.options("/events", status_code=204, summary="What the event query accepts")
async def events_options() -> Response:
    return Response(
        status_code=204,
        headers=_headers(
            {
                "Allow": "GET, OPTIONS",
                "GS1-EPCIS-Min": "2.0.0",
                "GS1-EPCIS-Max": "2.0.0",
                "GS1-CBV-Min": "2.0.0",
                "GS1-CBV-Max": "2.0.0",
            }
        ),
    )


@router.get("/events", summary="Query events (SimpleEventQuery)", response_class=LinkedData)
async def query_events(request: Request, services: ServicesDep, account: AccountDep) -> Response:
    """Events matching the standard query parameters, as an EPCISQueryDocument."""
    return await _answer_query(request, services, account, {})


def _fixed_route(path: str, parameter: str, summary: str) -> None:
    async def handler(
        request: Request, services: ServicesDep, account: AccountDep, value: str
    ) -> Response:
        return await _answer_query(request, services, account, {parameter: value})

    handler.__name__ = f"query_by_{parameter}"
    router.add_api_route(
        f"{path}/{{value:path}}/events",
        handler,
        methods=["GET"],
        summary=summary,
        response_class=LinkedData,
    )


for _path, _parameter, _summary in (
    ("/eventTypes", "eventType", "Events of one event type"),
    ("/bizSteps", "EQ_bizStep", "Events of one business step"),
    ("/dispositions", "EQ_disposition", "Events of one disposition"),
    ("/bizLocations", "EQ_bizLocation", "Events at one business location"),
    ("/readPoints", "EQ_readPoint", "Events at one read point"),
    ("/epcs", "MATCH_anyEPC", "Events of one EPC"),
):
    _fixed_route(_path, _parameter, _summary)


@router.get(
    "/events/{event_id:path}", summary="One event by its eventID", response_class=LinkedData
)
async def one_event(
    request: Request, services: ServicesDep, account: AccountDep, event_id: str
) -> Response:
    params = {"EQ_eventID": event_id, "perPage": "1000"}
    events, _ = await run_in_threadpool(run_query, services, account, params)
    plain = [e for e in events if "errorDeclaration" not in e] or events
    if not plain:
        raise NotFound(f"no event {event_id}")
    return LinkedData(plain[0], headers=_headers())


@router.get(
    "/export",
    summary="Export a selection as an EPCISDocument (as the CLI)",
    response_class=LinkedData,
)
async def export(
    services: ServicesDep,
    account: AccountDep,
    ref: Annotated[
        list[str] | None, Query(description="batch:<id>, project:<id>, org:<uscc>")
    ] = None,
    type: Annotated[list[str] | None, Query(description="Only these entry types.")] = None,
    start: Annotated[int, Query(alias="from", ge=0)] = 0,
    stop: Annotated[int | None, Query(alias="to", ge=0)] = None,
) -> Response:
    """The same document ``insutrace export-epcis`` writes (readers of everything only)."""
    if not account.reads_everything:
        raise Forbidden("the export of a ledger selection is for accounts that read everything")
    document = await run_in_threadpool(
        lambda: export_epcis(
            services.ledger,
            refs=ref or (),
            types=type or (),
            start=start,
            stop=stop,
            resolver=services.settings.resolver,
        )
    )
    return LinkedData(document, headers=_headers())


# -- capture ------------------------------------------------------------------------------


def _schema(services: Services) -> dict[str, Any]:
    """GS1's EPCIS 2.0 JSON Schema, installed as ``<home>/epcis/EPCIS-JSON-Schema.json``
    (it is GS1's file, not shipped with the package)."""
    path = Path(services.settings.home) / "epcis" / SCHEMA_FILE
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise Unavailable(
            f"EPCIS capture needs GS1's {SCHEMA_FILE} at {path} (from {EPCIS_CONTEXT.rsplit('/', 1)[0]})"
        ) from None
    return loaded


def _job(row: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "captureID": row.id,
        "createdAt": row.created,
        "running": row.finished is None,
        "success": bool(row.success),
        "captureErrorBehaviour": row.behaviour,
        "errors": json.loads(row.errors),
    }
    if row.finished is not None:
        job["finishedAt"] = row.finished
    job["insu:events"] = row.events
    return job


def _event_error(fault: Fault, status: int = 422) -> dict[str, Any]:
    clause, message = explain(fault.rule, "", {})
    return {
        "type": TYPE_BASE + "rule-violation",
        "title": "Unprocessable Content",
        "status": status,
        "detail": fault.detail,
        "instance": fault.pointer,
        "pointer": fault.pointer,
        "rule": fault.rule,
        "clause": clause,
        "message": message,
    }


def _known_ids(services: Services, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    with services.accounts.engine.connect() as conn:
        rows = conn.execute(
            select(event_index_table.c.event_id, event_index_table.c.seq).where(
                event_index_table.c.event_id.in_(ids)
            )
        ).all()
    return {str(r.event_id): int(r.seq) for r in rows}


def _corrected_seq(services: Services, event_id: str, index: dict[str, int]) -> int | None:
    """The seq of the entry whose event is ``event_id``: captured before, else by reading
    the log's events (the corrected entry may have been written natively)."""
    if event_id in index:
        return index[event_id]
    found = _known_ids(services, [event_id])
    if found:
        return found[event_id]
    u = Uris(services.settings.resolver)
    with services.ledger.store.read() as tx:
        for seq, event in ledger_events(services.ledger, tx, u):
            if event.get("eventID") == event_id and "errorDeclaration" not in event:
                return seq
    return None


def _write_captured(services: Services, account: Account, items: list[CapturedEvent]) -> list[int]:
    """The one place captured events are written: each authorised as the account's own
    server-signed write (:func:`insutrace.api.authz.authorize_write`, in the write
    transaction, so an event may rely on the ones before it), signed with the
    organisation's server-held key, all in one transaction."""
    ledger = services.ledger
    signer = server_signer(services, account.org)

    def authorise(tx: Any, index: int, type: str, payload: dict[str, Any]) -> None:
        failing[0] = index
        authorize_write(tx, account, type, account.org, payload, types=ledger.types)

    failing = [0]
    # each event's statement id derives from its eventID: the log keeps (actor, id) unique
    # in the write transaction itself, so a capture repeated by any process, at any time,
    # finds the entries it wrote instead of writing them twice
    batch = [
        ServerWrite(c.type, c.payload, signer, id=_statement_id(c.key), time=c.time) for c in items
    ]
    try:
        receipts = ledger.append_batch(batch, before=authorise)
    except LedgerError as exc:
        raise _CaptureRefused(failing[0], exc) from None
    return [r.seq for r in receipts]


def _statement_id(key: str | None) -> str | None:
    """The statement id of a captured event: ``epcis-`` and the SHA-256 of its capture key
    (its eventID; for an error declaration, with the declaration time)."""
    if not key:
        return None
    return "epcis-" + hashlib.sha256(key.encode()).hexdigest()[:48]


class _CaptureRefused(Exception):
    def __init__(self, index: int, error: LedgerError) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


def _error_of(captured: CapturedEvent, exc: LedgerError) -> dict[str, Any]:
    status, slug = classify(exc)
    rule = exc.rule if isinstance(exc, RuleViolation) else None
    error: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": "Capture refused",
        "status": status,
        "detail": exc.reason if isinstance(exc, RuleViolation) else str(exc),
        "instance": captured.pointer,
        "pointer": captured.pointer,
    }
    if isinstance(exc, RuleViolation):
        error |= {"rule": rule, "clause": exc.clause, "message": exc.message}
    if captured.event_id:
        error["eventID"] = captured.event_id
    return error


_CAPTURING = threading.Lock()


def _capture(
    services: Services, account: Account, document: Any, capture_id: str
) -> tuple[dict[str, Any] | None, list[Fault]]:
    """Capture a document: (the job, []) or (None, document faults). One capture at a
    time in this process, so the eventIDs checked are still unwritten when written (the
    eventID index lives beside the log, not in its transaction)."""
    with _CAPTURING:
        return _capture_one(services, account, document, capture_id)


def _capture_one(
    services: Services, account: Account, document: Any, capture_id: str
) -> tuple[dict[str, Any] | None, list[Fault]]:
    schema = _schema(services)
    created = format_time(services.ledger.clock.now())
    ledger = services.ledger
    with ledger.store.read() as tx:
        size = tx.head()[0]
        head_time = None
        if size:
            head_time = datetime.fromisoformat(
                Entry.from_bytes(tx.entries(size - 1, size)[0]).time.replace("Z", "+00:00")
            )
        _, listed = events_of(document) if isinstance(document, dict) else ("", [])
        keys = [k for k in (capture_key(e) for e in listed) if k is not None]
        known = _known_ids(services, keys)
        items, faults = read_document(
            document,
            schema=schema,
            types=ledger.types,
            kv=tx,
            resolver=services.settings.resolver,
            org=account.org,
            head_time=head_time,
            now=ledger.clock.now(),
            max_skew=ledger.max_skew,
            known=known,
        )
    if any(f.document for f in faults):
        return None, [f for f in faults if f.document]
    errors = [_event_error(f) for f in faults]
    written: list[tuple[CapturedEvent, int]] = []
    if not errors:
        errors, written = _admit(services, account, items, known)
    finished = format_time(ledger.clock.now())
    row = {
        "id": capture_id,
        "org": account.org,
        "created": created,
        "finished": finished,
        "success": not errors,
        "behaviour": "rollback",
        "events": len(written),
        "errors": json.dumps(errors, ensure_ascii=False),
    }
    index: dict[str, int] = {}
    for captured, seq in written:
        ids = {captured.key} if captured.key else set()
        if captured.corrects is None:  # a correction's event is the corrected one's
            ids.add(_new_event_id(services, seq))
        index.update((i, seq) for i in ids)
    known = _known_ids(services, sorted(index))
    with services.accounts.engine.begin() as conn:
        conn.execute(capture_table.insert().values(**row))
        for event_id, seq in sorted(index.items()):
            if event_id not in known:
                conn.execute(
                    event_index_table.insert().values(
                        event_id=event_id, seq=seq, capture_id=capture_id
                    )
                )
    with services.accounts.engine.connect() as conn:
        stored = conn.execute(select(capture_table).where(capture_table.c.id == capture_id)).one()
    return _job(stored), []


def _new_event_id(services: Services, seq: int) -> str:
    u = Uris(services.settings.resolver)
    with services.ledger.store.read() as tx:
        for _, event in ledger_events(services.ledger, tx, u, start=seq, stop=seq + 1):
            return str(event.get("eventID") or event_hash(event))
    return f"urn:insutrace:entry:{seq}"


def _admit(
    services: Services, account: Account, items: list[CapturedEvent], index: dict[str, int]
) -> tuple[list[dict[str, Any]], list[tuple[CapturedEvent, int]]]:
    """Write the events (those captured before are already left out): ([], written) or
    (the errors, []) when one is refused."""
    resolved: list[CapturedEvent] = []
    for c in items:
        if c.corrects is None:
            resolved.append(c)
            continue
        seq = _corrected_seq(services, c.corrects, index)
        if seq is None:
            fault = Fault(
                f"{c.pointer}/eventID", f"no event {c.corrects} to correct", "epcis.mapping"
            )
            return [_event_error(fault)], []
        resolved.append(
            CapturedEvent(
                c.index, c.pointer, None, c.type, {**c.payload, "corrects": seq}, c.time, key=c.key
            )
        )
    if not resolved:
        return [], []
    try:
        seqs = _write_captured(services, account, resolved)
    except _CaptureRefused as exc:
        return [_error_of(resolved[exc.index], exc.error)], []
    except LedgerError as exc:  # no key held, organisation unknown
        return [_error_of(resolved[0], exc)], []
    return [], list(zip(resolved, seqs, strict=True))


@router.options("/capture", status_code=204, summary="What capture accepts")
async def capture_options() -> Response:
    return Response(
        status_code=204,
        headers=_headers(
            {
                "Allow": "GET, POST, OPTIONS",
                "GS1-EPCIS-Capture-Limit": str(CAPTURE_LIMIT),
                "GS1-EPCIS-Capture-File-Size-Limit": str(CAPTURE_FILE_SIZE_LIMIT),
                "GS1-Capture-Error-Behaviour": "rollback",
            }
        ),
    )


@router.post(
    "/capture",
    status_code=202,
    summary="Capture an EPCIS 2.0 document",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/ld+json": {"schema": {"type": "object"}}},
        }
    },
)
async def capture(
    request: Request,
    services: ServicesDep,
    account: AccountDep,
    behaviour: Annotated[str | None, Header(alias="GS1-Capture-Error-Behaviour")] = None,
    version: Annotated[str | None, Header(alias="GS1-EPCIS-Version")] = None,
) -> Response:
    """Capture the events of an EPCISDocument: 202 and a capture job, or a 400 problem
    listing each fault of a document that cannot be received. Nothing is written unless
    every event is."""
    refused = _version_refused(request, version)
    if refused is not None:
        return refused
    if behaviour not in (None, "rollback"):
        raise MalformedInput(
            f"GS1-Capture-Error-Behaviour {behaviour!r}: this server offers rollback only"
        )
    body = await request.body()
    if len(body) > CAPTURE_FILE_SIZE_LIMIT:
        return _too_large(request, f"the document is {len(body)} octets")
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise MalformedInput(f"the body is not JSON: {exc}") from None
    _, events = events_of(document) if isinstance(document, dict) else ("", [])
    if len(events) > CAPTURE_LIMIT:
        return _too_large(request, f"the document has {len(events)} events")
    capture_id = "cap-" + secrets.token_hex(8)
    job, faults = await run_in_threadpool(_capture, services, account, document, capture_id)
    if job is None:
        items = [f.item() for f in faults]
        detail = f"the EPCIS document cannot be captured: {len(items)} faults; nothing was written"
        extra = _refusal(faults[0].rule, detail, items)
        response = _problem(400, "epcis-validation", detail, request, **extra)
        return response
    return JSONResponse(
        job,
        status_code=202,
        headers=_headers({"Location": f"/epcis/capture/{capture_id}"}),
    )


def _too_large(request: Request, what: str) -> JSONResponse:
    response = _problem(
        413,
        "epcis-capture-limit",
        f"{what}: at most {CAPTURE_LIMIT} events and {CAPTURE_FILE_SIZE_LIMIT} octets per capture",
        request,
    )
    response.headers["GS1-EPCIS-Capture-Limit"] = str(CAPTURE_LIMIT)
    response.headers["GS1-EPCIS-Capture-File-Size-Limit"] = str(CAPTURE_FILE_SIZE_LIMIT)
    return response


def _jobs(services: Services, account: Account, capture_id: str | None) -> Iterator[dict[str, Any]]:
    query = select(capture_table).order_by(capture_table.c.created, capture_table.c.id)
    if capture_id is not None:
        query = query.where(capture_table.c.id == capture_id)
    if not account.reads_everything:
        query = query.where(capture_table.c.org == account.org)
    with services.accounts.engine.connect() as conn:
        rows = conn.execute(query).all()
    return (_job(r) for r in rows)


@router.get("/capture", summary="Capture jobs of my organisation")
async def capture_jobs(services: ServicesDep, account: AccountDep) -> Response:
    jobs = list(await run_in_threadpool(lambda: list(_jobs(services, account, None))))
    return JSONResponse({"captureJobs": jobs}, headers=_headers())


@router.get("/capture/{capture_id}", summary="One capture job")
async def capture_job(services: ServicesDep, account: AccountDep, capture_id: str) -> Response:
    jobs = await run_in_threadpool(lambda: list(_jobs(services, account, capture_id)))
    if not jobs:
        raise NotFound(f"no capture job {capture_id}")
    return JSONResponse(jobs[0], headers=_headers())
