"""Server logs: a line per append, per refusal and at start-up, each line of a request
carrying its X-Request-ID; plain text or JSON lines; the serve options that select them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from insutrace.api.logs import HEADER, JsonFormatter, TextFormatter, configure_logging
from insutrace.cli import remote
from insutrace.cli.main import app as cli_app
from insutrace.trace.errors import MalformedInput
from insutrace.trace.keys import Signer
from insutrace.trace.settings import Settings

from .conftest import World, org_payload, uscc


@pytest.fixture(autouse=True)
def _restore_loggers() -> Any:
    """configure_logging changes process-wide loggers: put them back after each test."""
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate)
        for name, lg in ((n, logging.getLogger(n)) for n in ("insutrace", "uvicorn"))
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.level, logger.propagate = handlers, level, propagate


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="insutrace")
    return caplog


def register(
    client: TestClient,
    world: World,
    signer_for: Callable[[str], Signer],
    n: int,
    request_id: str | None = None,
) -> Any:
    org = uscc(n)
    headers = dict(world["authority"].auth)
    if request_id:
        headers[HEADER] = request_id
    payload = org_payload(org, "manufacturer", signer_for(org).public_b64)
    return client.post("/v1/actor.register", json=payload, headers=headers)


def of_request(caplog: pytest.LogCaptureFixture, request_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "request_id", None) == request_id]


def test_the_request_id_is_taken_from_the_request_or_made(client: TestClient) -> None:
    assert client.get("/v1/head", headers={HEADER: "abc-123"}).headers[HEADER] == "abc-123"
    made = client.get("/v1/head").headers[HEADER]
    assert len(made) == 32 and made != client.get("/v1/head").headers[HEADER]
    forged = client.get("/v1/head", headers={HEADER: "x\r\nINFO forged line"}).headers[HEADER]
    assert len(forged) == 32 and "forged" not in forged


def test_one_line_per_append_carries_the_request_id(
    client: TestClient,
    world: World,
    signer_for: Callable[[str], Signer],
    records: pytest.LogCaptureFixture,
) -> None:
    records.clear()
    r = register(client, world, signer_for, 901, request_id="req-append-1")
    assert r.status_code == 201, r.text
    lines = of_request(records, "req-append-1")
    appended = [x for x in lines if x.name == "insutrace.trace.ledger"]
    assert len(appended) == 1
    line = appended[0]
    assert (line.seq, line.type, line.actor) == (r.json()["seq"], "actor.register", "root")  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    assert f"appended seq={r.json()['seq']} type=actor.register actor=root" in line.getMessage()


def test_every_line_of_one_request_has_its_id(
    client: TestClient,
    world: World,
    signer_for: Callable[[str], Signer],
    records: pytest.LogCaptureFixture,
) -> None:
    register(client, world, signer_for, 902)  # the organisation exists now
    records.clear()
    r = register(client, world, signer_for, 902, request_id="req-refused-1")  # registered twice
    assert r.status_code == 422, r.text
    insutrace = [x for x in records.records if x.name.startswith("insutrace")]
    assert insutrace, "the refusal was not logged"
    assert {getattr(x, "request_id", None) for x in insutrace} == {"req-refused-1"}
    for text in (TextFormatter().format(x) for x in insutrace):
        assert "[req-refused-1]" in text and "\n" not in text
    for obj in (json.loads(JsonFormatter().format(x)) for x in insutrace):
        assert obj["request_id"] == "req-refused-1"


def test_a_refusal_names_its_rule_and_status(
    client: TestClient,
    world: World,
    signer_for: Callable[[str], Signer],
    records: pytest.LogCaptureFixture,
) -> None:
    register(client, world, signer_for, 903)
    records.clear()
    body = register(client, world, signer_for, 903, request_id="req-refused-2").json()
    (line,) = [
        x for x in of_request(records, "req-refused-2") if x.getMessage().startswith("refused")
    ]
    assert (line.status, line.rule) == (422, body["rule"])  # type: ignore[attr-defined]
    assert line.getMessage().startswith(
        f"refused 422 rule={body['rule']} POST /v1/actor.register: "
    )
    unauthenticated = client.get("/v1/me", headers={HEADER: "req-401"})
    assert unauthenticated.status_code == 401
    (line,) = of_request(records, "req-401")
    assert (line.status, line.rule, line.levelname) == (401, "-", "INFO")  # type: ignore[attr-defined]


def test_start_up_line(app: FastAPI, settings: Settings, records: pytest.LogCaptureFixture) -> None:
    records.clear()
    with TestClient(app):
        pass
    (line,) = [x for x in records.records if x.getMessage().startswith("insutrace ")]
    assert line.size >= 1 and line.origin == settings.origin  # type: ignore[attr-defined]
    kind = line.database  # type: ignore[attr-defined]
    assert kind.split()[0] in ("sqlite", "postgresql")
    assert "postgres@" not in kind and "password" not in kind  # no credentials
    assert getattr(line, "request_id", None) == "-"
    obj = json.loads(JsonFormatter().format(line))
    assert {"version", "database", "size", "origin"} <= set(obj)


def test_configured_formats_write_one_line_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    logger = logging.getLogger("insutrace.test")
    for fmt in ("json", "text", "json"):  # reconfiguring replaces the handler
        configure_logging(Settings(home=tmp_path, log_format=fmt))
        logger.info("hello %s", fmt, extra={"seq": 7})
    configure_logging(Settings(home=tmp_path, log_level="WARNING"))
    logger.info("not shown")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    first, second, third = lines
    assert json.loads(first)["message"] == "hello json" and json.loads(first)["seq"] == 7
    assert second.endswith("INFO insutrace.test [-] hello text")
    assert json.loads(third)["level"] == "INFO"


def test_unknown_log_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MalformedInput, match="INSUTRACE_LOG_FORMAT must be one of text, json"):
        Settings(home=tmp_path, log_format="xml")
    with pytest.raises(MalformedInput, match="INSUTRACE_LOG_LEVEL"):
        Settings(home=tmp_path, log_level="LOUD")


def test_serve_passes_the_log_options_to_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    ran: list[dict[str, Any]] = []

    def fake_uvicorn(host: str, port: int, workers: int, *, access_log: bool = False) -> None:
        import os

        ran.append({"access_log": access_log, "format": os.environ["INSUTRACE_LOG_FORMAT"]})

    monkeypatch.setattr(remote, "run_uvicorn", fake_uvicorn)
    serve_sets = {"HOME": str(tmp_path), "DATABASE_URL": store_url, "LOG_FORMAT": "text"}
    for var, value in {**serve_sets, "ACCESS_LOG": "0"}.items():  # restored after the test
        monkeypatch.setenv(f"INSUTRACE_{var}", value)
    runner = CliRunner()
    base = ["--home", str(tmp_path), "--db", store_url, "serve"]
    assert runner.invoke(cli_app, base).exit_code == 0
    assert runner.invoke(cli_app, [*base, "--log-format", "json", "--access-log"]).exit_code == 0
    assert ran == [{"access_log": False, "format": "text"}, {"access_log": True, "format": "json"}]
    bad = runner.invoke(cli_app, [*base, "--log-format", "xml"])
    assert bad.exit_code == 1 and bad.output.count("\n") == 1


def test_a_storage_failure_is_503_and_logged_as_an_error(
    client: TestClient, world: World, ledger: Any, records: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    def sql(statement: str) -> None:
        with ledger.store.engine.begin() as conn:
            conn.execute(text(statement))

    sql("ALTER TABLE projection RENAME TO projection_moved")
    try:
        r = client.get(
            f"/v1/orgs/{world['manufacturer'].org}",
            headers={**world["authority"].auth, HEADER: "req-503"},
        )
    finally:
        sql("ALTER TABLE projection_moved RENAME TO projection")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["type"] == "urn:insutrace:problem:storage-unavailable"
    assert body["detail"].startswith("storage failed on ") and "projection" in body["detail"]
    (line,) = [x for x in of_request(records, "req-503") if x.name == "insutrace.api"]
    assert (line.levelname, line.status) == ("ERROR", 503)  # type: ignore[attr-defined]
