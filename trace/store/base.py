"""Storage contracts of the ledger.

The log proper is three things: entries by sequence number, the hashes of complete
Merkle subtrees, and signed checkpoints. Everything else a store keeps
(projection rows, entry references) is derived and can be dropped and rebuilt by
replaying the log.

Contracts every implementation keeps:

* ``Store.write()`` yields a transaction that excludes every other writer, in this
  process and in others, until it ends; it commits when the block exits normally
  and rolls back entirely when it raises: an entry and all it derives land together
  or not at all.
* ``Store.read()`` yields a consistent snapshot.
* ``Tx.append`` is the only way an entry row is written; no method updates or
  deletes an entry, a node or a checkpoint.
* The head (size, last leaf hash) moves only with ``Tx.append``.
* Every failure of the database underneath (unreachable, damaged, a missing table or
  row, a schema the migrations have not brought up to date) is raised as
  :class:`~insutrace.trace.errors.StorageError`, never as the driver's own exception,
  ``KeyError`` or ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..merkle import Node

__all__ = ["KV", "Store", "Tx"]


class KV(Protocol):
    """Projection rows: JSON objects addressed by (kind, key)."""

    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None: ...

    def scan(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]: ...


class Tx(KV, Protocol):
    def head(self) -> tuple[int, bytes]:
        """(tree size, leaf hash of the last entry or 32 zero bytes)."""
        ...

    def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        """Hashes of complete subtrees; level 0 are leaf hashes. StorageError if any is missing."""
        ...

    def node_run(self, level: int, first: int, stop: int) -> list[bytes]:
        """The stored hashes of nodes ``first`` … ``stop`` − 1 at ``level`` (level 0: leaf
        hashes), in index order; fewer of them when some are missing (which
        :meth:`nodes` then names); in a write transaction, with the nodes its appends
        completed. A verification's batch: one range, no per-node keys."""
        ...

    def leaf(self, seq: int) -> bytes | None:
        """The leaf hash of entry ``seq``, if logged."""
        ...

    def append(self, seq: int, body: bytes, leaf: bytes, nodes: Mapping[Node, bytes]) -> None:
        """Store entry ``seq`` and the subtree hashes it completes; move the head."""
        ...

    def clear_projections(self) -> None:
        """Delete every derived row (projections and refs), never the log."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested scope: if its block raises, everything written in it is rolled back
        and the transaction goes on; otherwise its writes stay in the transaction. Within
        it, only entries, refs and projection rows are written (no checkpoint, no
        ``clear_projections``)."""
        ...

    def add_refs(self, seq: int, refs: Iterable[str]) -> None:
        """Index entry ``seq`` under each reference (e.g. ``batch:…``)."""
        ...

    def prefetch_refs(self, refs: Iterable[str]) -> None:
        """A hint: :meth:`refs` will be asked about each of ``refs`` in this transaction
        (a store may read them all at once; answers are the same either way)."""
        ...

    def prefetch_rows(self, rows: Iterable[tuple[str, str]]) -> None:
        """A hint: :meth:`get` will be asked for each (kind, key) of ``rows`` in this
        transaction (a store may read them all at once; answers are the same either way)."""
        ...

    def entries(self, start: int, stop: int) -> list[bytes]: ...

    def refs(
        self, ref: str, after: int = -1, limit: int = 100, descending: bool = False
    ) -> list[int]: ...

    def latest_checkpoint(self) -> tuple[int, str] | None: ...

    def checkpoint_at(self, size: int) -> str | None: ...

    def checkpoints(self) -> list[tuple[int, str]]:
        """Every stored checkpoint, smallest size first."""
        ...

    def add_checkpoint(self, size: int, note: str) -> None: ...

    def cosign_checkpoint(self, size: int, note: str) -> None:
        """Replace the stored checkpoint at ``size`` by ``note``, the same note with witness
        cosignature lines added after its own (the caller checks that it is)."""
        ...


class Store(Protocol):
    url: str

    def write(self) -> AbstractContextManager[Tx]: ...

    def read(self) -> AbstractContextManager[Tx]: ...

    def clear_projections(self) -> None:
        """Drop every derived row (projections and refs), never the log."""
        ...

    def projection_digest(self) -> str:
        """SHA-256 over every derived row in a fixed order."""
        ...

    def iter_entries(self, batch: int = 2048, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """(seq, body) of every stored entry from ``start`` on, in order."""
        ...

    def iter_logged(self, batch: int = 2048, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        """(seq, body, stored leaf hash) of every stored entry from ``start`` on, in order:
        what a verifier compares its own leaf hash with, read with the entry."""
        ...

    def size_bytes(self) -> int:
        """Bytes the log's own tables occupy (for the storage benchmark)."""
        ...

    def close(self) -> None: ...


class MemoryKV:
    """A dict-backed KV, used by the offline verifier to replay key state."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.rows.get((kind, key))

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        self.rows[(kind, key)] = data

    def scan(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        return sorted(
            (k, v) for (c, k), v in self.rows.items() if c == kind and k.startswith(prefix)
        )
