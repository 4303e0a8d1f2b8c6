"""Idempotent writes: a statement id is checked and recorded in the entry's own write
transaction, so a writer that dies at any step leaves either the whole entry (a retry
gets the original receipt) or nothing at all (a retry appends it, once)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from insutrace.api.entries import idempotent_id
from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.entry import statement_ref
from insutrace.trace.errors import Conflict
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger, ServerWrite
from insutrace.trace.note import NoteSigner
from insutrace.trace.sequencer import Sequencer
from insutrace.trace.store import open_store
from insutrace.trace.verify import verify_store

# A writer process that exits (os._exit, no cleanup, like a kill) at one step of an
# idempotent server-signed write made through the sequencer, as the API makes it.
CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from insutrace.trace import ledger as ledger_module
    from insutrace.trace.actors import CORE_TYPES
    from insutrace.trace.keys import Signer
    from insutrace.trace.ledger import Ledger, ServerWrite
    from insutrace.trace.note import NoteSigner
    from insutrace.trace.sequencer import Sequencer
    from insutrace.trace.store import open_store
    from insutrace.trace.store.sql import SQLStore, SQLTx

    url, step, id, origin = sys.argv[1:5]

    def exit_after(owner, name):
        original = getattr(owner, name)
        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            os._exit(9)
        setattr(owner, name, wrapped)

    def exit_before(owner, name):
        def wrapped(*args, **kwargs):
            os._exit(9)
        setattr(owner, name, wrapped)

    if step == "before-transaction":
        exit_before(SQLStore, "write")
    elif step == "after-rules":
        exit_after(Ledger, "run_handlers")
    elif step == "after-append":
        exit_after(SQLTx, "append")
    elif step == "after-checkpoint":
        exit_after(Ledger, "_sign_checkpoint")
    elif step == "after-commit":
        exit_before(ledger_module, "_logged")
    root = Signer.from_seed("root", b"insutrace-test-only:root")
    log = Signer.from_seed(origin, b"insutrace-test-only:" + origin.encode())
    ledger = Ledger(open_store(url), log_signer=NoteSigner(origin, log.private_key),
                    types=CORE_TYPES, checkpoint_writes=True)
    org = Signer.from_seed("crash-org", b"insutrace-test-only:crash-org")
    payload = {"id": org.actor, "public_key": org.public_b64, "name": "crash"}
    Sequencer(ledger).write(ServerWrite("actor.register", payload, root, id=id))
    print("acknowledged", flush=True)
    """
)

STEPS = ["before-transaction", "after-rules", "after-append", "after-checkpoint", "after-commit"]


@pytest.fixture
def initialized(store_url: str, root: Signer, log_signer: NoteSigner) -> str:
    store = open_store(store_url)
    Ledger(store, log_signer=log_signer, types=CORE_TYPES).initialize(root, origin=log_signer.name)
    store.close()
    return store_url


def _payload(org: Signer) -> dict[str, str]:
    return {"id": org.actor, "public_key": org.public_b64, "name": "crash"}


@pytest.mark.parametrize("step", STEPS)
def test_a_retry_after_a_crash_at_any_step_appends_once(
    initialized: str,
    step: str,
    root: Signer,
    log_signer: NoteSigner,
) -> None:
    id = idempotent_id(7, "register crash-org")
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, initialized, step, id, log_signer.name],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 9, child.stderr  # it died at the step, before answering
    assert "acknowledged" not in child.stdout
    store = open_store(initialized)
    try:
        with store.read() as tx:
            before = tx.head()[0]
        committed = step == "after-commit"
        assert before == (2 if committed else 1), f"{step}: the log holds {before} entries"
        ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES, checkpoint_writes=True)
        org = Signer.from_seed("crash-org", b"insutrace-test-only:crash-org")
        retry = Sequencer(ledger).write(ServerWrite("actor.register", _payload(org), root, id=id))
        assert retry.seq == 1
        assert retry.duplicate is committed  # the original receipt, or a clean first append
        with store.read() as tx:
            assert tx.head()[0] == 2
            assert tx.refs(statement_ref("root", id)) == [1]
        assert ledger.entry(1).id == id
        # the same id with other content is refused, never appended
        other = {**_payload(org), "name": "another"}
        with pytest.raises(Conflict, match="other content"):
            ledger.append("actor.register", other, root, id=id)
        ledger.checkpoint()
        report = verify_store(store, root_key=root.public_b64)
        assert report.ok, report.error
        assert report.size == 2
    finally:
        store.close()


def test_statement_ids_are_told_apart_by_actor_even_when_actor_ids_hold_a_colon(
    initialized: str, root: Signer, log_signer: NoteSigner
) -> None:
    """Actor ``a:b``'s id ``cccccccc`` and actor ``a``'s id ``b:cccccccc`` are two
    statements (both forms allow ``:``): each is logged, and each retry gets its own."""
    store = open_store(initialized)
    try:
        ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES, checkpoint_writes=True)
        actors = {
            name: Signer.from_seed(name, f"insutrace-test-only:{name}".encode())
            for name in ("a:b", "a")
        }
        for org in actors.values():
            ledger.append("actor.register", {**_payload(org), "name": org.actor}, root)
        writes = [(actors["a:b"], "cccccccc"), (actors["a"], "b:cccccccc")]
        receipts = []
        for org, id in writes:
            fresh = Signer.from_seed(org.actor, f"insutrace-test-only:{org.actor}/{id}".encode())
            receipts.append(
                ledger.append("key.rotate", {"public_key": fresh.public_b64}, org, id=id)
            )
        assert [r.seq for r in receipts] == [3, 4] and not any(r.duplicate for r in receipts)
        for (org, id), first in zip(writes, receipts, strict=True):  # a retry: its own receipt
            again = ledger.append("key.rotate", first.entry.payload, org, id=id)
            assert again.duplicate and again.seq == first.seq
        with store.read() as tx:
            assert [tx.refs(statement_ref(o.actor, id)) for o, id in writes] == [[3], [4]]
        report = verify_store(store, root_key=root.public_b64)
        assert report.ok, report.error
    finally:
        store.close()
