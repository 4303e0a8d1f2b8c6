"""Tampered storage that the entries alone would not reveal: a stored leaf hash, an
interior Merkle node (the hashes proofs and tiles are served from) or the head's leaf,
each changed in place. ``verify`` recomputes every stored hash and names the entry at
fault; the next write refuses to build on a damaged head (fail-stop). Both backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.errors import StorageError
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.store import Store
from insutrace.trace.store.engine import make_engine
from insutrace.trace.verify import verify_store

BAD = bytes(32)


def _sql(store: Store, statement: str, **params: object) -> None:
    engine = make_engine(store.url)
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


def _grown(
    make_ledger: Callable[..., Ledger], root: Signer, signer_for: Callable[[str], Signer]
) -> Ledger:
    ledger = make_ledger(types=CORE_TYPES)
    for n in range(12):
        org = f"org-{n}"
        ledger.append(
            "actor.register",
            {"id": org, "public_key": signer_for(org).public_b64, "name": org},
            root,
        )
    ledger.checkpoint()
    return ledger


TAMPER = {
    "leaf": ("UPDATE log_entry SET leaf = :bad WHERE seq = 5", "stored leaf hash of entry 5"),
    "node": (
        "UPDATE log_node SET hash = :bad WHERE level = 2 AND idx = 1",
        "level 2, index 1 (entries 4–7)",
    ),
    "head": (
        "UPDATE log_head SET leaf = :bad WHERE id = 1",
        "head's leaf hash does not match entry 12",
    ),
}


@pytest.mark.parametrize("what", sorted(TAMPER))
def test_each_tampered_hash_is_caught_and_named(
    make_ledger: Callable[..., Ledger],
    store: Store,
    root: Signer,
    signer_for: Callable[[str], Signer],
    what: str,
) -> None:
    ledger = _grown(make_ledger, root, signer_for)
    assert verify_store(store, root_key=root.public_b64).ok
    statement, named = TAMPER[what]
    rows = {"leaf": "SELECT leaf FROM log_entry WHERE seq = 5",
            "node": "SELECT hash FROM log_node WHERE level = 2 AND idx = 1",
            "head": "SELECT leaf FROM log_head WHERE id = 1"}[what]  # fmt: skip
    engine = make_engine(store.url)
    with engine.connect() as conn:
        good = bytes(conn.execute(text(rows)).scalar_one())
    engine.dispose()
    _sql(store, statement, bad=BAD)
    try:
        report = verify_store(store, root_key=root.public_b64)
        assert not report.ok and named in str(report.error), report.error
        if what == "head":
            with pytest.raises(StorageError, match="fail-stop"):
                ledger.append("actor.register", {"id": "late", "public_key": signer_for("late").public_b64, "name": "late"}, root)  # fmt: skip
    finally:
        _sql(store, statement.replace(":bad", ":good"), good=good)
    assert verify_store(store, root_key=root.public_b64).ok
