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
