"""Request URLs: a NUL character in the path or the query string is refused at the door.

No identifier, filter or page parameter of this ledger can contain U+0000, and
PostgreSQL cannot store or compare it in text: without this check such a request
reaches the database and fails there (a 503 for a client's mistake). The check runs
before routing, so every route, present and future, answers it with one 400 problem —
but for GS1 Digital Links (``/01/…``, ``/pages/01/…``), whose resolver refuses a NUL
itself under its own rule (``resolver.syntax``), with CORS and a page for a browser.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from insutrace.api.problems import problem_response

__all__ = ["RefuseNulInUrls"]

_RESOLVED = ("/01/", "/pages/01/")  # the resolver's own syntax check covers these


class RefuseNulInUrls:
    """ASGI middleware: ``%00`` (or a raw NUL) in the path or query string is a 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith(_RESOLVED):
            query: bytes = scope.get("query_string", b"")
            if "\x00" in path or b"\x00" in query or b"%00" in query:
                where = "path" if "\x00" in path else "query string"
                response = problem_response(
                    400,
                    "malformed-input",
                    f"the URL's {where} contains a NUL character (%00), which no "
                    "identifier or parameter of this ledger can hold",
                    path.replace("\x00", "%00"),
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
