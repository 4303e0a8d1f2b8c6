"""The Python client and the remote CLI against a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import support
from fastapi import FastAPI
from typer.testing import CliRunner

from insutrace.api.client import Client, placed
from insutrace.cli import remote
from insutrace.cli.main import app as cli
from insutrace.labels.codec import sign_label
from insutrace.trace.clock import FixedClock
from insutrace.trace.errors import RuleViolation, VerificationError
from insutrace.trace.keys import save_signer
from insutrace.trace.ledger import Ledger

from .conftest import World
from .test_roles import GTIN, batch_payload, product_payload


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1, a free port, in a thread."""
    with support.served(app) as url:
        yield url


@pytest.fixture
def cli_clock(monkeypatch: pytest.MonkeyPatch, world: World) -> FixedClock:
    """The remote CLI signs by the test's fixed clock, the one the server reads: its
    client is made by ``Remote.client``, which takes no clock of its own."""
    make = remote.Remote.client

    def client(self: remote.Remote) -> Any:
        made = make(self)
        made.clock = world.clock
        return made

    monkeypatch.setattr(remote.Remote, "client", client)
    return world.clock


def test_client_appends_with_its_own_key_and_verifies(
    server: str, world: World, ledger: Ledger
) -> None:
    maker = world["manufacturer"]
    with Client(server, token=maker.token, signer=maker.signer, clock=world.clock) as c:
        log_key = c.log_key()
        first = c.checkpoint(log_key)
        receipt = c.append("product.register", product_payload())
        assert ledger.entry_bytes(receipt["seq"]) == receipt["entry"]
        proof = c.prove(receipt["seq"], log_key, receipt["entry"])
        assert proof.index == receipt["seq"]
        assert c.check_consistency(first, log_key).checkpoint.size == ledger.size()
        assert [e["seq"] for e in c.entries(type="product.register")] == [receipt["seq"]]
        with pytest.raises(RuleViolation, match="already registered") as caught:
            c.append("product.register", product_payload())
        assert caught.value.rule == "product.unique"


def test_client_signs_without_the_head_and_never_re_signs(
    server: str, world: World, ledger: Ledger
) -> None:
    maker = world["manufacturer"]
    with Client(server, token=maker.token, signer=maker.signer, clock=world.clock) as c:
        c.head = None  # type: ignore[assignment,method-assign]  # a client never needs it
        signed_early = c.sign("product.register", product_payload("06901234000023"))
        other = c.append("product.register", product_payload())  # someone writes first
        receipt = placed(c.submit(signed_early), signed_early)
        assert receipt["seq"] == other["seq"] + 1
        assert receipt["prev"] == other["leaf"]
        assert ledger.entry_bytes(receipt["seq"]) == receipt["entry"]
        again = c.submit(signed_early)  # a retry after a lost answer: the first receipt
        assert again["duplicate"] is True
        assert {k: again[k] for k in ("seq", "leaf", "prev", "logged")} == {
            k: receipt[k] for k in ("seq", "leaf", "prev", "logged")
        }
        assert ledger.size() == receipt["seq"] + 1


def test_a_receipt_for_other_bytes_is_refused(server: str, world: World) -> None:
    maker = world["manufacturer"]
    with Client(server, token=maker.token, signer=maker.signer, clock=world.clock) as c:
        mine = c.sign("product.register", product_payload())
        receipt = c.submit(mine)
        with pytest.raises(VerificationError, match="not the submitted statement"):
            placed({**receipt, "logged": "2020-01-01T00:00:00.000Z"}, mine)


def test_cli_registers_a_batch_and_prints_its_labels(
    server: str, world: World, ledger: Ledger, tmp_path: Path, cli_clock: FixedClock
) -> None:
    maker = world["manufacturer"]
    key = tmp_path / "maker.key"
    save_signer(maker.signer, key)
    env = {"INSUTRACE_SERVER": server, "INSUTRACE_TOKEN": maker.token}
    runner = CliRunner()
    with Client(server, token=maker.token, signer=maker.signer, clock=cli_clock) as c:
        c.append("product.register", product_payload())
    b = batch_payload()
    b["production_date"] = (cli_clock.now() - timedelta(days=2)).date().isoformat()
    args = [
        "--key", str(key), "remote", "batch-register",
        "--product", GTIN, "--lot", b["lot"], "--quantity", b["quantity"], "--unit", b["unit"],
        "--production-date", b["production_date"], "--declared-class", b["declared_class"],
        "--conductivity", b["conductivity"], "--density", b["density"],
    ]  # fmt: skip
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert ledger.entry(ledger.size() - 1).type == "batch.register"
    pdf = tmp_path / "labels.pdf"
    batch = f"{GTIN}.{b['lot']}"
    qualify(world, batch)
    args = ["--key", str(key), "remote", "labels", batch, "--count", "3", "-o", str(pdf)]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    assert ledger.entry(ledger.size() - 1).type == "label.issue"
    proof = tmp_path / "p.tlog-proof"
    seq = str(ledger.size() - 1)
    result = runner.invoke(cli, ["remote", "prove", seq, "-o", str(proof)], env=env)
    assert result.exit_code == 0, result.output
    assert proof.read_text().startswith("c2sp.org/tlog-proof@v1\n")


def test_public_label_verification(client: Any, world: World) -> None:
    maker = world["manufacturer"]
    world.hold_key(maker)
    client.post("/v1/product.register", json=product_payload(), headers=maker.auth)
    client.post("/v1/batch.register", json=batch_payload(), headers=maker.auth)
    uri = f"https://id.gs1.org/01/{GTIN}/10/L2026-001/21/000001"
    payload = sign_label(uri, maker.signer.key_id, maker.signer.private_key)
    r = client.get("/v1/public/labels/verify", params={"payload": payload}).json()
    # the batch is registered but serial 000001 was never issued (no label.issue): the
    # signature alone does not make a label genuine
    assert r["verdict"] == "unknown_serial" and r["ok"] is False
    assert r["batch"]["id"] == f"{GTIN}.L2026-001" and "genuine" not in r
    assert r["problems"] == [
        {
            "verdict": "unknown_serial",
            "reason": f"serial 000001 was never issued for batch {GTIN}.L2026-001",
        }
    ]
    other = world["distributor"].signer
    forged = sign_label(uri, other.key_id, other.private_key)
    r = client.get("/v1/public/labels/verify", params={"payload": forged}).json()
    assert r["verdict"] == "unknown_serial" and r["ok"] is False
    r = client.get("/v1/public/labels/verify", params={"payload": "nonsense"})
    assert r.status_code == 400


def qualify(world: World, batch: str, number: str = "R-2026-001") -> None:
    """The lab's factory report that qualifies ``batch`` (issued today, by the fixed clock)."""
    lab = world["testing_lab"]
    today = world.clock.now().date()
    results = [
        {"property": "combustion", "standard": "GB 8624-2012", "class": "B1(B-s1,d0,t1)"},
        {"property": "thermal_conductivity", "standard": "GB/T 10294", "value": "0.029"},
        {"property": "density", "standard": "GB/T 6343", "value": "32"},
    ]
    payload = {
        "schema": 1, "number": number, "batch": batch, "sample": "S1",
        "issued_on": (today - timedelta(days=1)).isoformat(),
        "valid_until": (today + timedelta(days=365)).isoformat(), "document": "ab" * 32,
        "standards": ["GB 8624-2012"], "results": results,
    }  # fmt: skip
    world.ledger.append("report.issue", payload, lab.signer)


def test_cli_labels_refuses_a_batch_no_valid_report_qualifies(
    server: str, world: World, ledger: Ledger, tmp_path: Path, cli_clock: FixedClock
) -> None:
    maker = world["manufacturer"]
    key = tmp_path / "maker.key"
    save_signer(maker.signer, key)
    env = {"INSUTRACE_SERVER": server, "INSUTRACE_TOKEN": maker.token}
    now = cli_clock.now()
    ledger.append("product.register", product_payload(), maker.signer)
    b = dict(batch_payload(), production_date=(now - timedelta(days=2)).date().isoformat())
    ledger.append("batch.register", b, maker.signer)
    batch, pdf = f"{GTIN}.{b['lot']}", tmp_path / "labels.pdf"
    size = ledger.size()
    labels = ["--key", str(key), "remote", "labels", batch, "--count", "2", "-o", str(pdf)]
    result = CliRunner().invoke(cli, labels, env=env)
    assert result.exit_code == 1
    assert "no report qualifies it and is valid on" in result.output
    assert ledger.size() == size and not pdf.exists()
    qualify(world, batch)
    assert CliRunner().invoke(cli, labels, env=env).exit_code == 0
    assert ledger.entry(ledger.size() - 1).payload["first"] == "000001"
    again = CliRunner().invoke(cli, [*labels, "--first", "2"], env=env)  # 000002 is taken
    assert again.exit_code == 1 and "label.overlap" in again.output
    single = tmp_path / "one.png"
    args = [*labels[:-4], "--count", "1", "--first", "3", "-o", str(single)]
    assert CliRunner().invoke(cli, args, env=env).exit_code == 0
    assert single.read_bytes().startswith(b"\x89PNG")
