"""RFC 9457 problem details: every error the API answers is one ``application/problem+json``.

Each class of :mod:`insutrace.trace.errors` maps to one status (the core never raises HTTP
errors; this is the boundary that translates)::

    MalformedInput       400  malformed-input
    Unauthenticated      401  unauthenticated       (API layer: no or unknown token)
    Forbidden            403  forbidden
    NotFound             404  not-found
    Conflict             409  conflict              (stale head: re-sign and retry)
    RuleViolation        422  rule-violation        + "rule", "clause"
    VerificationError    422  verification-failed   + "index"
    StorageError         503  storage-unavailable   (the database; retry later)
    request validation   422  invalid-request       + "errors"
    PayloadInvalid       422  invalid-request       + "errors": [{pointer, detail}]

A problem body always has ``type``, ``title``, ``status`` and ``detail``; ``instance`` is the
request path.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from insutrace.trace.domain.payloads import PayloadInvalid
from insutrace.trace.errors import (
    Conflict,
    Forbidden,
    LedgerError,
    MalformedInput,
    NotFound,
    RuleViolation,
    StorageError,
    VerificationError,
)

__all__ = [
    "PROBLEM_RESPONSES",
    "Problem",
    "Unauthenticated",
    "install_problem_handlers",
    "problem_response",
]

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:insutrace:problem:"


class Unauthenticated(LedgerError):
    """No bearer token, or one that names no active account (401)."""


class Problem(BaseModel):
    """RFC 9457 §3.1 members, plus the ledger's extension members."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = None
    clause: str | None = None
    index: int | None = None


# Most specific class first: isinstance picks the first match.
_MAPPING: tuple[tuple[type[LedgerError], int, str], ...] = (
    (RuleViolation, 422, "rule-violation"),
    (VerificationError, 422, "verification-failed"),
    (MalformedInput, 400, "malformed-input"),
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not-found"),
    (Conflict, 409, "conflict"),
    (StorageError, 503, "storage-unavailable"),
)

_CONTENT = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": HTTPStatus(status).phrase, "content": _CONTENT}
    for status in (400, 401, 403, 404, 409, 422, 503)
}


def problem_response(
    status: int, slug: str, detail: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    """One problem body; ``extra`` members with value None are left out."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'Bearer realm="insutrace"'} if status == 401 else None
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def classify(exc: LedgerError) -> tuple[int, str]:
    """The status and problem slug of a core error (500 for the bare base class)."""
    for cls, status, slug in _MAPPING:
        if isinstance(exc, cls):
            return status, slug
    return 500, "internal"


def _ledger_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    status, slug = classify(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, RuleViolation):
        extra = {"rule": exc.rule, "clause": exc.clause, "detail": exc.reason}
    elif isinstance(exc, VerificationError):
        extra = {"index": exc.index}
    detail = extra.pop("detail", str(exc))
    return problem_response(status, slug, detail, request.url.path, **extra)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    return problem_response(422, "invalid-request", detail, request.url.path, errors=errors)


def _payload_error(request: Request, exc: Exception) -> JSONResponse:
    """A payload its model refuses: each member's JSON Pointer (RFC 6901) and what is wrong."""
    assert isinstance(exc, PayloadInvalid)
    return problem_response(422, "invalid-request", str(exc), request.url.path, errors=exc.errors)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-")
    response = problem_response(exc.status_code, slug, str(exc.detail), request.url.path)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every core error, validation error and HTTP error with a problem body."""
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(PayloadInvalid, _payload_error)  # found before MalformedInput's (MRO)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
