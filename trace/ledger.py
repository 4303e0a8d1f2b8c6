"""The ledger: admits signed entries into the append-only log and answers for it.

One append, inside one exclusive store transaction:

1. read the head (size, previous leaf hash) — the transaction excludes every
   other writer, so nothing can move it until commit;
2. check the entry's place (``seq`` = size, ``prev`` = head), time and signature
   against the key valid for its actor at that place;
3. run the entry type's handler: it checks the domain rules against the
   projections and writes the projection rows the entry implies;
4. store the entry and the Merkle subtrees it completes (RFC 9162 §2.1).

Any exception rolls all of it back: a refused entry leaves nothing behind.
Checkpoints (C2SP tlog-checkpoint) are signed on demand by :meth:`Ledger.checkpoint`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .actors import CORE_HANDLERS, GENESIS, ROOT, Context, Handler, check_signer
from .checkpoint import Checkpoint, SignedCheckpoint
from .clock import Clock, SystemClock, format_time, parse_time
from .entry import GENESIS_PREV, Entry
from .errors import Conflict, MalformedInput, NotFound, RuleViolation, Unavailable
from .keys import Signer
from .merkle import (
    Node,
    append_leaf,
    consistency_proof,
    consistency_proof_nodes,
    frontier_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    root_from_frontier,
)
from .note import NoteSigner, NoteVerifier
from .proof import TlogProof
from .store.base import Store, Tx
from .tiles import WIDTH, TileRef, encode_bundle

__all__ = ["Ledger", "Receipt"]


@dataclass(frozen=True)
class Receipt:
    """What an append returns: the entry, its index and leaf hash."""

    seq: int
    leaf: bytes
    entry: Entry
    duplicate: bool = False


class Ledger:
    def __init__(
        self,
        store: Store,
        *,
        log_signer: NoteSigner | None = None,
        handlers: Mapping[str, Handler] = CORE_HANDLERS,
        clock: Clock | None = None,
        max_skew: timedelta = timedelta(minutes=5),
        checkpoint_writes: bool = False,
    ) -> None:
        self.store = store
        self.log_signer = log_signer
        self.handlers = dict(handlers)
        self.clock: Clock = clock or SystemClock()
        self.max_skew = max_skew
        self._cached: tuple[int, bytes, dict[Node, bytes]] | None = None
        # sign a checkpoint inside every write transaction, so each entry is provable at once
        self.checkpoint_writes = checkpoint_writes and log_signer is not None

    # -- writing ---------------------------------------------------------------

    def initialize(self, root: Signer, *, origin: str, name: str = "Root authority") -> Receipt:
        """Write the genesis entry naming the root key and this ledger's log key."""
        if self.log_signer is None or self.log_signer.name != origin:
            raise MalformedInput(f"a log key named {origin!r} is needed to create the log")
        if root.actor != ROOT:
            raise MalformedInput(f"the root signer's actor must be {ROOT!r}")
        payload = {
            "origin": origin,
            "name": name,
            "log_key": self.log_signer.verifier.vkey(),
            "root_key": root.public_b64,
        }
        receipt = self.append(GENESIS, payload, root)
        self.checkpoint()
        return receipt

    def append(
        self, type: str, payload: dict[str, Any], signer: Signer, *, time: datetime | None = None
    ) -> Receipt:
        """Build, sign and admit an entry at the head of the log (server-held key)."""
        return self.append_batch([(type, payload, signer)], time=time)[0]

    def append_batch(
        self, items: list[tuple[str, dict[str, Any], Signer]], *, time: datetime | None = None
    ) -> list[Receipt]:
        """Admit several entries in one transaction: all of them, or none."""
        receipts: list[Receipt] = []
        with self.store.write() as tx:
            size, prev = tx.head()
            frontier = self._frontier(tx, size, prev)
            for type, payload, signer in items:
                entry = Entry(
                    seq=size,
                    type=type,
                    actor=signer.actor,
                    key=signer.key_id,
                    time=format_time(time or self.clock.now()),
                    prev=prev.hex() if size else GENESIS_PREV,
                    payload=payload,
                ).signed(signer)
                receipt = self._admit(tx, entry, entry.to_bytes(), frontier, signed_by=signer)
                receipts.append(receipt)
                size, prev = size + 1, receipt.leaf
            if self.checkpoint_writes:
                self._sign_checkpoint(tx, size, frontier)
        self._cached = (size, prev, frontier)  # only once committed
        return receipts

    def _frontier(self, tx: Tx, size: int, head: bytes) -> dict[Node, bytes]:
        """The right edge of the tree: from memory when this ledger wrote the head itself,
        otherwise O(log n) reads."""
        if self._cached is not None and self._cached[:2] == (size, head):
            return dict(self._cached[2])
        return tx.nodes(frontier_nodes(size))

    def submit(self, data: bytes) -> Receipt:
        """Admit an entry signed elsewhere (client-held key). Idempotent on identical bytes."""
        entry = Entry.from_bytes(data)
        with self.store.write() as tx:
            if tx.entries(entry.seq, entry.seq + 1) == [data]:  # a retry of a logged entry
                return Receipt(entry.seq, leaf_hash(data), entry, duplicate=True)
            size, prev = tx.head()
            head = prev.hex() if size else GENESIS_PREV
            if entry.seq != size or entry.prev != head:
                raise Conflict(
                    f"stale entry: the log is at seq {size} with head {head[:16]}…, "
                    f"the entry says seq {entry.seq} prev {entry.prev[:16]}…; re-sign on the new head"
                )
            frontier = self._frontier(tx, size, prev)
            receipt = self._admit(tx, entry, data, frontier, check_time=True)
            if self.checkpoint_writes:
                self._sign_checkpoint(tx, size + 1, frontier)
        self._cached = (size + 1, receipt.leaf, frontier)
        return receipt

    def _admit(
        self,
        tx: Tx,
        entry: Entry,
        data: bytes,
        frontier: dict[Node, bytes],
        *,
        check_time: bool = False,
        signed_by: Signer | None = None,
    ) -> Receipt:
        when = parse_time(entry.time)
        if check_time and abs(when - self.clock.now()) > self.max_skew:
            raise RuleViolation(
                "entry.time", f"entry time {entry.time} is more than {self.max_skew} from now"
            )
        ctx = self.run_handlers(tx, entry, when, signed_by)
        leaf = leaf_hash(data)
        new = append_leaf(entry.seq, leaf, frontier)
        tx.append(entry.seq, data, leaf, new)
        tx.add_refs(entry.seq, ctx.refs)
        frontier.update(new)
        for node in set(frontier) - set(frontier_nodes(entry.seq + 1)):
            del frontier[node]
        return Receipt(entry.seq, leaf, entry)

    def run_handlers(
        self, tx: Tx, entry: Entry, when: datetime | None = None, signed_by: Signer | None = None
    ) -> Context:
        """Check the signer and apply the entry type's rules and projections."""
        if (entry.seq == 0) != (entry.type == GENESIS):
            raise RuleViolation("log.genesis", "the genesis entry is entry 0 and only entry 0")
        handler = self.handlers.get(entry.type)
        if handler is None:
            raise MalformedInput(f"unknown entry type {entry.type!r}")
        check_signer(tx, entry, signed_by.public_key if signed_by else None)
        ctx = Context(tx, entry, when or parse_time(entry.time))
        ctx.ref(f"type:{entry.type}", f"actor:{entry.actor}")
        handler(ctx)
        return ctx

    def checkpoint(self) -> SignedCheckpoint:
        """Sign a checkpoint at the current size unless the latest already covers it."""
        if self.log_signer is None:
            raise Unavailable("this ledger has no log key: it cannot sign checkpoints")
        with self.store.write() as tx:
            size, head = tx.head()
            latest = tx.latest_checkpoint()
            if latest and latest[0] == size:
                return SignedCheckpoint(Checkpoint.parse(_text(latest[1])), latest[1])
            return self._sign_checkpoint(tx, size, self._frontier(tx, size, head))

    def _sign_checkpoint(self, tx: Tx, size: int, frontier: dict[Node, bytes]) -> SignedCheckpoint:
        """C2SP tlog-checkpoint of the tree of ``size`` leaves, stored in ``tx``."""
        assert self.log_signer is not None
        root = root_from_frontier(size, frontier)
        signed = SignedCheckpoint.sign(Checkpoint(self.origin_of(tx), size, root), self.log_signer)
        tx.add_checkpoint(size, signed.note)
        return signed

    def rebuild(self, progress: Callable[[int], None] | None = None) -> str:
        """Drop every projection and replay the whole log; return the projection digest."""
        self.store.clear_projections()
        batch: list[tuple[int, bytes]] = []
        for seq, body in self.store.iter_entries():
            batch.append((seq, body))
            if len(batch) >= 1024:
                self._replay(batch, progress)
                batch = []
        self._replay(batch, progress)
        return self.store.projection_digest()

    def _replay(
        self, batch: list[tuple[int, bytes]], progress: Callable[[int], None] | None
    ) -> None:
        with self.store.write() as tx:
            for seq, body in batch:
                ctx = self.run_handlers(tx, Entry.from_bytes(body))
                tx.add_refs(seq, ctx.refs)
        if progress and batch:
            progress(len(batch))

    # -- reading ---------------------------------------------------------------

    def origin_of(self, tx: Tx) -> str:
        genesis = tx.get("log", "genesis")
        if genesis is None:
            raise NotFound("the log is empty: run `insutrace init` first")
        return str(genesis["origin"])

    def log_verifier(self) -> NoteVerifier:
        with self.store.read() as tx:
            genesis = tx.get("log", "genesis")
        if genesis is None:
            raise NotFound("the log is empty: run `insutrace init` first")
        return NoteVerifier.parse(genesis["log_key"])

    def size(self) -> int:
        with self.store.read() as tx:
            return tx.head()[0]

    def entry(self, seq: int) -> Entry:
        return Entry.from_bytes(self.entry_bytes(seq))

    def entry_bytes(self, seq: int) -> bytes:
        with self.store.read() as tx:
            rows = tx.entries(seq, seq + 1)
        if not rows:
            raise NotFound(f"no entry {seq}")
        return rows[0]

    def iter_entries(self) -> Iterator[Entry]:
        for _, body in self.store.iter_entries():
            yield Entry.from_bytes(body)

    def latest_checkpoint(self) -> SignedCheckpoint:
        with self.store.read() as tx:
            latest = tx.latest_checkpoint()
        if latest is None:
            raise NotFound("no checkpoint has been signed yet")
        return SignedCheckpoint(Checkpoint.parse(_text(latest[1])), latest[1])

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 path for entry ``seq`` in the tree of ``size`` (O(log n) reads)."""
        with self.store.read() as tx:
            self._check_size(tx, size)
            return inclusion_proof(seq, size, tx.nodes(inclusion_proof_nodes(seq, size)))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 proof between two sizes (O(log n) reads)."""
        with self.store.read() as tx:
            self._check_size(tx, new)
            return consistency_proof(old, new, tx.nodes(consistency_proof_nodes(old, new)))

    def root(self, size: int) -> bytes:
        with self.store.read() as tx:
            self._check_size(tx, size)
            return root_from_frontier(size, tx.nodes(frontier_nodes(size)))

    def tlog_proof(self, seq: int) -> TlogProof:
        """A C2SP tlog-proof for ``seq`` against the latest checkpoint that covers it."""
        cp = self.latest_checkpoint()
        if seq >= cp.checkpoint.size:
            raise NotFound(
                f"entry {seq} is not covered by a checkpoint yet (size {cp.checkpoint.size})"
            )
        path = self.inclusion_proof(seq, cp.checkpoint.size)
        return TlogProof(seq, tuple(path), cp.note)

    def tile(self, ref: TileRef) -> bytes:
        """A C2SP tile or entry bundle; only for widths some tree size publishes."""
        level, first, stop = ref.node_range()
        with self.store.read() as tx:
            size, _ = tx.head()
            if stop > size >> level:
                raise NotFound(f"{ref.path()} is beyond the log (size {size})")
            if ref.is_entries:
                return encode_bundle(tx.entries(first, stop))
            nodes = tx.nodes((level, i) for i in range(first, stop))
        return b"".join(nodes[(level, i)] for i in range(first, stop))

    @staticmethod
    def _check_size(tx: Tx, size: int) -> None:
        current, _ = tx.head()
        if not 0 <= size <= current:
            raise NotFound(f"tree size {size} is beyond the log (size {current})")


def _text(note: str) -> str:
    return note[: note.rfind("\n\n") + 1]


assert WIDTH == 256  # tiles.HEIGHT 8, as C2SP tlog-tiles fixes
