"""Offline submissions from the Python client and the CLI (docs/offline.md), against a real
server on loopback whose ledger runs on a day policy cn-national-2025 2027.1 (the offline
window, 72 h) is in force; on SQLite and PostgreSQL.

Statements are signed with no server at all, kept in an outbox directory and sent later:
each is judged at its signed time, one signed more than 72 h before it reaches the log is
refused with ``entry.offline_window``, and sending again gives the original receipts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import support
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from insutrace.api.client import Client, Outbox, sign_statement, submit_queued
from insutrace.cli import offline
from insutrace.cli.main import app as cli
from insutrace.trace.clock import FixedClock, format_time
from insutrace.trace.errors import Conflict, RuleViolation, Unavailable
from insutrace.trace.keys import save_signer
from insutrace.trace.ledger import Ledger

from .conftest import World
from .test_roles import product_payload

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 CST, policy 2027.1 in force


@pytest.fixture
def clock() -> FixedClock:
    """The server's clock (overrides the suite's)."""
    return FixedClock(NOW, step=timedelta(milliseconds=10))


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with support.served(app) as url:
        yield url


def hours_ago(hours: float) -> FixedClock:
    """A device's clock reading ``hours`` before the server's start."""
    return FixedClock(NOW - timedelta(hours=hours))


def test_the_client_signs_offline_and_submits_later(
    server: str, world: World, ledger: Ledger, tmp_path: Path
) -> None:
    maker = world["manufacturer"]
    outbox = Outbox(tmp_path / "outbox")
    kept = [  # signed with no server at all, in this order
        sign_statement(maker.signer, "product.register", product_payload(gtin), clock=hours_ago(h))
        for gtin, h in (("06901234000016", 30), ("06901234000023", 80), ("06901234000030", 2))
    ]
    first, stale, last = (outbox.put(data) for data in kept)
    assert outbox.put(kept[0]) == first  # the same statement is kept once
    assert [i.state for i in Outbox(outbox.directory).items()] == ["pending"] * 3
    size = ledger.size()

    with Client(server, token=maker.token) as c:  # no key needed to send
        outcomes = c.submit_queued(outbox)
    assert [o.item.state for o in outcomes] == ["sent", "refused", "sent"]
    sent = outcomes[0].receipt
    assert sent is not None and ledger.entry_bytes(sent["seq"]) == sent["entry"]
    entry = ledger.entry(sent["seq"])
    assert entry.signed_time == format_time(NOW - timedelta(hours=30))
    assert entry.time == sent["logged"] and entry.time >= format_time(NOW)
    refusal = outcomes[1].error
    assert isinstance(refusal, RuleViolation) and refusal.rule == "entry.offline_window"
    assert "more than the offline window of 72 h" in str(refusal)
    items = outbox.items()  # what the outbox keeps, read again from the files
    assert items[1].problem is not None and items[1].problem["rule"] == "entry.offline_window"
    assert items[0].receipt is not None and items[0].receipt["seq"] == sent["seq"]
    assert ledger.size() == size + 2

    with Client(server, token=maker.token) as c:
        assert c.submit_queued(outbox) == []  # nothing pending
        again = c.submit_queued(outbox, again=True)
    assert [o.item.state for o in again] == ["sent", "refused", "sent"]
    assert [o.receipt["seq"] for o in again if o.receipt] == [
        o.receipt["seq"] for o in outcomes if o.receipt
    ]
    assert all(o.receipt["duplicate"] for o in again if o.receipt)
    assert ledger.size() == size + 2  # sending again logs nothing twice
    assert (first.path.name, stale.path.name, last.path.name) == tuple(
        i.path.name for i in outbox.items()
    )


def test_an_unreachable_server_leaves_the_queue_pending(world: World, tmp_path: Path) -> None:
    maker = world["manufacturer"]
    outbox = Outbox(tmp_path / "outbox")
    for gtin in ("06901234000016", "06901234000023"):
        outbox.put(sign_statement(maker.signer, "product.register", product_payload(gtin)))
    with Client("http://127.0.0.1:9", token=maker.token, retries=1) as c:  # discard port
        outcomes = submit_queued(c, outbox)
    assert len(outcomes) == 1 and isinstance(outcomes[0].error, Unavailable)
    assert [i.state for i in outbox.items()] == ["pending", "pending"]


def test_an_id_is_queued_once(world: World, tmp_path: Path) -> None:
    maker = world["manufacturer"]
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(sign_statement(maker.signer, "product.register", product_payload(), id="scan-0001"))
    other = sign_statement(maker.signer, "product.register", product_payload("06901234000023"),
                           id="scan-0001")  # fmt: skip
    with pytest.raises(Conflict, match="already queued"):
        outbox.put(other)
    assert len(outbox.items()) == 1


def items(result: Result) -> list[str]:
    """The lines of a command's output about queue items (the server's own log lines, which
    share the process in these tests, are left out)."""
    return [line for line in result.output.splitlines() if line.startswith("0000")]


def test_the_cli_signs_offline_lists_and_submits_later(
    server: str,
    world: World,
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    maker = world["manufacturer"]
    key, queue = tmp_path / "maker.key", tmp_path / "queue"
    save_signer(maker.signer, key)
    runner = CliRunner()
    signed = []
    for n, (gtin, hours) in enumerate((("06901234000016", 48), ("06901234000023", 73))):
        monkeypatch.setattr(offline, "CLOCK", hours_ago(hours))
        payload = tmp_path / f"p{n}.json"
        payload.write_text(json.dumps(product_payload(gtin)), encoding="utf-8")
        args = ["--key", str(key), "offline", "sign", "product.register", str(payload),
                "--queue", str(queue)]  # fmt: skip
        result = runner.invoke(cli, args, env={"INSUTRACE_SERVER": "http://127.0.0.1:9"})
        assert result.exit_code == 0, result.output
        assert "queued 00000" in result.output and "product.register" in result.output
        signed.append(format_time(NOW - timedelta(hours=hours)))
    listed = runner.invoke(cli, ["offline", "list", "--queue", str(queue)])
    assert listed.exit_code == 0
    assert [line.split()[1:3] for line in items(listed)] == [
        ["pending", "signed"],
        ["pending", "signed"],
    ]
    assert signed[0] in listed.output and signed[1] in listed.output

    env = {"INSUTRACE_SERVER": server, "INSUTRACE_TOKEN": maker.token}
    size = ledger.size()
    result = runner.invoke(cli, ["offline", "submit", "--queue", str(queue)], env=env)
    assert result.exit_code == 1  # the second was signed 73 h ago
    lines = items(result)
    assert lines[0].startswith("000001-") and f": logged: seq {size} leaf " in lines[0]
    assert len(lines) == 2 and lines[1].startswith("000002-")
    assert "refused: entry.offline_window: statement signed at " + signed[1] in lines[1]
    assert ledger.entry(size).signed_time == signed[0]
    assert ledger.size() == size + 1

    result = runner.invoke(cli, ["offline", "submit", "--queue", str(queue)], env=env)
    assert result.exit_code == 0 and f"nothing to send in {queue}\n" in result.output
    assert items(result) == []
    monkeypatch.setattr(offline, "CLOCK", hours_ago(0))
    result = runner.invoke(cli, ["offline", "submit", "--queue", str(queue), "--again"], env=env)
    assert "000001-" in result.output
    assert f"already logged, original receipt: seq {size} " in result.output
    assert ledger.size() == size + 1
    listed = runner.invoke(cli, ["offline", "list", "--queue", str(queue)])
    first, second = items(listed)
    assert " sent " in first and f"seq {size} logged " in first
    assert " refused " in second and "entry.offline_window: statement signed at" in second


def test_the_client_signed_endpoint_answers_a_stale_statement_with_a_problem(
    client: Any, world: World, ledger: Ledger
) -> None:
    maker = world["manufacturer"]
    size = ledger.size()
    stale = sign_statement(maker.signer, "product.register", product_payload(), clock=hours_ago(73))
    answer = client.post("/v1/entries", content=stale, headers=maker.auth)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert (problem["type"], problem["rule"]) == (
        "urn:insutrace:problem:rule-violation",
        "entry.offline_window",
    )
    assert problem["clause"].startswith("InsuTrace project choice")
    assert problem["message"]["zh"] == "离线签署的声明须在签署后 72 小时内提交：请重新签署"
    signed_at = format_time(NOW - timedelta(hours=73))
    assert f"signed at {signed_at}, logged at 2027-03-01T" in problem["detail"]
    assert ledger.size() == size
    fresh = sign_statement(maker.signer, "product.register", product_payload(), clock=hours_ago(71))
    answer = client.post("/v1/entries", content=fresh, headers=maker.auth)
    assert answer.status_code == 201, answer.text
    assert ledger.entry(size).signed_time == format_time(NOW - timedelta(hours=71))
