"""Bounded work per server process: how many requests, and how many writes, run at once.

:class:`InFlightLimit` lets at most ``max_writes`` writes (POST, PUT, PATCH, DELETE) and
``max_requests`` requests in all run at once; one more is answered at once with 503 and
``Retry-After`` (problem JSON), never queued. The API's write routes wait for their
batch's commit in the event loop, holding no worker thread (the sequencer admits up to
256 writes a batch), so ``max_writes`` defaults to that batch. A page form that writes
from a worker thread holds its thread until its batch commits (a few milliseconds): reads
wait for a thread only while all 40 are held so.

Every 503 the app answers (a lock wait that ran out, a database that is down) carries
``Retry-After`` too. :class:`GuardedH11Protocol` bounds how slowly a client may send.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h11
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from insutrace.api.problems import problem_response

__all__ = [
    "BODY_TIMEOUT",
    "HEADER_TIMEOUT",
    "MAX_REQUESTS",
    "MAX_WRITES",
    "RETRY_AFTER",
    "GuardedH11Protocol",
    "InFlightLimit",
]

HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a request's headers (from its first byte)."""
BODY_TIMEOUT = 30.0
"""Seconds a request body may go without a byte."""

MAX_REQUESTS = 256
MAX_WRITES = 256
RETRY_AFTER = "1"
"""Seconds a client waits before retrying a 503 (RFC 9110 §10.2.3)."""
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class InFlightLimit:
    """ASGI middleware: at most ``max_requests`` requests and ``max_writes`` writes at once;
    ``Retry-After`` on every 503."""

    def __init__(
        self, app: ASGIApp, *, max_requests: int = MAX_REQUESTS, max_writes: int = MAX_WRITES
    ) -> None:
        self.app = app
        self.max_requests = max_requests
        self.max_writes = max_writes
        self.requests = 0
        self.writes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        write = scope["method"] in _WRITES
        busy = None
        if self.requests >= self.max_requests:
            busy = f"the server is serving {self.requests} requests, its limit: retry shortly"
        elif write and self.writes >= self.max_writes:
            busy = f"the server is running {self.writes} writes, its limit: retry shortly"
        if busy is not None:
            response = problem_response(503, "busy", busy, scope["path"])
            response.headers["Retry-After"] = RETRY_AFTER
            await response(scope, receive, send)
            return
        self.requests += 1
        self.writes += write
        try:
            await self.app(scope, receive, _retry_after(send))
        finally:
            self.requests -= 1
            self.writes -= write


def _retry_after(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 503:
            headers = MutableHeaders(scope=message)
            if "retry-after" not in headers:
                headers["Retry-After"] = RETRY_AFTER
        await send(message)

    return sending


# -- slow clients ---------------------------------------------------------------------------


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the two time-outs uvicorn lacks (it bounds only the
    idle time between requests, ``timeout_keep_alive``):

    * the header time-out (``INSUTRACE_HEADER_TIMEOUT``, default :data:`HEADER_TIMEOUT`):
      a request's headers must be complete this many seconds after its first byte (or
      after the connection opened): a client dripping header lines (slow loris) is cut off
      however often it sends;
    * the body time-out (``INSUTRACE_BODY_TIMEOUT``, default :data:`BODY_TIMEOUT`): while a
      body is being received, at most this many seconds may pass without a byte of it.

    A connection that runs out of either is closed; a request whose body is complete is
    never cut off, however long the server takes to answer it. The time-outs are read from
    the environment so that ``insutrace serve`` hands them to every worker process."""

    _header_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = _env_seconds("INSUTRACE_HEADER_TIMEOUT", HEADER_TIMEOUT)
        self.body_timeout = _env_seconds("INSUTRACE_BODY_TIMEOUT", BODY_TIMEOUT)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._guard()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _cancel(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _guard(self) -> None:
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE and self.timeout_keep_alive_task is None:
            if self._header_timer is None:  # armed once per request, never pushed back
                self._header_timer = self.loop.call_later(self.header_timeout, self._expire)
            return
        self._cancel()
        if state is h11.SEND_BODY:
            self._body_timer = self.loop.call_later(self.body_timeout, self._expire)

    def _expire(self) -> None:
        self._header_timer = self._body_timer = None
        if self.flow.read_paused:  # the app has not read what came: not the client's delay
            self._body_timer = self.loop.call_later(self.body_timeout, self._expire)
            return
        if not self.transport.is_closing() and self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self.logger.info("closing a connection: the client sent its request too slowly")
            self.transport.close()


def _env_seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    try:
        value = float(text) if text else default
    except ValueError:
        value = default
    return value if value > 0 else default
