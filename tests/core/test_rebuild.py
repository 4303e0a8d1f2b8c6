"""Rebuild is exclusive: it replays the log in one write transaction, so writers wait
for it and never judge against (or write into) half-built projections."""

from __future__ import annotations

import threading
from collections.abc import Callable

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.errors import RuleViolation
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store
from insutrace.trace.verify import verify_store


def payload(org: Signer) -> dict[str, str]:
    return {"id": org.actor, "public_key": org.public_b64, "name": org.actor}


def test_rebuild_under_concurrent_writes_lets_nothing_forbidden_in(
    store_url: str, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> None:
    store = open_store(store_url)
    ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES)
    ledger.initialize(root, origin=log_signer.name)
    taken = signer_for("taken")
    ledger.append("actor.register", payload(taken), root)
    for i in range(200):
        ledger.append("actor.register", payload(signer_for(f"org-{i}")), root)
    writer = Ledger(store, types=CORE_TYPES)
    stop = threading.Event()
    admitted: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            try:
                # registering the taken id again is forbidden whatever rebuild is doing
                writer.append("actor.register", payload(taken), root)
                admitted.append(i)
            except RuleViolation as exc:
                refused.append(exc.rule)
            try:
                writer.append("actor.register", payload(signer_for(f"late-{i}")), root)
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            i += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        digests = [ledger.rebuild() for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    assert not errors and not admitted
    assert refused and set(refused) == {"actor.unique"}
    assert len(digests) == 3
    current = store.projection_digest()  # as the writes after the last rebuild left them
    assert ledger.rebuild() == current  # equal to a replay of the whole log
    assert verify_store(store, root_key=root.public_b64).ok
    store.close()


def test_a_writer_waits_for_the_rebuild_to_commit(
    store_url: str, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> None:
    store = open_store(store_url)
    ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES)
    ledger.initialize(root, origin=log_signer.name)
    taken = signer_for("taken")
    ledger.append("actor.register", payload(taken), root)
    writer = Ledger(store, types=CORE_TYPES)
    outcome: list[BaseException | int] = []
    blocked: list[bool] = []

    def forbidden() -> None:
        try:
            outcome.append(writer.append("actor.register", payload(taken), root).seq)
        except BaseException as exc:  # judged below
            outcome.append(exc)

    thread = threading.Thread(target=forbidden)

    def midway(_: int) -> None:  # inside the replay: the projections are half-built
        thread.start()
        thread.join(timeout=0.5)
        blocked.append(thread.is_alive())

    ledger.rebuild(progress=midway)
    thread.join()
    assert blocked == [True]  # the writer could not get in while the replay ran
    [result] = outcome
    assert isinstance(result, RuleViolation) and result.rule == "actor.unique"
    assert ledger.size() == 2
    store.close()
