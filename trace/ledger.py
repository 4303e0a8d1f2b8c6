"""The ledger: admits signed entries into the append-only log and answers for it.

One append, inside one exclusive store transaction:

1. read the head (size, previous leaf hash) — the transaction excludes every
   other writer, so nothing can move it until commit;
2. check the entry's place (``seq`` = size, ``prev`` = head), time (never before the
   head entry's: ``log.time_order``) and signature against the key valid for its actor
   at that place;
3. run the entry type's handler: it checks the domain rules against the
   projections and writes the projection rows the entry implies;
4. store the entry and the Merkle subtrees it completes (RFC 9162 §2.1).

Any exception rolls all of it back: a refused entry leaves nothing behind.
Checkpoints (C2SP tlog-checkpoint) are signed on demand by :meth:`Ledger.checkpoint`.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .actors import CORE_TYPES, GENESIS, ROOT, Context, check_signer
from .checkpoint import Checkpoint, SignedCheckpoint
from .clock import Clock, SystemClock, format_time, parse_time
from .entry import GENESIS_PREV, Entry
from .entrytype import AdmissionCheck, EntryType
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

__all__ = ["TIME_ORDER_CLAUSE", "Ledger", "Receipt"]

TIME_ORDER_CLAUSE = "log invariant: entry n's time is not before entry n-1's"


BatchItem = tuple[str, dict[str, Any], Signer, datetime | None]
"""A batch item with its own entry time (None: the batch's)."""


@dataclass(frozen=True)
class _Tip:
    """The head as this ledger last committed it: size, leaf, frontier, entry time."""

    size: int
    head: bytes
    frontier: dict[Node, bytes]
    time: str | None


_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """What an append returns: the entry, its index and leaf hash."""

    seq: int
    leaf: bytes
    entry: Entry
    duplicate: bool = False


class Ledger:
    """The log over ``store``, admitting the entry ``types`` it is given (a registry of
    :class:`~insutrace.trace.entrytype.EntryType`; the core's log mechanics by default).

    ``admission``: checks run, in order, before the handler of every type declared
    ``admitted`` (the domain's cross-cutting rules, e.g. the credit blacklist).
    """

    def __init__(
        self,
        store: Store,
        *,
        log_signer: NoteSigner | None = None,
        types: Mapping[str, EntryType] = CORE_TYPES,
        admission: Iterable[AdmissionCheck] = (),
        clock: Clock | None = None,
        max_skew: timedelta = timedelta(minutes=5),
        checkpoint_writes: bool = False,
    ) -> None:
        self.store = store
        self.log_signer = log_signer
        self.types = types
        self.admission = tuple(admission)
        self.clock: Clock = clock or SystemClock()
        self.max_skew = max_skew
        self._cached: _Tip | None = None
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
        self,
        items: Sequence[tuple[str, dict[str, Any], Signer] | BatchItem],
        *,
        time: datetime | None = None,
        before: Callable[[Tx, int, str, dict[str, Any]], None] | None = None,
    ) -> list[Receipt]:
        """Admit several entries in one transaction: all of them, or none. An item may name
        its own time (a fourth member), else ``time`` (default: the clock) applies.
        ``before(tx, index, type, payload)`` runs ahead of each item's admission, seeing
        the items before it (e.g. the API's authorisation); it refuses by raising."""
        started = _time.perf_counter()
        receipts: list[Receipt] = []
        with self.store.write() as tx:
            size, prev = tx.head()
            tip = self._tip(tx, size, prev)
            last = tip.time
            for index, item in enumerate(items):
                type, payload, signer = item[0], item[1], item[2]
                at = item[3] if len(item) == 4 else time
                if before is not None:
                    before(tx, index, type, payload)
                entry = Entry(
                    seq=size,
                    type=type,
                    actor=signer.actor,
                    key=signer.key_id,
                    time=self._stamp(at, last),
                    prev=prev.hex() if size else GENESIS_PREV,
                    payload=payload,
                ).signed(signer)
                receipt = self._admit(tx, entry, entry.to_bytes(), tip.frontier, last, signer)
                receipts.append(receipt)
                size, prev, last = size + 1, receipt.leaf, entry.time
            if self.checkpoint_writes:
                self._sign_checkpoint(tx, size, tip.frontier)
        self._cached = _Tip(size, prev, tip.frontier, last)  # only once committed
        return _logged(receipts, started)

    def _stamp(self, time: datetime | None, last: str | None) -> str:
        """A server-built entry's time: the one asked for, else the clock's reading clamped
        to the head entry's, so a clock stepping back cannot break :data:`TIME_ORDER_CLAUSE`."""
        if time is not None:
            return format_time(time)
        now = format_time(self.clock.now())
        return last if last is not None and now < last else now

    def _tip(self, tx: Tx, size: int, head: bytes) -> _Tip:
        """The head's frontier and entry time: from memory when this ledger wrote the head
        itself, otherwise O(log n) reads. The cache is read once, so a commit of another
        thread in between cannot pair one head's check with another head's frontier."""
        cached = self._cached
        if cached is not None and (cached.size, cached.head) == (size, head):
            return replace(cached, frontier=dict(cached.frontier))
        rows = tx.entries(size - 1, size) if size else []
        last = Entry.from_bytes(rows[0]).time if rows else None
        return _Tip(size, head, tx.nodes(frontier_nodes(size)), last)

    def submit(self, data: bytes) -> Receipt:
        """Admit an entry signed elsewhere (client-held key). Idempotent on identical bytes."""
        started = _time.perf_counter()
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
            tip = self._tip(tx, size, prev)
            receipt = self._admit(tx, entry, data, tip.frontier, tip.time, check_time=True)
            if self.checkpoint_writes:
                self._sign_checkpoint(tx, size + 1, tip.frontier)
        self._cached = _Tip(size + 1, receipt.leaf, tip.frontier, entry.time)
        return _logged([receipt], started)[0]

    def _admit(
        self,
        tx: Tx,
        entry: Entry,
        data: bytes,
        frontier: dict[Node, bytes],
        last_time: str | None,
        signed_by: Signer | None = None,
        *,
        check_time: bool = False,
    ) -> Receipt:
        when = parse_time(entry.time)
        if check_time and abs(when - self.clock.now()) > self.max_skew:
            raise RuleViolation(
                "entry.time", f"entry time {entry.time} is more than {self.max_skew} from now"
            )
        _check_time_order(entry, last_time)
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
        """Check the signer, run the admission checks (for an admitted type) and apply the
        entry type's rules and projections."""
        if (entry.seq == 0) != (entry.type == GENESIS):
            raise RuleViolation("log.genesis", "the genesis entry is entry 0 and only entry 0")
        declared = self.types.get(entry.type)
        if declared is None:
            raise MalformedInput(f"unknown entry type {entry.type!r}")
        check_signer(tx, entry, signed_by.public_key if signed_by else None)
        ctx = Context(tx, entry, when or parse_time(entry.time))
        ctx.ref(f"type:{entry.type}", f"actor:{entry.actor}")
        if declared.admitted:
            for check in self.admission:
                check(ctx)
        declared.handler(ctx)
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
            return self._sign_checkpoint(tx, size, self._tip(tx, size, head).frontier)

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


def _check_time_order(entry: Entry, last_time: str | None) -> None:
    """Entry times never decrease along the log (:data:`TIME_ORDER_CLAUSE`). The fixed
    width of the time form (clock.format_time) makes string order time order."""
    if last_time is not None and entry.time < last_time:
        raise RuleViolation(
            "log.time_order",
            f"entry {entry.seq} time {entry.time} is before entry {entry.seq - 1}'s {last_time}",
            TIME_ORDER_CLAUSE,
        )


def _text(note: str) -> str:
    return note[: note.rfind("\n\n") + 1]


assert WIDTH == 256  # tiles.HEIGHT 8, as C2SP tlog-tiles fixes


def _logged(receipts: list[Receipt], started: float) -> list[Receipt]:
    """One log line per committed entry: seq, type, actor and the transaction's duration."""
    if _log.isEnabledFor(logging.INFO):
        ms = round((_time.perf_counter() - started) * 1000, 1)
        for r in receipts:
            fields = {"seq": r.seq, "type": r.entry.type, "actor": r.entry.actor, "duration_ms": ms}
            _log.info("appended seq=%d type=%s actor=%s in %.1f ms", *fields.values(), extra=fields)
    return receipts
