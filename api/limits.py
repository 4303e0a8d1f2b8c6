"""Bounded work per server process: how many requests, and how many writes, run at once.

:class:`InFlightLimit` lets at most ``max_writes`` writes (POST, PUT, PATCH, DELETE) and
``max_requests`` requests in all run at once; one more is answered at once with 503 and
``Retry-After`` (problem JSON), never queued. The API's write routes wait for their
batch's commit in the event loop, holding no worker thread (the sequencer admits up to
256 writes a batch), so ``max_writes`` defaults to that batch. A page form that writes
from a worker thread holds its thread until its batch commits (a few milliseconds): reads
wait for a thread only while all 40 are held so.

Every 503 the app answers (a lock wait that ran out, a database that is down) carries
``Retry-After`` too. :class:`GuardedHttpToolsProtocol` bounds how slowly a client may send
and how large a request's head may be.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from insutrace.api.problems import problem_response

__all__ = [
    "BODY_TIMEOUT",
    "HEADER_TIMEOUT",
    "MAX_HEAD",
    "MAX_REQUESTS",
    "MAX_WRITES",
    "RETRY_AFTER",
    "GuardedHttpToolsProtocol",
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


# -- slow clients, large heads, one send per response ----------------------------------------

MAX_HEAD = 16 * 1024
"""Bytes a request's line and headers may take (a larger head is answered 431)."""
_IDLE, _HEAD, _BODY, _DONE = "idle", "head", "body", "done"  # where a connection's request is


class HeadTooLarge(Exception):
    """Raised from a parser callback when the head passed :data:`MAX_HEAD`."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools (llhttp) protocol with what uvicorn lacks for it (it bounds only
    the idle time between requests, ``timeout_keep_alive``):

    * the header time-out (``INSUTRACE_HEADER_TIMEOUT``, default :data:`HEADER_TIMEOUT`):
      a request's head must be complete this many seconds after its first byte (or after
      the connection opened): a client dripping header lines (slow loris) is cut off
      however often it sends;
    * the body time-out (``INSUTRACE_BODY_TIMEOUT``, default :data:`BODY_TIMEOUT`): while a
      body is being received, at most this many seconds may pass without a byte of it;
    * a head of at most :data:`MAX_HEAD` bytes, answered ``431`` (RFC 6585 §5) and closed
      past it: counted exactly from the parsed URL and headers once they are whole, and
      while they are still coming from the bytes received since the request began (the
      chunk it began in is counted whole, so a pipelined chunk may count a few bytes of
      the request before it);
    * each response's head goes out with its body's first bytes in one send
      (:class:`_OneSend`), not two: a write answer is one TCP segment.

    A connection that runs out of either time is closed; a request whose body is complete
    is never cut off, however long the server takes to answer it. The time-outs are read
    from the environment so that ``insutrace serve`` hands them to every worker process.
    The parser is llhttp in its strict mode (what Node.js serves with), as uvicorn sets
    it; the h11 protocol parsed the same requests ~0.1 ms slower each, in Python."""

    _header_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    max_head = MAX_HEAD

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = _env_seconds("INSUTRACE_HEADER_TIMEOUT", HEADER_TIMEOUT)
        self.body_timeout = _env_seconds("INSUTRACE_BODY_TIMEOUT", BODY_TIMEOUT)
        self._state = _IDLE
        self._parsed = 0  # bytes of the current request's head the parser gave back
        self._received = 0  # bytes received since it began, while it is incomplete
        self._oversize = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _OneSend(transport, self.loop)  # type: ignore[assignment]
        self._guard()

    def data_received(self, data: bytes) -> None:
        before = self._state
        super().data_received(data)
        if self._state is _HEAD and not self._oversize:
            self._received = (self._received if before is _HEAD else 0) + len(data)
            if self._received > self.max_head:
                self._oversize = True
                self._refuse_head()
                return
        self._guard()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    # the parser's callbacks: where the request is, and its head's size once whole

    def on_message_begin(self) -> None:
        self._state = _HEAD
        self._parsed = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._state = _BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._state = _DONE
        super().on_message_complete()

    def _count(self, size: int) -> None:
        self._parsed += size
        if self._parsed > self.max_head:
            self._oversize = True
            raise HeadTooLarge  # the parser stops: uvicorn answers with send_400_response

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request the parser stopped on: 431 when it was the head's
        size (:meth:`_count` raised), else uvicorn's 400."""
        if self._oversize:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        """431 problem JSON (the app's problem body), and the connection closed."""
        self.logger.info("refusing a request: its head passed %d bytes", self.max_head)
        detail = f"the request line and headers exceed {self.max_head} bytes"
        problem = problem_response(431, "request-header-fields-too-large", detail)
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (problem.media_type.encode(), len(problem.body))
        )
        self.transport.write(head + bytes(problem.body))
        self.transport.close()

    # the time-outs

    def _cancel(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _guard(self) -> None:
        if self.transport.is_closing():
            return
        state = self._state
        if state is _HEAD or (state is _IDLE and self.timeout_keep_alive_task is None):
            if self._header_timer is None:  # armed once per request, never pushed back
                self._header_timer = self.loop.call_later(self.header_timeout, self._expire)
            return
        self._cancel()
        if state is _BODY:
            self._body_timer = self.loop.call_later(self.body_timeout, self._expire)

    def _expire(self) -> None:
        self._header_timer = self._body_timer = None
        if self.flow.read_paused:  # the app has not read what came: not the client's delay
            self._body_timer = self.loop.call_later(self.body_timeout, self._expire)
            return
        if not self.transport.is_closing() and self._state in (_IDLE, _HEAD, _BODY):
            self.logger.info("closing a connection: the client sent its request too slowly")
            self.transport.close()


class _OneSend:
    """A connection's transport that holds one write until the next (joined with it into
    one send) or the end of the event loop's step, whichever comes first. uvicorn writes
    a response's head and then its body; a short answer so goes out in one send, one TCP
    segment, and never waits beyond the step that wrote it. Order is kept; closing sends
    what is held first. Everything else is the transport's own."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self._release)
        else:
            self._held = None
            self._transport.write(held + data)

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _env_seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    try:
        value = float(text) if text else default
    except ValueError:
        value = default
    return value if value > 0 else default
