"""Documents by SHA-256: the bytes behind the hashes entries carry (report PDFs,
decision documents, surveys), kept in the content-addressed blob store.

    POST /v1/documents            any account: the request body is the document;
                                  answers its SHA-256 (the value to put in an entry)
    GET  /v1/documents/{sha256}   any account: the bytes, re-hashed on the way out
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from insutrace.api.deps import AccountDep, ServicesDep
from insutrace.api.problems import PROBLEM_RESPONSES

__all__ = ["router"]

router = APIRouter(prefix="/v1/documents", tags=["documents"], responses=PROBLEM_RESPONSES)

_FLUSH = 1 << 20
_SHA256 = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="SHA-256, lowercase hex")]


@router.post(
    "",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
    responses={201: {"description": "Stored (or already there): its SHA-256 and size."}},
)
async def upload(request: Request, services: ServicesDep, account: AccountDep) -> JSONResponse:
    """Store a document; reference it in entries by the SHA-256 this returns. The body is
    streamed to disk and hashed on the way (never held whole); one larger than the store's
    limit is 413, refused by its ``Content-Length`` before it is read, or as soon as a
    chunked body passes the limit (:class:`~insutrace.api.bodies.BodyLimit`)."""
    writer = await run_in_threadpool(services.blobs.writer)
    try:
        buffered = bytearray()
        async for chunk in request.stream():
            buffered += chunk
            if len(buffered) >= _FLUSH:  # one thread hop per MiB, not per network read
                await run_in_threadpool(writer.write, bytes(buffered))
                buffered.clear()
        if buffered:
            await run_in_threadpool(writer.write, bytes(buffered))
        digest = await run_in_threadpool(writer.commit)
    finally:
        await run_in_threadpool(writer.abort)
    return JSONResponse({"sha256": digest, "size": writer.size}, status_code=201)


@router.get(
    "/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}, "application/pdf": {}}}},
)
async def download(sha256: _SHA256, services: ServicesDep, account: AccountDep) -> Response:
    """The document's bytes, checked against its SHA-256."""
    data = await run_in_threadpool(services.blobs.get, sha256)
    kind = "application/pdf" if data.startswith(b"%PDF-") else "application/octet-stream"
    headers = {"Cache-Control": "private, max-age=31536000, immutable", "ETag": f'"{sha256}"'}
    return Response(data, media_type=kind, headers=headers)
