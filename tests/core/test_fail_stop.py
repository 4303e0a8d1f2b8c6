"""Fail-stop: a ledger never builds on damaged storage. Before appending it checks the
head against the last entry's leaf; before signing, the stored tree against the latest
checkpoint's root. On a mismatch it refuses (StorageError, 503 in the API) and writes
nothing, so it never signs a checkpoint that contradicts one it signed before."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.errors import StorageError
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import Store, open_store

N = 11  # entries: genesis and ten registrations; node (1, 4) is in the frontier of 11


@pytest.fixture
def logged(
    store_url: str, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> Iterator[Store]:
    store = open_store(store_url)
    ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES, checkpoint_writes=True)
    ledger.initialize(root, origin=log_signer.name)
    for i in range(1, N):
        register(ledger, root, signer_for(f"org-{i}"))
    yield store
    store.close()


def register(ledger: Ledger, root: Signer, org: Signer) -> None:
    ledger.append(
        "actor.register", {"id": org.actor, "public_key": org.public_b64, "name": "x"}, root
    )


def sql(store: Store, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text(statement), params)


def state(store: Store) -> tuple[int, list[int]]:
    with store.read() as tx:
        return tx.head()[0], [size for size, _ in tx.checkpoints()]


def fresh(store: Store, log_signer: NoteSigner) -> Ledger:
    """A ledger as a restarted server has it: nothing of the log in memory."""
    return Ledger(store, log_signer=log_signer, types=CORE_TYPES, checkpoint_writes=True)


def test_a_replaced_head_leaf_is_not_built_upon(
    logged: Store, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> None:
    before = state(logged)
    sql(logged, "UPDATE log_head SET leaf = :leaf WHERE id = 1", leaf=bytes(32))
    with pytest.raises(StorageError, match="fail-stop: the log head does not match entry 10"):
        register(fresh(logged, log_signer), root, signer_for("late"))
    assert state(logged) == before


def test_a_flipped_frontier_node_signs_no_contradicting_checkpoint(
    logged: Store, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> None:
    before = state(logged)
    with logged.read() as tx:
        node = tx.nodes([(1, 4)])[(1, 4)]
    flipped = bytes([node[0] ^ 1]) + node[1:]
    sql(logged, "UPDATE log_node SET hash = :h WHERE level = 1 AND idx = 4", h=flipped)
    ledger = fresh(logged, log_signer)
    with pytest.raises(StorageError, match="does not have the root of the latest signed"):
        register(ledger, root, signer_for("late"))
    assert state(logged) == before
    assert ledger.checkpoint().checkpoint.size == N  # the one signed before, not a new one
    assert state(logged) == before


def test_a_checkpoint_beyond_the_log_is_not_built_upon(
    logged: Store, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> None:
    with logged.read() as tx:
        latest = tx.latest_checkpoint()
    assert latest is not None
    sql(logged, "DELETE FROM log_entry WHERE seq = :s", s=N - 1)  # a truncation …
    sql(logged, "UPDATE log_head SET size = :n, leaf = :leaf WHERE id = 1",
        n=N - 1, leaf=_leaf(logged, N - 2))  # fmt: skip
    before = state(logged)
    with pytest.raises(StorageError, match=f"checkpoint of size {N} is stored"):
        register(fresh(logged, log_signer), root, signer_for("late"))
    assert state(logged) == before  # … is not papered over by reissuing seq 10


def _leaf(store: Store, seq: int) -> bytes:
    with store.read() as tx:
        leaf = tx.leaf(seq)
    assert leaf is not None
    return leaf
