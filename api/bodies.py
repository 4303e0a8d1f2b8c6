"""Request bodies of write endpoints: one JSON text, one meaning.

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
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from insutrace.api.problems import problem_response
from insutrace.trace.canonical import MAX_DEPTH

__all__ = ["RefuseDuplicateKeys", "body_fault"]

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
    """ASGI middleware: a write request's JSON body with a duplicate member name is 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITE_METHODS or not _is_json(scope):
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
