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
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import orjson
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

__all__ = [
    "SCHEMA_REVISION",
    "SQLStore",
    "StatementCount",
    "counted_statements",
    "metadata",
    "normalize_url",
]

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
SCHEMA_REVISION = "0002"
UPGRADE_HINT = "run `insutrace db upgrade`"


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _loads(kind: str, key: str, data: str) -> dict[str, Any]:
    """A projection row; one that is not a JSON object is damaged storage. (orjson parses
    what :func:`_dumps` writes to the same objects as the standard library, faster; a row
    it refuses, e.g. an integer past 64 bits, is left to the standard library.)"""
    try:
        value = orjson.loads(data)
    except ValueError:
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
        # a run of consecutive indexes (a verification's batch, a tile): a range, whose text
        # is the same whatever the run's length, so the statement is compiled once
        self.leaf_run = f"SELECT 0, seq, leaf FROM log_entry WHERE seq >= {ph} AND seq <= {ph}"
        self.node_run = (
            f"SELECT level, idx, hash FROM log_node WHERE level = {ph} "
            f"AND idx >= {ph} AND idx <= {ph}"
        )
        self.leaf_hashes = (
            f"SELECT leaf FROM log_entry WHERE seq >= {ph} AND seq < {ph} ORDER BY seq"
        )
        self.node_hashes = (
            f"SELECT hash FROM log_node WHERE level = {ph} AND idx >= {ph} AND idx < {ph} "
            "ORDER BY idx"
        )
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
        # what every write transaction reads first, in one statement: the head entry's leaf
        # and the latest checkpoint (the ledger's fail-stop checks); SQLite reads the head
        # with them (BEGIN IMMEDIATE already holds the writer lock), PostgreSQL after its
        # row lock, in a statement of its own so that it sees what the writer before it
        # committed while it waited
        latest = "SELECT {} FROM log_checkpoint ORDER BY size DESC LIMIT 1"
        tip = (
            f"(SELECT leaf FROM log_entry WHERE seq = {{}}), ({latest.format('size')}), "
            f"({latest.format('note')})"
        )
        self.open_write = (
            f"SELECT h.size, h.leaf, {tip.format('h.size - 1')} FROM log_head h WHERE h.id = 1"
            if dialect == "sqlite"
            else f"SELECT {tip.format(ph)}"
        )
        self.page = f"SELECT seq, body FROM log_entry WHERE seq >= {ph} ORDER BY seq LIMIT {ph}"
        self.logged_page = (
            f"SELECT seq, body, leaf FROM log_entry WHERE seq >= {ph} ORDER BY seq LIMIT {ph}"
        )
        self.scan_prefix = (
            f"SELECT key, data FROM projection WHERE kind = {ph} AND key >= {ph} "
            f"AND key < {ph} ORDER BY key"
        )

        # PostgreSQL: a table's held rows in one statement, one array per column (a
        # prepared statement per row, as executemany sends them, costs the server more), the
        # arrays in the binary format (%b: the text one escapes every byte of a bytea)
        self.unnest = dialect == "postgresql"
        self.bulk_entry = (
            "INSERT INTO log_entry (seq, body, leaf) "
            "SELECT * FROM unnest(%b::bigint[], %b::bytea[], %b::bytea[])"
        )
        self.bulk_node = (
            "INSERT INTO log_node (level, idx, hash) "
            "SELECT * FROM unnest(%b::smallint[], %b::bigint[], %b::bytea[])"
        )
        # PostgreSQL: the rows of many keys at once, each looked up by its index. A plain
        # JOIN of the unnested keys lets the planner hash-join a sequential scan of the
        # whole table (what it chose for entry_ref, whose refs it estimates ~80 rows each,
        # and for any table it planned while small, a plan a prepared statement keeps):
        # 11 ms a batch at 10^5 refs, growing with the log. A LATERAL subquery with
        # OFFSET 0 is never flattened into a join, so each key is its own index probe;
        # and these run unprepared (:meth:`SQLTx._all_planned`), planned each time with
        # the table's current size rather than a generic plan made when it was small.
        self.refs_any = (
            "SELECT w.ref, e.seq FROM unnest(%b::text[]) AS w(ref) CROSS JOIN LATERAL "
            "(SELECT seq FROM entry_ref WHERE ref = w.ref OFFSET 0) AS e"
        )
        self.rows_any = (
            "SELECT w.kind, w.key, p.data FROM unnest(%b::text[], %b::text[]) AS w(kind, key) "
            "CROSS JOIN LATERAL (SELECT data FROM projection "
            "WHERE kind = w.kind AND key = w.key OFFSET 0) AS p"
        )
        self.bulk_ref = (
            "INSERT INTO entry_ref (ref, seq) SELECT * FROM unnest(%b::text[], %b::bigint[])"
        )
        self.bulk_put = (
            "INSERT INTO projection (kind, key, data) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[]) "
            "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data"
        )

    def marks(self, n: int) -> str:
        return ", ".join([self.ph] * n)


_MISSING: Any = object()  # a savepoint's note that a row was neither read nor written before

HELD_ROWS = 20_000
"""A write transaction writes what it holds in memory once it holds this many rows (entries,
nodes, refs, projection rows) at no open savepoint (a bulk load, a rebuild), and then
forgets the rows it had read; a batch of items is far smaller and is written at commit."""


PREFETCH_ROWS = 500
"""Projection rows asked for in one statement by :meth:`SQLTx.prefetch_rows`."""


@dataclass
class _Undo:
    """What one savepoint restores if its block raises: the projection rows it changed
    (their value before, in the read cache and among the rows to write), and how many
    entries, nodes and refs were held when it began."""

    head: tuple[int, bytes] | None
    moved: tuple[int, tuple[int, bytes]] | None
    entries: int
    nodes: int
    refs: int
    rows: dict[tuple[str, str], tuple[Any, Any]] = field(default_factory=dict)


class StatementCount:
    """How many statements store transactions sent (each ``execute`` or ``executemany``
    is one round trip to the database; the commit is not counted)."""

    def __init__(self) -> None:
        self.statements = 0


_counting: list[StatementCount] = []  # the counts being kept (counted_statements)


@contextmanager
def counted_statements() -> Iterator[StatementCount]:
    """Count the statements every store transaction begun inside the block sends, in any
    thread (a diagnostic for tests and benchmarks: the round trips per appended entry)."""
    count = StatementCount()
    _counting.append(count)
    try:
        yield count
    finally:
        _counting.remove(count)


class _CountedCursor:
    """A DBAPI cursor whose statements are counted in ``counts``."""

    def __init__(self, inner: Any, counts: tuple[StatementCount, ...]) -> None:
        self._inner = inner
        self._counts = counts

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        for count in self._counts:
            count.statements += 1
        return self._inner.execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        for count in self._counts:
            count.statements += 1
        return self._inner.executemany(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class SQLTx:
    """One transaction on one DBAPI connection (see :class:`insutrace.trace.store.base.Tx`).

    A write transaction (:meth:`hold_writes`) keeps what it writes in memory and sends it
    at :meth:`flush`, before the commit, in one ``executemany`` per table: entries, Merkle
    nodes, refs and projection rows. Every read of the transaction sees those writes (a
    projection row read or written once is served from memory; ``scan``, ``refs``,
    ``entries``, ``nodes`` and ``leaf`` merge the held rows with the database's), and a
    savepoint is a mark in memory: rolling back to it drops what was held since, so a
    refused item leaves no trace without a statement sent. Projection rows are held as
    their stored JSON text, so a caller that changes a row it read changes nothing held.
    """

    def __init__(self, conn: Any, sql: _SQL) -> None:
        self.conn = conn
        self.sql = sql
        self.cur: Any = self._cursor()
        self._head: tuple[int, bytes] | None = None
        # the head as this transaction's appends moved it: (size it started from, new head);
        # written to log_head once, by flush() before commit
        self._moved: tuple[int, tuple[int, bytes]] | None = None
        self._holding = False
        # read by open_write(): (seq, leaf) of the head entry, the latest checkpoint
        self._tip_leaf: tuple[int, bytes | None] | None = None
        self._held_checkpoint: tuple[int, str] | None = None  # add_checkpoint's, to write
        self._latest: Any = _MISSING  # (size, note), None (no checkpoint) or _MISSING

    def hold_writes(self) -> None:
        """Hold this transaction's writes in memory until :meth:`flush` (a write
        transaction of the store)."""
        self._holding = True
        # projection rows as this transaction sees them (stored text; None: no such row)
        self._rows: dict[tuple[str, str], str | None] = {}
        self._dirty: dict[str, dict[str, str]] = {}  # kind -> key -> text, to be written
        self._scans: dict[tuple[str, str], list[tuple[str, str]]] = {}  # database rows
        self._entries: list[tuple[int, bytes, bytes]] = []  # (seq, body, leaf) to insert
        self._nodes: list[tuple[int, int, bytes]] = []  # (level, idx, hash), level >= 1
        self._node_at: dict[Node, bytes] = {}
        self._refs: list[tuple[str, int]] = []
        self._ref_seqs: dict[str, list[int]] = {}  # held refs by ref, ascending
        self._known_refs: dict[str, list[int]] = {}  # every stored seq of a prefetched ref
        self._undo: list[_Undo] = []

    def open_write(self) -> None:
        """Read the head (SQLite), its entry's leaf and the latest checkpoint at once: the
        entry row never changes, the checkpoint only by this transaction's own writes."""
        if self._head is None:
            row = self._one(self.sql.open_write)
            self._head = _head_row(None if row is None or row[0] is None else row[:2])
            tip = row[2:]
        else:
            tip = self._one(self.sql.open_write, (self._head[0] - 1,))
        leaf, size, note = tip
        self._tip_leaf = (self._head[0] - 1, None if leaf is None else bytes(leaf))
        self._latest = None if size is None else (int(size), str(note))

    def _all(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        self.cur.execute(query, params)
        return list(self.cur.fetchall())

    def _all_planned(self, query: str, params: Sequence[Any]) -> list[Any]:
        """PostgreSQL: ``query`` never prepared, so planned for each execution with the
        tables as they are now (see ``refs_any``)."""
        self.cur.execute(query, params, prepare=False)
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
        """One round trip for any set of nodes not held in memory: a UNION ALL of one
        select per level."""
        out: dict[Node, bytes] = {}
        by_level: dict[int, list[int]] = {}
        for level, index in set(wanted):
            held = self._held_node(level, index)
            if held is not None:
                out[(level, index)] = held
            else:
                by_level.setdefault(level, []).append(index)
        if not by_level:
            return out
        parts, params = [], []
        for level, indexes in sorted(by_level.items()):
            low, high = min(indexes), max(indexes)
            if len(indexes) > 2 and high - low + 1 == len(indexes):  # consecutive: a range
                parts.append(self.sql.leaf_run if level == 0 else self.sql.node_run)
                params.extend([low, high] if level == 0 else [level, low, high])
                continue
            marks = self.sql.marks(len(indexes))
            if level == 0:
                parts.append(self.sql.leaf_by_seq.format(marks))
                params.extend(indexes)
            else:
                parts.append(self.sql.node.format(marks))
                params.extend([level, *indexes])
        rows = self._all(" UNION ALL ".join(parts), params)
        out.update({(int(lv), int(i)): bytes(h) for lv, i, h in rows})
        missing = [
            n for lv, idx in by_level.items() for n in ((lv, i) for i in idx) if n not in out
        ]
        if missing:
            raise StorageError(f"Merkle nodes missing from storage: {sorted(missing)[:4]}")
        return out

    def node_run(self, level: int, first: int, stop: int) -> list[bytes]:
        if level == 0:
            rows = self._all(self.sql.leaf_hashes, (first, stop))
        else:
            rows = self._all(self.sql.node_hashes, (level, first, stop))
        run = [bytes(h) for (h,) in rows]
        # a writer's own nodes, held until flush(), complete the tree past the stored ones
        for index in range(first + len(run), stop):
            held = self._held_node(level, index)
            if held is None:
                break
            run.append(held)
        return run

    def _held_node(self, level: int, index: int) -> bytes | None:
        if not self._holding:
            return None
        if level > 0:
            return self._node_at.get((level, index))
        held = self._held_entry(index)
        return None if held is None else held[2]

    def _held_entry(self, seq: int) -> tuple[int, bytes, bytes] | None:
        if not self._holding or not self._entries:
            return None
        i = seq - self._entries[0][0]
        return self._entries[i] if 0 <= i < len(self._entries) else None

    def leaf(self, seq: int) -> bytes | None:
        held = self._held_entry(seq)
        if held is not None:
            return held[2]
        if self._tip_leaf is not None and self._tip_leaf[0] == seq:
            return self._tip_leaf[1]
        row = self._one(self.sql.leaf, (seq,))
        return None if row is None else bytes(row[0])

    def append(self, seq: int, body: bytes, leaf: bytes, nodes: Mapping[Node, bytes]) -> None:
        if self._moved is not None and seq != self._moved[1][0]:
            raise Conflict(f"entry {seq} does not follow entry {self._moved[1][0] - 1}")
        inner = [(lvl, i, h) for (lvl, i), h in nodes.items() if lvl > 0]
        if self._holding:
            self._entries.append((seq, body, leaf))
            self._nodes.extend(inner)
            self._node_at.update(((lvl, i), h) for lvl, i, h in inner)
        else:
            self.cur.execute(self.sql.insert_entry, (seq, body, leaf))
            if inner:
                self.cur.executemany(self.sql.insert_node, inner)
        start = seq if self._moved is None else self._moved[0]
        self._moved = (start, (seq + 1, leaf))
        self._held_enough()

    def flush(self) -> None:
        """Write what the transaction holds, one statement per table, and move the head row
        to where its appends left it (one statement per transaction, however many entries
        it appended). On PostgreSQL the statements go in one pipeline: one round trip."""
        moved = self._moved
        if moved is None and self._held_checkpoint is None and not self._holding:
            return  # a read transaction: nothing to send (a pipeline would cost a round trip)
        head = self._cursor()
        with self._pipeline():
            self._send_checkpoint()
            self._write_held()
            if moved is not None:
                start, (size, leaf) = moved
                head.execute(self.sql.move_head, (size, leaf, start))
        if moved is None:
            return
        if head.rowcount != 1:
            raise Conflict(f"log head moved under an exclusive writer (appending {start}…)")
        self._head, self._moved = (size, leaf), None

    def _pipeline(self) -> AbstractContextManager[Any]:
        """PostgreSQL: statements sent without waiting for each answer, all answered (or
        the first failure raised) when the block ends; elsewhere, statements as usual."""
        driver = getattr(self.conn, "driver_connection", None)
        pipeline = getattr(driver, "pipeline", None) if self.sql.unnest else None
        return pipeline() if pipeline is not None else nullcontext()

    def _cursor(self) -> Any:
        """A new cursor on the transaction's connection, its statements counted while
        :func:`counted_statements` is counting."""
        cur = self.conn.cursor()
        return _CountedCursor(cur, tuple(_counting)) if _counting else cur

    def _send_checkpoint(self) -> None:
        """Write the checkpoint :meth:`add_checkpoint` holds, if any."""
        held, self._held_checkpoint = self._held_checkpoint, None
        if held is not None:
            self.cur.execute(self.sql.add_checkpoint, held)

    def _write_held(self) -> None:
        if not self._holding:
            return
        self._outside_savepoints("what a transaction holds")
        sql = self.sql
        rows = [
            (kind, key, data) for kind, held in self._dirty.items() for key, data in held.items()
        ]
        for one, bulk, held in (
            (sql.insert_entry, sql.bulk_entry, self._entries),
            (sql.insert_node, sql.bulk_node, self._nodes),
            (sql.insert_ref, sql.bulk_ref, self._refs),
            (sql.put, sql.bulk_put, rows),
        ):
            if not held:
                continue
            if sql.unnest:
                self.cur.execute(bulk, [list(column) for column in zip(*held, strict=True)])
            else:
                self.cur.executemany(one, held)
        self._entries, self._nodes, self._refs = [], [], []
        self._node_at, self._ref_seqs, self._known_refs = {}, {}, {}
        self._dirty, self._scans = {}, {}

    def _held_enough(self) -> None:
        """Outside any savepoint, write what is held once it passes :data:`HELD_ROWS`."""
        if not self._holding or self._undo:
            return
        held = len(self._entries) + len(self._nodes) + len(self._refs) + len(self._rows)
        if held >= HELD_ROWS:
            self._write_held()
            self._rows = {}

    def _direct(self) -> None:
        """Before a statement that writes at once: everything held goes first (outside a
        savepoint only: a savepoint undoes only what is held)."""
        if self._holding:
            self._write_held()
            self._rows = {}

    def clear_projections(self) -> None:
        """Delete every derived row (projections and refs) in this transaction."""
        self._direct()
        self.cur.execute("DELETE FROM projection")
        self.cur.execute("DELETE FROM entry_ref")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Roll back to here alone if the block raises; keep its writes otherwise."""
        if not self._holding:
            yield from self._sql_savepoint()
            return
        undo = _Undo(self._head, self._moved, len(self._entries), len(self._nodes), len(self._refs))
        self._undo.append(undo)
        try:
            yield
        except BaseException:
            self._undo.pop()
            self._roll_back(undo)
            raise
        self._undo.pop()
        if self._undo:  # the enclosing savepoint restores these rows as they were before it
            outer = self._undo[-1].rows
            for k, before in undo.rows.items():
                outer.setdefault(k, before)
        else:
            self._held_enough()

    def _sql_savepoint(self) -> Iterator[None]:
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

    def _roll_back(self, undo: _Undo) -> None:
        self._head, self._moved = undo.head, undo.moved
        del self._entries[undo.entries :]
        for level, index, _ in self._nodes[undo.nodes :]:
            del self._node_at[(level, index)]
        del self._nodes[undo.nodes :]
        for ref, _ in self._refs[undo.refs :]:
            seqs = self._ref_seqs[ref]
            seqs.pop()
            if not seqs:
                del self._ref_seqs[ref]
        del self._refs[undo.refs :]
        for (kind, key), (row, dirty) in undo.rows.items():
            if row is _MISSING:
                self._rows.pop((kind, key), None)
            else:
                self._rows[(kind, key)] = row
            held = self._dirty.get(kind)
            if dirty is _MISSING:
                if held is not None:
                    held.pop(key, None)
            else:
                self._dirty.setdefault(kind, {})[key] = dirty

    def add_refs(self, seq: int, refs: Iterable[str]) -> None:
        rows = [(r, seq) for r in sorted(set(refs))]
        if not rows:
            return
        if not self._holding:
            self.cur.executemany(self.sql.insert_ref, rows)
            return
        self._refs.extend(rows)
        for ref, _ in rows:
            self._ref_seqs.setdefault(ref, []).append(seq)
        self._held_enough()

    def prefetch_refs(self, refs: Iterable[str]) -> None:
        """Read every stored entry of each of ``refs`` in one round trip, so that
        :meth:`refs` answers them from memory for the rest of the transaction (e.g. the
        statement ids of a batch, looked up once per batch rather than once per item)."""
        wanted = sorted(set(refs) - set(self._known_refs)) if self._holding else []
        if not wanted:
            return
        found: dict[str, list[int]] = {ref: [] for ref in wanted}
        if self.sql.unnest:  # one statement, each ref an index probe (see refs_any)
            stored = self._all_planned(self.sql.refs_any, [wanted])
        else:
            marks = self.sql.marks(len(wanted))
            stored = self._all(f"SELECT ref, seq FROM entry_ref WHERE ref IN ({marks})", wanted)
        for ref, seq in stored:
            found[str(ref)].append(int(seq))
        for seqs in found.values():
            seqs.sort()
        self._known_refs.update(found)

    def prefetch_rows(self, rows: Iterable[tuple[str, str]]) -> None:
        """PostgreSQL: read each projection row of ``rows`` not yet seen by this
        transaction, in one round trip per :data:`PREFETCH_ROWS`, so that :meth:`get`
        answers them from memory (e.g. the signing keys and organisations of a batch, read
        once per batch). SQLite: nothing (its reads are calls within the process, each an
        index lookup; a statement for them all would cost more)."""
        if not self._holding or not self.sql.unnest:
            return
        wanted = sorted(set(rows) - self._rows.keys())
        for at in range(0, len(wanted), PREFETCH_ROWS):
            chunk = wanted[at : at + PREFETCH_ROWS]
            params = [list(c) for c in zip(*chunk, strict=True)]
            found = {
                (str(kind), str(key)): str(data)
                for kind, key, data in self._all_planned(self.sql.rows_any, params)
            }
            for row in chunk:
                self._rows[row] = found.get(row)

    def refs(
        self, ref: str, after: int = -1, limit: int = 100, descending: bool = False
    ) -> list[int]:
        held = self._ref_seqs.get(ref, []) if self._holding else []
        known = self._known_refs.get(ref) if self._holding else None
        if descending:
            before = after if after >= 0 else 2**62
            found = [s for s in reversed(held) if s < before][:limit]
            if len(found) < limit:
                if known is not None:
                    stored = [s for s in reversed(known) if s < before][: limit - len(found)]
                else:
                    rows = self._all(self.sql.refs_before, (ref, before, limit - len(found)))
                    stored = [int(seq) for (seq,) in rows]
                found += stored
            return found
        if known is not None:
            found = [s for s in known if s > after][:limit]
        else:
            found = [int(seq) for (seq,) in self._all(self.sql.refs_after, (ref, after, limit))]
        if len(found) < limit:
            found += [s for s in held if s > after][: limit - len(found)]
        return found

    def entries(self, start: int, stop: int) -> list[bytes]:
        held_from = self._entries[0][0] if self._holding and self._entries else stop
        out: list[bytes] = []
        if start < held_from:
            query = self.sql.entries
            out = [bytes(b) for (b,) in self._all(query, (start, min(stop, held_from)))]
        if stop > held_from:
            first = max(start, held_from) - held_from
            out += [body for _, body, _ in self._entries[first : stop - held_from]]
        return out

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        if not self._holding:
            row = self._one(self.sql.get, (kind, key))
            return None if row is None else _loads(kind, key, row[0])
        k = (kind, key)
        try:
            data = self._rows[k]
        except KeyError:
            row = self._one(self.sql.get, (kind, key))
            data = self._rows[k] = None if row is None else str(row[0])
        return None if data is None else _loads(kind, key, data)

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        text_ = _dumps(data)
        if not self._holding:
            self.cur.execute(self.sql.put, (kind, key, text_))
            return
        k = (kind, key)
        held = self._dirty.setdefault(kind, {})
        if self._undo:
            self._undo[-1].rows.setdefault(
                k, (self._rows.get(k, _MISSING), held.get(key, _MISSING))
            )
        self._rows[k] = held[key] = text_
        self._held_enough()

    def scan(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        stored = self._scans.get((kind, prefix)) if self._holding else None
        if stored is None:
            if prefix:
                rows = self._all(self.sql.scan_prefix, (kind, prefix, prefix + "\U0010ffff"))
            else:
                rows = self._all(self.sql.scan, (kind,))
            stored = [(str(k), str(d)) for k, d in rows]
            if self._holding:  # in code point order, whatever the database's collation
                stored.sort()
                self._scans[(kind, prefix)] = stored
        held = self._dirty.get(kind) if self._holding else None
        changed = {k: d for k, d in held.items() if k.startswith(prefix)} if held else {}
        if changed:
            merged = dict(stored)
            merged.update(changed)
            stored = sorted(merged.items())
        return [(k, _loads(kind, k, d)) for k, d in stored]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        self._send_checkpoint()
        if self._latest is not _MISSING:
            latest: tuple[int, str] | None = self._latest
            return latest
        row = self._one(self.sql.latest_checkpoint)
        return None if row is None else (int(row[0]), str(row[1]))

    def checkpoint_at(self, size: int) -> str | None:
        self._send_checkpoint()
        row = self._one(self.sql.checkpoint_at, (size,))
        return None if row is None else str(row[0])

    def checkpoints(self) -> list[tuple[int, str]]:
        self._send_checkpoint()
        return [(int(size), str(note)) for size, note in self._all(self.sql.checkpoints)]

    def _outside_savepoints(self, what: str) -> None:
        """A statement a savepoint cannot take back is refused inside one (a programming
        error, not the database's)."""
        if self._holding and self._undo:
            raise RuntimeError(f"{what} is not written inside a savepoint")

    def add_checkpoint(self, size: int, note: str) -> None:
        """Store a checkpoint unless one of that size is stored (a write transaction
        holds it until :meth:`flush`, or until it reads checkpoints again)."""
        self._outside_savepoints("a checkpoint")
        self._send_checkpoint()
        self._latest = _MISSING
        if self._holding:
            self._held_checkpoint = (size, note)
        else:
            self.cur.execute(self.sql.add_checkpoint, (size, note))

    def cosign_checkpoint(self, size: int, note: str) -> None:
        stored = self.checkpoint_at(size)
        if stored is None or not note.startswith(stored):
            raise Conflict(f"a cosigned note must extend the stored checkpoint at size {size}")
        self._outside_savepoints("a cosigned checkpoint")
        self._latest = _MISSING
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
        self.engine = make_engine(self.url, sqlite_synchronous=sqlite_synchronous, pre_ping=False)
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
        """A DBAPI transaction straight on a connection (SQLite: the thread's own;
        PostgreSQL: a pooled one): commit on success, roll back on any exception
        (SQLAlchemy's per-statement work is too slow here)."""
        if self.dialect == "sqlite":
            conn = self._thread_connection()
            tx = SQLTx(conn, self._sql)
            try:
                if write:
                    tx.hold_writes()
                tx.cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                if write:
                    tx.open_write()
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
        else:
            conn, tx = self._pg_begin(write=write)
        try:
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

    def _pg_begin(self, *, write: bool) -> tuple[Any, SQLTx]:
        """A pooled PostgreSQL connection with its transaction begun: a writer holds the
        head row's lock and has read the tip. The pool lends connections without a test
        round trip; one the server closed while it sat in the pool fails its first
        statement and is discarded, and the transaction is begun once more on a new one
        (nothing was done on the old)."""
        for attempt in (1, 2):
            conn = self.engine.raw_connection()
            try:
                tx = SQLTx(conn, self._sql)
                if write:
                    tx.hold_writes()
                    tx._head = _head_row(tx._one(self._sql.lock_head))
                    tx.open_write()
                else:
                    tx.cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return conn, tx
            except BaseException:
                driver = conn.driver_connection
                lost = driver is None or driver.closed or driver.broken
                if lost:
                    conn.invalidate()
                else:
                    conn.rollback()
                    conn.close()
                if not lost or attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

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

    def iter_logged(self, batch: int = 2048, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        while True:
            with self.read() as tx:
                rows = tx._all(self._sql.logged_page, (start, batch))
            for seq, body, leaf in rows:
                yield int(seq), bytes(body), bytes(leaf)
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
