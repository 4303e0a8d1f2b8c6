"""SQL storage for the ledger: SQLite (embedded default) and PostgreSQL.

The tables are declared here, once, with SQLModel; the Alembic migrations in
``migrations/`` are the only thing that creates or changes them (``insutrace db
upgrade``), and the store refuses a database they have not brought to
:data:`SCHEMA_REVISION`. The hot path runs plain DBAPI statements.
Writers serialize on the database itself, so threads and separate processes are
equally safe: SQLite takes its write lock with ``BEGIN IMMEDIATE``, PostgreSQL
locks the single ``log_head`` row ``FOR UPDATE`` before reading anything.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import threading
import time as _time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from ..errors import Conflict, StorageError
from ..merkle import Node
from .engine import first_line, make_engine, normalize_url, safe_url

__all__ = ["SCHEMA_REVISION", "SQLStore", "metadata", "normalize_url"]

_SeqType = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid


class LogEntry(SQLModel, table=True):
    __tablename__ = "log_entry"
    seq: int = Field(sa_column=Column(_SeqType, primary_key=True, autoincrement=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogNode(SQLModel, table=True):
    """Complete-subtree hashes at level >= 1 (level 0 is log_entry.leaf)."""

    __tablename__ = "log_node"
    __table_args__ = {"sqlite_with_rowid": False}
    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogHead(SQLModel, table=True):
    __tablename__ = "log_head"
    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogCheckpoint(SQLModel, table=True):
    __tablename__ = "log_checkpoint"
    size: int = Field(sa_column=Column(_SeqType, primary_key=True, autoincrement=False))
    note: str = Field(sa_column=Column(Text, nullable=False))


class Projection(SQLModel, table=True):
    """Derived state: one JSON object per (kind, key); rebuilt by replaying the log."""

    __tablename__ = "projection"
    __table_args__ = {"sqlite_with_rowid": False}
    kind: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(512), primary_key=True))
    data: str = Field(sa_column=Column(Text, nullable=False))


class EntryRef(SQLModel, table=True):
    """Derived index: which entries mention which batch, organisation, project …"""

    __tablename__ = "entry_ref"
    __table_args__ = {"sqlite_with_rowid": False}
    ref: str = Field(sa_column=Column(String(512), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


metadata = SQLModel.metadata
_entry = LogEntry.__table__  # type: ignore[attr-defined]
_node = LogNode.__table__  # type: ignore[attr-defined]
_head = LogHead.__table__  # type: ignore[attr-defined]
_checkpoint = LogCheckpoint.__table__  # type: ignore[attr-defined]
_proj = Projection.__table__  # type: ignore[attr-defined]
_ref = EntryRef.__table__  # type: ignore[attr-defined]
_LOG_TABLES = ("log_entry", "log_node", "log_head", "log_checkpoint")


# The head of the "log" branch in migrations/versions: the store opens only a database
# migrated to it (tests/api/test_migrations.py keeps the two equal).
SCHEMA_REVISION = "0001"
UPGRADE_HINT = "run `insutrace db upgrade`"


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _loads(kind: str, key: str, data: str) -> dict[str, Any]:
    """A projection row; one that is not a JSON object is damaged storage."""
    try:
        value = json.loads(data)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StorageError(f"projection row ({kind}, {key:.80}) is not a JSON object")
    return value


def _head_row(row: Any) -> tuple[int, bytes]:
    """The log_head row; the migrations write it, so its absence is damaged storage."""
    if row is None:
        raise StorageError("the log_head row is missing: the database is damaged")
    return int(row[0]), bytes(row[1])


def _revisions(conn: Connection) -> list[str]:
    """The Alembic revisions the database is at (none before its first migration)."""
    if not inspect(conn).has_table("alembic_version"):
        return []
    return sorted(str(r) for (r,) in conn.execute(text("SELECT version_num FROM alembic_version")))


class _SQL:
    """The hot-path statements, written once per dialect (SQLAlchemy's statement
    construction costs more than SQLite's execution here)."""

    def __init__(self, dialect: str) -> None:
        ph = "?" if dialect == "sqlite" else "%s"
        self.ph = ph
        self.head = "SELECT size, leaf FROM log_head WHERE id = 1"
        self.leaf_by_seq = "SELECT 0, seq, leaf FROM log_entry WHERE seq IN ({})"
        self.node = f"SELECT level, idx, hash FROM log_node WHERE level = {ph} AND idx IN ({{}})"
        self.leaf = f"SELECT leaf FROM log_entry WHERE seq = {ph}"
        self.insert_entry = f"INSERT INTO log_entry (seq, body, leaf) VALUES ({ph}, {ph}, {ph})"
        self.insert_node = f"INSERT INTO log_node (level, idx, hash) VALUES ({ph}, {ph}, {ph})"
        self.move_head = (
            f"UPDATE log_head SET size = {ph}, leaf = {ph} WHERE id = 1 AND size = {ph}"
        )
        self.insert_ref = f"INSERT INTO entry_ref (ref, seq) VALUES ({ph}, {ph})"
        self.entries = f"SELECT body FROM log_entry WHERE seq >= {ph} AND seq < {ph} ORDER BY seq"
        self.get = f"SELECT data FROM projection WHERE kind = {ph} AND key = {ph}"
        self.put = (
            f"INSERT INTO projection (kind, key, data) VALUES ({ph}, {ph}, {ph}) "
            "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data"
        )
        self.scan = f"SELECT key, data FROM projection WHERE kind = {ph} ORDER BY key"
        self.refs_after = (
            f"SELECT seq FROM entry_ref WHERE ref = {ph} AND seq > {ph} ORDER BY seq LIMIT {ph}"
        )
        self.refs_before = f"SELECT seq FROM entry_ref WHERE ref = {ph} AND seq < {ph} ORDER BY seq DESC LIMIT {ph}"
        self.latest_checkpoint = "SELECT size, note FROM log_checkpoint ORDER BY size DESC LIMIT 1"
        self.checkpoint_at = f"SELECT note FROM log_checkpoint WHERE size = {ph}"
        self.checkpoints = "SELECT size, note FROM log_checkpoint ORDER BY size"
        self.add_checkpoint = (
            f"INSERT INTO log_checkpoint (size, note) VALUES ({ph}, {ph}) "
            "ON CONFLICT (size) DO NOTHING"
        )
        self.cosign_checkpoint = f"UPDATE log_checkpoint SET note = {ph} WHERE size = {ph}"
        self.lock_head = "SELECT size, leaf FROM log_head WHERE id = 1 FOR UPDATE"
        self.page = f"SELECT seq, body FROM log_entry WHERE seq >= {ph} ORDER BY seq LIMIT {ph}"
        self.scan_prefix = (
            f"SELECT key, data FROM projection WHERE kind = {ph} AND key >= {ph} "
            f"AND key < {ph} ORDER BY key"
        )

    def marks(self, n: int) -> str:
        return ", ".join([self.ph] * n)


class SQLTx:
    """One transaction on one DBAPI connection (see :class:`insutrace.trace.store.base.Tx`)."""

    def __init__(self, conn: Any, sql: _SQL) -> None:
        self.conn = conn
        self.sql = sql
        self.cur: Any = conn.cursor()
        self._head: tuple[int, bytes] | None = None
        # the head as this transaction's appends moved it: (size it started from, new head);
        # written to log_head once, by flush() before commit
        self._moved: tuple[int, tuple[int, bytes]] | None = None

    def _all(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        self.cur.execute(query, params)
        return list(self.cur.fetchall())

    def _one(self, query: str, params: Sequence[Any] = ()) -> Any:
        self.cur.execute(query, params)
        return self.cur.fetchone()

    def head(self) -> tuple[int, bytes]:
        if self._moved is not None:
            return self._moved[1]
        if self._head is None:  # PostgreSQL writers already read it with the row lock
            return _head_row(self._one(self.sql.head))
        return self._head

    def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        """One round trip for any set of nodes: a UNION ALL of one select per level."""
        by_level: dict[int, list[int]] = {}
        for level, index in set(wanted):
            by_level.setdefault(level, []).append(index)
        if not by_level:
            return {}
        parts, params = [], []
        for level, indexes in sorted(by_level.items()):
            marks = self.sql.marks(len(indexes))
            if level == 0:
                parts.append(self.sql.leaf_by_seq.format(marks))
                params.extend(indexes)
            else:
                parts.append(self.sql.node.format(marks))
                params.extend([level, *indexes])
        rows = self._all(" UNION ALL ".join(parts), params)
        out = {(int(lv), int(i)): bytes(h) for lv, i, h in rows}
        missing = [
            n for lv, idx in by_level.items() for n in ((lv, i) for i in idx) if n not in out
        ]
        if missing:
            raise StorageError(f"Merkle nodes missing from storage: {sorted(missing)[:4]}")
        return out

    def leaf(self, seq: int) -> bytes | None:
        row = self._one(self.sql.leaf, (seq,))
        return None if row is None else bytes(row[0])

    def append(self, seq: int, body: bytes, leaf: bytes, nodes: Mapping[Node, bytes]) -> None:
        self.cur.execute(self.sql.insert_entry, (seq, body, leaf))
        inner = [(lvl, i, h) for (lvl, i), h in nodes.items() if lvl > 0]
        if inner:
            self.cur.executemany(self.sql.insert_node, inner)
        if self._moved is not None and seq != self._moved[1][0]:
            raise Conflict(f"entry {seq} does not follow entry {self._moved[1][0] - 1}")
        start = seq if self._moved is None else self._moved[0]
        self._moved = (start, (seq + 1, leaf))

    def flush(self) -> None:
        """Move the head row to where this transaction's appends left it (one statement
        per transaction, however many entries it appended)."""
        if self._moved is None:
            return
        start, (size, leaf) = self._moved
        self.cur.execute(self.sql.move_head, (size, leaf, start))
        if self.cur.rowcount != 1:
            raise Conflict(f"log head moved under an exclusive writer (appending {start}…)")
        self._head, self._moved = (size, leaf), None

    def clear_projections(self) -> None:
        """Delete every derived row (projections and refs) in this transaction."""
        self.cur.execute("DELETE FROM projection")
        self.cur.execute("DELETE FROM entry_ref")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Roll back to here alone if the block raises; keep its writes otherwise."""
        head, moved = self._head, self._moved
        self.cur.execute("SAVEPOINT item")
        try:
            yield
        except BaseException:
            self.cur.execute("ROLLBACK TO SAVEPOINT item")
            self.cur.execute("RELEASE SAVEPOINT item")
            self._head, self._moved = head, moved
            raise
        self.cur.execute("RELEASE SAVEPOINT item")

    def add_refs(self, seq: int, refs: Iterable[str]) -> None:
        rows = [(r, seq) for r in sorted(set(refs))]
        if rows:
            self.cur.executemany(self.sql.insert_ref, rows)

    def refs(
        self, ref: str, after: int = -1, limit: int = 100, descending: bool = False
    ) -> list[int]:
        if descending:
            before = after if after >= 0 else 2**62
            rows = self._all(self.sql.refs_before, (ref, before, limit))
        else:
            rows = self._all(self.sql.refs_after, (ref, after, limit))
        return [int(seq) for (seq,) in rows]

    def entries(self, start: int, stop: int) -> list[bytes]:
        return [bytes(b) for (b,) in self._all(self.sql.entries, (start, stop))]

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self._one(self.sql.get, (kind, key))
        return None if row is None else _loads(kind, key, row[0])

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        self.cur.execute(self.sql.put, (kind, key, _dumps(data)))

    def scan(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        if prefix:
            rows = self._all(self.sql.scan_prefix, (kind, prefix, prefix + "\U0010ffff"))
        else:
            rows = self._all(self.sql.scan, (kind,))
        return [(str(k), _loads(kind, str(k), d)) for k, d in rows]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        row = self._one(self.sql.latest_checkpoint)
        return None if row is None else (int(row[0]), str(row[1]))

    def checkpoint_at(self, size: int) -> str | None:
        row = self._one(self.sql.checkpoint_at, (size,))
        return None if row is None else str(row[0])

    def checkpoints(self) -> list[tuple[int, str]]:
        return [(int(size), str(note)) for size, note in self._all(self.sql.checkpoints)]

    def add_checkpoint(self, size: int, note: str) -> None:
        self.cur.execute(self.sql.add_checkpoint, (size, note))

    def cosign_checkpoint(self, size: int, note: str) -> None:
        stored = self.checkpoint_at(size)
        if stored is None or not note.startswith(stored):
            raise Conflict(f"a cosigned note must extend the stored checkpoint at size {size}")
        self.cur.execute(self.sql.cosign_checkpoint, (note, size))


LOCK_WAIT = 10.0  # seconds a write waits for the log's writer lock (as for database locks)


def _lock_within(handle: Any, seconds: float) -> None:
    """Take the exclusive ``flock`` on ``handle`` within ``seconds``, else StorageError."""
    deadline = _time.monotonic() + seconds
    pause = 0.0001
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if _time.monotonic() >= deadline:
                raise StorageError(
                    f"another writer has held the log's write lock for more than {seconds:g} s; "
                    "nothing was written: retry later"
                ) from None
        _time.sleep(pause)
        pause = min(pause * 2, 0.002)


class SQLStore:
    """A ledger store on SQLite or PostgreSQL; ``url`` as SQLAlchemy takes it.

    Opens only a database the migrations brought to :data:`SCHEMA_REVISION`; every
    driver failure leaves it as a :class:`~insutrace.trace.errors.StorageError`.
    """

    def __init__(self, url: str, *, sqlite_synchronous: str = "NORMAL") -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, sqlite_synchronous=sqlite_synchronous)
        self.dialect = self.engine.dialect.name
        self._driver_errors = (self.engine.dialect.loaded_dbapi.Error, SQLAlchemyError, OSError)
        self._sql = _SQL(self.dialect)
        database = make_url(self.url).database
        self._lock_path = f"{database}.lock" if self.dialect == "sqlite" else None
        # SQLite: one connection and one lock-file handle per thread, kept open (a pool
        # checkout and an open() per append cost more than the append's own statements)
        self._local = threading.local()
        self._opened: list[Any] = []
        self._opened_guard = threading.Lock()
        try:
            self._check_schema()
        except BaseException:
            self.engine.dispose()
            raise

    def _check_schema(self) -> None:
        """Refuse a database before (or past) this release's log schema, in one line."""
        with self._translated(), self.engine.connect() as conn:
            found = _revisions(conn)
        if SCHEMA_REVISION not in found:
            raise StorageError(
                f"the database {self.safe_url} is not at the log schema {SCHEMA_REVISION} "
                f"(found {', '.join(found) or 'no migrations'}): {UPGRADE_HINT}"
            )

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """The store's boundary: a driver's exception leaves as one StorageError line."""
        try:
            yield
        except self._driver_errors as exc:
            raise StorageError(f"storage failed on {self.safe_url}: {first_line(exc)}") from exc

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    @contextmanager
    def write(self) -> Iterator[SQLTx]:
        with self._translated(), self._writer_lock(), self._transaction(write=True) as tx:
            yield tx

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[SQLTx]:
        """A DBAPI transaction straight on a pooled connection: commit on success,
        roll back on any exception (SQLAlchemy's per-statement work is too slow here)."""
        conn = (
            self._thread_connection() if self.dialect == "sqlite" else self.engine.raw_connection()
        )
        try:
            tx = SQLTx(conn, self._sql)
            if self.dialect == "sqlite":
                tx.cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            elif write:
                tx._head = _head_row(tx._one(self._sql.lock_head))
            else:
                tx.cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            try:
                yield tx
                tx.flush()
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        finally:
            if self.dialect != "sqlite":
                conn.close()  # back to the pool
            elif conn.in_transaction:  # a failed COMMIT: leave the thread's connection clean
                conn.rollback()

    def _keep(self, resource: Any) -> Any:
        with self._opened_guard:
            self._opened.append(resource)
        return resource

    def _thread_connection(self) -> Any:
        conn: Any = getattr(self._local, "conn", None)
        if conn is None:
            pooled = self.engine.raw_connection()  # set up by the engine's connect hook
            conn = pooled.driver_connection
            pooled.detach()  # owned by this thread from now on, closed by close()
            conn.isolation_level = None  # the store issues BEGIN itself
            self._local.conn = self._keep(conn)
        return conn

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """SQLite: queue writers on an OS file lock beside the database, across threads and
        processes alike. SQLite's own busy handler polls with sleeps of up to 100 ms; here
        a waiting writer retries the lock after 0.1 ms, doubling to at most 2 ms, and gives
        up after :data:`LOCK_WAIT` seconds with a :class:`StorageError` (503, Retry-After):
        a writer wedged while holding the lock never wedges every other write with it."""
        if self._lock_path is None:
            yield
            return
        handle = getattr(self._local, "lock", None)
        if handle is None:
            handle = self._local.lock = self._keep(open(self._lock_path, "a+b"))  # noqa: SIM115
        _lock_within(handle, LOCK_WAIT)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[SQLTx]:
        with self._translated(), self._transaction(write=False) as tx:
            yield tx

    def clear_projections(self) -> None:
        with self.write() as tx:
            tx.clear_projections()

    def projection_digest(self) -> str:
        h = hashlib.sha256()
        with self.read() as tx:
            for kind, key, data in tx._all(
                "SELECT kind, key, data FROM projection ORDER BY kind, key"
            ):
                h.update(f"P\0{kind}\0{key}\0{data}\n".encode())
            for ref, seq in tx._all("SELECT ref, seq FROM entry_ref ORDER BY ref, seq"):
                h.update(f"R\0{ref}\0{seq}\n".encode())
        return h.hexdigest()

    def iter_entries(self, batch: int = 2048, start: int = 0) -> Iterator[tuple[int, bytes]]:
        while True:
            with self.read() as tx:
                rows = tx._all(self._sql.page, (start, batch))
            for seq, body in rows:
                yield int(seq), bytes(body)
            if len(rows) < batch:
                return
            start = int(rows[-1][0]) + 1

    def size_bytes(self) -> int:
        with self.read() as tx:
            if self.dialect == "postgresql":
                q = "SELECT sum(pg_total_relation_size(c::regclass)) FROM unnest(%s::text[]) c"
                return int(tx._one(q, (list(_LOG_TABLES),))[0] or 0)
            names = ",".join(f"'{t}'" for t in _LOG_TABLES)
            try:
                total = tx._one(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({names})")[0]
            except Exception:  # SQLite built without the dbstat table: count the whole file
                total = None
            if total is None:
                pages = tx._one("PRAGMA page_count")[0]
                total = int(pages) * int(tx._one("PRAGMA page_size")[0])
            return int(total)

    def close(self) -> None:
        with self._opened_guard:
            opened, self._opened = self._opened, []
        for resource in opened:
            resource.close()
        self._local = threading.local()
        self.engine.dispose()
