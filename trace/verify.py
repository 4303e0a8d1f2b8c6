"""Whole-log verification, from a store or from a C2SP static export, with no trust
in either: every entry's form, place, chain link and signature (with the key valid
at that entry), each statement logged once, the Merkle root at every checkpoint, and every checkpoint's
signature by the log key. The first failure is reported with its entry index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .actors import CORE_HANDLERS, Context, check_signer
from .checkpoint import SignedCheckpoint
from .clock import parse_time
from .entry import GENESIS_PREV, VERSION, Entry, statement_ref
from .errors import LedgerError, MalformedInput, NotFound, StorageError, VerificationError
from .merkle import EMPTY_ROOT, frontier_nodes, leaf_hash, node_hash, root_from_frontier
from .note import NoteVerifier
from .store.base import MemoryKV, Store
from .tiles import WIDTH, TileRef, decode_bundle, tiles_for_size

__all__ = ["CompactRange", "Report", "verify_export", "verify_store"]


class CompactRange:
    """The right edge of a growing Merkle tree: O(log n) hashes, O(1) amortised append."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[bytes] = []  # complete subtrees, largest first
        self.on_node: Callable[[int, int, bytes], None] | None = None

    def append(self, leaf: bytes) -> None:
        index, level, h = self.size, 0, leaf
        if self.on_node:
            self.on_node(0, index, h)
        while index & 1:
            h = node_hash(self.stack.pop(), h)
            index, level = index >> 1, level + 1
            if self.on_node:
                self.on_node(level, index, h)
        self.stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        acc = self.stack[-1]
        for h in reversed(self.stack[:-1]):
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

    @property
    def ok(self) -> bool:
        return self.error is None


class _Verifier:
    """Replays the log: entries in order, key state, compact range."""

    def __init__(self, root_key: str | None, log_key: NoteVerifier | None) -> None:
        self.kv = MemoryKV()
        self.tree = CompactRange()
        self.prev = GENESIS_PREV
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self.want_roots: set[int] = set()
        self.root_key = root_key
        self.log_key = log_key
        self.statements: dict[bytes, int] = {}  # digest of (actor, id) -> its entry

    def feed(self, position: int, stored_seq: int, body: bytes) -> None:
        if stored_seq != position:
            raise VerificationError(
                f"missing: the log holds no entry {position} (next stored is {stored_seq})",
                position,
            )
        try:
            entry = Entry.from_bytes(body)
        except MalformedInput as exc:
            raise VerificationError(f"malformed: {exc}", position) from None
        if entry.seq != position:
            raise VerificationError(
                f"out of place: its seq field says {entry.seq} (reordered or inserted)", position
            )
        if entry.prev != self.prev:
            raise VerificationError(
                f"chain broken: expected prev {self.prev[:16]}…, got {entry.prev[:16]}…", position
            )
        if entry.v == VERSION:
            self._unique(entry)
        self._keys(entry)
        leaf = leaf_hash(body)
        self.tree.append(leaf)
        self.prev = leaf.hex()
        if self.tree.size in self.want_roots:
            self.roots[self.tree.size] = self.tree.root()

    def _unique(self, entry: Entry) -> None:
        """A statement is logged once: its ``(actor, id)`` appears in one entry only."""
        digest = hashlib.sha256(statement_ref(entry.actor, entry.id).encode()).digest()[:16]
        first = self.statements.setdefault(digest, entry.seq)
        if first != entry.seq:
            raise VerificationError(
                f"duplicate statement: {entry.actor}'s id {entry.id!r:.60} is also entry {first}",
                entry.seq,
            )

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

    def check_checkpoint(self, note: str, report: Report) -> SignedCheckpoint:
        if self.log_key is None:
            raise VerificationError("no log key: the log has no genesis entry")
        try:
            signed = SignedCheckpoint.open(note, self.log_key)
        except LedgerError as exc:
            raise VerificationError(f"checkpoint: {exc}") from None
        size = signed.checkpoint.size
        if size > self.tree.size:
            raise VerificationError(
                f"checkpoint at size {size} is beyond the log's {self.tree.size} entries"
            )
        if self.roots.get(size) != signed.checkpoint.root:
            raise VerificationError(
                f"checkpoint at size {size}: root {signed.checkpoint.root.hex()[:16]}… does not "
                f"match the entries' root {self.roots.get(size, b'').hex()[:16]}…",
                size - 1 if size else None,
            )
        report.checkpoints += 1
        return signed


def _run(
    verifier: _Verifier,
    entries: Iterable[tuple[int, bytes]],
    notes: list[str],
    report: Report,
    progress: Callable[[int], None] | None,
) -> None:
    position = 0
    for stored_seq, body in entries:
        verifier.feed(position, stored_seq, body)
        position += 1
        if progress and position % 1024 == 0:
            progress(1024)
    if progress:
        progress(position % 1024)
    report.size, report.root = position, verifier.tree.root()
    for note in notes:
        cp = verifier.check_checkpoint(note, report)
        report.checkpoint_size = max(report.checkpoint_size or 0, cp.checkpoint.size)


def verify_store(
    store: Store,
    *,
    root_key: str | None = None,
    log_key: NoteVerifier | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify everything a store holds; trust anchors are optional but recommended."""
    report = Report()
    verifier = _Verifier(root_key, log_key)
    notes = _stored_checkpoints(store)
    verifier.want_roots = {_size_of(n) for n in notes}
    stored = _StoredTree(store)
    verifier.tree.on_node = stored.add
    try:
        _run(verifier, store.iter_entries(), notes, report, progress)
        stored.flush()
        _check_head(store, report, stored.last_leaf)
    except VerificationError as exc:
        report.error = exc
    if not notes:
        report.notes.append("no checkpoint has been signed: the Merkle root is unattested")
    return report


def _stored_checkpoints(store: Store) -> list[str]:
    with store.read() as tx:
        return [note for _, note in tx.checkpoints()]


def _size_of(note: str) -> int:
    try:
        return int(note.split("\n")[1])
    except (IndexError, ValueError):
        return -1


class _StoredTree:
    """Compares every hash the replay computes — each entry's leaf hash and each complete
    subtree's node — with the one the store keeps (the ones proofs and tiles are served
    from), a batch at a time, naming the first that differs."""

    def __init__(self, store: Store, batch: int = 4096) -> None:
        self.store = store
        self.batch = batch
        self.pending: dict[tuple[int, int], bytes] = {}
        self.last_leaf: bytes | None = None

    def add(self, level: int, index: int, digest: bytes) -> None:
        self.pending[(level, index)] = digest
        if level == 0:
            self.last_leaf = digest
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with self.store.read() as tx:
            try:
                held = tx.nodes(self.pending)
            except StorageError as exc:
                raise VerificationError(f"stored Merkle tree incomplete: {exc}") from None
        for (level, index), digest in sorted(self.pending.items()):
            if held[(level, index)] == digest:
                continue
            if level == 0:
                raise VerificationError(
                    f"the stored leaf hash of entry {index} does not match the entry", index
                )
            first, last = index << level, ((index + 1) << level) - 1
            raise VerificationError(
                f"the stored Merkle node at level {level}, index {index} (entries {first}–{last})"
                " does not match the entries",
                last,
            )
        self.pending.clear()


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
        _run(verifier, _bundle_entries(directory, size), [note], report, progress)
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


def _bundle_entries(directory: Path, size: int) -> Iterable[tuple[int, bytes]]:
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
            yield seq, body
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
