"""Verification by worker processes gives the sequential verdict, word for word.

A log of 45 entries with a checkpoint every few entries, a key rotated early and used
late, verified in ranges of 8 entries by two workers: untouched it verifies with the
sequential root, size and checkpoint count; tampered in any range — at a range's start or
end, across ranges (a chain link, a statement logged twice, a key rotated in an earlier
range), in a stored hash inside a range or above the ranges, in a checkpoint — it names
the same entry with the same message as ``jobs=1``; with two faults, the earlier one.
Both backends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.checkpoint import Checkpoint, SignedCheckpoint
from insutrace.trace.entry import Entry, Statement
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import Store, open_store
from insutrace.trace.store.engine import make_engine
from insutrace.trace.verify import Report, verify_store

CHUNK = 8  # ranges [0, 8), [8, 16), … : level 3 subtrees; level 4 and up are combined
BAD = bytes(32)
FIRST_KEY = Signer.from_seed("org-3", b"insutrace-test-only:org-3")
SECOND_KEY = Signer.from_seed("org-3", b"insutrace-test-only:org-3:second")
THIRD_KEY = Signer.from_seed("org-3", b"insutrace-test-only:org-3:third")
ROTATED_AT = 12  # org-3's first key ends here (range 1) …
USED_AT = 30  # … and its second key signs this entry (range 3)


@dataclass
class Log:
    store: Store
    root: Signer
    log_signer: NoteSigner
    size: int

    def sql(self, statement: str, **params: object) -> None:
        engine = make_engine(self.store.url)
        with engine.begin() as conn:
            conn.execute(text(statement), params)
        engine.dispose()

    def body(self, seq: int) -> bytes:
        with self.store.read() as tx:
            return tx.entries(seq, seq + 1)[0]

    def leaf(self, seq: int) -> str:
        with self.store.read() as tx:
            leaf = tx.leaf(seq)
        assert leaf is not None
        return leaf.hex()

    def replace(self, seq: int, body: bytes) -> None:
        self.sql("UPDATE log_entry SET body = :b WHERE seq = :s", b=body, s=seq)

    def verify(self, jobs: int) -> Report:
        return verify_store(self.store, root_key=self.root.public_b64, jobs=jobs, chunk=CHUNK)


@pytest.fixture
def log(
    store_url: str, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> Iterator[Log]:
    store = open_store(store_url)
    ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES, checkpoint_writes=True)
    ledger.initialize(root, origin=log_signer.name)
    items: list[tuple[str, dict[str, object], Signer]] = []
    for seq in range(1, 45):
        if seq == ROTATED_AT:
            items.append(("key.rotate", {"public_key": SECOND_KEY.public_b64}, FIRST_KEY))
        elif seq == USED_AT:
            items.append(("key.rotate", {"public_key": THIRD_KEY.public_b64}, SECOND_KEY))
        else:
            n = len([i for i in items if i[0] == "actor.register"]) + 1
            org = FIRST_KEY if n == 3 else signer_for(f"org-{n}")
            payload = {"id": org.actor, "public_key": org.public_b64, "name": f"组织 {n}"}
            items.append(("actor.register", payload, root))
    # one write transaction, and one checkpoint, per batch: sizes 1 (genesis), 5, 10, … 45
    for start in range(0, len(items), 5):
        ledger.append_batch(items[max(0, start - 1) : start + 4])
    yield Log(store, root, log_signer, ledger.size())
    store.close()


def same_verdict(log: Log) -> Report:
    """The sequential and the parallel reports, which must agree; the parallel one."""
    alone, parallel = log.verify(1), log.verify(2)
    assert parallel.jobs == 2 and alone.jobs == 1
    assert str(parallel.error) == str(alone.error)
    if alone.error is not None:
        assert parallel.error is not None and parallel.error.index == alone.error.index
    assert (parallel.size, parallel.root, parallel.checkpoints, parallel.checkpoint_size) == (
        alone.size, alone.root, alone.checkpoints, alone.checkpoint_size,
    )  # fmt: skip
    return parallel


def test_an_untouched_log_verifies_alike(log: Log) -> None:
    report = same_verdict(log)
    assert report.ok and report.size == log.size == 45
    assert report.checkpoints == 10 and report.checkpoint_size == 45


def _resigned(log: Log, seq: int, signer: Signer) -> bytes:
    """Entry ``seq`` signed anew by ``signer`` in its own place (chain and seq intact)."""
    old = Entry.from_bytes(log.body(seq))
    statement = Statement(old.type, old.actor, signer.key_id, old.signed_time, old.payload, old.id)
    return statement.signed(signer).place(seq, old.prev, old.time).to_bytes()


def _placed_elsewhere(log: Log, source: int, seq: int) -> bytes:
    """The statement of entry ``source`` placed again at ``seq`` after entry seq − 1."""
    at = Entry.from_bytes(log.body(seq))
    statement = Entry.from_bytes(log.body(source)).statement()
    return statement.place(seq, at.prev, at.time).to_bytes()


def _forged_checkpoint(log: Log, size: int, signer: NoteSigner, root: bytes | None) -> None:
    with log.store.read() as tx:
        real = tx.checkpoint_at(size)
    assert real is not None
    checkpoint = Checkpoint.parse(real[: real.rfind("\n\n") + 1])
    if root is not None:
        checkpoint = Checkpoint(checkpoint.origin, checkpoint.size, root)
    note = SignedCheckpoint.sign(checkpoint, signer).note
    log.sql("UPDATE log_checkpoint SET note = :n WHERE size = :s", n=note, s=size)


def _signature(log: Log, seq: int, sig: str) -> None:
    """Entry ``seq`` with ``sig`` in place of its signature."""
    old = log.body(seq)
    sig_member = f'"sig":"{Entry.from_bytes(old).sig}"'.encode()
    log.replace(seq, old.replace(sig_member, f'"sig":"{sig}"'.encode()))


def _swap(log: Log, a: int, b: int) -> None:
    first, second = log.body(a), log.body(b)
    log.replace(a, second)
    log.replace(b, first)


Tamper = Callable[[Log], None]

CASES: dict[str, tuple[Tamper, int | None, str]] = {
    "signature inside a range": (
        lambda g: g.replace(21, g.body(21).replace(b'"name":"', b'"name":"X')),
        21, "does not verify",
    ),
    "signature not in ASCII": (lambda g: _signature(g, 21, "签名"), 21, "does not verify"),
    "missing at a range's start": (lambda g: g.sql("DELETE FROM log_entry WHERE seq = 16"), 16, "missing"),
    "missing at a range's end": (lambda g: g.sql("DELETE FROM log_entry WHERE seq = 15"), 15, "next stored is 16"),
    "reordered across ranges": (lambda g: _swap(g, 15, 16), 15, "out of place"),
    "chain broken at a range's start": (
        lambda g: g.replace(16, Entry.from_bytes(g.body(16)).statement()
                            .place(16, g.leaf(14), Entry.from_bytes(g.body(16)).time).to_bytes()),
        16, "chain broken",
    ),
    "statement logged in two ranges": (
        lambda g: g.replace(26, _placed_elsewhere(g, 5, 26)), 26, "is also entry 5",
    ),
    "key rotated in an earlier range": (
        lambda g: g.replace(USED_AT, _resigned(g, USED_AT, FIRST_KEY)), USED_AT,
        f"is rotated since entry {ROTATED_AT}",
    ),
    "stored leaf": (
        lambda g: g.sql("UPDATE log_entry SET leaf = :b WHERE seq = 18", b=BAD), 18,
        "stored leaf hash of entry 18",
    ),
    "stored node inside a range": (
        lambda g: g.sql("UPDATE log_node SET hash = :b WHERE level = 2 AND idx = 5", b=BAD), 23,
        "level 2, index 5 (entries 20–23)",
    ),
    "stored node above the ranges": (
        lambda g: g.sql("UPDATE log_node SET hash = :b WHERE level = 4 AND idx = 1", b=BAD), 31,
        "level 4, index 1 (entries 16–31)",
    ),
    "stored node deleted": (
        lambda g: g.sql("DELETE FROM log_node WHERE level = 1 AND idx = 12"), 25,
        "incomplete: no stored Merkle node at level 1, index 12 (entries 24–25)",
    ),
    "checkpoint root": (
        lambda g: _forged_checkpoint(g, 20, g.log_signer, b"\x07" * 32), 19,
        "does not match the entries' root",
    ),
    "checkpoint by another key": (
        lambda g: _forged_checkpoint(
            g, 35, NoteSigner(g.log_signer.name, Signer.from_seed("m", b"mallory").private_key), None
        ),
        None, "not signed by",
    ),
    "two faults: the earlier is named": (
        lambda g: (g.sql("UPDATE log_entry SET leaf = :b WHERE seq = 9", b=BAD),
                   g.replace(33, g.body(33).replace(b'"name":"', b'"name":"X'))),
        9, "stored leaf hash of entry 9",
    ),
    "a stored node, then a later stored leaf: the node's entry is named": (
        lambda g: (g.sql("UPDATE log_node SET hash = :b WHERE level = 1 AND idx = 2", b=BAD),
                   g.sql("UPDATE log_entry SET leaf = :b WHERE seq = 6", b=BAD)),
        5, "level 1, index 2 (entries 4–5)",
    ),
    "a stored leaf and a node that ends at it: the leaf is named": (
        lambda g: (g.sql("UPDATE log_node SET hash = :b WHERE level = 1 AND idx = 2", b=BAD),
                   g.sql("UPDATE log_entry SET leaf = :b WHERE seq = 5", b=BAD)),
        5, "stored leaf hash of entry 5",
    ),
    "entry inserted past the head": (
        lambda g: g.sql("INSERT INTO log_entry (seq, body, leaf) VALUES (:s, :b, :l)",
                        s=g.size, b=g.body(4), l=BAD),
        45, "out of place",
    ),
    "head": (
        lambda g: g.sql("UPDATE log_head SET leaf = :b WHERE id = 1", b=BAD), 44,
        "head's leaf hash does not match entry 44",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_named_alike(log: Log, case: str) -> None:
    tamper, index, named = CASES[case]
    assert log.verify(1).ok
    tamper(log)
    report = same_verdict(log)
    assert report.error is not None, "tampering went unnoticed"
    assert report.error.index == index and named in str(report.error), report.error


def test_a_range_size_must_be_a_power_of_two(log: Log) -> None:
    with pytest.raises(ValueError, match="power of two"):
        verify_store(log.store, jobs=2, chunk=12)


def test_workers_start_from_a_fresh_server_when_threads_run(log: Log) -> None:
    """A process with other threads (the CLI's progress bar, a server) is not forked: the
    workers come from a single-threaded fork server, and answer alike."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        log.replace(21, log.body(21).replace(b'"name":"', b'"name":"X'))
        report = same_verdict(log)
    finally:
        stop.set()
        other.join()
    assert report.error is not None and report.error.index == 21
