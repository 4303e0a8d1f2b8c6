"""Writing and reading entries: ``/v1/head``, ``/v1/entries`` and ``/v1/<type>``.

Two ways to sign, one way to verify:

* **client-held keys** (non-repudiable): the client signs a statement that names no log
  position (:class:`insutrace.trace.entry.Statement`) and ``POST /v1/entries`` its
  canonical bytes; the log places it. The same statement sent again is answered with its
  original receipt (``duplicate: true``); its id reused for another statement is 409.
  (A v 1 entry naming its own ``seq`` and ``prev`` is still admitted at the head; a stale
  one is 409.)
* **server-held keys** (web users): ``POST /v1/<type>`` with the payload; the server
  signs with the organisation's key sealed under the master key. An ``Idempotency-Key``
  header becomes the statement's id, so a retried request returns the first result
  instead of appending again — checked in the entry's own transaction.

Writes of every request go through the process's batching sequencer
(:mod:`insutrace.trace.sequencer`): each answer comes after its batch's commit, with the
checkpoint that covers it.

The write routes do their own work in the event loop — parse, authorize, queue, await the
batch's commit, answer — and send nothing to a worker thread or the database before the
write transaction unless they must: the account comes from the token cache
(:mod:`insutrace.api.deps`), the log's state is read only for a type whose write rule
looks at it (an owner rule), and the organisation's unsealed key is used from memory,
the log itself checking in the write transaction that it is still the actor's valid key
(a write refused for its key is tried once more with the key the log names now).

Either way the payload must validate against its type's model
(the ``payload`` model of its declaration, :mod:`insutrace.trace.domain.payloads`): the server-signed routes take the model
as their body, so the OpenAPI document shows each type's fields, units and an example. A
payload the model refuses is a 422 problem whose ``errors`` list a JSON Pointer into the
entry (``/payload/lines/0/unit``) and a detail for each member; nothing is written.

Both produce ordinary entries: the log verifies them the same way. Every batch of writes
signs one checkpoint, so each entry is provable at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from insutrace.api.accounts import Account
from insutrace.api.authz import authorize_read, authorize_write, write_rule
from insutrace.api.deps import AccountDep, Services, ServicesDep
from insutrace.api.problems import PROBLEM_RESPONSES
from insutrace.api.queries import EntryQuery, check_type, run_query
from insutrace.api.schemas import ORG_PATTERN, EntryPage, EntryPublic, Head, Receipt
from insutrace.trace.actors import GENESIS
from insutrace.trace.canonical import parse_canonical
from insutrace.trace.clock import format_time
from insutrace.trace.domain.payloads import PayloadInvalid, field_errors, validate
from insutrace.trace.entry import GENESIS_PREV, VERSION, Entry, Statement
from insutrace.trace.entrytype import EntryType
from insutrace.trace.errors import (
    Conflict,
    Forbidden,
    MalformedInput,
    NotFound,
    RuleViolation,
    StorageError,
    VerificationError,
)
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import ClientWrite, ServerWrite
from insutrace.trace.ledger import Receipt as LedgerReceipt
from insutrace.trace.merkle import leaf_hash
from insutrace.trace.tiles import MAX_ENTRY_SIZE

__all__ = ["FastWrites", "add_write_routes", "router"]

router = APIRouter(prefix="/v1", tags=["entries"], responses=PROBLEM_RESPONSES)

MAX_SEQ = 2**53
_STATEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Statement (v 2)",
    "description": "A statement signed by its actor, naming no log position (the log places "
    "it), sent as its RFC 8785 canonical bytes.",
    "required": ["v", "id", "type", "actor", "key", "time", "payload", "sig"],
    "properties": {
        "v": {"type": "integer", "enum": [2]},
        "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$"},
        "type": {"type": "string"},
        "actor": {"type": "string"},
        "key": {"type": "string"},
        "time": {"type": "string", "description": "When the actor signed (RFC 3339 UTC)."},
        "payload": {"type": "object"},
        "seen": {
            "type": "object",
            "description": "The checkpoint the signer last verified.",
            "required": ["size", "root"],
            "properties": {"size": {"type": "integer"}, "root": {"type": "string"}},
        },
        "sig": {"type": "string"},
    },
}
_POSITIONED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Entry naming its own place (v 1)",
    "required": ["v", "seq", "type", "actor", "key", "time", "prev", "payload", "sig"],
    "properties": {
        "v": {"type": "integer", "enum": [1]},
        "seq": {"type": "integer", "minimum": 0},
        "type": {"type": "string"},
        "actor": {"type": "string"},
        "key": {"type": "string"},
        "time": {"type": "string"},
        "prev": {"type": "string"},
        "payload": {"type": "object"},
        "sig": {"type": "string"},
    },
}
_ENTRY_SCHEMA: dict[str, Any] = {"oneOf": [_STATEMENT_SCHEMA, _POSITIONED_SCHEMA]}


def _receipt(services: Services, receipt: LedgerReceipt) -> Receipt:
    """The answer to a write: where the log placed the entry and the checkpoint proving it
    (signed in the entry's own batch; for a duplicate, the latest)."""
    signed = receipt.checkpoint
    if signed is None and services.ledger.log_signer is not None:
        signed = services.ledger.checkpoint()
    entry = receipt.entry
    return Receipt(
        seq=receipt.seq,
        leaf=receipt.leaf.hex(),
        type=entry.type,
        actor=entry.actor,
        duplicate=receipt.duplicate,
        checkpoint_size=None if signed is None else signed.checkpoint.size,
        prev=entry.prev,
        logged=entry.time,
        checkpoint=None if signed is None else signed.note,
    )


def _written(receipt: Receipt) -> JSONResponse:
    status = 200 if receipt.duplicate else 201
    return JSONResponse(receipt.model_dump(), status_code=status)


@router.get("/head", response_model=Head, tags=["log (public)"])
async def head(services: ServicesDep) -> Head:
    """The log's size and last leaf hash: the ``seq`` and ``prev`` of the next entry."""

    def read() -> Head:
        with services.ledger.store.read() as tx:
            size, leaf = tx.head()
            genesis = tx.get("log", "genesis")
        return Head(
            size=size,
            head=leaf.hex() if size else GENESIS_PREV,
            origin=None if genesis is None else str(genesis["origin"]),
            time=format_time(services.ledger.clock.now()),
        )

    return await run_in_threadpool(read)


class _NoState:
    """The log's state for a write rule that reads none (it is never asked)."""

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        raise AssertionError(f"a write rule without an owner check read {kind} {key}")

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        raise AssertionError("a write rule wrote")

    def scan(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        raise AssertionError(f"a write rule without an owner check scanned {kind}")


_NO_STATE = _NoState()


def _check_device_holder(services: Services, actor: str, type: str, payload: Any) -> None:
    """A device key (``key.add``) is held by one of the organisation's own people: its
    ``holder`` must be an active person account of ``actor`` (rule ``key.holder``), so
    "who wrote this entry" never names someone who does not exist."""
    if type != "key.add" or not isinstance(payload, Mapping):
        return
    holder = payload.get("holder")
    person = services.accounts.by_username(holder) if isinstance(holder, str) else None
    if person is None or person.person is None or person.org != actor or not person.active:
        raise RuleViolation(
            "key.holder",
            f"holder {str(holder)!r:.70} is not an active person of {actor}: a device key is "
            "held by one of the organisation's own people",
        )


async def _authorize(
    services: Services, account: Account, type: str, actor: str, payload: Mapping[str, Any]
) -> None:
    """:func:`authorize_write`, reading the log's state (in a worker thread) only when the
    type's rule has an owner check."""
    types = services.ledger.types
    if type == "key.add":
        await run_in_threadpool(_check_device_holder, services, actor, type, payload)
    rule = write_rule(types, type)
    if rule is None or rule.owner is None or actor != account.org:
        authorize_write(_NO_STATE, account, type, actor, payload, types=types)
        return

    def read() -> None:
        with services.ledger.store.read() as tx:
            authorize_write(tx, account, type, actor, payload, types=types)

    await run_in_threadpool(read)


def _parse_statement(data: bytes) -> Statement | Entry:
    """A client-signed statement (or v 1 entry) as sent: canonical bytes of one entry."""
    if len(data) > MAX_ENTRY_SIZE:
        raise MalformedInput(f"statement is {len(data)} bytes, more than {MAX_ENTRY_SIZE}", "")
    obj = parse_canonical(data)  # canonical bytes: no duplicate keys, no floats
    if obj.get("v") == VERSION and "log" in obj:
        raise MalformedInput("send the signed statement itself, without the log's member", "/log")
    if obj.get("v") == VERSION:
        return Statement.from_json(obj)
    return Entry.from_json(obj)


@router.post(
    "/entries",
    response_model=Receipt,
    status_code=201,
    responses={200: {"model": Receipt, "description": "Already logged: the original result."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ENTRY_SCHEMA}},
        }
    },
)
async def submit(request: Request, services: ServicesDep, account: AccountDep) -> JSONResponse:
    """Log a statement signed with a client-held key: the server verifies it and the log
    places it (seq, prev and the log's time in the receipt)."""
    return await _client_signed(services, account, await request.body())


async def _client_signed(services: Services, account: Account, data: bytes) -> JSONResponse:
    """``POST /v1/entries`` once the account is known (the route's and :class:`FastWrites`')."""
    parsed = _parse_statement(data)
    await _authorize(services, account, parsed.type, parsed.actor, parsed.payload)
    check_declared_payload(services.ledger.types, parsed.type, parsed.payload)
    receipt = await asyncio.wrap_future(services.sequencer.submit(ClientWrite(data)))
    return _written(await _answered(services, receipt))


@router.get("/entries", response_model=EntryPage)
async def list_entries(
    services: ServicesDep,
    account: AccountDep,
    batch: Annotated[str | None, Query(max_length=200, description="Batch: <gtin>.<lot>.")] = None,
    product: Annotated[str | None, Query(max_length=14, description="Product GTIN-14.")] = None,
    org: Annotated[str | None, Query(pattern=ORG_PATTERN)] = None,
    project: Annotated[str | None, Query(max_length=200)] = None,
    building: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=100, description="Entry type.")] = None,
    since: Annotated[datetime | None, Query(description="Entry time ≥ since.")] = None,
    until: Annotated[datetime | None, Query(description="Entry time < until.")] = None,
    after: Annotated[int, Query(ge=-1, le=MAX_SEQ, description="Cursor: seq to read after.")] = -1,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EntryPage:
    """Entries oldest first, filtered by reference, type and time (see ``next``)."""
    given = {
        "batch": batch,
        "product": product,
        "org": org,
        "project": project,
        "building": building,
    }
    check_type(services.ledger.types, type)
    refs = {k: v for k, v in given.items() if v is not None}
    if not refs and not account.reads_everything:
        refs = {"org": account.org}
    q = EntryQuery(refs, type, since, until, after, limit)

    def read() -> EntryPage:
        with services.ledger.store.read() as tx:
            authorize_read(tx, account, refs)
            return run_query(tx, q)

    return await run_in_threadpool(read)


@router.get("/entries/{seq}", response_model=EntryPublic)
async def get_entry(
    services: ServicesDep, account: AccountDep, seq: Annotated[int, Path(ge=0, le=MAX_SEQ)]
) -> EntryPublic:
    """One entry by its index (the raw bytes are public in the tiles)."""
    body = await run_in_threadpool(services.ledger.entry_bytes, seq)
    try:
        entry = json.loads(body)
    except ValueError:  # damaged storage: the server's fault, never the caller's
        raise StorageError(
            f"entry {seq} as stored is not JSON: the storage is damaged (run `insutrace verify`)"
        ) from None
    return EntryPublic(seq=seq, leaf=leaf_hash(body).hex(), entry=entry)


# -- server-held keys ----------------------------------------------------------------


def server_signer(services: Services, org: str) -> Signer:
    """The organisation's current key, if the server holds it. Unsealed keys are kept in
    this process's memory (never on disk), one per organisation, under the key id the
    log names as current: a rotation names another id (the next write unseals that one),
    a revocation names none (refused before any cached key is looked at)."""
    vault = services.require_vault()
    with services.ledger.store.read() as tx:
        actor = tx.get("actor", org)
    if actor is None:
        raise NotFound(f"organisation {org} is not registered in the log")
    key_id = actor.get("key")
    if not key_id:
        raise Forbidden(f"{org} has no valid key: its last key was revoked")
    cached = services.unsealed.get(org)
    if cached is not None and cached.key_id == key_id:
        return cached
    signer = services.accounts.load_key(vault, org, str(key_id))
    if signer is None:
        raise Forbidden(
            f"the server does not hold {org}'s current key {key_id}: "
            "the organisation signs locally and sends POST /v1/entries"
        )
    services.unsealed[org] = signer
    return signer


def unseal_current_keys(services: Services) -> int:
    """Unseal, ahead of their first writes, the keys the server holds that the log names
    as their organisations' current ones (:func:`server_signer` does it otherwise on each
    organisation's first write after start-up, a store read and a database read each,
    which a burst of first writes queues behind one another). Keys are kept in memory
    only, as :func:`server_signer` keeps them; how many were unsealed."""
    if services.vault is None:
        return 0
    held = services.accounts.sealed_keys()
    unsealed = 0
    with services.ledger.store.read() as tx:
        current = {org: tx.get("actor", org) for org in {org for org, _, _, _ in held}}
    for org, key_id, nonce, sealed in held:
        actor = current.get(org)
        if actor is None or actor.get("key") != key_id or org in services.unsealed:
            continue
        services.unsealed.setdefault(org, services.vault.open(org, key_id, nonce, sealed))
        unsealed += 1
    return unsealed


def idempotent_id(account_id: int, key: str) -> str:
    """The statement id of a server-signed write sent with ``Idempotency-Key: key``: the
    log keeps ``(actor, id)`` unique in the entry's own transaction, so a retry finds
    the entry itself — there is no separate record to claim, settle or leave stuck."""
    digest = hashlib.sha256(f"{account_id}\n{key}".encode()).hexdigest()
    return "idem-" + digest[:40]


def _server_write(
    services: Services, account: Account, type: str, payload: dict[str, Any], key: str | None
) -> Receipt:
    """A server-signed write, waiting for its batch's commit (for synchronous callers)."""
    ledger = services.ledger
    _check_device_holder(services, account.org, type, payload)
    with ledger.store.read() as tx:
        authorize_write(tx, account, type, account.org, payload, types=ledger.types)
    id = None if key is None else idempotent_id(account.id, key)
    signer = services.unsealed.get(account.org)
    with _idempotency(key):
        if signer is not None:
            try:
                receipt = services.sequencer.write(ServerWrite(type, payload, signer, id=id))
                return _receipt(services, receipt)
            except VerificationError:
                _forget(services, account.org, signer)  # rotated or revoked: ask the log
        signer = server_signer(services, account.org)
        receipt = services.sequencer.write(ServerWrite(type, payload, signer, id=id))
    return _receipt(services, receipt)


async def _server_write_async(
    services: Services, account: Account, type: str, payload: dict[str, Any], key: str | None
) -> LedgerReceipt:
    """Queue a statement the server signs with the organisation's key and await its batch's
    commit. The key unsealed in memory is used as it is: the log refuses it in the write
    transaction if it is no longer the actor's valid key (rotated or revoked, by this
    process or another), and the write is then tried once with the key the log names now
    (:func:`server_signer`: none held, or none valid, is 403)."""
    id = None if key is None else idempotent_id(account.id, key)
    org = account.org
    signer = services.unsealed.get(org)
    with _idempotency(key):
        if signer is not None:
            queued = services.sequencer.submit(ServerWrite(type, payload, signer, id=id))
            try:
                return await asyncio.wrap_future(queued)
            except VerificationError:
                _forget(services, org, signer)
        signer = await run_in_threadpool(server_signer, services, org)
        queued = services.sequencer.submit(ServerWrite(type, payload, signer, id=id))
        return await asyncio.wrap_future(queued)


def _forget(services: Services, org: str, signer: Signer) -> None:
    """Drop an unsealed key the log refused (unless another request replaced it already)."""
    if services.unsealed.get(org) is signer:
        del services.unsealed[org]


@contextmanager
def _idempotency(key: str | None) -> Iterator[None]:
    """A statement id reused with other content, said as the Idempotency-Key it came from."""
    try:
        yield
    except Conflict as exc:
        if key is not None and "statement id" in str(exc):
            raise Conflict(
                f"Idempotency-Key {key!r:.60} was used for a different request"
            ) from None
        raise


async def _answered(services: Services, receipt: LedgerReceipt) -> Receipt:
    """The receipt's answer: built in the event loop unless it needs the latest checkpoint
    (a duplicate's), which is read in a worker thread."""
    if receipt.checkpoint is None and services.ledger.log_signer is not None:
        return await run_in_threadpool(_receipt, services, receipt)
    return _receipt(services, receipt)


async def _server_signed(
    services: Services, account: Account, type: str, payload: BaseModel, key: str | None
) -> JSONResponse:
    """``POST /v1/<type>`` once the account, its role and the payload are checked (the
    route's and :class:`FastWrites`')."""
    # Exactly the members the client sent: the entry signs what was asked for.
    sent = payload.model_dump(mode="json", by_alias=True, exclude_unset=True)
    await _authorize(services, account, type, account.org, sent)
    receipt = await _server_write_async(services, account, type, sent, key)
    return _written(await _answered(services, receipt))


def _may_write(type: str, roles: frozenset[str]) -> Any:
    """A dependency: the account's role may write ``type`` at all. Dependencies run before
    the body is validated, so a role that may not write the type is 403 whatever it sent."""

    async def check(account: AccountDep) -> Account:
        if account.role not in roles:
            allowed = ", ".join(sorted(roles))
            raise Forbidden(f"role {account.role} may not write {type} (allowed: {allowed})")
        return account

    return check


def check_declared_payload(types: Mapping[str, EntryType], name: str, payload: Any) -> None:
    """A payload its type's declared model refuses is :class:`PayloadInvalid`."""
    declared = types.get(name)
    model = declared.payload if declared is not None else None
    if isinstance(model, type) and issubclass(model, BaseModel):
        validate(model, name, payload)


def _model(declared: EntryType) -> type[BaseModel]:
    model = declared.payload
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{declared.name} is written through the API but declares no payload model")
    return model


def _write_endpoint(type: str, model: type[BaseModel], roles: frozenset[str]) -> Any:

    async def write(
        services: ServicesDep,
        account: Account,
        payload: BaseModel,
        idempotency_key: Annotated[
            str | None,
            Header(max_length=200, description="Retries with the same key append once."),
        ] = None,
    ) -> JSONResponse:
        return await _server_signed(services, account, type, payload, idempotency_key)

    # The model and the role check differ per type: set as annotations FastAPI reads.
    write.__annotations__["account"] = Annotated[Account, Depends(_may_write(type, roles))]
    write.__annotations__["payload"] = Annotated[model, Body(**_body_docs(type, model))]
    return write


def _body_docs(type: str, model: type[BaseModel]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not isinstance(examples, list):
        examples = []
    return {
        "description": f"The {type} payload (signed by the server as the entry's payload).",
        "openapi_examples": {
            f"example_{i + 1}": {"summary": f"A valid {type} payload", "value": example}
            for i, example in enumerate(examples)
        },
    }


class PayloadRoute(APIRoute):
    """A ``POST /v1/<type>`` route: a body its payload model refuses is :class:`PayloadInvalid`,
    with pointers into the entry's ``/payload``, instead of a generic request error."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()
        type = self.path.removeprefix("/v1/")

        async def handle(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except RequestValidationError as exc:
                errors = list(exc.errors())
                if not errors or not all(_in_body(e) for e in errors):
                    raise  # a header, or a body that is not JSON at all
                raise PayloadInvalid(type, field_errors(_within(errors), exc.body)) from None
            return response

        return handle


def _in_body(error: Any) -> bool:
    loc = error.get("loc", ())
    return bool(loc) and loc[0] == "body" and error.get("type") != "json_invalid"


def _within(errors: list[Any]) -> list[dict[str, Any]]:
    """FastAPI's errors with the ``body`` prefix dropped: locations inside the payload."""
    return [{**e, "loc": tuple(e["loc"][1:])} for e in errors]


@dataclass(frozen=True)
class _Target:
    """A write route :class:`FastWrites` answers: a type's (server-signed) or, with no
    type, ``POST /v1/entries`` (client-signed)."""

    entry_type: str | None = None
    model: type[BaseModel] | None = None
    roles: frozenset[str] = frozenset()


_DECLARED = "insutrace.declared_route"  # scope key: this request goes the declared way


class FastWrites(BaseRoute):
    """The write routes, ``POST /v1/entries`` and ``POST /v1/<type>``, answered without
    FastAPI's per-request routing and dependency solving — about half the server's work
    per write — for the requests whose answer is sure: no query string; one
    ``Authorization: Bearer`` header whose token the account store's cache holds
    (:meth:`AccountStore.cached`); ``Content-Type: application/json``; at most one
    ``Idempotency-Key`` of 1 to 200 characters; for a type's route, a role that may
    write it and a body its payload model accepts. Such a request is answered by the
    very function the declared route calls (:func:`_server_signed`,
    :func:`_client_signed`), and a refusal raised there is answered by the app's problem
    handlers, as from the route. Every other request goes on, its body replayed, to the
    declared route, which gives each refusal (401, 403, 400, 422 with pointers into the
    payload) — there is one implementation of every check and every answer.

    Mounted first among the app's routes by :func:`add_write_routes`; it matches only
    ``POST`` to those paths."""

    def __init__(self, router: Any, targets: Mapping[str, _Target]) -> None:
        self.router = router
        self.targets = dict(targets)
        self.taken = 0  # requests answered here, receipts and refusals alike (for tests)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in self.targets
            and _DECLARED not in scope
        ):
            return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        response = await self._answer(scope, self.targets[scope["path"]], body)
        if response is None:
            scope[_DECLARED] = True
            await self.router(scope, _replayed(body, receive), send)
            return
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, target: _Target, body: bytes) -> Response | None:
        """The answer, or None when the declared route must give it."""
        if scope.get("query_string"):
            return None
        seen: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in (b"authorization", b"idempotency-key", b"content-type"):
                if name in seen:
                    return None
                seen[name] = value
        content_type = seen.get(b"content-type", b"")
        if content_type.split(b";", 1)[0].strip() != b"application/json":
            return None
        scheme, _, token = seen.get(b"authorization", b"").decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        services: Services = scope["app"].state.services
        account = services.accounts.cached(token)
        if account is None:
            return None
        if target.entry_type is None or target.model is None:
            self.taken += 1
            return await _client_signed(services, account, body)
        key = seen.get(b"idempotency-key")
        if key is not None and not 1 <= len(key) <= 200:
            return None
        if account.role not in target.roles:
            return None
        try:
            sent = json.loads(body)
            payload = target.model.model_validate(sent) if isinstance(sent, dict) else None
        except (ValueError, ValidationError):
            return None
        if payload is None:
            return None
        idempotency = None if key is None else key.decode("latin-1")
        self.taken += 1
        return await _server_signed(services, account, target.entry_type, payload, idempotency)


def _replayed(body: bytes, receive: Receive) -> Receive:
    """The body read once, whole; then the client's own messages."""
    pending = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay


def add_write_routes(app: FastAPI, types: Mapping[str, EntryType]) -> None:
    """One ``POST /v1/<type>`` per entry type a role may write (server-held key), its body
    the type's payload model; and :class:`FastWrites` before every route, for these and
    ``POST /v1/entries``."""
    targets = {"/v1/entries": _Target()}
    for type in sorted(types):
        rule = write_rule(types, type)
        if type == GENESIS or rule is None:
            continue
        targets[f"/v1/{type}"] = _Target(type, _model(types[type]), rule.roles)
        roles = ", ".join(sorted(rule.roles))
        app.router.add_api_route(
            f"/v1/{type}",
            _write_endpoint(type, _model(types[type]), rule.roles),
            methods=["POST"],
            response_model=Receipt,
            status_code=201,
            responses={
                **PROBLEM_RESPONSES,
                200: {"model": Receipt, "description": "Same Idempotency-Key: first result."},
            },
            summary=f"Write {type} (server-held key)",
            description=f"{rule.doc}\n\nRoles: {roles}. {rule.owner_doc}".strip(),
            operation_id=f"write_{type.replace('.', '_')}",
            tags=["writes (server-held keys)"],
            route_class_override=PayloadRoute,
        )
    app.router.routes.insert(0, FastWrites(app.router, targets))
