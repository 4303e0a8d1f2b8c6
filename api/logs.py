"""Server logs: standard :mod:`logging` under the ``insutrace`` logger hierarchy.

What is logged, one line each:

* start-up (``insutrace.api``): version, database kind and place (no credentials),
  log size, origin;
* every committed append (``insutrace.trace.ledger``): seq, type, actor, duration;
* every refused request (``insutrace.api``): status, rule id where there is one.

Every line logged while a request is served carries its request id: the client's
``X-Request-ID`` when it is a plausible id, else a new one; the response echoes it. The
id travels in a context variable, so it reaches lines logged in worker threads too.
Lines are plain text, or JSON objects one per line (``INSUTRACE_LOG_FORMAT=json``).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from insutrace.trace.errors import LedgerError, RuleViolation
from insutrace.trace.settings import Settings

__all__ = [
    "HEADER",
    "JsonFormatter",
    "RequestIdMiddleware",
    "TextFormatter",
    "configure_logging",
    "current_request_id",
    "install_refusal_log",
]

HEADER = "X-Request-ID"
_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # anything else could forge log lines
_request_id: ContextVar[str | None] = ContextVar("insutrace_request_id", default=None)
_log = logging.getLogger("insutrace.api")
_HANDLER_NAME = "insutrace"
# a record's attributes beyond these are the ``extra`` fields of its line
_SKIPPED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


class RequestIdMiddleware:
    """Pure ASGI middleware: set the request id for the request, echo it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope) or uuid.uuid4().hex
        token = _request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)


def _incoming(scope: Scope) -> str | None:
    wanted = HEADER.lower().encode()
    for name, value in scope.get("headers", ()):
        if name == wanted:
            text = value.decode("latin-1")
            return text if _ID.fullmatch(text) else None
    return None


def _with_request_id(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = _request_id.get() or "-"
        return record

    make.insutrace = True  # type: ignore[attr-defined]
    return make


def _install_record_factory() -> None:
    """Every record, from any logger, carries ``request_id`` (``-`` outside a request)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "insutrace", False):
        logging.setLogRecordFactory(_with_request_id(factory))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _SKIPPED}


class TextFormatter(logging.Formatter):
    """``2026-12-01T08:00:00.000Z INFO insutrace.api [request id] message``."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        head = f"{when}.{int(record.msecs):03d}Z {record.levelname} {record.name}"
        line = f"{head} [{getattr(record, 'request_id', '-')}] {record.getMessage()}"
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "time": when.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(settings: Settings) -> None:
    """Send the ``insutrace`` and ``uvicorn`` loggers to stderr in the configured format.

    Idempotent: a second call replaces the handler the first one installed.
    """
    _install_record_factory()
    handler = logging.StreamHandler()
    handler.name = _HANDLER_NAME
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    for name in ("insutrace", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if h.name != _HANDLER_NAME] + [handler]
        logger.setLevel(settings.log_level.upper())
        logger.propagate = name == "insutrace"  # uvicorn's own records stop here


def install_refusal_log(app: FastAPI) -> None:
    """Log one line for every core error the API answers (after the problem handlers)."""
    _install_record_factory()
    answer = app.exception_handlers[LedgerError]

    async def logged(request: Request, exc: Exception) -> Response:
        response = answer(request, exc)
        if inspect.isawaitable(response):
            response = await response
        _log_refusal(request, exc, response.status_code)
        return response

    app.add_exception_handler(LedgerError, logged)


def _log_refusal(request: Request, exc: Exception, status: int) -> None:
    rule = exc.rule if isinstance(exc, RuleViolation) else "-"
    fields = {"status": status, "rule": rule, "method": request.method, "path": request.url.path}
    level = logging.ERROR if status >= 500 else logging.INFO
    _log.log(level, "refused %d rule=%s %s %s: %s", *fields.values(), exc, extra=fields)


def log_startup(version: str, database: str, size: int, origin: str) -> None:
    """The start-up line: what is served, from where, how large."""
    fields = {"version": version, "database": database, "size": size, "origin": origin}
    _log.info("insutrace %s serving %s: %d entries, origin %s", *fields.values(), extra=fields)
