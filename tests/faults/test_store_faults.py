"""Storage faults between steps, in the manner of sunlight's storage-fault tests: a store
whose write transaction fails at its k-th call (every k the operation makes, and at the
commit), after which the ledger is checked whole — the log unchanged, the chain, tree and
checkpoints verifying, projections as before — and the next write succeeds and links to
the last good entry. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import support

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.clock import FixedClock
from insutrace.trace.errors import StorageError
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import Store
from insutrace.trace.verify import verify_store

ORIGIN = "test.insutrace.local/ledger"


def Injected(message: str) -> StorageError:
    """The fault the test injects: a storage error, as a failing driver raises it."""
    return StorageError(f"injected: {message}")


class FaultyStore:
    """``inner`` whose write transactions fail at their ``fail_at``-th call (counted over
    every Tx method the ledger calls), or at the commit when ``fail_at`` is ``"commit"``."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.fail_at: int | str | None = None
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.inner.write() as tx:
            yield _FaultyTx(tx, self)
            if self.fail_at == "commit":
                raise Injected("injected fault before the commit")


class _FaultyTx:
    def __init__(self, tx: Any, owner: FaultyStore) -> None:
        self._tx = tx
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._tx, name)
        if not callable(attr):
            return attr
        owner = self._owner

        def call(*args: Any, **kwargs: Any) -> Any:
            owner.calls.append(name)
            if owner.fail_at == len(owner.calls):
                raise Injected(f"injected fault at call {len(owner.calls)} ({name})")
            return attr(*args, **kwargs)

        return call


def _register(
    n: int, root: Signer, signer_for: Callable[[str], Signer]
) -> tuple[str, dict[str, Any], Signer]:
    org = f"org-{n}"
    return (
        "actor.register",
        {"id": org, "public_key": signer_for(org).public_b64, "name": f"Org {n}"},
        root,
    )


def _state(store: Store) -> tuple[int, bytes, str, list[tuple[int, str]]]:
    with store.read() as tx:
        size, leaf = tx.head()
        checkpoints = tx.checkpoints()
    return size, leaf, store.projection_digest(), checkpoints


OPERATIONS = {
    "append": lambda ledger, make: ledger.append(*make()),
    "append_batch": lambda ledger, make: ledger.append_batch([make(), make(), make()]),
    "checkpoint": lambda ledger, make: (ledger.append(*make()), ledger.checkpoint()),
}


@pytest.mark.parametrize("checkpoint_writes", [False, True], ids=["plain", "checkpointed"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_fault_at_any_step_leaves_the_ledger_whole(
    store: Store,
    clock: FixedClock,
    root: Signer,
    log_signer: NoteSigner,
    signer_for: Callable[[str], Signer],
    operation: str,
    checkpoint_writes: bool,
) -> None:
    faulty = FaultyStore(store)
    ledger = Ledger(
        faulty,  # type: ignore[arg-type]
        log_signer=log_signer,
        clock=clock,
        types=CORE_TYPES,
        checkpoint_writes=checkpoint_writes,
    )
    ledger.initialize(root, origin=ORIGIN)
    counter = iter(range(10_000))

    def make() -> tuple[str, dict[str, Any], Signer]:
        return _register(next(counter), root, signer_for)

    run = OPERATIONS[operation]
    run(ledger, make)  # some history first
    ledger.checkpoint()

    # how many store calls the operation makes, counted on a run failing at the commit
    before = _state(store)
    faulty.calls.clear()
    faulty.fail_at = "commit"
    with pytest.raises(StorageError, match="injected"):
        run(ledger, make)
    steps = len(faulty.calls)
    assert steps > 0
    assert _state(store) == before, "a failed commit changed the store"

    for k in range(1, steps + 1):
        faulty.calls.clear()
        faulty.fail_at = k
        with pytest.raises(StorageError, match="injected"):
            run(ledger, make)
        assert _state(store) == before, f"a fault at step {k} changed the store"

    faulty.fail_at = None
    run(ledger, make)  # the ledger keeps working, from the last good entry
    assert ledger.size() > before[0]
    ledger.checkpoint()
    report = verify_store(store, root_key=root.public_b64)
    assert report.ok, report.error
    digest = store.projection_digest()
    assert ledger.rebuild() == digest


def test_a_writer_holding_the_sqlite_lock_does_not_wedge_the_others(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from databases import migrated_sqlite

    from insutrace.trace.store import open_store, sql

    monkeypatch.setattr(sql, "LOCK_WAIT", 0.3)
    store = open_store(migrated_sqlite(tmp_path / "ledger.db"))
    with support.write_lock_held(store):
        with pytest.raises(StorageError, match="held the log's write lock"), store.write():
            pass
        with store.read() as tx:  # reads never wait behind the writer
            assert tx.head()[0] == 0
    with store.write() as tx:  # the lock, released, is taken at once
        assert tx.head()[0] == 0
    store.close()
