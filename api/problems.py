"""RFC 9457 problem details: every error the API answers is one ``application/problem+json``.

Each class of :mod:`insutrace.trace.errors` maps to exactly one status in :data:`STATUSES`
(the core never raises HTTP errors; this is the boundary that translates)::

    MalformedInput       400  malformed-input       + "rule", "clause", "message", "errors"
    Unauthenticated      401  unauthenticated       (API layer: no or unknown token)
    Forbidden            403  forbidden
    NotFound             404  not-found
    Conflict             409  conflict              (stale head: re-sign and retry)
    RuleViolation        422  rule-violation        + "rule", "clause", "message", "errors"
    VerificationError    422  verification-failed   + "index"
    StorageError         503  storage-unavailable   (the database; retry later)
    Unavailable          503  unavailable           (no log key, no database)
    request validation   422  invalid-request       + "rule", "clause", "message", "errors"
    PayloadInvalid       422  invalid-request       + "errors": [{pointer, detail}]

A problem body always has ``type``, ``title``, ``status`` and ``detail`` (the English detail
of this instance); ``instance`` is the request path. A refusal also carries the rule id, its
clause and ``message``, one object ``{"zh": …, "en": …}`` with the rule catalogue's text
(:mod:`insutrace.trace.rules`); input faults use the rule ``input.malformed``. ``errors`` lists
each fault as ``{"pointer", "detail", "rule"?}``, ``pointer`` an RFC 6901 JSON Pointer into the
submitted entry (or request body) or null where unknown; a single fault is one item.
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
    Unavailable,
    VerificationError,
)
from insutrace.trace.rules import explain

__all__ = [
    "INPUT_RULE",
    "PROBLEM_RESPONSES",
    "STATUSES",
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
    message: dict[str, str] | None = None
    errors: list[dict[str, Any]] | None = None
    index: int | None = None


STATUSES: dict[type[LedgerError], tuple[int, str]] = {
    PayloadInvalid: (422, "invalid-request"),  # before MalformedInput, its base
    MalformedInput: (400, "malformed-input"),
    Unauthenticated: (401, "unauthenticated"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not-found"),
    Conflict: (409, "conflict"),
    RuleViolation: (422, "rule-violation"),
    VerificationError: (422, "verification-failed"),
    StorageError: (503, "storage-unavailable"),
    Unavailable: (503, "unavailable"),
}
"""The one HTTP status and problem slug of each error class (a subclass before its base)."""

INPUT_RULE = "input.malformed"
"""The catalogue rule every input fault cites."""

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
    """The status and problem slug of a core error, from :data:`STATUSES` (500 for a class
    the table lacks, which a test rules out)."""
    for cls, answer in STATUSES.items():
        if isinstance(exc, cls):
            return answer
    return 500, "internal"


def _refusal(rule: str, clause: str, message: dict[str, str]) -> dict[str, Any]:
    return {"rule": rule, "clause": clause, "message": message}


def _input_rule(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The members of an input fault: the catalogue's ``input.malformed`` and the faults."""
    clause, message = explain(INPUT_RULE, "", {})
    return {**_refusal(INPUT_RULE, clause, message), "errors": errors}


def _members(exc: LedgerError) -> tuple[str, dict[str, Any]]:
    """The detail and extension members of a core error's problem body."""
    if isinstance(exc, RuleViolation):
        item = {"pointer": None, "detail": exc.reason, "rule": exc.rule}
        return exc.reason, {**_refusal(exc.rule, exc.clause, exc.message), "errors": [item]}
    if isinstance(exc, MalformedInput):
        return str(exc), _input_rule([{"pointer": exc.pointer, "detail": str(exc)}])
    if isinstance(exc, VerificationError):
        return str(exc), {"index": exc.index}
    return str(exc), {}


def _ledger_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    status, slug = classify(exc)
    detail, extra = _members(exc)
    return problem_response(status, slug, detail, request.url.path, **extra)


def _body_pointer(loc: list[Any]) -> str | None:
    """RFC 6901 pointer of a request-body location (``["body", "payload", "x"]``)."""
    if not loc or loc[0] != "body":
        return None
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in loc[1:])


def _validation_item(e: Any) -> dict[str, Any]:
    loc, msg = list(e.get("loc", ())), str(e.get("msg", ""))
    where = ".".join(str(p) for p in loc)
    detail = f"{where}: {msg}" if where else msg
    return {
        "loc": loc,
        "msg": msg,
        "type": e.get("type", ""),
        "pointer": _body_pointer(loc),
        "detail": detail,
    }


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_validation_item(e) for e in exc.errors()]
    detail = errors[0]["detail"] if errors else "invalid request"
    extra = _input_rule(errors)
    return problem_response(
        422, "invalid-request", detail or "invalid request", request.url.path, **extra
    )


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
