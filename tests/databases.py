"""Migrated test databases, made as a deployment makes them (the Alembic migrations) but
once per session: a SQLite file migrated once and copied per test, and for PostgreSQL
the migrations' own offline SQL (``alembic upgrade heads --sql``), generated once and
run in a schema, which a pool then lends out test after test, emptied between them
(rows deleted, sequences restarted) and checked against the migrated shape: a schema a
test altered is dropped, never lent again. ``tests/api/test_migrations.py`` checks both against the
models and against an online upgrade.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg

from insutrace.api.migrate import offline_sql, upgrade

__all__ = ["PG_URL", "migrate_pg_schema", "migrated_pg_schema", "migrated_sqlite", "pg_schema_url"]

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
    """``PG_URL`` with every connection's search path set to ``schema``. Tests commit
    without waiting for the server's WAL flush (``synchronous_commit=off``): a test
    process killed mid-write still loses nothing the server acknowledged; only a crash
    of the PostgreSQL server itself could, which no test causes."""
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"


def migrate_pg_schema(schema: str) -> None:
    """Bring the (empty) ``schema`` to the migrations' heads."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(_pg_script().encode())


# The shape of a schema: its tables, columns, types, indexes, sequences and constraints.
_SHAPE = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
  SELECT c.relkind::text || ':' || c.relname || '.' || coalesce(a.attname, '') || ':'
         || coalesce(format_type(a.atttypid, a.atttypmod), '') || ':' || coalesce(a.attnotnull::text, '') AS item
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE n.nspname = %(schema)s
  UNION ALL
  SELECT 'con:' || co.conname || ':' || pg_get_constraintdef(co.oid)
  FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
  WHERE n.nspname = %(schema)s
) items
"""


class _SchemaPool:
    """Migrated schemas, lent one test at a time and emptied on return."""

    def __init__(self) -> None:
        self.free: list[str] = []
        self.shape: str | None = None
        atexit.register(self.close)

    def _new(self, conn: psycopg.Connection) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(_pg_script().encode())
        shape = self._shape(conn, schema)
        if self.shape is None:
            self.shape = shape
        return schema

    @staticmethod
    def _shape(conn: psycopg.Connection, schema: str) -> str:
        row = conn.execute(_SHAPE, {"schema": schema}).fetchone()
        assert row is not None
        return str(row[0])

    def _reset(self, conn: psycopg.Connection, schema: str) -> bool:
        """Empty ``schema``; False if a test changed its shape (it is dropped instead)."""
        if self._shape(conn, schema) != self.shape:
            return False
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> 'alembic_version'",
                (schema,),
            )
        ]
        sequences = [
            r[0]
            for r in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (schema,)
            )
        ]
        script = "".join(f"DELETE FROM {schema}.{t};" for t in tables)
        script += "".join(f"ALTER SEQUENCE {schema}.{q} RESTART;" for q in sequences)
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = '5s'; {script}".encode())
        return True

    @contextmanager
    def lend(self) -> Iterator[str]:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            schema = self.free.pop() if self.free else self._new(conn)
        try:
            yield schema
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                try:
                    clean = self._reset(conn, schema)
                except psycopg.Error:
                    clean = False
                if clean:
                    self.free.append(schema)
                else:
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def close(self) -> None:
        if not self.free:
            return
        try:
            with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
                for schema in self.free:
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        except psycopg.Error:
            pass
        self.free.clear()


_POOL = _SchemaPool()


@contextmanager
def migrated_pg_schema() -> Iterator[str]:
    """A schema at the migrations' heads with no rows, for one test."""
    with _POOL.lend() as schema:
        yield schema
