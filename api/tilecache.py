"""The log's read answers in memory: tiles, entry bundles and the latest checkpoint.

C2SP tlog-tiles: a full tile (width 256) never changes once the tree has grown past it, and
a partial tile of a given width never changes either (its hashes are complete subtrees): it
is only superseded, as the log grows, by a wider one. So bytes read once can answer every
later request for the same path, from the event loop with no thread hand-off and no
database transaction. Full tiles and partial ones are kept in separate byte-bounded LRU
maps, so that superseded partial tiles age out without ever pushing a full tile out.

The checkpoint is the one answer that changes. :class:`CheckpointCache` keeps the latest
signed note this process knows of: a batch committed here replaces it (the ledger's
``published`` hook), and a batch committed by another process of the same server is
noticed by the published-checkpoint file (``<home>/keys/checkpoint``, :mod:`api.anchor`)
changing, one ``stat`` per request. Every process of the server writes that file after its
commit and before answering any writer of the batch, so a client holding a receipt from one
worker reads a checkpoint at least that large from any other. A writer that does not write
that file (another server on the same database, a command-line append) is seen within
:data:`CHECKPOINT_TTL` seconds: the cached note is re-read from the database once it is
that old. A note older than the newest is still a valid checkpoint of this log, only a
smaller one (C2SP tlog-checkpoint): a client never sees a wrong answer, at most a late one.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from insutrace.trace.checkpoint import SignedCheckpoint

__all__ = ["CHECKPOINT_TTL", "AnswerCache", "CheckpointCache", "TileCache"]

CHECKPOINT_TTL = 1.0
"""Seconds a cached checkpoint is answered without a look at the database."""


class _Lru:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.items: OrderedDict[str, bytes] = OrderedDict()

    def get(self, path: str) -> bytes | None:
        body = self.items.get(path)
        if body is not None:
            self.items.move_to_end(path)
        return body

    def put(self, path: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        old = self.items.pop(path, None)
        if old is not None:
            self.used -= len(old)
        self.items[path] = body
        self.used += len(body)
        while self.used > self.max_bytes:
            _, dropped = self.items.popitem(last=False)
            self.used -= len(dropped)


class TileCache:
    """Byte-bounded LRU maps from a tile's path (``tile/…``) to its bytes: full tiles in
    one (``max_bytes``), partial ones in another (``max_partial_bytes``)."""

    def __init__(self, max_bytes: int = 64 << 20, max_partial_bytes: int = 4 << 20) -> None:
        self._full = _Lru(max_bytes)
        self._partial = _Lru(max_partial_bytes)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    @property
    def max_bytes(self) -> int:
        return self._full.max_bytes

    @property
    def used(self) -> int:
        return self._full.used + self._partial.used

    def get(self, path: str) -> bytes | None:
        lru = self._partial if ".p/" in path else self._full
        with self._lock:
            body = lru.get(path)
            if body is None:
                self.misses += 1
                return None
            self.hits += 1
            return body

    def put(self, path: str, body: bytes) -> None:
        """Keep ``body`` as the bytes of ``path`` (which it must be: tiles never change)."""
        lru = self._partial if ".p/" in path else self._full
        with self._lock:
            lru.put(path, body)


class CheckpointCache:
    """The latest signed checkpoint note in memory; see the module's docstring.

    ``watch``: the file every process of the server rewrites after each commit (the
    published checkpoint); without one, only :data:`CHECKPOINT_TTL` bounds how late a
    checkpoint another process signed is seen."""

    def __init__(self, watch: Path | None = None, ttl: float = CHECKPOINT_TTL) -> None:
        self.watch = watch
        self.ttl = ttl
        self.size = -1
        self.note: bytes | None = None
        self.answer: tuple[bytes, bytes] | None = None  # (note, ETag), replaced whole
        self._stamp: tuple[int, int, int] | None = None
        self._until = 0.0
        self._lock = threading.Lock()

    def stamp(self) -> tuple[int, int, int] | None:
        """What identifies the watched file's current version (inode, size, mtime)."""
        if self.watch is None:
            return None
        try:
            st = os.stat(self.watch)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def get(self) -> tuple[bytes, bytes] | None:
        """The cached note and its ETag while current, else None (read the database, then
        :meth:`fill`)."""
        answer = self.answer
        if answer is None or time.monotonic() >= self._until or self.stamp() != self._stamp:
            return None
        return answer

    def fill(self, signed: SignedCheckpoint, stamp: tuple[int, int, int] | None) -> None:
        """Keep ``signed``, read from the database after the watched file showed ``stamp``
        (taken before the read, so a later change is noticed by the next :meth:`get`)."""
        with self._lock:
            if signed.checkpoint.size < self.size and self._fresh():
                return  # a larger one was published here meanwhile
            self._keep(signed, stamp)

    def publish(self, signed: SignedCheckpoint) -> None:
        """A ``Ledger.published`` hook: a checkpoint this process signed and committed.
        Chain it after the hook writing the watched file, so the stamp taken here is that
        of the file naming this checkpoint."""
        with self._lock:
            if signed.checkpoint.size <= self.size and self._fresh():
                return
            self._keep(signed, self.stamp())

    def _fresh(self) -> bool:
        return self.note is not None and time.monotonic() < self._until

    def _keep(self, signed: SignedCheckpoint, stamp: tuple[int, int, int] | None) -> None:
        self.note = signed.note.encode()
        self.size = signed.checkpoint.size
        # the log stores one note per size, so the size names the representation
        self.answer = (self.note, f'"{self.size}"'.encode())
        self._stamp = stamp
        self._until = time.monotonic() + self.ttl


class AnswerCache:
    """A bounded LRU map from a read's arguments to its answer, for reads that are a
    function of the log alone: the key names the log's head (size and last leaf hash) it
    was read at, so an answer is reused only while no entry has been appended since, by
    any process (the head is read from the database, one cheap query). Answers are shared:
    their users only read them."""

    def __init__(self, max_items: int = 1024) -> None:
        self.max_items = max_items
        self.hits = 0
        self._items: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> object | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return found

    def put(self, key: tuple[object, ...], answer: object) -> None:
        with self._lock:
            self._items[key] = answer
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
