"""The ledger on a real store: appends, trust from the log, refusals leave nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.clock import format_time
from insutrace.trace.entry import Entry, Statement
from insutrace.trace.errors import (
    Conflict,
    Forbidden,
    MalformedInput,
    RuleViolation,
    VerificationError,
)
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.merkle import (
    append_leaf,
    frontier_nodes,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store
from insutrace.trace.verify import verify_store


@pytest.fixture
def core(make_ledger: Callable[..., Ledger]) -> Ledger:
    return make_ledger(CORE_TYPES)


def register(ledger: Ledger, root: Signer, actor: Signer) -> None:
    ledger.append(
        "actor.register",
        {"id": actor.actor, "public_key": actor.public_b64, "name": actor.actor},
        root,
    )


def test_genesis_names_root_and_log_key(core: Ledger, root: Signer) -> None:
    genesis = core.entry(0)
    assert genesis.type == "log.genesis"
    assert genesis.payload["root_key"] == root.public_b64
    assert core.latest_checkpoint().checkpoint.size == 1


def test_chain_links_each_entry_to_the_previous_leaf(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    register(core, root, signer_for("org-a"))
    first, second = core.entry_bytes(0), core.entry(1)
    assert second.prev == leaf_hash(first).hex()
    assert second.seq == 1


def test_proofs_verify_against_checkpoint(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    for i in range(20):
        register(core, root, signer_for(f"org-{i}"))
    old = core.checkpoint().checkpoint
    register(core, root, signer_for("late"))
    new = core.checkpoint().checkpoint
    for seq in (0, 7, 20):
        path = core.inclusion_proof(seq, old.size)
        verify_inclusion(leaf_hash(core.entry_bytes(seq)), seq, old.size, path, old.root)
    proof = core.consistency_proof(old.size, new.size)
    verify_consistency(old.size, new.size, old.root, new.root, proof)
    core.tlog_proof(3).verify(core.entry_bytes(3), core.log_verifier())


def test_unknown_key_is_refused_and_nothing_written(
    core: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    stranger = signer_for("stranger")
    with pytest.raises(VerificationError, match="unknown key"):
        core.append("key.rotate", {"public_key": signer_for("x").public_b64}, stranger)
    assert core.size() == 1


def test_other_actors_key_is_refused(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    a, b = signer_for("org-a"), signer_for("org-b")
    register(core, root, a)
    register(core, root, b)
    impostor = Signer("org-b", a.private_key)
    with pytest.raises(VerificationError, match="belongs to org-a"):
        core.append("key.rotate", {"public_key": signer_for("y").public_b64}, impostor)
    assert core.size() == 3


def test_rotation_keeps_old_entries_valid_and_refuses_old_key(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    old = signer_for("org-a")
    register(core, root, old)
    new = Signer("org-a", signer_for("org-a-2").private_key)
    core.append("key.rotate", {"public_key": new.public_b64}, old)
    with pytest.raises(VerificationError, match="rotated since entry 2"):
        core.append("key.rotate", {"public_key": signer_for("z").public_b64}, old)
    core.append("key.revoke", {"key": new.key_id, "reason": "laptop lost"}, new)
    with pytest.raises(VerificationError, match="revoked"):
        core.append("key.rotate", {"public_key": signer_for("w").public_b64}, new)


def test_only_root_registers_actors(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    a = signer_for("org-a")
    register(core, root, a)
    with pytest.raises(Forbidden, match="only the root authority"):
        register(core, a, signer_for("org-b"))
    with pytest.raises(RuleViolation, match="already registered"):
        register(core, root, a)
    assert core.size() == 2


def client_signed_registration(core: Ledger, root: Signer, org: Signer) -> Entry:
    """What a client with its own key sends: entry 1, signed against the current head."""
    return Entry(
        seq=1,
        type="actor.register",
        actor="root",
        key=root.key_id,
        time="2026-11-22T08:00:30.000Z",
        prev=leaf_hash(core.entry_bytes(0)).hex(),
        payload={"id": org.actor, "public_key": org.public_b64, "name": "A"},
    ).signed(root)


def test_submit_is_idempotent_and_refuses_stale_head(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    entry = client_signed_registration(core, root, signer_for("org-a"))
    first = core.submit(entry.to_bytes())
    again = core.submit(entry.to_bytes())
    assert (first.seq, again.seq, again.duplicate) == (1, 1, True)
    assert core.size() == 2
    stale = replace(entry, payload={**entry.payload, "id": "org-b"}).signed(root)
    with pytest.raises(Conflict, match="stale entry"):
        core.submit(stale.to_bytes())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.replace(b'"v":1', b'"v":2'), "version"),
        (lambda b: b[:-1] + b" }", "canonical"),
        (lambda b: b"[1]", "JSON object"),
        (lambda b: b.replace(b'"seq":1', b'"seq":1,"seq":1'), "duplicate"),
        (lambda b: b"\xff", "UTF-8"),
    ],
)
def test_malformed_submissions_are_refused(
    core: Ledger,
    root: Signer,
    signer_for: Callable[[str], Signer],
    mutate: Callable[[bytes], bytes],
    message: str,
) -> None:
    entry = client_signed_registration(core, root, signer_for("org-a"))
    with pytest.raises(MalformedInput, match=message):
        core.submit(mutate(entry.to_bytes()))
    assert core.size() == 1


def test_oversized_entry_is_refused(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    a = signer_for("org-a")
    with pytest.raises(MalformedInput, match="blob store"):
        core.append(
            "actor.register", {"id": "org-a", "public_key": a.public_b64, "name": "x" * 70000}, root
        )
    assert core.size() == 1


def test_unknown_entry_type_is_refused(core: Ledger, root: Signer) -> None:
    with pytest.raises(MalformedInput, match="unknown entry type"):
        core.append("batch.teleport", {}, root)
    assert core.size() == 1


def test_a_statement_is_placed_by_the_log_and_logged_once(
    core: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    org = signer_for("org-s")
    payload = {"id": org.actor, "public_key": org.public_b64, "name": "S"}
    statement = Statement(
        type="actor.register",
        actor="root",
        key=root.key_id,
        time=format_time(core.clock.now()),
        payload=payload,
        id="register-org-s",
    ).signed(root)
    register(core, root, signer_for("org-first"))  # another writer gets there first
    receipt = core.submit(statement.to_bytes())
    entry = core.entry(receipt.seq)
    assert (receipt.seq, entry.prev) == (2, leaf_hash(core.entry_bytes(1)).hex())
    assert entry.statement_bytes() == statement.to_bytes()  # the leaf holds it verbatim
    assert entry.signed_time == statement.time and entry.id == "register-org-s"
    again = core.submit(statement.to_bytes())
    assert (again.seq, again.duplicate, again.leaf) == (2, True, receipt.leaf)
    assert core.size() == 3


def test_verify_names_a_statement_logged_twice(
    store_url: str, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> None:
    core = Ledger(open_store(store_url), log_signer=log_signer, types=CORE_TYPES)
    core.initialize(root, origin=log_signer.name)
    register(core, root, signer_for("org-a"))
    first = core.entry(1)
    with core.store.write() as tx:  # the ledger's own checks bypassed: a forged append
        size, head = tx.head()
        frontier = tx.nodes(frontier_nodes(size))
        twice = first.statement().place(size, head.hex(), first.time).to_bytes()
        tx.append(size, twice, leaf_hash(twice), append_leaf(size, leaf_hash(twice), frontier))
    report = verify_store(core.store, root_key=root.public_b64)
    assert report.error is not None and report.error.index == 2
    assert "duplicate statement" in str(report.error) and "also entry 1" in str(report.error)
    core.store.close()
