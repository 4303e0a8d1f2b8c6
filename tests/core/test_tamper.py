"""Tamper evidence: rows changed behind the ledger's back are found, entry named."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.checkpoint import Checkpoint, SignedCheckpoint
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import Store, open_store
from insutrace.trace.verify import verify_store

N = 12


@pytest.fixture
def tampered(
    store_url: str,
    clock: object,
    root: Signer,
    log_signer: NoteSigner,
    signer_for: Callable[[str], Signer],
) -> Iterator[tuple[Store, Callable[[str, dict[str, object]], None]]]:
    store = open_store(store_url)
    ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES)
    ledger.initialize(root, origin=log_signer.name)
    for i in range(1, N):
        org = signer_for(f"org-{i}")
        ledger.append(
            "actor.register",
            {"id": org.actor, "public_key": org.public_b64, "name": f"组织 {i}"},
            root,
        )
    ledger.checkpoint()
    assert verify_store(store, root_key=root.public_b64).ok

    def sql(statement: str, params: dict[str, object]) -> None:
        with store.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text(statement), params)

    yield store, sql
    store.close()


def body(store: Store, seq: int) -> bytes:
    with store.read() as tx:
        return tx.entries(seq, seq + 1)[0]


def failure(store: Store, root: Signer) -> tuple[int | None, str]:
    report = verify_store(store, root_key=root.public_b64)
    assert report.error is not None, "tampering went unnoticed"
    return report.error.index, str(report.error)


def test_changed_entry_is_named(tampered: tuple[Store, Callable[..., None]], root: Signer) -> None:
    store, sql = tampered
    changed = body(store, 5).replace("组织 5".encode(), "组织 X".encode())
    sql("UPDATE log_entry SET body = :b WHERE seq = 5", {"b": changed})
    index, message = failure(store, root)
    assert index == 5 and "signature" in message


def test_deleted_entry_is_named(tampered: tuple[Store, Callable[..., None]], root: Signer) -> None:
    store, sql = tampered
    sql("DELETE FROM log_entry WHERE seq = 5", {})
    index, message = failure(store, root)
    assert index == 5 and "missing" in message


def test_inserted_entry_is_named(tampered: tuple[Store, Callable[..., None]], root: Signer) -> None:
    store, sql = tampered
    sql(
        "INSERT INTO log_entry (seq, body, leaf) VALUES (:s, :b, :l)",
        {"s": N, "b": body(store, 4), "l": b"x" * 32},
    )
    index, message = failure(store, root)
    assert index == N and "out of place" in message


def test_reordered_entries_are_named(
    tampered: tuple[Store, Callable[..., None]], root: Signer
) -> None:
    store, sql = tampered
    five, six = body(store, 5), body(store, 6)
    sql("UPDATE log_entry SET body = :b WHERE seq = 5", {"b": six})
    sql("UPDATE log_entry SET body = :b WHERE seq = 6", {"b": five})
    index, message = failure(store, root)
    assert index == 5 and "out of place" in message


def test_replaced_checkpoint_is_found(
    tampered: tuple[Store, Callable[..., None]], root: Signer, log_signer: NoteSigner
) -> None:
    store, sql = tampered
    forged = SignedCheckpoint.sign(Checkpoint(log_signer.name, N, b"\x07" * 32), log_signer)
    sql("UPDATE log_checkpoint SET note = :n WHERE size = :s", {"n": forged.note, "s": N})
    index, message = failure(store, root)
    assert index == N - 1 and "does not match the entries' root" in message


def test_checkpoint_by_another_key_is_found(
    tampered: tuple[Store, Callable[..., None]],
    root: Signer,
    log_signer: NoteSigner,
    signer_for: Callable[[str], Signer],
) -> None:
    store, sql = tampered
    other = NoteSigner(log_signer.name, signer_for("mallory").private_key)
    with store.read() as tx:
        real = tx.checkpoint_at(N)
    assert real is not None
    forged = SignedCheckpoint.sign(Checkpoint.parse(real[: real.rfind("\n\n") + 1]), other)
    sql("UPDATE log_checkpoint SET note = :n WHERE size = :s", {"n": forged.note, "s": N})
    _, message = failure(store, root)
    assert "not signed by" in message


def test_wrong_root_key_is_refused(
    tampered: tuple[Store, Callable[..., None]], signer_for: Callable[[str], Signer]
) -> None:
    store, _ = tampered
    report = verify_store(store, root_key=signer_for("impostor-root").public_b64)
    assert report.error is not None and report.error.index == 0
