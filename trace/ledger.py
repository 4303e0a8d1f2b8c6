"""The ledger: admits signed entries into the append-only log and answers for it.

Signed statements name no log position (:mod:`insutrace.trace.entry`): the ledger
places each one. One batch of writes, inside one exclusive store transaction:

1. read the head (size, previous leaf hash) — the transaction excludes every
   other writer, so nothing can move it until commit;
2. for each write, in order, on its own savepoint: a statement whose ``(actor, id)``
   is already logged is answered with the original receipt (identical) or refused
   (other content); otherwise the ledger places it at ``seq`` = size after
   ``prev`` = head, at a log time never before the head entry's (``log.time_order``),
   and checks its signature against the key valid for its actor at that place;
3. run the entry type's handler: it checks the domain rules against the
   projections (as the writes before it in the batch left them) and writes the
   projection rows the entry implies;
4. store the entry, its statement reference and the Merkle subtrees it completes
   (RFC 9162 §2.1); with ``checkpoint_writes``, sign one checkpoint for the batch.

The store holds a batch's writes in memory and sends them at the commit, one statement per
table, and looks the batch's statement ids up at once, so an item costs only the first
reads of the rows its rules touch (``scripts/bench_append.py`` counts them).

A refused write rolls back to its savepoint and leaves nothing behind; any other
exception rolls the whole transaction back.
Checkpoints (C2SP tlog-checkpoint) are signed on demand by :meth:`Ledger.checkpoint`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from .actors import CORE_TYPES, GENESIS, ROOT, Context, check_signer
from .canonical import canonical, parse_canonical
from .checkpoint import Checkpoint, SignedCheckpoint
from .clock import Clock, SystemClock, format_time, parse_time
from .entry import GENESIS_PREV, VERSION, Entry, Statement, statement_ref
from .entrytype import AdmissionCheck, EntryType, Registry
from .errors import (
    Conflict,
    LedgerError,
    MalformedInput,
    NotFound,
    RuleViolation,
    StorageError,
    Unavailable,
)
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
from .offline import check_signed_time, judged_at
from .proof import TlogProof
from .store.base import Store, Tx
from .tiles import MAX_ENTRY_SIZE, WIDTH, TileRef, encode_bundle

__all__ = [
    "SEEN_CLAUSE",
    "TIME_ORDER_CLAUSE",
    "ClientWrite",
    "Ledger",
    "Receipt",
    "ServerWrite",
    "SignedWrite",
    "Write",
]

TIME_ORDER_CLAUSE = "log invariant: entry n's time is not before entry n-1's"
SEEN_CLAUSE = "log invariant: a statement's seen checkpoint is a tree of this log"


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
    """What an append returns: the entry, its index and leaf hash; ``checkpoint``, the
    size of the checkpoint signed in the entry's own transaction (with
    ``checkpoint_writes``; None for a duplicate, whose checkpoint is the latest)."""

    seq: int
    leaf: bytes
    entry: Entry
    duplicate: bool = False
    checkpoint: SignedCheckpoint | None = None


@dataclass(frozen=True)
class ServerWrite:
    """A statement the ledger builds and signs with a key it holds."""

    type: str
    payload: dict[str, Any]
    signer: Signer
    id: str | None = None
    time: datetime | None = None


@dataclass(frozen=True)
class ClientWrite:
    """Bytes signed elsewhere: a v 2 statement, or a v 1 entry."""

    data: bytes


@dataclass(frozen=True)
class SignedWrite:
    """A :class:`ServerWrite` signed before its batch (:meth:`Ledger.prepare`): the log
    places its statement as it places one signed with a client-held key."""

    write: ServerWrite
    statement: Statement


Write = ServerWrite | ClientWrite | SignedWrite


@dataclass
class _State:
    """The head as a batch moves it: size, last leaf, last entry time, frontier."""

    size: int
    prev: bytes
    last: str | None
    frontier: dict[Node, bytes]

    @property
    def prev_hex(self) -> str:
        return self.prev.hex() if self.size else GENESIS_PREV


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
        self._origin: str | None = None
        self._origin_seen: str | None = None
        # sign a checkpoint inside every write transaction, so each entry is provable at once
        self.checkpoint_writes = checkpoint_writes and log_signer is not None
        # told of each checkpoint this ledger signs, once committed (e.g. to keep a copy
        # outside the database: api/anchor.py)
        self.published: Callable[[SignedCheckpoint], None] | None = None

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
        self,
        type: str,
        payload: dict[str, Any],
        signer: Signer,
        *,
        time: datetime | None = None,
        id: str | None = None,
    ) -> Receipt:
        """Build, sign and admit a statement at the head of the log (server-held key).

        ``id``: the statement's unique id. A second append with the same id and the same
        type and payload returns the first receipt (``duplicate``); with other content
        it is a :class:`Conflict`. Without one, a fresh random id is used."""
        write = ServerWrite(type, payload, signer, id=id, time=time)
        return self.append_batch([write])[0]

    def append_batch(
        self,
        items: Sequence[tuple[str, dict[str, Any], Signer] | BatchItem | Write],
        *,
        time: datetime | None = None,
        before: Callable[[Tx, int, str, dict[str, Any]], None] | None = None,
    ) -> list[Receipt]:
        """Admit several entries in one transaction: all of them, or none. An item may name
        its own time (a fourth member), else ``time`` (default: the clock) applies; a
        :class:`ClientWrite` is a statement signed elsewhere, placed like :meth:`submit`.
        ``before(tx, index, type, payload)`` runs ahead of each item's admission, seeing
        the items before it (e.g. the API's authorisation); it refuses by raising."""
        writes = [
            w
            if isinstance(w, ServerWrite | ClientWrite | SignedWrite)
            else ServerWrite(w[0], w[1], w[2], time=w[3] if len(w) == 4 else time)
            for w in items
        ]
        results = self._admit_all(writes, isolated=False, before=before)
        return [r for r in results if isinstance(r, Receipt)]

    def admit(
        self,
        items: Sequence[Write],
        *,
        log: Callable[[list[Receipt | LedgerError], float], None] | None = None,
        more: Callable[[], Sequence[Write]] | None = None,
    ) -> list[Receipt | LedgerError]:
        """Admit a batch in one write transaction, each item on its own savepoint: rules
        are checked in order, each against the projections as the items before it left
        them; a refused item is rolled back alone and answered with its own error. One
        checkpoint is signed for the batch (with ``checkpoint_writes``). A storage failure
        fails the whole batch (nothing of it is written). ``log``: called after the commit,
        instead of the ledger's own log lines, with the results and the start time.
        ``more``: called once, when the transaction holds the log's writer lock, for
        writes to admit after ``items`` in the same batch (those that arrived while it
        waited); their results follow those of ``items``."""
        return self._admit_all(items, isolated=True, log=log, more=more)

    def submit(self, data: bytes) -> Receipt:
        """Admit an entry signed elsewhere (client-held key): a v 2 statement, placed at
        the head, or a v 1 entry naming its own place. Idempotent on identical bytes."""
        result = self._admit_all([ClientWrite(data)], isolated=False)[0]
        assert isinstance(result, Receipt)
        return result

    def _admit_all(
        self,
        items: Sequence[Write],
        *,
        isolated: bool,
        log: Callable[[list[Receipt | LedgerError], float], None] | None = None,
        before: Callable[[Tx, int, str, dict[str, Any]], None] | None = None,
        more: Callable[[], Sequence[Write]] | None = None,
    ) -> list[Receipt | LedgerError]:
        started = _time.perf_counter()
        results: list[Receipt | LedgerError] = []
        with self.store.write() as tx:
            size, prev = tx.head()  # the log's writer lock is held from here
            if more is not None:
                items = [*items, *more()]
            tip = self._tip(tx, size, prev)
            self._fail_stop(tx, tip, check_root=self.checkpoint_writes)
            state = _State(size, prev, tip.time, tip.frontier)
            # the batch's statement ids, and the rows its rules will read, in a round trip each
            proposed = [_proposed(w) for w in items]
            tx.prefetch_refs(statement_ref(p.actor, p.id) for p in proposed if p.id is not None)
            tx.prefetch_rows(self._rows_read(proposed))
            for index, item in enumerate(items):
                if before is not None and isinstance(item, ServerWrite):
                    before(tx, index, item.type, item.payload)
                if not isolated:
                    results.append(self._admit_one(tx, item, state))
                    continue
                try:
                    with tx.savepoint():
                        results.append(self._admit_one(tx, item, state))
                except StorageError:
                    raise
                except LedgerError as exc:
                    results.append(exc)
            written = [r for r in results if isinstance(r, Receipt) and not r.duplicate]
            signed = None
            if self.checkpoint_writes and written:
                signed = self._sign_checkpoint(tx, state.size, state.frontier)
        self._cached = _Tip(state.size, state.prev, state.frontier, state.last)  # committed
        self._origin = self._origin or self._origin_seen
        if signed is not None and self.published is not None:
            self.published(signed)
        if signed is not None:
            results = [
                Receipt(r.seq, r.leaf, r.entry, False, signed)
                if isinstance(r, Receipt) and not r.duplicate
                else r
                for r in results
            ]
        if log is not None:
            log(results, started)
        else:
            _logged([r for r in results if isinstance(r, Receipt)], started)
        return results

    def _rows_read(self, proposed: Iterable[_WriteHint]) -> Iterator[tuple[str, str]]:
        """The projection rows admitting the writes will read, as far as the types declare
        them (:meth:`~insutrace.trace.entrytype.Registry.rows_read`): a hint to the store."""
        rows_read = self.types.rows_read if isinstance(self.types, Registry) else None
        for p in proposed:
            if p.key:
                yield ("key", p.key)
            if rows_read is not None and p.type:
                yield from rows_read(p.actor, p.type, p.payload)

    def _fail_stop(self, tx: Tx, tip: _Tip, *, check_root: bool) -> None:
        """Build on nothing damaged: the head must be the last entry's leaf, and the tree
        the stored nodes give at the latest checkpoint's size must have its root (else a
        new checkpoint would contradict a signed one). Refused as a StorageError (503);
        nothing is written."""
        if tip.size and tx.leaf(tip.size - 1) != tip.head:
            raise StorageError(
                f"fail-stop: the log head does not match entry {tip.size - 1}'s leaf hash; "
                "the storage is damaged: nothing is written (run `insutrace verify`)"
            )
        if not check_root:
            return
        latest = tx.latest_checkpoint()
        if latest is None or latest[0] > tip.size:
            if latest is not None:
                raise StorageError(
                    f"fail-stop: a checkpoint of size {latest[0]} is stored but the log holds "
                    f"{tip.size} entries; nothing is written (run `insutrace verify`)"
                )
            return
        at = latest[0]
        frontier = tip.frontier if at == tip.size else tx.nodes(frontier_nodes(at))
        if root_from_frontier(at, frontier) != Checkpoint.parse(_text(latest[1])).root:
            raise StorageError(
                f"fail-stop: the stored Merkle tree at size {at} does not have the root of the "
                "latest signed checkpoint; nothing is written (run `insutrace verify`)"
            )

    def prepare(self, write: Write) -> Write:
        """What of admitting ``write`` needs no log state, done by the caller's thread
        before the write is queued (the sequencer's callers), so a batch holding the
        log's writer lock does not: a :class:`ServerWrite` with no time of its own is
        signed now, under a random id when it has none, as a client would sign it, and the
        log stamps and places it when its batch comes. Its signed time is the clock's
        reading clamped to the last entry time this process committed, as its log time
        will be, so a clock behind the log (stepped back; a demo's fixed clock) never makes
        it look signed long before it was logged. Returned as it is: any other write, one
        with its own time (built at that time, in its batch), and every write before this
        process's first commit (no reads here: its batch builds it)."""
        cached = self._cached
        if not isinstance(write, ServerWrite) or write.time is not None or cached is None:
            return write
        signer = write.signer
        statement = Statement(
            type=write.type,
            actor=signer.actor,
            key=signer.key_id,
            time=self._stamp(None, cached.time),
            payload=write.payload,
            id=write.id or "srv-" + os.urandom(16).hex(),
        ).signed(signer)
        return SignedWrite(write, statement)

    def _admit_one(self, tx: Tx, item: Write, state: _State) -> Receipt:
        if isinstance(item, ClientWrite):
            return self._admit_client(tx, item.data, state)
        if isinstance(item, SignedWrite):
            write, statement = item.write, item.statement
            earlier = self._same_statement(tx, write, statement.id)
            if earlier is not None:
                return earlier
            entry = statement.place(state.size, state.prev_hex, self._stamp(None, state.last))
            return self._admit(tx, entry, entry.to_bytes(), state, write.signer)
        signer = item.signer
        stamp = self._stamp(item.time, state.last)
        if item.id is not None and (earlier := self._same_statement(tx, item, item.id)):
            return earlier
        statement = Statement(
            type=item.type,
            actor=signer.actor,
            key=signer.key_id,
            time=stamp,
            payload=item.payload,
            id=item.id or _placed_id(state.size, state.prev_hex),
        ).signed(signer)
        entry = statement.place(state.size, state.prev_hex, stamp)
        return self._admit(tx, entry, entry.to_bytes(), state, signer)

    def _same_statement(self, tx: Tx, item: ServerWrite, id: str) -> Receipt | None:
        """The receipt of the statement the log already holds under ``id`` from the same
        signer with the same type and payload (a retry), None when it holds none;
        Conflict when it holds one with other content."""
        actor = item.signer.actor
        earlier = self._logged_statement(tx, actor, id)
        if earlier is None:
            return None
        if (earlier.type, canonical(earlier.payload)) != (item.type, canonical(item.payload)):
            raise Conflict(
                f"statement id {id!r:.60} of {actor} was logged at entry {earlier.seq} "
                "with other content"
            )
        return Receipt(earlier.seq, earlier.leaf_hash, earlier, duplicate=True)

    def _admit_client(self, tx: Tx, data: bytes, state: _State) -> Receipt:
        if len(data) > MAX_ENTRY_SIZE:
            raise MalformedInput(f"statement is {len(data)} bytes, more than {MAX_ENTRY_SIZE}", "")
        obj = parse_canonical(data)
        if obj.get("v") != VERSION or "seq" in obj:
            return self._admit_positioned(tx, data, state)
        if "log" in obj:
            raise MalformedInput(
                "send the signed statement itself, without the log's member", "/log"
            )
        statement = Statement.from_json(obj)
        object.__setattr__(statement, "raw", data)
        earlier = self._logged_statement(tx, statement.actor, statement.id)
        if earlier is not None:
            if earlier.statement_bytes() != data:
                raise Conflict(
                    f"statement id {statement.id!r:.60} of {statement.actor} was logged at "
                    f"entry {earlier.seq} with other content: choose a new id"
                )
            return Receipt(earlier.seq, earlier.leaf_hash, earlier, duplicate=True)
        now = self.clock.now()  # read before the log time, as the skew check always did
        logged = self._stamp(None, state.last)
        check_signed_time(statement.time, logged, now, self.max_skew)
        if statement.seen is not None:
            self._check_seen(tx, statement.seen, state.size)
        entry = statement.place(state.size, state.prev_hex, logged)
        return self._admit(tx, entry, entry.to_bytes(), state)

    def _admit_positioned(self, tx: Tx, data: bytes, state: _State) -> Receipt:
        """A v 1 entry: the signer named ``seq`` and ``prev``; a stale one is a Conflict."""
        entry = Entry.from_bytes(data)
        if entry.seq < state.size and tx.entries(entry.seq, entry.seq + 1) == [data]:
            return Receipt(entry.seq, leaf_hash(data), entry, duplicate=True)  # a retry
        if entry.seq != state.size or entry.prev != state.prev_hex:
            raise Conflict(
                f"stale entry: the log is at seq {state.size} with head {state.prev_hex[:16]}…, "
                f"the entry says seq {entry.seq} prev {entry.prev[:16]}…; re-sign on the new "
                "head, or send a position-free statement (v 2) instead"
            )
        self._check_skew(entry.time)
        return self._admit(tx, entry, data, state)

    def _logged_statement(self, tx: Tx, actor: str, id: str) -> Entry | None:
        found = tx.refs(statement_ref(actor, id), limit=1)
        if not found:
            return None
        rows = tx.entries(found[0], found[0] + 1)
        if not rows:
            raise StorageError(f"entry_ref names entry {found[0]}, which is not in the log")
        return Entry.from_bytes(rows[0])

    def _check_skew(self, signed: str) -> None:
        if abs(parse_time(signed) - self.clock.now()) > self.max_skew:
            raise RuleViolation(
                "entry.time", f"entry time {signed} is more than {self.max_skew} from now"
            )

    def _check_seen(self, tx: Tx, seen: dict[str, Any], size: int) -> None:
        """A statement's ``seen`` checkpoint must be one of this log's trees."""
        at = int(seen["size"])
        if at > size:
            raise RuleViolation(
                "log.seen",
                f"the statement says its signer saw a tree of {at} entries; the log has {size}",
                SEEN_CLAUSE,
            )
        root = root_from_frontier(at, tx.nodes(frontier_nodes(at)))
        if base64.b64encode(root).decode() != seen["root"]:
            raise RuleViolation(
                "log.seen",
                f"the checkpoint its signer saw (size {at}, root {str(seen['root'])[:12]}…) "
                "is not this log's tree at that size: a different or forked log",
                SEEN_CLAUSE,
            )

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

    def _admit(
        self,
        tx: Tx,
        entry: Entry,
        data: bytes,
        state: _State,
        signed_by: Signer | None = None,
    ) -> Receipt:
        _check_time_order(entry, state.last)
        ctx = self.run_handlers(tx, entry, judged_at(entry), signed_by)
        leaf = leaf_hash(data)
        frontier = state.frontier
        new = append_leaf(entry.seq, leaf, frontier)
        tx.append(entry.seq, data, leaf, new)
        tx.add_refs(entry.seq, ctx.refs)
        # nothing below can fail: the batch's state moves only with a written entry
        frontier.update(new)
        for node in set(frontier) - set(frontier_nodes(entry.seq + 1)):
            del frontier[node]
        state.size, state.prev, state.last = entry.seq + 1, leaf, entry.time
        return Receipt(entry.seq, leaf, entry)

    def run_handlers(
        self, tx: Tx, entry: Entry, when: datetime | None = None, signed_by: Signer | None = None
    ) -> Context:
        """Check the signer, run the admission checks (for an admitted type) and apply the
        entry type's rules and projections, judged at ``when`` (default: the entry's own
        :func:`~insutrace.trace.offline.judged_at`, as at its admission)."""
        if (entry.seq == 0) != (entry.type == GENESIS):
            raise RuleViolation("log.genesis", "the genesis entry is entry 0 and only entry 0")
        declared = self.types.get(entry.type)
        if declared is None:
            raise MalformedInput(f"unknown entry type {entry.type!r}")
        check_signer(tx, entry, signed_by.public_key if signed_by else None)
        ctx = Context(tx, entry, when or judged_at(entry))
        ctx.ref(f"type:{entry.type}", f"actor:{entry.actor}")
        if entry.v == VERSION:
            ctx.ref(statement_ref(entry.actor, entry.id))
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
            tip = self._tip(tx, size, head)
            self._fail_stop(tx, tip, check_root=True)
            signed = self._sign_checkpoint(tx, size, tip.frontier)
        if self.published is not None:
            self.published(signed)
        return signed

    def _sign_checkpoint(self, tx: Tx, size: int, frontier: dict[Node, bytes]) -> SignedCheckpoint:
        """C2SP tlog-checkpoint of the tree of ``size`` leaves, stored in ``tx``."""
        assert self.log_signer is not None
        root = root_from_frontier(size, frontier)
        origin = self.origin_of(tx)
        signed = SignedCheckpoint.sign(Checkpoint(origin, size, root), self.log_signer)
        tx.add_checkpoint(size, signed.note)
        if size > 0:
            self._origin_seen = origin  # kept only once this transaction commits
        return signed

    def rebuild(self, progress: Callable[[int], None] | None = None) -> str:
        """Drop every projection and replay the whole log; return the projection digest.

        One write transaction: it waits for the writer lock like any writer, then no other
        writer can append (or read half-built projections) until the replay commits, and
        a failed replay leaves the old projections as they were."""
        with self.store.write() as tx:
            tx.clear_projections()
            size, _ = tx.head()
            for start in range(0, size, 1024):
                bodies = tx.entries(start, min(size, start + 1024))
                for seq, body in enumerate(bodies, start):
                    ctx = self.run_handlers(tx, Entry.from_bytes(body))
                    tx.add_refs(seq, ctx.refs)
                if progress and bodies:
                    progress(len(bodies))
        return self.store.projection_digest()

    # -- reading ---------------------------------------------------------------

    def origin_of(self, tx: Tx) -> str:
        """The log's origin, named by its genesis entry (which never changes once logged)."""
        if self._origin is not None:
            return self._origin
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


@dataclass(frozen=True)
class _WriteHint:
    """What a write says of itself before it is admitted, read only to prefetch."""

    actor: str = ""
    key: str = ""
    type: str = ""
    payload: Any = None
    id: str | None = None


def _proposed(write: Write) -> _WriteHint:
    """A server write's signer, type, payload and id; a client statement's as its JSON
    says (unchecked: the statement is parsed and verified when it is admitted)."""
    if isinstance(write, SignedWrite):
        s, statement = write.write.signer, write.statement
        return _WriteHint(s.actor, s.key_id, statement.type, statement.payload, statement.id)
    if isinstance(write, ServerWrite):
        s = write.signer
        return _WriteHint(s.actor, s.key_id, write.type, write.payload, write.id)
    try:
        obj = orjson.loads(write.data)
    except orjson.JSONDecodeError:
        return _WriteHint()
    if not isinstance(obj, dict):
        return _WriteHint()
    fields = [obj.get(name) for name in ("actor", "key", "type")]
    actor, key, type_ = (f if isinstance(f, str) else "" for f in fields)
    id_ = obj.get("id") if actor and obj.get("v") == VERSION and "seq" not in obj else None
    return _WriteHint(actor, key, type_, obj.get("payload"), id_ if isinstance(id_, str) else None)


def _check_time_order(entry: Entry, last_time: str | None) -> None:
    """Entry times never decrease along the log (:data:`TIME_ORDER_CLAUSE`). The fixed
    width of the time form (clock.format_time) makes string order time order."""
    if last_time is not None and entry.time < last_time:
        raise RuleViolation(
            "log.time_order",
            f"entry {entry.seq} time {entry.time} is before entry {entry.seq - 1}'s {last_time}",
            TIME_ORDER_CLAUSE,
        )


def _placed_id(seq: int, prev: str) -> str:
    """The id of a statement the ledger builds itself without one: derived from the place
    it is built for (unique in the log, and the same bytes on every replay of a demo)."""
    return "at-" + hashlib.sha256(f"{seq}\n{prev}".encode()).hexdigest()[:32]


def _text(note: str) -> str:
    return note[: note.rfind("\n\n") + 1]


assert WIDTH == 256  # tiles.HEIGHT 8, as C2SP tlog-tiles fixes


def log_appended(receipts: list[Receipt], started: float) -> None:
    """One log line per committed entry: seq, type, actor and the transaction's duration."""
    _logged(receipts, started)


def _logged(receipts: list[Receipt], started: float) -> list[Receipt]:
    if _log.isEnabledFor(logging.INFO):
        ms = round((_time.perf_counter() - started) * 1000, 1)
        for r in receipts:
            if r.duplicate:
                continue
            fields = {"seq": r.seq, "type": r.entry.type, "actor": r.entry.actor, "duration_ms": ms}
            _log.info("appended seq=%d type=%s actor=%s in %.1f ms", *fields.values(), extra=fields)
    return receipts
