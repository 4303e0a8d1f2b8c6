"""The batching sequencer: one transaction per batch, a savepoint per write, rules judged
in order, one checkpoint per batch, every answer after the commit."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import support

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.clock import FixedClock, format_time
from insutrace.trace.errors import Conflict, RuleViolation
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger, Receipt, ServerWrite
from insutrace.trace.note import NoteSigner
from insutrace.trace.sequencer import Sequencer
from insutrace.trace.store import open_store
from insutrace.trace.store.sql import counted_statements
from insutrace.trace.verify import verify_store


@pytest.fixture
def ledger(store_url: str, root: Signer, log_signer: NoteSigner) -> Iterator[Ledger]:
    store = open_store(store_url)
    ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES, checkpoint_writes=True)
    ledger.initialize(root, origin=log_signer.name)
    yield ledger
    store.close()


def register(org: Signer, root: Signer, name: str = "org") -> ServerWrite:
    payload = {"id": org.actor, "public_key": org.public_b64, "name": name}
    return ServerWrite("actor.register", payload, root)


def checkpoints(ledger: Ledger) -> list[int]:
    with ledger.store.read() as tx:
        return [size for size, _ in tx.checkpoints()]


def test_a_refused_write_is_rolled_back_alone_and_answered_alone(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    a, b = signer_for("org-a"), signer_for("org-b")
    before = checkpoints(ledger)
    # the second registers org-a again: judged against the projections the first left
    results = ledger.admit([register(a, root), register(a, root, "again"), register(b, root)])
    first, refused, third = results
    assert isinstance(first, Receipt) and isinstance(third, Receipt)
    assert isinstance(refused, RuleViolation) and refused.rule == "actor.unique"
    assert (first.seq, third.seq) == (1, 2)
    assert third.entry.prev == first.leaf.hex()
    assert checkpoints(ledger) == [*before, 3]  # one checkpoint for the batch
    assert first.checkpoint is not None and first.checkpoint.checkpoint.size == 3
    assert third.checkpoint == first.checkpoint
    assert ledger.size() == 3
    with ledger.store.read() as tx:
        assert tx.get("actor", a.actor)["name"] == "org"  # type: ignore[index]
    report = verify_store(ledger.store, root_key=root.public_b64)
    assert report.ok and report.checkpoint_size == 3


def test_concurrent_writers_are_pooled_into_batches(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    sequencer = Sequencer(ledger, linger=0.005)
    receipts: list[Receipt] = []
    errors: list[BaseException] = []
    guard = threading.Lock()
    start = threading.Barrier(16)

    def work(t: int) -> None:
        start.wait()
        try:
            for i in range(5):
                r = sequencer.write(register(signer_for(f"t{t}-{i}"), root))
                with guard:
                    receipts.append(r)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sequencer.close()
    assert not errors
    assert sorted(r.seq for r in receipts) == list(range(1, 81))
    assert sequencer.admitted == 80
    assert sequencer.batches < 80  # pooled: fewer transactions than writes
    sizes = checkpoints(ledger)
    assert len(sizes) == 1 + sequencer.batches  # the genesis checkpoint, then one per batch
    for r in receipts:  # each answered with a checkpoint that covers it
        assert r.checkpoint is not None and r.checkpoint.checkpoint.size > r.seq
    assert verify_store(ledger.store, root_key=root.public_b64).ok


def test_a_closed_sequencer_admits_what_was_queued(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    sequencer = Sequencer(ledger, linger=0.05)
    futures = [sequencer.submit(register(signer_for(f"q{i}"), root)) for i in range(5)]
    sequencer.close()
    assert [f.result().seq for f in futures] == [1, 2, 3, 4, 5]


@contextmanager
def log_locked(store_url: str) -> Iterator[None]:
    """The log's writer lock held by another store on the same database (another server
    process's batch) until the block ends."""
    other = open_store(store_url)
    try:
        with support.write_lock_held(other):
            yield
    finally:
        other.close()


def test_writes_queued_while_the_log_is_locked_join_the_waiting_batch(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer], store_url: str
) -> None:
    """While a batch waits for the log's writer lock (another process's batch holds it),
    the writes that arrive join it once the lock is held: one transaction, one checkpoint,
    rather than a second turn at the lock."""
    sequencer = Sequencer(ledger, linger=0)
    with log_locked(store_url):
        first = sequencer.submit(register(signer_for("locked-0"), root))
        time.sleep(0.3)  # its batch (of one) gathered, its transaction waiting for the lock
        rest = [sequencer.submit(register(signer_for(f"locked-{i}"), root)) for i in range(1, 6)]
        time.sleep(0.1)
    receipts = [f.result(20) for f in [first, *rest]]
    sequencer.close()
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5, 6]
    assert sequencer.batches == 1
    assert {r.checkpoint.checkpoint.size for r in receipts if r.checkpoint} == {7}
    assert checkpoints(ledger)[-1] == 7 and len(checkpoints(ledger)) == 2
    assert verify_store(ledger.store, root_key=root.public_b64).ok


def test_a_server_write_is_signed_when_queued_and_placed_when_its_batch_comes(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer], store_url: str
) -> None:
    """A server-built statement is signed in the thread that queues it, not in the batch
    holding the log: signed at the clock's reading then, under a random id when it has
    none; the log stamps it when its batch commits, and it verifies like any entry. A
    retry of an id with the same content is the first's receipt; with other content, a
    conflict."""
    sequencer = Sequencer(ledger, linger=0)
    with log_locked(store_url):
        queued = [sequencer.submit(register(signer_for(f"s{i}"), root)) for i in range(2)]
        time.sleep(0.3)  # the batch waits for the lock
    receipts = [f.result(20) for f in queued]
    for r in receipts:
        assert r.entry.signed_time < r.entry.time  # signed 0.3 s before it was logged
        assert r.entry.id.startswith("srv-")
    assert receipts[0].entry.id != receipts[1].entry.id
    org = signer_for("retried")
    payload = {"id": org.actor, "public_key": org.public_b64, "name": "retried"}
    first = sequencer.write(ServerWrite("actor.register", payload, root, id="retry-0001"))
    again = sequencer.write(ServerWrite("actor.register", payload, root, id="retry-0001"))
    assert (again.seq, again.duplicate) == (first.seq, True)
    other = {**payload, "name": "other"}
    with pytest.raises(Conflict, match="retry-0001"):
        sequencer.write(ServerWrite("actor.register", other, root, id="retry-0001"))
    sequencer.close()
    assert verify_store(ledger.store, root_key=root.public_b64).ok


def test_a_server_write_is_signed_no_earlier_than_the_log_it_joins(
    store_url: str, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> None:
    """A clock behind the log (stepped back; a demo's fixed clock) signs a server-built
    statement at the log's last time, as it stamps it, never days before it is logged
    (which would read as a statement signed offline long ago), whether this process
    wrote the log's last entry or another did."""
    start = datetime(2027, 8, 1, 8, tzinfo=UTC)
    ahead = start + timedelta(days=22)
    for writer in ("this-process", "another-process"):
        store = open_store(store_url)
        ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES, clock=FixedClock(start))
        if ledger.size() == 0:
            ledger.initialize(root, origin=log_signer.name)
        org = signer_for(f"ahead-{writer}")
        later = register(org, root)
        if writer == "this-process":
            ledger.admit([ServerWrite(later.type, later.payload, root, time=ahead)])
        else:
            other = Ledger(open_store(store_url), log_signer=log_signer, types=CORE_TYPES)
            other.admit([ServerWrite(later.type, later.payload, root, time=ahead)])
            other.store.close()
        sequencer = Sequencer(ledger, linger=0)
        receipt = sequencer.write(register(signer_for(f"behind-{writer}"), root))
        sequencer.close()
        assert receipt.entry.signed_time == receipt.entry.time == format_time(ahead)
        store.close()


def test_a_batch_takes_no_more_than_max_batch_from_the_queue(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    """Writes drained under the lock count against ``max_batch``: a backlog of 7 with
    ``max_batch=3`` is admitted as batches of at most 3, every write answered."""
    sequencer = Sequencer(ledger, max_batch=3, linger=0)
    futures = [sequencer.submit(register(signer_for(f"mb{i}"), root)) for i in range(7)]
    assert [f.result(20).seq for f in futures] == list(range(1, 8))
    sequencer.close()
    assert sequencer.batches >= 3
    sizes = checkpoints(ledger)
    assert all(b - a <= 3 for a, b in itertools.pairwise(sizes))


@pytest.mark.parametrize("batch", [1, 32])
def test_round_trips_per_appended_entry(
    ledger: Ledger,
    root: Signer,
    signer_for: Callable[[str], Signer],
    batch: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger.admit([register(signer_for("warm"), root)])  # the head is in the ledger's memory
    writes = [register(signer_for(f"rt{batch}-{i}"), root) for i in range(batch)]
    with counted_statements() as counting:
        results = ledger.admit(writes)
    assert all(isinstance(r, Receipt) for r in results)
    per_entry = (counting.statements + 1) / batch  # + the commit
    with capsys.disabled():
        print(f"\nSQL round trips per appended entry, batch of {batch}: {per_entry:.2f}")
    # per entry: the rules' first reads of the rows it touches (actor.register: the new
    # actor and key, 2); savepoints, writes and the statement-id lookup send nothing of
    # their own. Per batch, about a dozen: begin/lock, the fail-stop reads, the statement
    # ids, one insert per table (entries, nodes, refs, projection rows), the head, the
    # checkpoint, the commit
    assert per_entry <= (3 if batch > 1 else 12)
