"""Request bodies: bounded in size, and, for write endpoints, one JSON text, one meaning.

:class:`BodyLimit` refuses a body larger than its endpoint accepts before reading it: a
declared ``Content-Length`` over the limit is answered 413 at once (problem JSON, rule
``input.too_large``) without a byte of the body read; a chunked body is counted as it
arrives and refused as soon as the count passes the limit. Documents (``/v1/documents``)
may be as large as the blob store takes; every other body is at most :data:`MAX_BODY`
(an entry is at most 64 KiB, C2SP tlog-tiles).

RFC 8259 §4 leaves duplicate member names to the parser ("the names within an object
SHOULD be unique"); Python's parser, and so FastAPI's, keeps the last one silently, so
``{"id": "A", "id": "B"}`` would be logged as ``B`` while a reviewer of the request saw
``A``. I-JSON (RFC 7493 §2.3) forbids them; so does this ledger. :class:`RefuseDuplicateKeys`
reads the JSON body of every POST, PUT and PATCH before any route parses it and answers a
duplicate name — or nesting too deep for the parser — with a 400 problem: the request
never reaches a handler, so nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from insutrace.api.problems import problem_response
from insutrace.trace.canonical import MAX_DEPTH
from insutrace.trace.rules import explain

__all__ = [
    "MAX_BODY",
    "TOO_LARGE_RULE",
    "BodyLimit",
    "BodyTooLarge",
    "RefuseDuplicateKeys",
    "body_fault",
    "too_large_response",
]

MAX_BODY = 1 << 20
"""The largest body (bytes) of any request but a document upload: 1 MiB."""
TOO_LARGE_RULE = "input.too_large"

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Duplicate(ValueError):
    """A member name repeated within one JSON object (RFC 7493 §2.3)."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def body_fault(body: bytes) -> str | None:
    """Why a JSON request body is refused (RFC 7493 §2.3), or None. Bodies that are not
    JSON at all are left to the route, which answers them in its own terms."""
    try:
        json.loads(body, object_pairs_hook=_unique)
    except _Duplicate as dup:
        return f"duplicate member name {dup.args[0]!r:.80} in the request body (RFC 7493 §2.3)"
    except RecursionError:
        return f"JSON nested too deep (more than {MAX_DEPTH} levels are refused)"
    except ValueError:  # not JSON, not UTF-8: not this check's concern
        return None
    return None


def _is_json(scope: Scope) -> bool:
    """JSON by its media type, or untyped (``POST /v1/entries`` takes untyped bytes as
    the entry's JSON text)."""
    headers = dict(scope.get("headers") or [])
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return kind in (b"", b"application/json") or kind.endswith(b"+json")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False) or message["type"] != "http.request":
            return b"".join(chunks)


class RefuseDuplicateKeys:
    """ASGI middleware: a write request's JSON body with a duplicate member name is 400.
    Paths under ``raw`` (document uploads: bytes, not JSON) are passed on unread."""

    def __init__(self, app: ASGIApp, *, raw: tuple[str, ...] = ("/v1/documents",)) -> None:
        self.app = app
        self.raw = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WRITE_METHODS
            or not _is_json(scope)
            or scope["path"].startswith(self.raw)
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        fault = body_fault(body)
        if fault is not None:
            response = problem_response(400, "malformed-input", fault, scope["path"])
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, whole; then the client's own messages (e.g. its disconnect)."""
    pending = [body]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replayed


# -- size ------------------------------------------------------------------------------------


class BodyTooLarge(Exception):
    """A request body passed its endpoint's limit while it was being read."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        self.limit = limit
        self.declared = declared
        size = f"{declared} bytes" if declared is not None else f"more than {limit} bytes"
        super().__init__(f"request body of {size} exceeds this endpoint's {limit}-byte limit")


def too_large_response(exc: BodyTooLarge, path: str) -> Response:
    """The 413 problem (RFC 9110 §15.5.14) naming the limit; the connection is closed,
    since the rest of the body is not read."""
    clause, message = explain(TOO_LARGE_RULE, "", {})
    response = problem_response(
        413, "content-too-large", str(exc), path, rule=TOO_LARGE_RULE, clause=clause,
        message=message, limit=exc.limit,
    )  # fmt: skip
    response.headers["Connection"] = "close"
    return response


async def too_large_handler(request: Request, exc: Exception) -> Response:
    """The app's handler: a route that read past the limit (a streamed upload)."""
    assert isinstance(exc, BodyTooLarge)
    return too_large_response(exc, request.url.path)


def _declared_length(scope: Scope) -> int | str | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 20 else text
    return None


class BodyLimit:
    """ASGI middleware: request bodies bounded by size, declared or counted.

    ``limits`` maps a path prefix to its own limit (the longest prefix wins); every other
    path takes ``default``."""

    def __init__(
        self, app: ASGIApp, *, default: int = MAX_BODY, limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default = default
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _declared_length(scope)
        if isinstance(declared, str):
            detail = f"Content-Length {declared!r:.40} is not a number of bytes"
            await problem_response(400, "malformed-input", detail, scope["path"])(
                scope, receive, send
            )
            return
        if declared is not None and declared > limit:
            exc = BodyTooLarge(limit, declared)
            await too_large_response(exc, scope["path"])(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # read by a middleware (outside the app's handlers)
            if started:
                raise
            await too_large_response(exc, scope["path"])(scope, receive, send)
