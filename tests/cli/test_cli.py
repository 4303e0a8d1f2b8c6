"""The insutrace command, in-process: init, verify, export, proof, rebuild, errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import support
from typer.testing import CliRunner

from insutrace.cli.main import app
from insutrace.trace.keys import Signer, load_signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.proof import TlogProof
from insutrace.trace.store import open_store

runner = CliRunner()
ORIGIN = "cli.insutrace.local/ledger"
SIZE = 300


def run(home: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A ledger made by `insutrace init`, then the root key rotated 299 times (crosses a tile)."""
    home = tmp_path / "home"
    run(home, "init", "--origin", ORIGIN)
    store = open_store(f"sqlite:///{home / 'ledger.db'}")
    log_key = load_signer(home / "keys/log.key").private_key
    ledger = Ledger(store, log_signer=NoteSigner(ORIGIN, log_key))
    root = load_signer(home / "keys/root.key")
    for i in range(1, SIZE):
        new = Signer.from_seed("root", f"insutrace-test-only:root-{i}".encode())
        ledger.append("key.rotate", {"public_key": new.public_b64}, root)
        root = new
    ledger.checkpoint()
    store.close()
    return home


def test_init_refuses_a_second_time(home: Path) -> None:
    out = run(home, "init", code=1)
    assert "already holds a ledger" in out


def test_verify_export_and_verify_export(home: Path, tmp_path: Path) -> None:
    assert "ok: 300 entries" in run(home, "verify")
    assert run(home, "verify", "--jobs", "1") == run(home, "verify", "--jobs", "2")
    assert "--jobs" in run(home, "verify", "--jobs", "0", code=2)
    run(home, "export", str(tmp_path / "exp"))
    assert (tmp_path / "exp/checkpoint").exists() and (tmp_path / "exp/log.vkey").exists()
    assert "ok: 300 entries" in run(home, "verify", str(tmp_path / "exp"))


def test_damaged_export_fails_with_one_line(home: Path, tmp_path: Path) -> None:
    run(home, "export", str(tmp_path / "exp"))
    bundle = tmp_path / "exp/tile/entries/001.p/44"
    data = bytearray(bundle.read_bytes())
    data[40] ^= 1
    bundle.write_bytes(bytes(data))
    out = run(home, "verify", str(tmp_path / "exp"), code=1)
    assert "does not verify: entry 256" in out


def test_proof_file_verifies_offline(home: Path, tmp_path: Path) -> None:
    run(home, "proof", "0", "-o", str(tmp_path / "e0.tlog-proof"))
    proof = TlogProof.parse((tmp_path / "e0.tlog-proof").read_text())
    store = open_store(f"sqlite:///{home / 'ledger.db'}")
    ledger = Ledger(store)
    proof.verify(ledger.entry_bytes(0), ledger.log_verifier())
    store.close()


def test_proof_of_missing_entry_is_one_line(home: Path) -> None:
    out = run(home, "proof", "999", code=1)
    assert "no entry 999" in out or "not covered" in out


def test_rebuild_reports_identical_digest(home: Path) -> None:
    assert "identical to before" in run(home, "rebuild")


def test_verify_names_tampered_entry(home: Path) -> None:
    import sqlite3

    with sqlite3.connect(home / "ledger.db") as db:
        (body,) = db.execute("SELECT body FROM log_entry WHERE seq = 0").fetchone()
        db.execute("UPDATE log_entry SET body = ? WHERE seq = 0", (body.replace(b"Root", b"Fake"),))
    out = run(home, "verify", code=1)
    assert "entry 0" in out


def test_demo_then_verify_epcis_rebuild(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    assert "demo ledger ready" in run(home, "demo")
    assert "is not empty" in run(home, "demo", code=1)
    assert "chain and signatures verified" in run(home, "verify")
    assert "identical to before" in run(home, "rebuild")
    schema = str(support.epcis_schema())
    out = run(home, "export-epcis", str(tmp_path / "all.jsonld"), "--schema", schema)
    assert "EPCIS events" in out


def test_export_epcis_with_an_unreadable_schema_is_one_line(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.jsonld"
    missing = tmp_path / "MISSING.json"
    out = run(home, "export-epcis", str(target), "--schema", str(missing), code=1)
    assert out.strip().splitlines() == [
        f"error: cannot read the schema {missing}: No such file or directory; nothing was written"
    ]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    out = run(home, "export-epcis", str(target), "--schema", str(broken), code=1)
    assert out.startswith(f"error: the schema {broken} is not JSON:") and out.count("\n") == 1
    assert not target.exists()


def test_a_demo_home_verifies_against_its_own_anchors_only(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    run(first, "demo", "--start", "2026-01-05")
    run(second, "demo", "--start", "2026-01-05")
    for home in (first, second):
        root = load_signer(home / "keys/root.key")
        assert (home / "keys/root.pub").read_text() == root.public_b64 + "\n"
        log = load_signer(home / "keys/log.key")
        vkey = NoteSigner(log.actor, log.private_key).verifier.vkey()
        assert (home / "keys/log.vkey").read_text() == vkey + "\n"
    assert "chain and signatures verified" in run(first, "verify")
    shutil.copy(second / "ledger.db", first / "ledger.db")  # the same story, other keys
    out = run(first, "verify", code=1)
    assert "does not verify" in out and "root" in out


def test_export_epcis_of_empty_ledger_is_one_line(home: Path, tmp_path: Path) -> None:
    out = run(home, "export-epcis", str(tmp_path / "x.jsonld"), "--type", "batch.register")
    assert "wrote 0 EPCIS events" in out


def test_document_put_and_get(home: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.7\n% report JS2026-BW0391\n")
    digest = run(home, "document", "put", str(report)).strip()
    assert digest == hashlib.sha256(report.read_bytes()).hexdigest()
    run(home, "document", "get", digest, "-o", str(tmp_path / "copy.pdf"))
    assert (tmp_path / "copy.pdf").read_bytes() == report.read_bytes()
    assert "no document" in run(
        home, "document", "get", "0" * 64, "-o", str(tmp_path / "x"), code=1
    )


def test_read_commands_do_not_create_a_ledger_file(tmp_path: Path) -> None:
    home = tmp_path / "nowhere"
    out = run(home, "verify", code=1)
    assert "no ledger at" in out and "insutrace init" in out
    assert not (home / "ledger.db").exists()
