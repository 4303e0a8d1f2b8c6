"""The log's public read API, C2SP tlog-tiles v0.1.0 under ``/log``, plus JSON proofs.

    GET /log/checkpoint                     text/plain; charset=utf-8   no-cache
    GET /log/checkpoint/witnessed           the newest one with the witnesses' quorum
    GET /log/tile/<L>/<N>[.p/<W>]           application/octet-stream   full: immutable
    GET /log/tile/entries/<N>[.p/<W>]       application/octet-stream   full: immutable
    GET /log/log.vkey                       the log's verifier key (C2SP signed-note)
    GET /log/entries/<N>.tlog-proof         C2SP tlog-proof v1 against the latest checkpoint
    GET /log/proof/inclusion?index=&size=   RFC 9162 §2.1.3 path, JSON
    GET /log/proof/consistency?old=&new=    RFC 9162 §2.1.4 proof, JSON

Full tiles never change (C2SP tlog-tiles: "full tiles are immutable"): once read, a full
tile is answered from memory (``api/tilecache.py``), and shared caches may keep it for a
year. A partial tile of a given width does not change either, but is superseded as the
log grows: it is kept in memory too, and shared caches keep it briefly. The checkpoint is
answered from memory while no batch has committed since (see ``CheckpointCache``), with
an ETag: a client revalidating it gets 304 while the log has not grown. Nothing here needs
an account.

:class:`LogReads` answers those from memory before the FastAPI router, as an ASGI
middleware inside the request id, NUL, in-flight and body-size guards: a tile or
checkpoint already in memory is two ASGI messages, with no routing, dependency or
validation work. Anything else, or anything not yet in memory, goes on to the routes
below, which read the store and fill the caches.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from insutrace.api.deps import Services, ServicesDep
from insutrace.api.problems import PROBLEM_RESPONSES
from insutrace.api.schemas import ConsistencyProof, InclusionProof
from insutrace.trace.errors import MalformedInput, NotFound
from insutrace.trace.tiles import WIDTH, parse_tile_path

__all__ = ["LogReads", "router"]

TEXT = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL = "public, max-age=10"
NO_CACHE = "no-cache"
MAX_INDEX = 2**53  # JSON-safe integers; no log here comes near

router = APIRouter(prefix="/log", tags=["log (public)"], responses=PROBLEM_RESPONSES)


def _text_response(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {TEXT: {"schema": {"type": "string"}}}}}


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@router.get(
    "/checkpoint",
    response_class=Response,
    responses=_text_response("The latest signed checkpoint (C2SP tlog-checkpoint)."),
)
async def checkpoint(services: ServicesDep) -> Response:
    cache = services.checkpoints
    stamp = cache.stamp()  # before the read: a checkpoint published meanwhile is noticed
    signed = await run_in_threadpool(services.ledger.latest_checkpoint)
    cache.fill(signed, stamp)
    headers = {"Cache-Control": NO_CACHE, "ETag": f'"{signed.checkpoint.size}"'}
    return Response(signed.note, media_type=TEXT, headers=headers)


@router.get(
    "/checkpoint/witnessed",
    response_class=Response,
    responses=_text_response(
        "The newest checkpoint carrying the configured quorum of witness cosignatures "
        "(C2SP tlog-cosignature lines after the log's signature); 404 when none does."
    ),
)
async def witnessed_checkpoint(services: ServicesDep) -> Response:
    witnessing = services.witnessing
    if witnessing is None:
        raise NotFound("this log has no witnesses configured (INSUTRACE_WITNESSES)")
    note = await run_in_threadpool(witnessing.witnessed_checkpoint)
    return Response(note, media_type=TEXT, headers={"Cache-Control": NO_CACHE})


@router.get(
    "/log.vkey",
    response_class=Response,
    responses=_text_response("The log's verifier key string (C2SP signed-note)."),
)
async def log_vkey(services: ServicesDep) -> Response:
    verifier = await run_in_threadpool(services.ledger.log_verifier)
    return Response(verifier.vkey() + "\n", media_type=TEXT, headers={"Cache-Control": NO_CACHE})


@router.get(
    "/tile/{path:path}",
    response_class=Response,
    responses={
        200: {
            "description": "A hash tile or an entry bundle (C2SP tlog-tiles).",
            "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def tile(
    services: ServicesDep,
    path: Annotated[str, Path(description="`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.")],
) -> Response:
    ref = parse_tile_path("tile/" + path)
    key = ref.path()
    body = services.tiles.get(key)  # read before (LogReads answers most of these)
    if body is None:
        body = await run_in_threadpool(services.ledger.tile, ref)
        services.tiles.put(key, body)
    cache = IMMUTABLE if ref.width == WIDTH else PARTIAL
    return Response(body, media_type=OCTETS, headers={"Cache-Control": cache})


@router.get(
    "/entries/{index}.tlog-proof",
    response_class=Response,
    responses=_text_response("A C2SP tlog-proof v1 of the entry, checkable offline."),
)
async def tlog_proof(
    services: ServicesDep, index: Annotated[int, Path(ge=0, le=MAX_INDEX)]
) -> Response:
    proof = await run_in_threadpool(services.ledger.tlog_proof, index)
    headers = {
        "Cache-Control": NO_CACHE,
        "Content-Disposition": f'attachment; filename="{index}.tlog-proof"',
    }
    return Response(proof.text(), media_type=TEXT, headers=headers)


def _inclusion(services: ServicesDep, index: int, size: int | None) -> InclusionProof:
    ledger = services.ledger
    if size is None:
        size = ledger.latest_checkpoint().checkpoint.size
    if index >= size:
        raise MalformedInput(f"index {index} is not below size {size}")
    hashes = ledger.inclusion_proof(index, size)
    with ledger.store.read() as tx:
        note = tx.checkpoint_at(size)
    return InclusionProof(index=index, size=size, hashes=_b64(hashes), checkpoint=note)


@router.get("/proof/inclusion", response_model=InclusionProof)
async def inclusion_proof(
    services: ServicesDep,
    index: Annotated[int, Query(ge=0, le=MAX_INDEX, description="Entry index.")],
    size: Annotated[
        int | None,
        Query(ge=1, le=MAX_INDEX, description="Tree size; default: the latest checkpoint."),
    ] = None,
) -> InclusionProof:
    return await run_in_threadpool(_inclusion, services, index, size)


def _consistency(services: ServicesDep, old: int, new: int) -> ConsistencyProof:
    if old > new:
        raise MalformedInput(f"old size {old} is larger than new size {new}")
    hashes = services.ledger.consistency_proof(old, new)
    return ConsistencyProof(old=old, new=new, hashes=_b64(hashes))


@router.get("/proof/consistency", response_model=ConsistencyProof)
async def consistency_proof(
    services: ServicesDep,
    old: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    new: Annotated[int, Query(ge=0, le=MAX_INDEX)],
) -> ConsistencyProof:
    return await run_in_threadpool(_consistency, services, old, new)


# -- the same answers, from memory, before routing -----------------------------------------

_TILE_PREFIX = "/log/tile/"
_CHECKPOINT = "/log/checkpoint"
_OCTET_HEADERS = [(b"content-type", OCTETS.encode())]
_IMMUTABLE = (b"cache-control", IMMUTABLE.encode())
_PARTIAL = (b"cache-control", PARTIAL.encode())
_CHECKPOINT_HEADERS = [(b"content-type", TEXT.encode()), (b"cache-control", NO_CACHE.encode())]


class LogReads:
    """ASGI middleware: ``GET /log/tile/…`` and ``GET /log/checkpoint`` from memory when
    the bytes are there (byte for byte what the routes answer, same headers), else on to
    the app. A tile path is looked up as it came: only a path the routes parsed and stored
    (canonical, within the log) can be found."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.tiles = services.tiles
        self.checkpoints = services.checkpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(_TILE_PREFIX):
                body = self.tiles.get(path[5:])  # "tile/…"
                if body is not None:
                    cache = _PARTIAL if ".p/" in path else _IMMUTABLE
                    await _answer(send, 200, [*_OCTET_HEADERS, cache], body)
                    return
            elif path == _CHECKPOINT:
                answer = self.checkpoints.get()
                if answer is not None:
                    note, etag = answer
                    headers = [*_CHECKPOINT_HEADERS, (b"etag", etag)]
                    if _if_none_match(scope) == etag:  # RFC 9110 §13.1.2: not modified
                        await send(
                            {"type": "http.response.start", "status": 304, "headers": headers}
                        )
                        await send({"type": "http.response.body", "body": b""})
                    else:
                        await _answer(send, 200, headers, note)
                    return
        await self.app(scope, receive, send)


def _if_none_match(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return bytes(value).strip()
    return None


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})
