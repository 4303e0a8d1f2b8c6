"""Alembic migrations: create the schema from nothing, upgrade one `init` made, match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from insutrace.api.accounts import metadata as api_metadata
from insutrace.api.migrate import current_revision, head_revision, upgrade
from insutrace.trace.store.sql import metadata as log_metadata
from insutrace.trace.store.sql import normalize_url


def _models() -> MetaData:
    combined = MetaData()
    for source in (log_metadata, api_metadata):
        for table in source.tables.values():
            table.to_metadata(combined)
    return combined


def _diff(url: str) -> list[object]:
    """What differs between the migrated database and the table models (alembic check)."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            return list(compare_metadata(ctx, _models()))
    finally:
        engine.dispose()


def test_upgrade_builds_the_schema_from_nothing(store_url: str) -> None:
    assert current_revision(store_url) is None
    upgrade(store_url)
    assert current_revision(store_url) == head_revision()
    assert _diff(store_url) == []
    upgrade(store_url)  # at head: nothing to do


def test_upgrade_adopts_a_database_the_store_created(store_url: str) -> None:
    from insutrace.trace.store import open_store

    open_store(store_url).close()  # what `insutrace init` leaves: log tables, no version
    upgrade(store_url)
    assert current_revision(store_url) == head_revision()
    assert _diff(store_url) == []


def test_downgrade_keeps_the_log(store_url: str) -> None:
    from alembic import command

    from insutrace.api.migrate import alembic_config

    upgrade(store_url)
    command.downgrade(alembic_config(store_url), "base")
    engine = create_engine(normalize_url(store_url))
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert "log_entry" in tables
    assert "api_account" not in tables
    upgrade(store_url)
    assert current_revision(store_url) == head_revision()
