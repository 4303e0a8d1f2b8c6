"""Migrated test databases, made as a deployment makes them (the Alembic migrations) but
once per session: a SQLite file migrated once and copied per test, and for PostgreSQL
the migrations' own offline SQL (``alembic upgrade heads --sql``), generated once and
run in each test's schema. ``tests/api/test_migrations.py`` checks both against the
models and against an online upgrade.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import psycopg

from insutrace.api.migrate import offline_sql, upgrade

__all__ = ["PG_URL", "migrate_pg_schema", "migrated_sqlite", "pg_schema_url"]

PG_URL = os.environ.get("INSUTRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@cache
def _sqlite_template() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="insutrace-schema-"))
    atexit.register(shutil.rmtree, directory, True)
    path = directory / "ledger.db"
    upgrade(f"sqlite:///{path}")
    return path


def migrated_sqlite(path: Path) -> str:
    """The URL of a new SQLite ledger at ``path``, at the migrations' heads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_sqlite_template(), path)
    return f"sqlite:///{path}"


@cache
def _pg_script() -> str:
    return offline_sql(PG_URL)


def pg_schema_url(schema: str) -> str:
    """``PG_URL`` with every connection's search path set to ``schema``."""
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def migrate_pg_schema(schema: str) -> None:
    """Bring the (empty) ``schema`` to the migrations' heads."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(_pg_script().encode())
