"""Schema migrations (Alembic), run programmatically: ``insutrace db upgrade``.

Two branches in one history, applied together: ``log`` (the core's tables, scripts in
``insutrace/trace/store/migrations/versions``, beside the Alembic environment) and
``api`` (this package's tables, scripts in ``insutrace/api/migrations/versions``). Both
ship inside the wheel. The models they are checked against are the store's
``metadata`` and :data:`insutrace.api.accounts.metadata`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

import insutrace.trace.store as store_package
from insutrace.api.accounts import metadata as api_metadata
from insutrace.trace.errors import StorageError
from insutrace.trace.store.engine import first_line, make_engine, normalize_url, safe_url
from insutrace.trace.store.sql import metadata as log_metadata

__all__ = ["alembic_config", "current_heads", "head_revisions", "offline_sql", "upgrade"]

MIGRATIONS = Path(store_package.__file__).parent / "migrations"
API_VERSIONS = Path(__file__).parent / "migrations" / "versions"


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` with both branches' scripts inside the package."""
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    locations = (MIGRATIONS / "versions", API_VERSIONS)
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    cfg.attributes["url"] = normalize_url(url)
    cfg.attributes["target_metadata"] = [log_metadata, api_metadata]
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Create or upgrade the schema; a no-op when every branch is already at its head."""
    if revision == "heads" and current_heads(url) == head_revisions():
        return
    try:
        command.upgrade(alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate {safe_url(url)}: {first_line(exc)}") from None


def offline_sql(url: str) -> str:
    """The SQL that upgrades an empty database of ``url``'s kind to the heads (``--sql``)."""
    cfg = alembic_config(url)
    cfg.output_buffer = io.StringIO()
    command.upgrade(cfg, "heads", sql=True)
    return cfg.output_buffer.getvalue()


def head_revisions() -> tuple[str, ...]:
    """The newest revision of each branch, sorted."""
    return tuple(sorted(_scripts().get_heads()))


def current_heads(url: str) -> tuple[str, ...]:
    """The revisions the database is at, sorted; empty before its first migration."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    except SQLAlchemyError as exc:  # an unreachable server, a damaged file
        where = safe_url(url)
        raise StorageError(f"cannot read the schema of {where}: {first_line(exc)}") from None
    finally:
        engine.dispose()


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
