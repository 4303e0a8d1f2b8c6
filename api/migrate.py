"""Schema migrations (Alembic), run programmatically: ``insutrace db upgrade``.

The scripts live in the core's store package (``insutrace/trace/store/migrations``), so an
installed wheel carries them; this module adds the API's table model so that
``alembic check``-style comparisons cover both.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import insutrace.trace.store as store_package
from insutrace.api.accounts import metadata as api_metadata
from insutrace.trace.store.sql import metadata as log_metadata
from insutrace.trace.store.sql import normalize_url

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(store_package.__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` with the scripts inside the installed package."""
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = normalize_url(url)
    cfg.attributes["target_metadata"] = [log_metadata, api_metadata]
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the schema; a no-op when it is already at ``revision``."""
    if revision == "head" and current_revision(url) == head_revision():
        return
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(url: str) -> str | None:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
