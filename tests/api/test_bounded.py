"""Bounded resources: bodies refused by size before they are read (declared) or as soon as
the count passes the limit (chunked), documents streamed to disk, slow clients cut off,
requests and writes beyond the limits answered 503 with Retry-After, lock waits bounded
while reads go on.

The socket tests run the app in a real uvicorn server (the protocol ``insutrace serve``
runs, :class:`insutrace.api.limits.GuardedHttpToolsProtocol`, with its time-outs and head
limit) on 127.0.0.1 and talk to it over raw sockets, as an attacker would.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import select
import socket
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from insutrace.api.bodies import MAX_BODY
from insutrace.api.limits import MAX_HEAD, GuardedHttpToolsProtocol, InFlightLimit, _OneSend
from insutrace.trace.ledger import Ledger
from insutrace.trace.store import engine as store_engine

SHORT = "0.5"  # seconds: the header and body time-outs of the socket tests


@pytest.fixture
def server(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """The app behind uvicorn on an ephemeral port, with short header/body time-outs."""
    monkeypatch.setenv("INSUTRACE_HEADER_TIMEOUT", SHORT)
    monkeypatch.setenv("INSUTRACE_BODY_TIMEOUT", SHORT)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=GuardedHttpToolsProtocol, log_config=None, lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not srv.started:
        threading.Event().wait(0.02)
    yield sock.getsockname()
    srv.should_exit = True
    thread.join(10)
    sock.close()


def connect(addr: tuple[str, int]) -> socket.socket:
    s = socket.create_connection(addr, timeout=20)
    return s


def read_response(s: socket.socket, data: bytes = b"") -> tuple[int, bytes]:
    """Status and the raw bytes the server sent until it closed the connection (a reset,
    when it closes with part of our body unread, ends the reading too)."""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1") else 0
    return status, data


def send_until_answered(s: socket.socket, chunks: Iterator[bytes]) -> tuple[int, bytes, int]:
    """Send ``chunks`` one by one, stopping as soon as the server answers: its status,
    what it sent and how many chunks went out before the answer."""
    sent = 0
    for chunk in chunks:
        try:
            s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += 1
        ready, _, _ = select.select([s], [], [], 0.02)
        if ready:
            break
    status, data = read_response(s)
    return status, data, sent


def head(method: str, path: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *extra, "", ""]
    return "\r\n".join(lines).encode()


# -- bodies by size ---------------------------------------------------------------------------


def test_declared_oversize_is_413_before_the_body_is_sent(
    server: tuple[str, int], ledger: Ledger, world: Any
) -> None:
    """A Content-Length of 100 MB is answered 413 while not one byte of the body has been
    sent: the limit is applied to the declaration, and nothing is written."""
    size = ledger.size()
    with connect(server) as s:
        auth = f"Authorization: Bearer {world['manufacturer'].token}"
        s.sendall(head("POST", "/v1/entries", auth, f"Content-Length: {100 * 10**6}"))
        status, data = read_response(s)
    assert status == 413, data[:300]
    assert b"input.too_large" in data and b"application/problem+json" in data
    assert ledger.size() == size


def test_chunked_oversize_is_413_as_soon_as_the_limit_passes(
    server: tuple[str, int], ledger: Ledger, world: Any
) -> None:
    """A chunked body is counted as it comes: once a little more than the 1 MiB limit is
    sent (of a body announced as endless), the server answers 413 without waiting for
    the rest; nothing is written."""
    size = ledger.size()
    chunk = b"x" * 65536
    with connect(server) as s:
        auth = f"Authorization: Bearer {world['manufacturer'].token}"
        s.sendall(head("POST", "/v1/entries", auth, "Content-Type: application/json",
                       "Transfer-Encoding: chunked"))  # fmt: skip
        endless = itertools.repeat(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, data, sent = send_until_answered(s, endless)
    assert status == 413, data[:300]
    assert sent * len(chunk) < 2 * MAX_BODY  # answered soon after the limit passed
    assert b"input.too_large" in data
    assert ledger.size() == size


def test_documents_stream_to_disk_and_oversize_is_413(
    client: TestClient, world: Any, app: FastAPI, server: tuple[str, int]
) -> None:
    """A document is stored under its SHA-256 (hashed on the way to disk); one declared
    larger than the store's limit is 413 before it is read, one streamed past it is 413
    as soon as it passes; a refused upload leaves no file behind."""
    services = app.state.services
    auth = world["manufacturer"].auth
    data = bytes(range(256)) * 8192  # 2 MiB, more than one write to disk
    r = client.post("/v1/documents", content=data, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json() == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert services.blobs.get(r.json()["sha256"]) == data
    limit = services.blobs.max_bytes
    token = f"Authorization: Bearer {world['manufacturer'].token}"
    with connect(server) as s:
        s.sendall(head("POST", "/v1/documents", token, f"Content-Length: {limit + 1}"))
        status, _ = read_response(s)
    assert status == 413
    chunk = b"d" * (1 << 20)
    with connect(server) as s:
        s.sendall(head("POST", "/v1/documents", token, "Transfer-Encoding: chunked",
                       "Content-Type: application/octet-stream"))  # fmt: skip
        endless = itertools.repeat(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, _, sent = send_until_answered(s, endless)
    assert status == 413
    assert limit < sent * len(chunk) < limit + 16 * len(chunk)
    assert list((services.blobs.root / "incoming").iterdir()) == []


# -- slow clients -----------------------------------------------------------------------------


def test_slow_headers_are_cut_off(server: tuple[str, int]) -> None:
    """Slow loris: a header line every 0.1 s keeps the connection busy but never finishes
    the request; the server closes it (header time-out 0.5 s from the first byte) while
    the client still has lines to send."""
    with connect(server) as s:
        s.sendall(b"GET /v1/head HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for i in range(200):  # 20 s of dripping if nobody stopped it
            try:
                s.sendall(f"X-Drip-{i}: 1\r\n".encode())
            except OSError:
                closed = True
                break
            s.settimeout(0.1)
            try:
                if s.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
        assert closed


def test_slow_body_is_cut_off(server: tuple[str, int], ledger: Ledger) -> None:
    """A body that stops coming (10 of 1000 declared bytes) is cut off by the body
    time-out; nothing is written."""
    size = ledger.size()
    with connect(server) as s:
        s.sendall(head("POST", "/v1/entries", "Content-Length: 1000") + b"{" * 10)
        status, data = read_response(s)
    assert (status, data) == (0, b""), data[:200]  # closed without an answer
    assert ledger.size() == size


def test_an_idle_connection_is_closed_and_a_prompt_one_served(server: tuple[str, int]) -> None:
    """A connection that never sends a byte is closed; a prompt request is answered."""
    with connect(server) as s:
        status, data = read_response(s)
    assert (status, data) == (0, b"")
    with connect(server) as s:
        s.sendall(head("GET", "/v1/head", "Connection: close"))
        status, _ = read_response(s)
    assert status == 200


# -- heads by size, and the one send per response ---------------------------------------------


def test_a_head_past_16_kib_is_431_and_one_within_it_is_served(
    server: tuple[str, int], ledger: Ledger, world: Any
) -> None:
    """A request line and headers of more than 16 KiB are answered 431 (problem JSON) and
    the connection closed, whether the excess is one long header or many short ones;
    nothing is written. A head just within the limit is served."""
    size = ledger.size()
    auth = f"Authorization: Bearer {world['manufacturer'].token}"
    long_one = "X-Long: " + "a" * MAX_HEAD
    many = [f"X-Many-{i}: {'b' * 90}" for i in range(MAX_HEAD // 100 + 10)]
    for extra in ([long_one], many):
        with connect(server) as s:
            s.sendall(head("POST", "/v1/entries", auth, *extra, "Content-Length: 2") + b"{}")
            status, data = read_response(s)
        assert status == 431, data[:300]
        assert b"application/problem+json" in data and b"connection: close" in data.lower()
        assert b"urn:insutrace:problem:request-header-fields-too-large" in data
    assert ledger.size() == size
    within = "X-Within: " + "c" * (MAX_HEAD - 200)
    with connect(server) as s:
        s.sendall(head("GET", "/v1/head", within, "Connection: close"))
        status, _ = read_response(s)
    assert status == 200


def test_a_head_still_coming_is_431_once_it_passes_16_kib(server: tuple[str, int]) -> None:
    """A header that never ends is refused as soon as the bytes received for the head pass
    the limit, not buffered until the header time-out."""
    with connect(server) as s:
        s.sendall(b"GET /v1/head HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        status, data, sent = send_until_answered(s, itertools.repeat(b"z" * 1024))
    assert status == 431, data[:300]
    assert sent <= MAX_HEAD // 1024 + 2


def test_pipelined_requests_are_answered_in_order(server: tuple[str, int]) -> None:
    """Requests sent back to back on one connection get their answers in order, each
    whole (a held head is never sent after a later answer)."""
    paths = ["/v1/head", "/log/checkpoint", "/v1/no-such-path", "/v1/head"]
    with connect(server) as s:
        requests = [head("GET", p) for p in paths[:-1]]
        s.sendall(b"".join([*requests, head("GET", paths[-1], "Connection: close")]))
        _, data = read_response(s)
    statuses = [int(part[:3]) for part in data.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [200, 200, 404, 200]


class _Transport:
    """What _OneSend writes through: the sends it makes, in order."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sends.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


def test_one_send_joins_a_head_with_its_body_and_holds_nothing_past_the_step() -> None:
    """Two writes in one event-loop step go out as one send; a lone write goes out at the
    end of its step; closing sends what is held first; other calls reach the transport."""
    loop = asyncio.new_event_loop()
    try:
        transport = _Transport()
        one = _OneSend(transport, loop)  # type: ignore[arg-type]
        one.write(b"HTTP/1.1 200 OK\r\n\r\n")
        one.write(b"body")
        assert transport.sends == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        one.write(b"head")
        assert transport.sends == [b"HTTP/1.1 200 OK\r\n\r\nbody"]  # held in the step
        loop.run_until_complete(asyncio.sleep(0))
        assert transport.sends[1:] == [b"head"]
        one.write(b"last")
        one.close()
        assert transport.sends[2:] == [b"last"] and transport.closed
        assert one.get_write_buffer_size() == 0
        loop.run_until_complete(asyncio.sleep(0))
        assert transport.sends[3:] == []  # the released write was not sent twice
    finally:
        loop.close()


# -- requests and writes in flight ------------------------------------------------------------


def test_writes_beyond_the_limit_are_503_and_reads_go_on() -> None:
    """With one write in flight (blocked) and ``max_writes=1``, a second write is 503 with
    Retry-After at once, while reads are still served."""
    release = asyncio.Event()
    entered = asyncio.Event()

    async def write(request: Request) -> PlainTextResponse:
        entered.set()
        await release.wait()
        return PlainTextResponse("written", status_code=201)

    async def read(request: Request) -> PlainTextResponse:
        return PlainTextResponse("read")

    inner = Starlette(routes=[Route("/w", write, methods=["POST"]), Route("/r", read)])
    app = InFlightLimit(inner, max_requests=3, max_writes=1)

    async def scenario() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            first = asyncio.create_task(c.post("/w"))
            await entered.wait()
            second = await c.post("/w")
            reads = [await c.get("/r") for _ in range(3)]
            release.set()
            return [await first, second, *reads]

    first, second, *reads = asyncio.run(scenario())
    assert first.status_code == 201
    assert second.status_code == 503 and second.headers["retry-after"] == "1"
    assert second.headers["content-type"] == "application/problem+json"
    assert [r.status_code for r in reads] == [200, 200, 200]


def test_a_held_lock_makes_writes_503_while_reads_answer(
    store_url: str, tmp_path: Any, log_signer: Any, clock: Any, monkeypatch: pytest.MonkeyPatch,
    world: Any, signer_for: Any,
) -> None:  # fmt: skip
    """Another connection holds the log's write lock: a write waits at most the lock
    time-out (1 s here), then is 503 with Retry-After and writes nothing; ``GET /v1/head``
    answers meanwhile (SQLite WAL readers, PostgreSQL snapshot reads take no lock)."""
    from insutrace.api.app import create_app
    from insutrace.trace.settings import Settings

    monkeypatch.setattr(store_engine, "LOCK_TIMEOUT_S", 1)
    monkeypatch.setattr(store_engine, "_PG_OPTIONS", "-c lock_timeout=1000")
    settings = Settings(home=tmp_path / "h2", database_url=store_url, origin=log_signer.name)
    app = create_app(settings, clock=clock, log_signer=log_signer)
    party = world["manufacturer"]
    fresh = signer_for(party.org + "/lock")
    data = world.sign(party.signer, "key.rotate", {"public_key": fresh.public_b64})
    with TestClient(app) as client, _holding_the_lock(store_url):
        head = client.get("/v1/head")
        assert head.status_code == 200
        size = head.json()["size"]
        r = client.post("/v1/entries", content=data, headers=party.auth)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1"
        assert r.json()["type"] == "urn:insutrace:problem:storage-unavailable"
        assert client.get("/v1/head").json()["size"] == size
    app.state.services.ledger.store.close()
    app.state.services.accounts.close()


class _holding_the_lock:
    """A foreign connection holding the write lock on the log head."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    def __enter__(self) -> None:
        if self.url.startswith("sqlite"):
            self.conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
            return
        base, _, query = self.url.replace("postgresql+psycopg", "postgresql").partition("?")
        options = dict(p.split("=", 1) for p in query.split("&") if p).get("options", "")
        from urllib.parse import unquote

        self.conn = psycopg.connect(base, options=unquote(options))
        self.conn.execute("SELECT size FROM log_head WHERE id = 1 FOR UPDATE")

    def __exit__(self, *exc: object) -> None:
        self.conn.rollback() if not self.url.startswith("sqlite") else self.conn.execute("ROLLBACK")
        self.conn.close()


def test_serve_sets_the_time_outs_and_limits(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    """``insutrace serve`` runs uvicorn with the guarded protocol, the keep-alive and
    connection limits given, and hands the header/body time-outs and request limits to
    its workers (the environment each worker's protocol and app read)."""
    import os

    from typer.testing import CliRunner

    from insutrace.cli.main import app as cli_app

    seen: list[dict[str, Any]] = []

    def fake_run(self: uvicorn.Server, sockets: Any = None) -> None:
        names = ("HEADER_TIMEOUT", "BODY_TIMEOUT", "MAX_REQUESTS", "MAX_WRITES")
        env = {n: os.environ[f"INSUTRACE_{n}"] for n in names}
        c = self.config
        seen.append({"http": c.http, "keep_alive": c.timeout_keep_alive,
                     "connections": c.limit_concurrency, **env})  # fmt: skip

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    for name in ("HOME", "DATABASE_URL", "LOG_FORMAT", "ACCESS_LOG", "HEADER_TIMEOUT",
                 "BODY_TIMEOUT", "MAX_REQUESTS", "MAX_WRITES", "KEEP_ALIVE",
                 "MAX_CONNECTIONS"):  # fmt: skip
        monkeypatch.setenv(f"INSUTRACE_{name}", os.environ.get(f"INSUTRACE_{name}", "1"))
    monkeypatch.setenv("INSUTRACE_LOG_FORMAT", "text")
    monkeypatch.setenv("INSUTRACE_DATABASE_URL", store_url)
    args = ["--home", str(tmp_path), "--db", store_url, "serve", "--header-timeout", "2.5",
            "--body-timeout", "7", "--keep-alive", "3", "--max-connections", "50",
            "--max-requests", "40", "--max-writes", "4"]  # fmt: skip
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert seen == [{"http": GuardedHttpToolsProtocol, "keep_alive": 3, "connections": 50,
                     "HEADER_TIMEOUT": "2.5", "BODY_TIMEOUT": "7.0", "MAX_REQUESTS": "40",
                     "MAX_WRITES": "4"}]  # fmt: skip
