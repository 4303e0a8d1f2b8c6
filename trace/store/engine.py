"""The one way to connect to the ledger's database: URLs, engines, connection settings.

The store, the API's account tables and the Alembic migrations all connect through
:func:`make_engine`, so every connection to one database is set up the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from ..errors import StorageError

__all__ = [
    "LOCK_TIMEOUT_S",
    "SQLITE_SYNCHRONOUS",
    "STATEMENT_TIMEOUT_S",
    "database_kind",
    "first_line",
    "make_engine",
    "normalize_url",
    "safe_url",
]

SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
LOCK_TIMEOUT_S = 10
"""The longest a statement waits for a database lock before failing (a StorageError,
answered 503 with Retry-After): SQLite's busy timeout, PostgreSQL's ``lock_timeout``."""
STATEMENT_TIMEOUT_S = 120
"""PostgreSQL's ``statement_timeout``: no statement runs longer."""
_PG_OPTIONS = (
    f"-c lock_timeout={LOCK_TIMEOUT_S * 1000} -c statement_timeout={STATEMENT_TIMEOUT_S * 1000}"
)


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


def database_kind(url: str) -> str:
    """The kind and place of a database with no credentials: ``postgresql db:5432/x``."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite {parsed.database}"
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
    return f"{parsed.get_backend_name()} {where}"


def first_line(exc: BaseException) -> str:
    """A driver exception's own message, without SQLAlchemy's statement and links."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def make_engine(url: str, *, sqlite_synchronous: str = "NORMAL", pre_ping: bool = True) -> Engine:
    """An engine for ``sqlite:///file`` or ``postgresql://…``; anything else is refused.

    SQLite connections run in WAL mode (readers never block the writer), wait up to
    :data:`LOCK_TIMEOUT_S` for a lock, then fail, and enforce foreign keys; PostgreSQL
    connections wait as long for a lock and run no statement past :data:`STATEMENT_TIMEOUT_S`.
    ``pre_ping``: PostgreSQL connections are tested with a round trip each time the pool
    lends one (the store instead retries the first statement of a transaction on a new
    connection when a kept one turns out closed).
    """
    url = normalize_url(url)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return create_engine(
            url,
            pool_size=8,
            pool_recycle=1800,
            pool_pre_ping=pre_ping,
            connect_args={"options": _pg_options(parsed.query.get("options"))},
        )
    if backend != "sqlite":
        raise StorageError(f"unsupported database {backend!r}: use sqlite or postgresql")
    if parsed.database in (None, "", ":memory:"):
        raise StorageError("SQLite needs a file path: sqlite:///path/to/ledger.db")
    if sqlite_synchronous.upper() not in SQLITE_SYNCHRONOUS:
        raise StorageError(
            f"INSUTRACE_SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}; "
            f"got {sqlite_synchronous!r:.40}"
        )
    return _sqlite_engine(url, sqlite_synchronous.upper())


def _pg_options(given: str | tuple[str, ...] | None) -> str:
    """The URL's own libpq ``options`` (e.g. a search path), then the time-outs."""
    if given is None:
        return _PG_OPTIONS
    joined = given if isinstance(given, str) else " ".join(given)
    return f"{joined} {_PG_OPTIONS}"


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    engine = create_engine(
        url, pool_size=8, connect_args={"timeout": LOCK_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.execute("PRAGMA journal_mode=WAL")
        dbapi.execute(f"PRAGMA synchronous={synchronous}")
        dbapi.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_S * 1000}")
        dbapi.execute("PRAGMA foreign_keys=ON")

    return engine
