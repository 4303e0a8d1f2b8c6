"""The log calls two witnesses over HTTP (C2SP tlog-witness v1.0.0): both cosign the
checkpoint a write produced, the served checkpoint carries both cosignatures, and
``verify`` can require them. One witness that was first shown a forked log refuses the
real one; the log reports it as inconsistent and a quorum of two is then not met."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import support
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from databases import migrated_sqlite
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from insutrace.api.app import create_app
from insutrace.api.client import Client
from insutrace.api.witness_app import create_witness_app
from insutrace.api.witnessing import Witnessing, parse_witnesses
from insutrace.cli.main import app as cli
from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.clock import FixedClock
from insutrace.trace.errors import NotFound, VerificationError
from insutrace.trace.keys import Signer, save_signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner, parse_note
from insutrace.trace.settings import Settings
from insutrace.trace.store import open_store
from insutrace.trace.witness import AddCheckpoint, CosignatureSigner, Witness, require_quorum


@dataclass
class Served:
    """A witness and the base URL it is served at (``support.served``: uvicorn, loopback)."""

    witness: Witness
    url: str


@pytest.fixture
def witnesses(tmp_path: Path, log_signer: NoteSigner) -> Iterator[list[Served]]:
    with ExitStack() as stack:
        served = []
        for n in (1, 2):
            key = CosignatureSigner(
                f"witness.test/w{n}", Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32)
            )
            witness = Witness(tmp_path / f"w{n}.db", key, [log_signer.verifier])
            stack.callback(witness.close)
            url = stack.enter_context(support.served(create_witness_app(witness)))
            served.append(Served(witness, url))
        yield served


def _spec(served: list[Served]) -> str:
    return ";".join(f"{s.witness.signer.verifier.vkey} {s.url}" for s in served)


def _register(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer], tag: str) -> None:
    org = f"{tag}-{ledger.size()}"
    payload = {"id": org, "public_key": signer_for(org).public_b64, "name": f"Org {org}"}
    ledger.append("actor.register", payload, root)
    ledger.checkpoint()


def test_two_witnesses_cosign_and_a_forked_one_refuses(
    tmp_path: Path,
    make_ledger: Callable[..., Ledger],
    witnesses: list[Served],
    root: Signer,
    log_signer: NoteSigner,
    clock: FixedClock,
    signer_for: Callable[[str], Signer],
) -> None:
    ledger = make_ledger(types=CORE_TYPES)
    _register(ledger, root, signer_for, "real")
    witnessing = Witnessing(ledger, parse_witnesses(_spec(witnesses)))
    outcomes = witnessing.cosign_latest()
    assert [o.cosigned for o in outcomes] == [True, True], outcomes
    note = ledger.latest_checkpoint().note
    verifiers = [s.witness.signer.verifier for s in witnesses]
    assert require_quorum(note, verifiers, 2) == ["witness.test/w1", "witness.test/w2"]
    assert witnessing.witnessed_checkpoint() == note
    # the log's own signature is still the first line, and the note still opens with the log key
    assert parse_note(note)[1][0].name == log_signer.name

    # the log grows: each witness gets a consistency proof from the size it cosigned
    for _ in range(3):
        _register(ledger, root, signer_for, "real")
    assert all(o.cosigned for o in witnessing.cosign_latest())
    size = ledger.latest_checkpoint().checkpoint.size
    assert [s.witness.latest(log_signer.name)[0] for s in witnesses] == [size, size]

    # witness 2 is shown a fork (same origin and key, another history) one entry ahead
    fork_store = open_store(migrated_sqlite(tmp_path / "fork.db"))
    fork = Ledger(
        fork_store, log_signer=log_signer, clock=FixedClock(clock.now()), types=CORE_TYPES
    )
    fork.initialize(root, origin=log_signer.name)
    while fork.size() < size + 1:
        _register(fork, root, signer_for, "fork")
    held = witnesses[1].witness.latest(log_signer.name)[0]
    proof = fork.consistency_proof(held, fork.size())
    refused = httpx.post(
        f"{witnesses[1].url}/add-checkpoint",
        content=AddCheckpoint(held, tuple(proof), fork.latest_checkpoint().note).body(),
    )
    assert refused.status_code == 422  # its proof cannot reach the real log's root
    fork_store.close()

    # the real log grows; both witnesses still follow it
    _register(ledger, root, signer_for, "real")
    outcomes = witnessing.cosign_latest()
    assert [o.cosigned for o in outcomes] == [True, True]
    witnessing.close()

    # a fresh log process knows nothing of the witnesses' sizes: it learns them from 409
    again = Witnessing(ledger, parse_witnesses(_spec(witnesses)))
    _register(ledger, root, signer_for, "real")
    assert all(o.cosigned for o in again.cosign_latest())
    again.close()


def test_a_witness_that_cosigned_a_fork_refuses_the_real_log(
    tmp_path: Path,
    make_ledger: Callable[..., Ledger],
    witnesses: list[Served],
    root: Signer,
    log_signer: NoteSigner,
    clock: FixedClock,
    signer_for: Callable[[str], Signer],
) -> None:
    ledger = make_ledger(types=CORE_TYPES)
    for _ in range(3):
        _register(ledger, root, signer_for, "real")
    fork_store = open_store(migrated_sqlite(tmp_path / "fork.db"))
    fork = Ledger(
        fork_store, log_signer=log_signer, clock=FixedClock(clock.now()), types=CORE_TYPES
    )
    fork.initialize(root, origin=log_signer.name)
    while fork.size() < ledger.size():
        _register(fork, root, signer_for, "fork")
    fork_note = fork.latest_checkpoint().note
    fork_store.close()
    # witness 2 has cosigned the fork at the same size
    taken = httpx.post(
        f"{witnesses[1].url}/add-checkpoint", content=AddCheckpoint(0, (), fork_note).body()
    )
    assert taken.status_code == 200

    witnessing = Witnessing(ledger, parse_witnesses(_spec(witnesses)), quorum=2)
    first, second = witnessing.cosign_latest()
    assert first.cosigned and not second.cosigned
    assert second.inconsistent and second.status == 409  # v1.0.0: same size, another root
    note = ledger.latest_checkpoint().note
    verifiers = [s.witness.signer.verifier for s in witnesses]
    with pytest.raises(VerificationError, match=r"missing: witness\.test/w2"):
        require_quorum(note, verifiers, 2)
    with pytest.raises(NotFound, match="2 witness cosignatures"):
        witnessing.witnessed_checkpoint()
    witnessing.close()


def test_the_server_calls_its_witnesses_and_verify_requires_them(
    tmp_path: Path, witnesses: list[Served], root: Signer, log_signer: NoteSigner
) -> None:
    home = tmp_path / "home"
    save_signer(root, home / "keys" / "root.key")
    save_signer(Signer(log_signer.name, log_signer.private_key), home / "keys" / "log.key")
    url = migrated_sqlite(tmp_path / "ledger.db")
    settings = Settings(home=home, database_url=url, origin=log_signer.name)
    seed = Ledger(open_store(url), log_signer=log_signer, types=CORE_TYPES)
    seed.initialize(root, origin=log_signer.name)
    seed.checkpoint()
    seed.store.close()
    settings = replace(settings, witnesses=_spec(witnesses), witness_quorum=2)
    with TestClient(create_app(settings, migrate=False)) as client:
        for _ in range(100):
            answer = client.get("/log/checkpoint/witnessed")
            if answer.status_code == 200:
                break
            time.sleep(0.05)
        assert answer.status_code == 200, answer.text
        served = client.get("/log/checkpoint").text
        assert answer.text == served
        assert served.count("\u2014 witness.test/w") == 2
        # the Python client requires the quorum of the witnesses it names
        remote = Client("http://testserver", session=client)
        verifiers = [s.witness.signer.verifier for s in witnesses]
        cp = remote.checkpoint(log_signer.verifier, witnesses=verifiers)
        assert cp.note == served
        stranger = CosignatureSigner(
            "witness.test/w9", Ed25519PrivateKey.from_private_bytes(b"9" * 32)
        )
        with pytest.raises(VerificationError, match=r"missing: witness\.test/w9"):
            remote.checkpoint(log_signer.verifier, witnesses=[*verifiers, stranger.verifier])

    runner = CliRunner()
    keys = []
    for n, s in enumerate(witnesses):
        path = tmp_path / f"w{n}.vkey"
        path.write_text(s.witness.signer.verifier.vkey + "\n")
        keys += ["--witness", str(path)]
    base = ["--home", str(home), "--db", url]
    ok = runner.invoke(cli, [*base, "verify", *keys])
    assert ok.exit_code == 0, ok.output
    assert "cosigned by witness.test/w1, witness.test/w2" in ok.output
    stranger = CosignatureSigner("witness.test/w3", Ed25519PrivateKey.from_private_bytes(b"3" * 32))
    missing = runner.invoke(cli, [*base, "verify", *keys, "--witness", stranger.verifier.vkey])
    assert missing.exit_code == 1
    assert "missing: witness.test/w3" in missing.output


def test_witness_commands_make_and_keep_a_key(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["witness", "init", "--dir", str(tmp_path), "--name", "w.test/a"])
    assert made.exit_code == 0, made.output
    vkey = made.output.strip()
    assert vkey.startswith("w.test/a+") and (tmp_path / "witness.key").stat().st_mode & 0o077 == 0
    shown = runner.invoke(cli, ["witness", "vkey", "--dir", str(tmp_path)])
    assert shown.output.strip() == vkey
    again = runner.invoke(cli, ["witness", "init", "--dir", str(tmp_path), "--name", "w.test/b"])
    assert again.exit_code == 1 and "a witness keeps its key" in again.output
    bad = runner.invoke(cli, ["witness", "init", "--dir", str(tmp_path / "x"), "--name", "a b"])
    assert bad.exit_code == 1 and "without spaces" in bad.output
    nothing = runner.invoke(cli, ["witness", "vkey", "--dir", str(tmp_path / "none")])
    assert nothing.exit_code == 1 and "no witness key" in nothing.output
