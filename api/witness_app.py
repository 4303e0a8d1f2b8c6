"""``insutrace witness serve``: a C2SP tlog-witness v1.0.0 over HTTP.

    POST /add-checkpoint                 200 cosignature line(s), text/plain
                                         409 ``<size>\\n`` (text/x.tlog.size), 400/403/404/422
    GET  /<hex SHA-256 of origin>/checkpoint
                                         the latest checkpoint it cosigned, with the log's
                                         signature and its own cosignature; 404 if none

The witness is its own small service with its own SQLite state (``trace/witness.py``);
it needs no ledger database and no account.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from insutrace.trace.witness import SIZE_TYPE, Witness, WitnessRefusal

__all__ = ["create_witness_app"]

_LIMIT = 1 << 20


def create_witness_app(witness: Witness, clock: Callable[[], float] = time.time) -> FastAPI:
    app = FastAPI(
        title="InsuTrace witness (C2SP tlog-witness v1.0.0)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > _LIMIT):
            return PlainTextResponse("request body larger than 1 MiB\n", status_code=400)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > _LIMIT:
                return PlainTextResponse("request body larger than 1 MiB\n", status_code=400)
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, bytes(body), int(clock()))
        except WitnessRefusal as refusal:
            if refusal.size is not None:
                return Response(f"{refusal.size}\n", status_code=409, media_type=SIZE_TYPE)
            return PlainTextResponse(refusal.message + "\n", status_code=refusal.status)
        return PlainTextResponse("".join(f"{line}\n" for line in lines))

    @app.get("/{origin_hash}/checkpoint")
    async def latest(origin_hash: str) -> Response:
        for origin in witness.logs:
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                stored = witness.latest(origin)
                if stored is None:
                    break
                return PlainTextResponse(stored[2])
        return PlainTextResponse("no checkpoint cosigned for that origin\n", status_code=404)

    return app
