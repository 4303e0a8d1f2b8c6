"""CSRF protection of the browser's forms: a token bound to the sign-in cookie.

    csrf_token(request)          the token a page puts in its forms (a Jinja global) and in
                                 ``<meta name="csrf-token">`` for the page's scripts
    await require_csrf(request)  Forbidden unless the request carries the token of its own
                                 sign-in cookie, as form field ``csrf_token`` or header
                                 ``X-CSRF-Token``

The token is HMAC-SHA-256 (RFC 2104) of the sign-in cookie under a key drawn once per
server process, so a page of another site can neither read nor forge it, and a token
outlives neither its sign-in nor a restart of the server. Compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from insutrace.trace.errors import Forbidden

__all__ = ["FIELD", "HEADER", "csrf_token", "require_csrf"]

FIELD = "csrf_token"
HEADER = "x-csrf-token"
COOKIE = "insutrace_token"  # the sign-in cookie (api.web.COOKIE)
_KEY = secrets.token_bytes(32)


def _token_for(cookie: str) -> str:
    return hmac.new(_KEY, b"csrf\n" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser's sign-in ("" when it is not signed in)."""
    cookie = request.cookies.get(COOKIE)
    return _token_for(cookie) if cookie else ""


async def require_csrf(request: Request) -> None:
    """Forbidden unless the request carries its sign-in's CSRF token."""
    cookie = request.cookies.get(COOKIE)
    sent = request.headers.get(HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        value = (await request.form()).get(FIELD)
        sent = value if isinstance(value, str) else None
    if not cookie or not sent or not hmac.compare_digest(sent, _token_for(cookie)):
        raise Forbidden("表单已过期，请刷新页面后重试 the form's CSRF token is missing or stale")
