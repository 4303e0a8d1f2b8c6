"""Whole-log verification, from a store or from a C2SP static export, with no trust
in either: every entry's form, place, chain link and signature (with the key valid
at that entry), each statement logged once, the Merkle root at every checkpoint, and every checkpoint's
signature by the log key. The first failure is reported with its entry index.

"First" is exact: among the faults of the entries and of the hashes the store keeps for
them, the one of the smallest entry index, and of one entry the one its replay checks
first (stored, form, place, chain, once, key and signature, then its stored hashes);
then the checkpoints, in order of size; then the log head.

A store can be verified by several worker processes (``jobs``): the log is cut into
ranges of 2^k entries, each verified by a worker (form, place, chain within the range,
signatures, key entries, leaf hashes and the Merkle subtrees inside the range, each
compared with the stored ones, checkpoint signatures, and the root of every checkpoint
inside the range up to the range's start). What depends on the order across ranges is
combined here, range by range in log order: the key table each range starts from (one
sequential pass over the key-changing entries: genesis, ``actor.register``,
``key.rotate``, ``key.revoke``), the chain link at each range's start, each statement
logged once, the subtrees above the ranges and so every checkpoint's root. The verdict
and the message are those of the sequential replay (``jobs=1``), which stays the path of
record.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .actors import CORE_HANDLERS, Context, check_signer
from .checkpoint import SignedCheckpoint
from .clock import parse_time
from .entry import GENESIS_PREV, VERSION, Entry, statement_ref
from .errors import LedgerError, MalformedInput, NotFound, StorageError, VerificationError
from .merkle import EMPTY_ROOT, Node, frontier_nodes, leaf_hash, node_hash, root_from_frontier
from .note import NoteVerifier
from .store.base import MemoryKV, Store, Tx
from .tiles import WIDTH, TileRef, decode_bundle, tiles_for_size

__all__ = ["CompactRange", "Report", "default_jobs", "verify_export", "verify_store"]

# Where a fault ranks among those of one entry: the order in which the replay checks it.
MISSING, MALFORMED, PLACE, CHAIN, UNIQUE, KEYS, STORED = range(7)
_NOWHERE = 2**63  # the rank of a fault that names no entry

Fault = tuple[int, int, int, str]
"""(entry index, stage, Merkle level, message): ordered as the sequential replay finds them."""

# A key-changing entry's canonical bytes hold its type member literally (quotes inside
# strings are escaped, so a payload string cannot imitate it; a nested member can, and
# is told apart when parsed).
_KEY_TYPES = re.compile(
    rb'"type":"(?:' + b"|".join(re.escape(t.encode()) for t in sorted(CORE_HANDLERS)) + rb')"'
)
_MIN_PARALLEL = 4096  # entries below which worker processes cost more than they save


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class CompactRange:
    """The right edge of a growing Merkle tree: O(log n) hashes, O(1) amortised append.

    ``base``: the index of its first leaf (a multiple of every subtree it will hold);
    ``on_node`` is told each complete subtree by its index in the whole tree."""

    def __init__(self, base: int = 0) -> None:
        self.base = base
        self.size = 0
        self.stack: list[bytes] = []  # complete subtrees, largest first
        self.on_node: Callable[[int, int, bytes], None] | None = None

    def append(self, leaf: bytes) -> None:
        index, level, h = self.size, 0, leaf
        on_node = self.on_node
        if on_node:
            on_node(0, self.base + index, h)
        while index & 1:
            h = node_hash(self.stack.pop(), h)
            index, level = index >> 1, level + 1
            if on_node:
                on_node(level, (self.base >> level) + index, h)
        self.stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        return _fold(self.stack)


def _fold(hashes: list[bytes]) -> bytes:
    """RFC 6962 root of consecutive complete subtrees, largest first (a right fold)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


@dataclass
class Report:
    size: int = 0
    checkpoint_size: int | None = None
    checkpoints: int = 0
    root: bytes = EMPTY_ROOT
    error: VerificationError | None = None
    notes: list[str] = field(default_factory=list)
    jobs: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


class _Verifier:
    """Replays the log, or one range of it: entries in order, key state, compact range.

    A range's verifier starts from the key table as of its first entry and does not check
    that entry's chain link (``prev`` None: the caller does, with the range before) nor
    statements logged twice (``digests``: collected for the caller, who sees every range).
    """

    def __init__(
        self,
        root_key: str | None,
        log_key: NoteVerifier | None,
        *,
        start: int = 0,
        kv: MemoryKV | None = None,
        collect: bool = False,
    ) -> None:
        self.kv = kv or MemoryKV()
        self.tree = CompactRange(start)
        self.prev: str | None = GENESIS_PREV if start == 0 else None
        self.first_prev: str | None = None
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self.want_roots: set[int] = set()
        self.root_key = root_key
        self.log_key = log_key
        self.statements: dict[bytes, int] = {}  # digest of (actor, id) -> its entry
        self.digests: list[bytes] | None = [] if collect else None
        self.digest_seqs: list[int] = []
        self.stage = MISSING

    def feed(self, position: int, stored_seq: int, body: bytes) -> None:
        self.stage = MISSING
        if stored_seq != position:
            raise VerificationError(
                f"missing: the log holds no entry {position} (next stored is {stored_seq})",
                position,
            )
        self.stage = MALFORMED
        try:
            entry = Entry.from_bytes(body)
        except MalformedInput as exc:
            raise VerificationError(f"malformed: {exc}", position) from None
        self.stage = PLACE
        if entry.seq != position:
            raise VerificationError(
                f"out of place: its seq field says {entry.seq} (reordered or inserted)", position
            )
        self.stage = CHAIN
        if self.prev is None:
            self.first_prev = entry.prev
        elif entry.prev != self.prev:
            raise VerificationError(_chain_broken(self.prev, entry.prev), position)
        self.stage = UNIQUE
        if entry.v == VERSION:
            self._unique(entry)
        self.stage = KEYS
        self._keys(entry)
        self.stage = STORED
        leaf = leaf_hash(body)
        self.tree.append(leaf)
        self.prev = leaf.hex()
        if position + 1 in self.want_roots:
            self.roots[position + 1] = self.tree.root()

    def _unique(self, entry: Entry) -> None:
        """A statement is logged once: its ``(actor, id)`` appears in one entry only."""
        digest = _statement_digest(entry)
        if self.digests is not None:
            self.digests.append(digest)
            self.digest_seqs.append(entry.seq)
            return
        first = self.statements.setdefault(digest, entry.seq)
        if first != entry.seq:
            raise _duplicate(entry, first)

    def _keys(self, entry: Entry) -> None:
        if entry.seq == 0:
            self._genesis(entry)
        check_signer(self.kv, entry)
        handler = CORE_HANDLERS.get(entry.type)
        if handler is not None:
            try:
                handler(Context(self.kv, entry, parse_time(entry.time)))
            except LedgerError as exc:
                raise VerificationError(f"invalid key entry: {exc}", entry.seq) from None

    def _genesis(self, entry: Entry) -> None:
        if self.root_key is not None and entry.payload.get("root_key") != self.root_key:
            raise VerificationError("genesis names a different root key than the trusted one", 0)
        log_key = entry.payload.get("log_key")
        if self.log_key is None and isinstance(log_key, str):
            self.log_key = NoteVerifier.parse(log_key)
        elif self.log_key is not None and log_key != self.log_key.vkey():
            raise VerificationError("genesis names a different log key than the trusted one", 0)


def _statement_digest(entry: Entry) -> bytes:
    return hashlib.sha256(statement_ref(entry.actor, entry.id).encode()).digest()[:16]


def _duplicate(entry: Entry, first: int) -> VerificationError:
    return VerificationError(
        f"duplicate statement: {entry.actor}'s id {entry.id!r:.60} is also entry {first}",
        entry.seq,
    )


def _chain_broken(expected: str, got: str) -> str:
    return f"chain broken: expected prev {expected[:16]}…, got {got[:16]}…"


def _open_checkpoint(note: str, log_key: NoteVerifier | None) -> SignedCheckpoint:
    if log_key is None:
        raise VerificationError("no log key: the log has no genesis entry")
    try:
        return SignedCheckpoint.open(note, log_key)
    except LedgerError as exc:
        raise VerificationError(f"checkpoint: {exc}") from None


def _check_root(size: int, root: bytes, computed: bytes | None, log_size: int) -> None:
    if size > log_size:
        raise VerificationError(f"checkpoint at size {size} is beyond the log's {log_size} entries")
    if computed != root:
        raise VerificationError(
            f"checkpoint at size {size}: root {root.hex()[:16]}… does not "
            f"match the entries' root {(computed or b'').hex()[:16]}…",
            size - 1 if size else None,
        )


def _check_notes(
    notes: list[str],
    opened: Callable[[int, str], tuple[int, bytes]],
    roots: dict[int, bytes],
    log_size: int,
    report: Report,
) -> None:
    """Every checkpoint in order: its signature (``opened``: its size and root), its root."""
    for i, note in enumerate(notes):
        size, root = opened(i, note)
        _check_root(size, root, roots.get(size), log_size)
        report.checkpoints += 1
        report.checkpoint_size = max(report.checkpoint_size or 0, size)


def _feed(
    verifier: _Verifier,
    entries: Iterable[tuple[int, bytes, bytes | None]],
    progress: Callable[[int], None] | None,
    stored: _StoredTree | None = None,
    start: int = 0,
    stop: int | None = None,
) -> int:
    """Replay ``entries`` (seq, body and the leaf hash stored with it, compared with
    ``stored``) from position ``start`` (to ``stop``); the position reached.

    A fault at an entry is reported unless the stored hashes of the entries before it
    hold an earlier one."""
    position = start
    try:
        for stored_seq, body, leaf in entries:
            if stored is not None:
                stored.leaf = leaf
            verifier.feed(position, stored_seq, body)
            position += 1
            if progress and position % 1024 == 0:
                progress(1024)
            if position == stop:
                break
    except VerificationError:
        if stored is not None:
            stored.flush()
        raise
    if progress:
        progress(position % 1024)
    return position


def verify_store(
    store: Store,
    *,
    root_key: str | None = None,
    log_key: NoteVerifier | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
    chunk: int | None = None,
) -> Report:
    """Verify everything a store holds; trust anchors are optional but recommended.

    ``jobs`` > 1: by that many worker processes, each opening the store by its URL, in
    ranges of ``chunk`` entries (a power of two; default: from the log's size, and a log
    of fewer than 4,096 entries in this process alone). The verdict is the same."""
    report = Report()
    notes = _stored_checkpoints(store)
    try:
        size_hint = _head_size(store)
        if chunk is None and jobs > 1 and size_hint >= _MIN_PARALLEL:
            chunk = _chunk_for(size_hint, jobs)
        if jobs > 1 and chunk is not None:
            report.jobs = jobs
            _Parallel(store, notes, root_key, log_key, progress, jobs, chunk).run(report)
        else:
            _sequential(store, notes, root_key, log_key, progress, report)
    except VerificationError as exc:
        report.error = exc
    if not notes:
        report.notes.append("no checkpoint has been signed: the Merkle root is unattested")
    return report


def _sequential(
    store: Store,
    notes: list[str],
    root_key: str | None,
    log_key: NoteVerifier | None,
    progress: Callable[[int], None] | None,
    report: Report,
) -> None:
    verifier = _Verifier(root_key, log_key)
    verifier.want_roots = {_size_of(n) for n in notes}
    stored = _StoredTree(store)
    verifier.tree.on_node = stored.add
    size = _feed(verifier, store.iter_logged(), progress, stored)
    stored.flush()
    report.size, report.root = size, verifier.tree.root()

    def opened(_: int, note: str) -> tuple[int, bytes]:
        cp = _open_checkpoint(note, verifier.log_key).checkpoint
        return cp.size, cp.root

    _check_notes(notes, opened, verifier.roots, size, report)
    _check_head(store, report, stored.last_leaf)


def _head_size(store: Store) -> int:
    with store.read() as tx:
        return tx.head()[0]


def _chunk_for(size: int, jobs: int) -> int:
    """Ranges of 2^k entries: about eight per worker, between 2^10 and 2^16."""
    target = max(1, size // (8 * jobs))
    return min(1 << 16, max(1 << 10, 1 << (target.bit_length() - 1)))


def _stored_checkpoints(store: Store) -> list[str]:
    with store.read() as tx:
        return [note for _, note in tx.checkpoints()]


def _size_of(note: str) -> int:
    try:
        return int(note.split("\n")[1])
    except (IndexError, ValueError):
        return -1


def _last_leaf(node: Node) -> tuple[int, int]:
    """The entry a stored hash is checked at, and its level: (last leaf, level)."""
    level, index = node
    return ((index + 1) << level) - 1, level


class _StoredTree:
    """Compares every hash the replay computes — each entry's leaf hash and each complete
    subtree's node — with the one the store keeps (the ones proofs and tiles are served
    from), naming the first that differs (the one of the smallest entry index).

    A leaf hash is compared as it is computed, with the one read with its entry
    (:attr:`leaf`, set before each entry is fed; at a fault the replay compares the
    nodes pending before it, which may hold an earlier one); the nodes above the leaves
    a batch at a time, one run of consecutive indexes per level, compared as a whole."""

    def __init__(self, store: Store, batch: int = 4096) -> None:
        self.store = store
        self.batch = batch
        self.runs: dict[int, tuple[int, list[bytes]]] = {}  # level -> (first index, hashes)
        self.pending = 0
        self.leaf: bytes | None = None  # the stored leaf hash of the entry being fed
        self.last_leaf: bytes | None = None

    def add(self, level: int, index: int, digest: bytes) -> None:
        if level == 0:
            self.last_leaf = digest
            if digest != self.leaf:
                fault = _stored_fault((0, index), self.leaf is not None)
                raise _StoredFault(fault, index, 0)
            return
        run = self.runs.get(level)
        if run is not None and run[0] + len(run[1]) == index:
            run[1].append(digest)
        else:
            if run is not None:
                self.flush()
            self.runs[level] = (index, [digest])
        self.pending += 1
        if self.pending >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.runs:
            return
        differ: list[tuple[int, int, bool]] = []
        with self.store.read() as tx:
            for level, (first, hashes) in self.runs.items():
                stored = tx.node_run(level, first, first + len(hashes))
                if stored != hashes:
                    differ.extend(_differing(tx, level, first, hashes, stored))
        if differ:
            level, index, held = min(differ, key=lambda d: _last_leaf(d[:2]))
            raise _StoredFault(_stored_fault((level, index), held), *_last_leaf((level, index)))
        self.runs.clear()
        self.pending = 0


def _differing(
    tx: Tx, level: int, first: int, hashes: list[bytes], stored: list[bytes]
) -> list[tuple[int, int, bool]]:
    """The nodes of a run whose stored hash differs or is missing: (level, index, held).
    When some are missing the run's stored hashes are looked up one by one, up to the
    first one missing (every node after it comes later in the replay's order)."""
    if len(stored) == len(hashes):
        return [
            (level, first + i, True)
            for i, (a, b) in enumerate(zip(hashes, stored, strict=True))
            if a != b
        ]
    out: list[tuple[int, int, bool]] = []
    for i, digest in enumerate(hashes):
        try:
            held = tx.nodes([(level, first + i)])[(level, first + i)]
        except StorageError:
            return [*out, (level, first + i, False)]
        if held != digest:
            out.append((level, first + i, True))
    return out


class _StoredFault(VerificationError):
    """A stored hash that is missing or differs from the one the entries give."""

    def __init__(self, message: str, index: int, level: int) -> None:
        super().__init__(message, index)
        self.level = level


def _stored_fault(node: Node, held: bool) -> str:
    level, index = node
    if level == 0:
        if not held:
            return f"stored Merkle tree incomplete: no stored leaf hash of entry {index}"
        return f"the stored leaf hash of entry {index} does not match the entry"
    first, last = index << level, ((index + 1) << level) - 1
    if not held:
        return (
            f"stored Merkle tree incomplete: no stored Merkle node at level {level}, "
            f"index {index} (entries {first}–{last})"
        )
    return (
        f"the stored Merkle node at level {level}, index {index} (entries {first}–{last})"
        " does not match the entries"
    )


def _check_head(store: Store, report: Report, last_leaf: bytes | None = None) -> None:
    with store.read() as tx:
        size, head_leaf = tx.head()
        if size != report.size:
            raise VerificationError(f"head says {size} entries, the log holds {report.size}")
        if size and last_leaf is not None and head_leaf != last_leaf:
            raise VerificationError(
                f"the log head's leaf hash does not match entry {size - 1}'s", size - 1
            )
        try:
            stored_root = root_from_frontier(size, tx.nodes(frontier_nodes(size)))
        except StorageError as exc:  # a missing node: the stored tree is incomplete
            raise VerificationError(f"stored Merkle nodes incomplete: {exc}") from None
    if stored_root != report.root:
        raise VerificationError("stored Merkle nodes do not match the entries' root")


# -- verification by worker processes ----------------------------------------------------


@dataclass(frozen=True)
class _Range:
    """What a worker verifies: entries ``lo`` … ``hi`` − 1 of the store at ``url``, from the
    key table as of ``lo``, with the checkpoints whose size lies in (lo, hi]."""

    url: str
    lo: int
    hi: int
    root_key: str | None
    log_vkey: str | None
    keys: dict[tuple[str, str], dict[str, Any]]
    notes: tuple[tuple[int, str], ...]  # (index among the stored checkpoints, note)


@dataclass
class _Verified:
    """A worker's answer for one range."""

    lo: int
    end: int  # the position it reached: hi, or where the log or its first fault is
    fault: Fault | None
    first_prev: str | None  # the prev its first entry names (checked by the caller)
    last_leaf: bytes | None
    stack: list[bytes]  # the range's complete subtrees, largest first
    digests: list[bytes]  # the digest of (actor, id) of each of its statements
    digest_seqs: list[int]  # and the entry of each
    roots: dict[int, bytes]  # checkpoint size -> the root of its subtrees up to that size
    notes: dict[int, tuple[int, bytes] | str]  # note index -> (size, root) or its fault


_STORES: dict[str, Store] = {}  # a worker's open stores, by URL


def _worker_store(url: str) -> Store:
    from .store import open_store

    if url not in _STORES:
        _STORES[url] = open_store(url)
    return _STORES[url]


def _rank(exc: VerificationError, stage: int, level: int = 0) -> Fault:
    index = _NOWHERE if exc.index is None else exc.index
    return index, stage, level, _message(exc)


def _message(exc: VerificationError) -> str:
    text, prefix = str(exc), f"entry {exc.index}: "
    return text[len(prefix) :] if exc.index is not None and text.startswith(prefix) else text


def _error(fault: Fault) -> VerificationError:
    index, _, _, message = fault
    return VerificationError(message, None if index == _NOWHERE else index)


def _verify_range(task: _Range) -> _Verified:
    """Verify one range (run in a worker process)."""
    store = _worker_store(task.url)
    log_key = NoteVerifier.parse(task.log_vkey) if task.log_vkey else None
    kv = MemoryKV()
    kv.rows = dict(task.keys)
    verifier = _Verifier(task.root_key, log_key, start=task.lo, kv=kv, collect=True)
    sizes = {_size_of(note) for _, note in task.notes}
    verifier.want_roots = sizes
    stored = _StoredTree(store)
    verifier.tree.on_node = stored.add
    fault: Fault | None = None
    end = task.lo
    try:
        entries = store.iter_logged(min(4096, task.hi - task.lo), start=task.lo)
        end = _feed(verifier, entries, None, stored, task.lo, task.hi)
        stored.flush()
    except VerificationError as exc:
        end = verifier.tree.base + verifier.tree.size  # the entry at fault, or the log's end
        if isinstance(exc, _StoredFault):
            fault = _rank(exc, STORED, exc.level)
        else:
            fault = _rank(exc, verifier.stage)
    opened: dict[int, tuple[int, bytes] | str] = {}
    if fault is None:
        for i, note in task.notes:
            try:
                cp = _open_checkpoint(note, verifier.log_key).checkpoint
                opened[i] = (cp.size, cp.root)
            except VerificationError as exc:
                opened[i] = str(exc)
    return _Verified(
        lo=task.lo,
        end=end,
        fault=fault,
        first_prev=verifier.first_prev,
        last_leaf=stored.last_leaf,
        stack=list(verifier.tree.stack),
        digests=verifier.digests or [],
        digest_seqs=verifier.digest_seqs,
        roots={s: r for s, r in verifier.roots.items() if s in sizes},
        notes=opened,
    )


def _workers_context() -> multiprocessing.context.BaseContext:
    """Fork this process when it runs one thread (cheap: the workers inherit its imports),
    else fork a fresh single-threaded server that has imported what the workers run."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "insutrace.trace.store.sql"])
    return context


class _Parallel:
    """Verifies a store by worker processes, range by range, and combines their answers."""

    def __init__(
        self,
        store: Store,
        notes: list[str],
        root_key: str | None,
        log_key: NoteVerifier | None,
        progress: Callable[[int], None] | None,
        jobs: int,
        chunk: int,
    ) -> None:
        if chunk < 2 or chunk & (chunk - 1):
            raise ValueError(f"the range size must be a power of two of at least 2, got {chunk}")
        self.store, self.notes, self.progress, self.jobs = store, notes, progress, jobs
        self.root_key, self.trusted, self.log_key = root_key, log_key, log_key
        self.k = chunk.bit_length() - 1
        self.kv = MemoryKV()  # the key table as the key-changing entries scanned leave it
        self.by_range: dict[int, list[tuple[int, str]]] = {}
        for i, note in enumerate(notes):
            if (size := _size_of(note)) >= 1:
                self.by_range.setdefault((size - 1) >> self.k, []).append((i, note))
        self.upper = CompactRange()  # the subtrees above the ranges, a range root per leaf
        self.upper_stored = _StoredTree(store, batch=_NOWHERE)
        self.upper.on_node = self._upper_node

    def _upper_node(self, level: int, index: int, digest: bytes) -> None:
        if level:  # level 0 is a range's own root, compared by its worker
            self.upper_stored.add(level + self.k, index, digest)

    def run(self, report: Report) -> None:
        pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=_workers_context())
        try:
            self._combine(self._scan(pool), report)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _scan(self, pool: ProcessPoolExecutor) -> list[Future[_Verified]]:
        """One pass over the log: a range is handed to the workers as soon as the key table
        as of its start is known; the key-changing entries are replayed into it."""
        futures: list[Future[_Verified]] = []
        for count, (seq, body) in enumerate(self.store.iter_entries()):
            if not count & ((1 << self.k) - 1):
                futures.append(pool.submit(_verify_range, self._range(count)))
            if _KEY_TYPES.search(body):
                self._replay(seq, body)
        return futures

    def _range(self, lo: int) -> _Range:
        vkey = self.trusted if lo == 0 else self.log_key
        return _Range(
            url=self.store.url,
            lo=lo,
            hi=lo + (1 << self.k),
            root_key=self.root_key,
            log_vkey=vkey.vkey() if vkey else None,
            keys=dict(self.kv.rows),
            notes=tuple(self.by_range.get(lo >> self.k, ())),
        )

    def _replay(self, seq: int, body: bytes) -> None:
        """Apply a key-changing entry to the key table. Its faults (form, place, signature,
        an invalid key change) are the worker's to name: any later state is moot."""
        try:
            entry = Entry.from_bytes(body)
        except MalformedInput:
            return
        handler = CORE_HANDLERS.get(entry.type)
        if handler is None or entry.seq != seq:
            return
        if seq == 0 and self.log_key is None and isinstance(entry.payload.get("log_key"), str):
            with contextlib.suppress(LedgerError):
                self.log_key = NoteVerifier.parse(entry.payload["log_key"])
        with contextlib.suppress(LedgerError):
            handler(Context(self.kv, entry, parse_time(entry.time)))

    def _combine(self, futures: list[Future[_Verified]], report: Report) -> None:
        """The workers' answers in log order: chain links across ranges, statements logged
        once, the subtrees above the ranges, every checkpoint's root; the first fault."""
        faults: list[Fault] = []
        statements: set[bytes] = set()
        combined: list[_Verified] = []
        roots: dict[int, bytes] = {0: EMPTY_ROOT}
        opened: dict[int, tuple[int, bytes] | str] = {}
        partial: list[bytes] = []
        last_leaf: bytes | None = None
        size = 0
        for done in (f.result() for f in futures):
            if self.progress:
                self.progress(done.end - done.lo)
            if done.fault is not None:
                faults.append(done.fault)
            first, before = done.first_prev, last_leaf.hex() if last_leaf else None
            if first is not None and before is not None and first != before:
                faults.append((done.lo, CHAIN, 0, _chain_broken(before, first)))
            combined.append(done)
            if (duplicate := self._unique(combined, statements)) is not None:
                faults.append(duplicate)
            if faults:
                break  # every fault of a later range comes after these
            for at, inner in done.roots.items():
                roots[at] = _fold([*self.upper.stack, inner])
            opened.update(done.notes)
            if done.end == done.lo + (1 << self.k):
                self.upper.append(done.stack[0])
            else:
                partial = done.stack
            last_leaf, size = done.last_leaf, done.end
        try:
            self.upper_stored.flush()
        except _StoredFault as exc:
            faults.append(_rank(exc, STORED, exc.level))
        if faults:
            raise _error(min(faults))
        report.size, report.root = size, _fold([*self.upper.stack, *partial])

        def checked(i: int, note: str) -> tuple[int, bytes]:
            if i not in opened:  # a checkpoint beyond the log, or that names no size
                cp = _open_checkpoint(note, self.log_key).checkpoint
                return cp.size, cp.root
            found = opened[i]
            if isinstance(found, str):
                raise VerificationError(found)
            return found

        _check_notes(self.notes, checked, roots, size, report)
        _check_head(self.store, report, last_leaf)

    def _unique(self, combined: list[_Verified], seen: set[bytes]) -> Fault | None:
        """A statement of the last range combined that an earlier one, or an earlier entry
        of its own, also holds: the first such. ``seen``: the statements of the ranges
        before it, to which its own are added."""
        digests = combined[-1].digests
        before = len(seen)
        seen.update(digests)
        if len(seen) - before == len(digests):
            return None
        first: dict[bytes, int] = {}  # a statement is twice in the log: which and where
        for done in combined:
            for seq, digest in zip(done.digest_seqs, done.digests, strict=True):
                if (at := first.setdefault(digest, seq)) != seq:
                    with self.store.read() as tx:
                        entry = Entry.from_bytes(tx.entries(seq, seq + 1)[0])
                    return _rank(_duplicate(entry, at), UNIQUE)
        return None


def verify_export(
    directory: Path,
    *,
    root_key: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify a C2SP static export: checkpoint, log.vkey, entry bundles and every tile."""
    report = Report()
    try:
        log_key = NoteVerifier.parse(_read(directory / "log.vkey").decode())
        note = _read(directory / "checkpoint").decode()
        size = SignedCheckpoint.open(note, log_key).checkpoint.size
        verifier = _Verifier(root_key, log_key)
        verifier.want_roots = {size}
        computed: dict[tuple[int, int], bytes] = {}
        verifier.tree.on_node = lambda lvl, i, h: computed.__setitem__((lvl, i), h)
        report.size = _feed(verifier, _bundle_entries(directory, size), progress)
        report.root = verifier.tree.root()

        def opened(_: int, note: str) -> tuple[int, bytes]:
            cp = _open_checkpoint(note, verifier.log_key).checkpoint
            return cp.size, cp.root

        _check_notes([note], opened, verifier.roots, report.size, report)
        _check_tiles(directory, size, computed)
    except (VerificationError, NotFound) as exc:
        report.error = exc if isinstance(exc, VerificationError) else VerificationError(str(exc))
    except LedgerError as exc:
        report.error = VerificationError(str(exc))
    return report


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise NotFound(f"export is missing {path}") from None


def _bundle_entries(directory: Path, size: int) -> Iterable[tuple[int, bytes, None]]:
    seq = 0
    for ref in tiles_for_size(size):
        if not ref.is_entries:
            continue
        try:
            bodies = decode_bundle(_read(directory / ref.path()))
        except MalformedInput as exc:
            raise VerificationError(f"{ref.path()}: {exc}", seq) from None
        if len(bodies) != ref.width:
            raise VerificationError(
                f"{ref.path()} holds {len(bodies)} entries, expected {ref.width}", seq
            )
        for body in bodies:
            yield seq, body, None  # an export's tiles are compared after the replay
            seq += 1


def _check_tiles(directory: Path, size: int, computed: dict[tuple[int, int], bytes]) -> None:
    for ref in tiles_for_size(size):
        if ref.is_entries:
            continue
        level, first, stop = ref.node_range()
        expected = b"".join(computed[(level, i)] for i in range(first, stop))
        if _read(directory / ref.path()) != expected:
            raise VerificationError(
                f"{ref.path()} does not match the hashes of the entries", first << level
            )


assert WIDTH == 256
assert TileRef(0, 1234067).path() == "tile/0/x001/x234/067"
