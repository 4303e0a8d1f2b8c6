"""The witness (C2SP tlog-witness v1.0.0) against real ledgers: it cosigns a log that grows
consistently, and refuses a rollback, a fork and a stale view, with the pinned version's
status codes, across restarts. The fork is a second ledger with the same origin and log
key whose history differs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from databases import migrated_sqlite

from insutrace.trace.checkpoint import Checkpoint
from insutrace.trace.clock import FixedClock
from insutrace.trace.errors import MalformedInput, VerificationError
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner, parse_note, sign_note, verify_cosignature
from insutrace.trace.store import open_store
from insutrace.trace.witness import (
    AddCheckpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Witness,
    WitnessRefusal,
    attach,
    require_quorum,
)

NOW = 1_795_000_000


def _grow(
    ledger: Ledger, signer_for: Callable[[str], Signer], root: Signer, n: int, tag: str
) -> None:
    for i in range(n):
        org = f"{tag}-{ledger.size()}-{i}"
        payload = {"id": org, "public_key": signer_for(org).public_b64, "name": f"Org {org}"}
        ledger.append("actor.register", payload, root)
    ledger.checkpoint()


@pytest.fixture
def witness_key() -> CosignatureSigner:
    return CosignatureSigner("witness.test/one", Ed25519PrivateKey.from_private_bytes(b"w" * 32))


@pytest.fixture
def core_ledger(make_ledger: Callable[..., Ledger]) -> Ledger:
    from insutrace.trace.actors import CORE_TYPES

    return make_ledger(types=CORE_TYPES)


@pytest.fixture
def fork(
    tmp_path: Path, clock: FixedClock, root: Signer, log_signer: NoteSigner
) -> Iterator[Ledger]:
    """Another ledger with the same origin and log key (a split view)."""
    from insutrace.trace.actors import CORE_TYPES

    store = open_store(migrated_sqlite(tmp_path / "fork.db"))
    ledger = Ledger(store, log_signer=log_signer, clock=FixedClock(clock.now()), types=CORE_TYPES)
    ledger.initialize(root, origin=log_signer.name)
    yield ledger
    store.close()


def _request(ledger: Ledger, old: int) -> bytes:
    note = ledger.latest_checkpoint().note
    size = ledger.latest_checkpoint().checkpoint.size
    proof = ledger.consistency_proof(old, size) if 0 < old < size else []
    return AddCheckpoint(old, tuple(proof), note).body()


def _refusal(witness: Witness, body: bytes) -> WitnessRefusal:
    with pytest.raises(WitnessRefusal) as caught:
        witness.add_checkpoint(body, NOW)
    return caught.value


def test_cosigns_a_growing_log_and_refuses_forks_and_stale_views(
    tmp_path: Path,
    core_ledger: Ledger,
    fork: Ledger,
    witness_key: CosignatureSigner,
    log_signer: NoteSigner,
    signer_for: Callable[[str], Signer],
    root: Signer,
) -> None:
    witness = Witness(tmp_path / "w.db", witness_key, [log_signer.verifier])
    _grow(core_ledger, signer_for, root, 3, "real")
    first = core_ledger.latest_checkpoint()

    (line,) = witness.add_checkpoint(_request(core_ledger, 0), NOW)
    text, _ = parse_note(first.note)
    _, sigs = parse_note(attach(first.note, [line]))
    assert (
        verify_cosignature(text, sigs[-1], witness_key.name, witness_key.private_key.public_key())
        == NOW
    )
    assert witness.latest(log_signer.name)[:2] == (first.checkpoint.size, first.checkpoint.root)

    # a stale "old": 409 telling the size the witness holds
    _grow(core_ledger, signer_for, root, 2, "real")
    stale = _refusal(witness, _request(core_ledger, 0))
    assert (stale.status, stale.size) == (409, first.checkpoint.size)
    # the same, resent from that size with its consistency proof: cosigned
    witness.add_checkpoint(_request(core_ledger, first.checkpoint.size), NOW + 1)
    held = core_ledger.latest_checkpoint().checkpoint
    assert witness.latest(log_signer.name)[0] == held.size

    # a fork of the same size: a different root (v1.0.0: 409 without a size body)
    _grow(fork, signer_for, root, held.size - fork.size(), "fork")
    assert fork.latest_checkpoint().checkpoint.size == held.size
    split = _refusal(witness, _request(fork, held.size))
    assert (split.status, split.size) == (409, None)
    assert "forked" in split.message

    # a longer fork with a proof from its own history: the proof does not verify
    _grow(fork, signer_for, root, 3, "fork")
    longer = _refusal(witness, _request(fork, held.size))
    assert longer.status == 422

    # a rollback: an older checkpoint of the real log
    back = AddCheckpoint(held.size, (), first.note).body()
    assert _refusal(witness, back).status == 400  # old size larger than the checkpoint's

    # a restart keeps what the witness cosigned: still the real log's size, still no fork
    witness.close()
    again = Witness(tmp_path / "w.db", witness_key, [log_signer.verifier])
    assert again.latest(log_signer.name)[0] == held.size
    assert _refusal(again, _request(fork, held.size)).status == 422
    _grow(core_ledger, signer_for, root, 1, "real")
    again.add_checkpoint(_request(core_ledger, held.size), NOW + 2)
    again.close()


def test_what_it_does_not_cosign(
    tmp_path: Path,
    core_ledger: Ledger,
    witness_key: CosignatureSigner,
    log_signer: NoteSigner,
    signer_for: Callable[[str], Signer],
    root: Signer,
) -> None:
    witness = Witness(tmp_path / "w.db", witness_key, [log_signer.verifier])
    _grow(core_ledger, signer_for, root, 2, "real")
    signed = core_ledger.latest_checkpoint()

    other = NoteSigner("elsewhere.test/log", Ed25519PrivateKey.from_private_bytes(b"o" * 32))
    unknown = sign_note(Checkpoint(other.name, 3, b"\0" * 32).text(), other)
    assert _refusal(witness, AddCheckpoint(0, (), unknown).body()).status == 404

    impostor = NoteSigner(log_signer.name, Ed25519PrivateKey.from_private_bytes(b"i" * 32))
    forged = sign_note(signed.checkpoint.text(), impostor)
    assert _refusal(witness, AddCheckpoint(0, (), forged).body()).status == 403

    proof_from_zero = AddCheckpoint(0, (b"\1" * 32,), signed.note).body()
    assert _refusal(witness, proof_from_zero).status == 422

    for body in (b"", b"old 01\n\n" + signed.note.encode(), b"old 1\nnot-base64!\n\n", b"\xff\n\n"):
        assert _refusal(witness, body).status == 400, body
    assert witness.latest(log_signer.name) is None  # nothing refused was stored
    witness.close()


def test_a_quorum_names_the_missing_witnesses(
    core_ledger: Ledger, signer_for: Callable[[str], Signer], root: Signer
) -> None:
    _grow(core_ledger, signer_for, root, 1, "real")
    note = core_ledger.latest_checkpoint().note
    text, _ = parse_note(note)
    one = CosignatureSigner("witness.test/one", Ed25519PrivateKey.from_private_bytes(b"1" * 32))
    two = CosignatureSigner("witness.test/two", Ed25519PrivateKey.from_private_bytes(b"2" * 32))
    cosigned = attach(note, [one.cosign(text, NOW).line()])
    assert require_quorum(cosigned, [one.verifier, two.verifier], 1) == ["witness.test/one"]
    with pytest.raises(VerificationError, match=r"missing: witness\.test/two"):
        require_quorum(cosigned, [one.verifier, two.verifier], 2)
    # a cosignature over another checkpoint does not count
    cp = Checkpoint.parse(text)
    elsewhere = Checkpoint(cp.origin, cp.size + 1, cp.root).text()
    misplaced = attach(note, [two.cosign(elsewhere, NOW).line()])
    with pytest.raises(VerificationError, match=r"missing: witness\.test/two"):
        require_quorum(misplaced, [two.verifier], 1)
    vkey = one.verifier.vkey
    assert CosignatureVerifier.parse(vkey) == one.verifier
    with pytest.raises(MalformedInput, match="key id does not match"):
        CosignatureVerifier.parse(vkey.replace(vkey.split("+")[1], "00000000"))
