"""What the projections know, by object: organisations, products, batches, projects,
buildings; and the public questions anyone may ask: what is this label, and who is on the
blacklist.

    GET /v1/orgs/{uscc}            any account (the register of organisations)
    GET /v1/products/{gtin}        any account
    GET /v1/batches/{id}           its parties, regulators, investigators (batch trace)
    GET /v1/projects/{id}          its owner, contractor, supervisor; regulators …
    GET /v1/buildings/{id}         its owner; regulators … (wall identification)
    GET /v1/public/labels/verify   public: a label's QR payload, the resolver's full verdict
    GET /v1/public/blacklist       public: organisations on a credit list in effect
    GET /v1/public/credit?q=       public: credit status by code or name
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from insutrace.api.authz import authorize_read
from insutrace.api.deps import AccountDep, ServicesDep
from insutrace.api.problems import PROBLEM_RESPONSES
from insutrace.api.schemas import LabelVerdict
from insutrace.labels.codec import split_label
from insutrace.trace.domain.credit import credit_status, listed_now
from insutrace.trace.domain.fields import local_date
from insutrace.trace.domain.labels import label_record
from insutrace.trace.domain.queries import batch_trace, wall_identification
from insutrace.trace.domain.read import batch_standing, building_standing
from insutrace.trace.errors import MalformedInput, NotFound
from insutrace.trace.identifiers import parse_digital_link
from insutrace.trace.store.base import KV, Tx

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["state"], responses=PROBLEM_RESPONSES)
Id = Annotated[str, Path(min_length=1, max_length=200)]


def _row(kv: KV, kind: str, key: str) -> dict[str, Any]:
    row = kv.get(kind, key)
    if row is None:
        raise NotFound(f"no {kind} {key!r}")
    return row


def _read(services: ServicesDep, fn: Any, *args: Any) -> Any:
    def run() -> Any:
        with services.ledger.store.read() as tx:
            return fn(tx, *args)

    return run_in_threadpool(run)


@router.get("/orgs/{uscc}", response_model=dict[str, Any])
async def org(services: ServicesDep, account: AccountDep, uscc: Id) -> dict[str, Any]:
    row: dict[str, Any] = await _read(services, _row, "org", uscc)
    return row


@router.get("/products/{gtin}", response_model=dict[str, Any])
async def product(services: ServicesDep, account: AccountDep, gtin: Id) -> dict[str, Any]:
    row: dict[str, Any] = await _read(services, _row, "product", gtin)
    return row


def _batch(kv: KV, account: Any, batch: str, day: date) -> dict[str, Any]:
    _row(kv, "batch", batch)
    authorize_read(kv, account, {"batch": batch})
    return {**batch_trace(kv, batch), "standing": batch_standing(kv, batch, day)}


@router.get("/batches/{batch}", response_model=dict[str, Any])
async def batch(services: ServicesDep, account: AccountDep, batch: Id) -> dict[str, Any]:
    """The batch trace: record, reports, samples, mass balance, holders, walls; and its
    standing today (qualifying reports, recall, listings in effect)."""
    found: dict[str, Any] = await _read(services, _batch, account, batch, _today(services, None))
    return found


def _project(kv: KV, account: Any, project: str) -> dict[str, Any]:
    row = _row(kv, "project", project)
    authorize_read(kv, account, {"project": project})
    return row


@router.get("/projects/{project}", response_model=dict[str, Any])
async def project(services: ServicesDep, account: AccountDep, project: Id) -> dict[str, Any]:
    found: dict[str, Any] = await _read(services, _project, account, project)
    return found


def _building(kv: KV, account: Any, building: str, day: date) -> dict[str, Any]:
    _row(kv, "building", building)
    authorize_read(kv, account, {"building": building})
    return {**wall_identification(kv, building), **building_standing(kv, building, day)}


@router.get("/buildings/{building}", response_model=dict[str, Any])
async def building(services: ServicesDep, account: AccountDep, building: Id) -> dict[str, Any]:
    """The building and its wall identification record (标识化管理), façade by façade; every
    wall section with the standing of its batch today, the ``flagged`` ones (recalled or
    non-conforming batch) and the open rectification orders with their deadlines."""
    day = _today(services, None)
    found: dict[str, Any] = await _read(services, _building, account, building, day)
    return found


def _verify_label(tx: Tx, payload: str, day: date) -> dict[str, Any]:
    """The resolver's verdict (:func:`~insutrace.trace.domain.labels.label_record`) on a
    label's QR text: the signed GS1 Digital Link with its ``k`` and ``s``."""
    uri, key_id, signature = split_label(payload)
    link = parse_digital_link(uri)
    if link.lot is None or link.serial is None:
        raise MalformedInput(f"label {uri!r:.100}: expected a lot (AI 10) and a serial (AI 21)")
    return label_record(tx, link.gtin, link.lot, link.serial, key_id, signature, day)


@router.get("/public/labels/verify", response_model=LabelVerdict, tags=["public"])
async def verify_label(
    services: ServicesDep,
    payload: Annotated[str, Query(min_length=1, max_length=400, description="The QR text.")],
) -> dict[str, Any]:
    """What this label is: the same verdict the resolver gives (genuine, unknown serial,
    bad signature, recalled, blacklisted, not qualified), with what it rests on."""
    found: dict[str, Any] = await _read(services, _verify_label, payload, _today(services, None))
    return found


def _today(services: ServicesDep, on: date | None) -> date:
    return on or local_date(services.ledger.clock.now())


@router.get("/public/blacklist", response_model=list[dict[str, Any]], tags=["public"])
async def blacklist(
    services: ServicesDep,
    on: Annotated[date | None, Query(description="Day (default: today, CST).")] = None,
) -> list[dict[str, Any]]:
    """Organisations on a credit list in effect on ``on`` (issue 6, trace/domain/credit)."""
    day = _today(services, on)

    listed: list[dict[str, Any]] = await _read(services, listed_now, day)
    return listed


@router.get("/public/credit", response_model=list[dict[str, Any]], tags=["public"])
async def credit(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Credit code or name.")],
    on: Annotated[date | None, Query(description="Day (default: today, CST).")] = None,
) -> list[dict[str, Any]]:
    """Credit status and listing history of an organisation, by code or (part of) its name."""
    day = _today(services, on)
    found: list[dict[str, Any]] = await _read(services, credit_status, q, day)
    return found
