"""Alembic environment of the ledger's database: the ``log`` and ``api`` branches.

Run through ``insutrace db upgrade`` (or :func:`insutrace.api.migrate.upgrade`), which
passes the database URL (``config.attributes["url"]``) or an open connection
(``config.attributes["connection"]``) and the table models to compare against
(``config.attributes["target_metadata"]``), and where both branches' scripts are
(``version_locations``). On PostgreSQL the whole upgrade holds a
transaction-scoped advisory lock, so several servers starting at once migrate once.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from insutrace.trace.settings import Settings
from insutrace.trace.store.engine import make_engine, normalize_url
from insutrace.trace.store.sql import metadata as log_metadata

config = context.config
MIGRATION_LOCK = 724212  # a fixed key: every process of every release takes the same lock


def _target() -> Any:
    return config.attributes.get("target_metadata", log_metadata)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=_target(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        context.run_migrations()


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    return normalize_url(str(url or Settings().database_url))


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=_target(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
