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
from insutrace.trace.errors import MalformedInput

__all__ = ["router"]

router = APIRouter(prefix="/v1/documents", tags=["documents"], responses=PROBLEM_RESPONSES)

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
    """Store a document; reference it in entries by the SHA-256 this returns."""
    limit = services.blobs.max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise MalformedInput(f"document of {declared} bytes exceeds the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise MalformedInput(f"document exceeds the {limit}-byte limit")
    digest = await run_in_threadpool(services.blobs.put, bytes(body))
    return JSONResponse({"sha256": digest, "size": len(body)}, status_code=201)


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
