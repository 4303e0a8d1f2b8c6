"""A dossier whose checkpoint carries witness cosignatures: ``verify-dossier --witness``
requires them, offline, and names a witness whose cosignature is missing."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from insutrace.cli.main import app
from insutrace.trace.dossier import build_dossier
from insutrace.trace.note import NoteSigner
from insutrace.trace.witness import AddCheckpoint, CosignatureSigner, Witness, attach

from .conftest import GateWorld
from .test_dossier import recalled_world


def test_verify_dossier_requires_the_named_witnesses(
    tmp_path: Path, world: GateWorld, log_signer: NoteSigner
) -> None:
    recalled = recalled_world(world)
    ledger = world.ledger
    signed = ledger.checkpoint()
    # one witness cosigns the checkpoint the dossier will carry
    key = CosignatureSigner("witness.test/d1", Ed25519PrivateKey.from_private_bytes(b"d" * 32))
    witness = Witness(tmp_path / "w.db", key, [log_signer.verifier])
    (line,) = witness.add_checkpoint(AddCheckpoint(0, (), signed.note).body(), 1_795_000_000)
    witness.close()
    with ledger.store.write() as tx:
        tx.cosign_checkpoint(signed.checkpoint.size, attach(signed.note, [line]))

    built = build_dossier(ledger, {"kind": "section", "id": f"{recalled['project']}/N1"})
    assert line in built["log"]["checkpoint"]
    out = tmp_path / "d.json"
    out.write_text(json.dumps(built, ensure_ascii=False), encoding="utf-8")
    vkey = ledger.log_verifier().vkey()
    (tmp_path / "w.vkey").write_text(key.verifier.vkey + "\n")
    runner = CliRunner()
    base = ["verify-dossier", str(out), "--vkey", vkey]
    ok = runner.invoke(app, [*base, "--witness", str(tmp_path / "w.vkey")])
    assert ok.exit_code == 0, ok.output
    assert "cosigned by witness.test/d1" in ok.output
    other = CosignatureSigner("witness.test/d2", Ed25519PrivateKey.from_private_bytes(b"e" * 32))
    missing = runner.invoke(
        app, [*base, "--witness", key.verifier.vkey, "--witness", other.verifier.vkey]
    )
    assert missing.exit_code == 1
    assert "missing: witness.test/d2" in missing.output
    assert "\n" not in missing.output.strip()  # one line
