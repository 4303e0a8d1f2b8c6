"""Server-side browser sessions: the cookie holds a random id, the database everything else.

A person signs in with username and password (and a TOTP code when they enabled one); the
server stores a session row keyed by SHA-256 of a fresh 256-bit id and sends the id in the
``insutrace_session`` cookie (HttpOnly, SameSite=Lax, Secure over TLS, or behind a proxy
that sets ``X-Forwarded-Proto: https`` when ``INSUTRACE_TRUST_FORWARDED_PROTO=1``). A copy
of the database signs nobody in. Each session carries its own synchronizer token for the
CSRF check of every form (:mod:`insutrace.api.csrf`).

A session ends when the person signs out, after :data:`IDLE` without a request, at
:data:`LIFETIME` after sign-in, or at once when the account is deactivated (every session
of it is deleted) or its password is reset.

Failed sign-ins are counted per username and per client address in the database, so the
limit holds across worker processes: :data:`MAX_PER_ACCOUNT` and :data:`MAX_PER_IP` within
:data:`WINDOW` (then 429 until the window has passed).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update

from insutrace.api.accounts import (
    Account,
    failure_table,
    format_utc,
    parse_utc,
    session_table,
    utc_now,
)

if TYPE_CHECKING:
    from fastapi import Request, Response

    from insutrace.api.accounts import AccountStore

__all__ = [
    "COOKIE",
    "IDLE",
    "LIFETIME",
    "MAX_PER_ACCOUNT",
    "MAX_PER_IP",
    "WINDOW",
    "Session",
    "SessionStore",
    "client_ip",
    "current_session",
    "is_secure",
    "set_session_cookie",
]

COOKIE = "insutrace_session"
LIFETIME = timedelta(hours=8)  # one working day
IDLE = timedelta(hours=2)
WINDOW = timedelta(minutes=15)
MAX_PER_ACCOUNT = 5
MAX_PER_IP = 20
_SEEN_EVERY = timedelta(minutes=1)  # how stale ``seen`` may get before it is rewritten


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A signed-in browser: whose it is and the token its forms carry."""

    key: str  # SHA-256 of the cookie's id
    account: Account
    csrf: str
    expires: datetime


class SessionStore:
    """Sessions and failed sign-ins, in the accounts' database."""

    def __init__(self, accounts: AccountStore) -> None:
        self.accounts = accounts
        self.engine = accounts.engine

    def open(
        self, account: Account, ip: str, *, now: datetime | None = None
    ) -> tuple[str, Session]:
        """A new session for ``account``: (the cookie's id, the session)."""
        now = now or utc_now()
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + LIFETIME
        key = _hash(session_id)
        row = {
            "id": key,
            "account_id": account.id,
            "csrf": csrf,
            "created": format_utc(now),
            "seen": format_utc(now),
            "expires": format_utc(expires),
            "ip": ip[:64],
        }
        with self.engine.begin() as conn:
            conn.execute(insert(session_table).values(**row))
        return session_id, Session(key, account, csrf, expires)

    def get(self, session_id: str, *, now: datetime | None = None) -> Session | None:
        """The live session of this cookie id, its account active; None otherwise."""
        if not session_id or len(session_id) > 100:
            return None
        now = now or utc_now()
        key = _hash(session_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(session_table).where(session_table.c.id == key)).first()
        if row is None:
            return None
        expires, seen = parse_utc(row.expires), parse_utc(row.seen)
        if now >= expires or now - seen >= IDLE:
            self.close(session_id)
            return None
        account = self.accounts.find(int(row.account_id))
        if account is None or not account.active:
            self.close(session_id)
            return None
        if now - seen >= _SEEN_EVERY:
            with self.engine.begin() as conn:
                q = update(session_table).where(session_table.c.id == key)
                conn.execute(q.values(seen=format_utc(now)))
        return Session(key, account, str(row.csrf), expires)

    def close(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(session_table).where(session_table.c.id == _hash(session_id)))

    def close_all(self, account_id: int) -> int:
        """End every session of an account; how many there were."""
        with self.engine.begin() as conn:
            q = delete(session_table).where(session_table.c.account_id == account_id)
            return int(conn.execute(q).rowcount or 0)

    def count(self, account_id: int) -> int:
        q = select(func.count()).where(session_table.c.account_id == account_id)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    # -- rate limit of sign-in ------------------------------------------------------------

    def record_failure(self, username: str, ip: str, *, now: datetime | None = None) -> None:
        now = now or utc_now()
        row = {"username": username.lower()[:64], "ip": ip[:64], "at": format_utc(now)}
        with self.engine.begin() as conn:
            conn.execute(insert(failure_table).values(**row))
            old = format_utc(now - WINDOW)
            conn.execute(delete(failure_table).where(failure_table.c.at < old))

    def limited(self, username: str, ip: str, *, now: datetime | None = None) -> str | None:
        """Why sign-in is refused for now ("account" or "ip"), or None."""
        since = format_utc((now or utc_now()) - WINDOW)
        recent = failure_table.c.at >= since
        by_user = select(func.count()).where(recent, failure_table.c.username == username.lower())
        by_ip = select(func.count()).where(recent, failure_table.c.ip == ip[:64])
        with self.engine.connect() as conn:
            if int(conn.execute(by_user).scalar_one()) >= MAX_PER_ACCOUNT:
                return "account"
            if int(conn.execute(by_ip).scalar_one()) >= MAX_PER_IP:
                return "ip"
        return None

    def clear_failures(self, username: str) -> None:
        with self.engine.begin() as conn:
            q = delete(failure_table).where(failure_table.c.username == username.lower())
            conn.execute(q)


# -- the request side ---------------------------------------------------------------------


def client_ip(request: Request) -> str:
    """The client's address as the server sees it (a proxy's own when behind one)."""
    return request.client.host if request.client is not None else "unknown"


def is_secure(request: Request) -> bool:
    """Over TLS: the request's own scheme, or a trusted proxy's ``X-Forwarded-Proto``."""
    if request.url.scheme == "https":
        return True
    trusted = os.environ.get("INSUTRACE_TRUST_FORWARDED_PROTO", "0") in ("1", "true", "yes")
    return trusted and request.headers.get("x-forwarded-proto", "").lower() == "https"


def current_session(request: Request) -> Session | None:
    """The request's session (looked up once per request), or None when signed out."""
    state: Any = request.state
    if hasattr(state, "insutrace_session"):
        cached: Session | None = state.insutrace_session
        return cached
    session_id = request.cookies.get(COOKIE, "")
    found = None
    if session_id:
        services = request.app.state.services
        found = services.sessions.get(session_id)
    state.insutrace_session = found
    return found


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        path="/",
    )
