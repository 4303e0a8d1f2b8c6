"""HTTP load test of the served write path, on loopback only, with its baselines.

For each backend (a SQLite file, then a fresh PostgreSQL schema) and each uvicorn worker
count it

1. creates a ledger and registers one manufacturer per client (server-held key, account)
   through the scenario builder (:class:`insutrace.demo.scenario.Scenario`);
2. starts ``insutrace serve --workers N`` on 127.0.0.1 (the server's own durability:
   ``INSUTRACE_SQLITE_SYNCHRONOUS`` as configured, PostgreSQL ``synchronous_commit`` on);
3. for each signing path — server-signed ``POST /v1/product.register`` (a bearer token, a
   unique ``Idempotency-Key`` and payload per request) and client-signed statements
   ``POST /v1/entries`` (v 2 statements signed here before the run: a statement names no
   log position, so nothing is ever re-signed) — and each client count, one load process
   apart from the server sends the prepared requests, each exactly once: Debian's ``wrk``
   (compiled, one keep-alive connection per client) running ``scripts/wrk/appends.lua``,
   or, where ``wrk`` is not installed, a Python asyncio process (which tops out far below
   the server: its figures say so); before them, a warm-up of each path (4 requests per
   client at the most clients) takes the newly started server's first requests — the
   first statements each worker prepares, the first write of each organisation — and is
   shown on lines of its own, checked like every run;
4. checks every answer (anything but a 2xx receipt is a failure, printed) and reports
   acknowledged appends per second of the whole run (first request sent to last answer
   received), p50/p99 latency, failures, and the server's CPU time per append (all its
   processes, from /proc);
5. stops the server and checks: every acknowledged entry is in the log at its seq with
   its leaf hash, nothing acknowledged twice, nothing appended unacknowledged, and the
   whole log verifies (``report.ok``).

Beside them, measured in the same run: raw Ed25519 verification per second (one core)
and an empty FastAPI ``POST`` on the same uvicorn set-up (``run_uvicorn`` of
``insutrace serve``) driven by the same load process.

    python scripts/loadtest.py            # workers 1, 2 and 4; 4, 16, 64 and 256 clients
    python scripts/loadtest.py --small    # CI: 1 worker, 8 clients, 200 requests per run
    python scripts/loadtest.py --workers 1 2 --clients 16 64 --backend sqlite

PostgreSQL comes from INSUTRACE_TEST_PG_URL (default postgresql://postgres@127.0.0.1/test);
it is skipped with a note when unreachable.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from insutrace.api.accounts import AccountStore, KeyVault
from insutrace.api.migrate import upgrade
from insutrace.demo.scenario import Scenario
from insutrace.trace.clock import SystemClock, format_time
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.entry import Statement, new_statement_id
from insutrace.trace.identifiers import gtin_check_digit
from insutrace.trace.keys import Signer, save_signer, verify_signature
from insutrace.trace.ledger import Ledger
from insutrace.trace.merkle import leaf_hash
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings
from insutrace.trace.store import open_store
from insutrace.trace.verify import verify_store

MASTER_KEY = "loadtest-only master key 0123456789abcdef"
ORIGIN = "loadtest.insutrace.local/log"
PG_URL = os.environ.get("INSUTRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TICKS = os.sysconf("SC_CLK_TCK")
WRK = shutil.which("wrk")
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "appends.lua"


@dataclass(frozen=True)
class Request:
    """One prepared request: sent once, never repeated."""

    path: str
    token: str
    key: str  # the Idempotency-Key ("" for none)
    body: bytes  # JSON on one line

    def line(self) -> bytes:
        return b"\t".join((self.path.encode(), self.token.encode(), self.key.encode(), self.body))


@dataclass
class Answers:
    """What the load process saw: each answer checked."""

    sent: int
    acks: list[tuple[int, str]]  # (seq, leaf) of each 2xx receipt
    ok: int  # 2xx answers (receipts or not)
    failures: dict[str, int]  # "status first bytes" -> how many
    seconds: float  # first request sent to last answer received
    p50: float  # ms
    p99: float  # ms


# The fallback load process (no wrk): reads {"url", "clients", "requests": [[path, token,
# key, body_b64], …]} on stdin, sends them over `clients` keep-alive connections, prints
# [[t0, t1, status, text], …].
PYTHON_LOAD = textwrap.dedent(
    """
    import asyncio, base64, json, sys, time
    import httpx

    job = json.load(sys.stdin)
    todo = list(reversed(job["requests"]))
    out = []

    async def worker(client):
        while todo:
            path, token, key, body = todo.pop()
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = "Bearer " + token
            if key:
                headers["Idempotency-Key"] = key
            t0 = time.perf_counter()
            try:
                r = await client.post(path, content=base64.b64decode(body), headers=headers)
                status, text = r.status_code, r.text
            except httpx.HTTPError as exc:
                status, text = 0, type(exc).__name__
            out.append([t0, time.perf_counter(), status, text if status < 300 else text[:300]])

    async def main():
        n = job["clients"]
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(base_url=job["url"], limits=limits, timeout=120) as client:
            await asyncio.gather(*(worker(client) for _ in range(n)))

    asyncio.run(main())
    json.dump(out, sys.stdout)
    """
)

EMPTY_APP = textwrap.dedent(
    """
    from fastapi import FastAPI, Request

    app = FastAPI()

    @app.post("/empty")
    async def empty(request: Request) -> dict[str, bool]:
        await request.body()
        return {"ok": True}
    """
)

# The empty endpoint on the same uvicorn set-up as `insutrace serve`: its own run_uvicorn.
EMPTY_SERVER = textwrap.dedent(
    """
    import sys

    from insutrace.cli.remote import run_uvicorn

    sys.path.insert(0, sys.argv[1])
    run_uvicorn(
        "127.0.0.1", int(sys.argv[2]), int(sys.argv[3]), app="empty_app:app", factory=False
    )
    """
)


@dataclass
class Run:
    label: str
    clients: int
    answers: Answers
    rate: float
    cpu_ms: float | None

    @property
    def acks(self) -> list[tuple[int, str]]:
        return self.answers.acks


def gtin(n: int) -> str:
    body = f"069{n:010d}"
    return body + gtin_check_digit(body)


def product(code: str) -> dict[str, Any]:
    return {
        "schema": 1,
        "gtin": code,
        "name": "挤塑聚苯板 load test",
        "type": "xps",
        "polymer": "polystyrene",
        "thermosetting": False,
        "standard": "GB/T 10801.2-2018",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def pg_schema() -> Iterator[str | None]:
    import psycopg

    schema = f"load_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error as exc:
        print(f"postgresql: skipped ({str(exc).strip().splitlines()[0]})")
        yield None
        return
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def prepare(settings: Settings, clients: int) -> tuple[Signer, list[tuple[Signer, str]]]:
    """Genesis, one manufacturer per client with a sealed key and an account."""
    root, log = Signer.generate("root"), Signer.generate(ORIGIN)
    save_signer(log, settings.log_key_path)
    upgrade(settings.database_url)
    store = open_store(settings.database_url)
    accounts = AccountStore(settings.database_url)
    vault = KeyVault(MASTER_KEY)
    ledger = Ledger(
        store, log_signer=NoteSigner(ORIGIN, log.private_key), types=REGISTRY, admission=ADMISSION
    )
    ledger.initialize(root, origin=ORIGIN)
    scenario, parties = Scenario(ledger, root, Signer.generate), []
    for i in range(clients):
        signer = scenario.org(f"client{i}", f"负载测试厂 {i}", "manufacturer",
                              address="北京市测试路1号")  # fmt: skip
        accounts.store_key(vault, signer)
        parties.append((signer, accounts.create_account(signer.actor, "manufacturer", "load")[1]))
    ledger.checkpoint()
    accounts.close()
    store.close()
    return root, parties


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (uvicorn's workers)."""
    total = 0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def wait_up(url: str, path: str, method: str = "GET") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.request(method, url + path, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start within 60 s")


@contextmanager
def serving(
    cmd: list[str], env: dict[str, str], url: str, probe: str, method: str
) -> Iterator[int]:
    """The server running ``cmd``; its log lines go to a file, shown if it fails."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_up(url, probe, method)
            yield proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, -signal.SIGTERM):
                log.seek(0)
                print(f"the server exited with {proc.returncode}:\n{log.read()[-3000:]}")


def insutrace_server(settings: Settings, workers: int, port: int) -> Any:
    env = {
        **os.environ,
        "INSUTRACE_HOME": str(settings.home),
        "INSUTRACE_DATABASE_URL": settings.database_url,
        "INSUTRACE_MASTER_KEY": MASTER_KEY,
        "INSUTRACE_ORIGIN": ORIGIN,
    }
    cmd = [
        sys.executable, "-m", "insutrace.cli", "--home", str(settings.home),
        "--db", settings.database_url,
        "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    return serving(cmd, env, f"http://127.0.0.1:{port}", "/v1/head", "GET")


def empty_server(directory: Path, workers: int, port: int) -> Any:
    (directory / "empty_app.py").write_text(EMPTY_APP, encoding="utf-8")
    cmd = [sys.executable, "-c", EMPTY_SERVER, str(directory), str(port), str(workers)]
    return serving(cmd, dict(os.environ), f"http://127.0.0.1:{port}", "/empty", "POST")


def _failure(failures: dict[str, int], status: int, text: str) -> None:
    key = f"{status} {' '.join(text.split())[:100]}"
    failures[key] = failures.get(key, 0) + 1


def _receipt(status: int, text: str) -> tuple[int, str] | None:
    """(seq, leaf) of a 2xx answer that is a write's receipt."""
    if not 200 <= status < 300 or not text.startswith("{"):
        return None
    answer = json.loads(text)
    if not isinstance(answer, dict) or "seq" not in answer or "leaf" not in answer:
        return None
    return int(answer["seq"]), str(answer["leaf"])


def load_wrk(url: str, clients: int, requests: list[Request], threads: int) -> Answers:
    """Send ``requests`` once each with ``wrk`` (its own process, ``threads`` threads)."""
    assert WRK is not None
    threads = max(1, min(threads, clients))
    with tempfile.TemporaryDirectory(prefix="insutrace-wrk-") as tmp:
        todo, out = Path(tmp) / "requests", Path(tmp) / "answers"
        todo.write_bytes(b"\n".join(r.line() for r in requests) + b"\n")
        cmd = [
            WRK, "-t", str(threads), "-c", str(clients), "-d", "3600s", "--timeout", "120s",
            "-s", str(WRK_SCRIPT), url, "--", str(todo), str(out), str(threads),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        files = [Path(f"{out}.{i}") for i in range(threads)]
        deadline = time.monotonic() + 120 + len(requests) / 20
        while not all(f.exists() for f in files) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)  # every thread is done: wrk prints its summary
        stdout, stderr = proc.communicate(timeout=30)
        summary = [line for line in stdout.splitlines() if line.startswith("{")]
        if not summary:
            raise RuntimeError(f"wrk failed: {stderr.strip()[-500:] or stdout[-500:]}")
        stats = json.loads(summary[-1])
        acks: list[tuple[int, str]] = []
        failures: dict[str, int] = {}
        ok, answered, first, last = 0, 0, [], []
        for f in files:
            if not f.exists():
                continue
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
            _, t0, t1 = lines[0].split()
            first.append(int(t0))
            last.append(int(t1))
            for line in lines[1:]:
                kind, status, *rest = line.split(" ", 3)
                answered += 1
                if kind == "A":
                    ok += 1
                    acks.append((int(rest[0]), rest[1]))
                elif kind == "O":
                    ok += 1
                else:
                    _failure(failures, int(status), " ".join(rest))
    for name in ("connect", "read", "write", "timeout"):
        if stats[name]:
            _failure(failures, 0, f"wrk socket errors ({name}): {stats[name]}")
    if answered < len(requests):
        _failure(failures, 0, f"no answer to {len(requests) - answered} requests")
    seconds = (max(last) - min(first)) / 1e9 if first else float("inf")
    return Answers(
        len(requests), acks, ok, failures, seconds, stats["p50_us"] / 1e3, stats["p99_us"] / 1e3
    )


def load_python(url: str, clients: int, requests: list[Request]) -> Answers:
    """Send ``requests`` from a Python process (when ``wrk`` is not installed)."""
    todo = [[r.path, r.token, r.key, base64.b64encode(r.body).decode()] for r in requests]
    job = json.dumps({"url": url, "clients": clients, "requests": todo})
    done = subprocess.run(
        [sys.executable, "-c", PYTHON_LOAD], input=job, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load process failed: {done.stderr.strip()[-500:]}")
    results: list[Any] = json.loads(done.stdout)
    acks, failures, ok = [], {}, 0
    for _, _, status, text in results:
        if 200 <= status < 300:
            ok += 1
            receipt = _receipt(status, text)
            if receipt is not None:
                acks.append(receipt)
        else:
            _failure(failures, status, text)
    ms = sorted((r[1] - r[0]) * 1000 for r in results)
    seconds = max(r[1] for r in results) - min(r[0] for r in results)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return Answers(len(requests), acks, ok, failures, seconds, statistics.median(ms), p99)


def measure(
    label: str,
    url: str,
    pid: int,
    clients: int,
    requests: list[Request],
    *,
    appends: bool,
    args: argparse.Namespace,
) -> Run:
    cpu0 = cpu_seconds(pid)
    if args.generator == "wrk":
        answers = load_wrk(url, clients, requests, args.wrk_threads)
    else:
        answers = load_python(url, clients, requests)
    cpu = cpu_seconds(pid) - cpu0
    done = len(answers.acks) if appends else answers.ok
    return Run(
        label=label,
        clients=clients,
        answers=answers,
        rate=done / answers.seconds,
        cpu_ms=cpu * 1000 / done if done else None,
    )


class Requests:
    """Prepared bodies: server-signed payloads and client-signed statements, each unique."""

    def __init__(self, parties: list[tuple[Signer, str]]) -> None:
        self.parties = parties
        self.n = 0
        self.clock = SystemClock()

    def batch(self, path: str, count: int) -> list[Request]:
        out = []
        for i in range(count):
            signer, token = self.parties[i % len(self.parties)]
            self.n += 1
            payload = product(gtin(self.n))
            if path == "server-signed":
                body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
                out.append(Request("/v1/product.register", token, uuid.uuid4().hex, body))
                continue
            statement = Statement(
                type="product.register",
                actor=signer.actor,
                key=signer.key_id,
                time=format_time(self.clock.now()),
                payload=payload,
                id=new_statement_id(),
            ).signed(signer)
            out.append(Request("/v1/entries", token, "", statement.to_bytes()))
        return out


def check(url: str, root: Signer, runs: list[Run], before: int) -> str:
    store = open_store(url)
    try:
        report = verify_store(store, root_key=root.public_b64)
        if not report.ok:
            return f"FORK/INVALID: {report.error}"
        acks = [a for r in runs for a in r.acks]
        with store.read() as tx:
            size = tx.head()[0]
            for seq, leaf in acks:
                rows = tx.entries(seq, seq + 1)
                if not rows or leaf_hash(rows[0]).hex() != leaf:
                    return f"LOST acknowledged entry {seq}"
        if len({s for s, _ in acks}) != len(acks):
            return "one seq acknowledged twice"
        if size - before != len(acks):
            return f"{size - before} entries appended but {len(acks)} acknowledged"
        return f"report.ok: {report.size} entries and {report.checkpoints} checkpoints verified"
    finally:
        store.close()


def run_backend(
    name: str, url: str, home: Path, workers: int, args: argparse.Namespace
) -> tuple[list[Run], str]:
    settings = Settings(home=home, database_url=url, origin=ORIGIN, master_key=MASTER_KEY)
    root, parties = prepare(settings, max(args.clients))
    with open_store(url).read() as tx:
        before = tx.head()[0]
    bodies, runs = Requests(parties), []
    port = free_port()
    with insutrace_server(settings, workers, port) as pid:
        base = f"http://127.0.0.1:{port}"
        most = max(args.clients)
        for path in ("server-signed", "client-signed"):  # the newly started server's first
            label = f"{name} w{workers} {path} warm-up"  # requests: shown, checked, apart
            batch = bodies.batch(path, most * 4)
            runs.append(measure(label, base, pid, most, batch, appends=True, args=args))
        for path in ("server-signed", "client-signed"):
            for clients in args.clients:
                count = max(args.requests, clients * 4)
                label = f"{name} w{workers} {path}"
                batch = bodies.batch(path, count)
                runs.append(measure(label, base, pid, clients, batch, appends=True, args=args))
    return runs, check(url, root, runs, before)


def ed25519_verify_rate(n: int) -> float:
    signer = Signer.generate("bench")
    message = b"x" * 400
    sig = signer.sign(message)
    start = time.perf_counter()
    for _ in range(n):
        verify_signature(signer.public_key, sig, message)
    return n / (time.perf_counter() - start)


def show(run: Run, baseline: float | None) -> None:
    ratio = f"{run.rate / baseline:>6.3f}" if baseline else "     -"
    cpu = f"{run.cpu_ms:>7.2f}" if run.cpu_ms is not None else "      -"
    a = run.answers
    failures = ", ".join(f"{v}× {k}" for k, v in sorted(a.failures.items())) or "none"
    print(
        f"{run.label:<40} {run.clients:>4} {a.sent:>6} {run.rate:>8.1f} {ratio} "
        f"{a.p50:>7.1f} {a.p99:>7.1f} {cpu}  failures: {failures}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI sizes")
    parser.add_argument("--workers", type=int, nargs="+", help="uvicorn worker counts")
    parser.add_argument("--clients", type=int, nargs="+", help="concurrent client counts")
    parser.add_argument("--requests", type=int, help="requests per run (at least 4 per client)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--generator",
        choices=["wrk", "python"],
        default="wrk" if WRK else "python",
        help="the load process (default: wrk when installed)",
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk's threads [1]")
    args = parser.parse_args()
    small = {"workers": [1], "clients": [8], "requests": 200}
    full = {"workers": [1, 2, 4], "clients": [4, 16, 64, 256], "requests": 3000}
    for key, value in (small if args.small else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.generator == "wrk" and WRK is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")

    verify_rate = ed25519_verify_rate(2000 if args.small else 20000)
    results: list[tuple[list[Run], str]] = []
    empty: dict[tuple[int, int], Run] = {}
    with tempfile.TemporaryDirectory(prefix="insutrace-load-") as tmp:
        for workers in args.workers:
            port = free_port()
            with empty_server(Path(tmp), workers, port) as pid:
                for clients in args.clients:
                    count = max(args.requests, clients * 4)
                    reqs = [Request("/empty", "", "", b'{"x":%d}' % i) for i in range(count)]
                    label = f"empty FastAPI POST w{workers}"
                    url = f"http://127.0.0.1:{port}"
                    run = measure(label, url, pid, clients, reqs, appends=False, args=args)
                    empty[(workers, clients)] = run
            for backend in ("sqlite", "postgresql"):
                if args.backend not in (backend, "both"):
                    continue
                home = Path(tmp) / f"{backend}-{workers}"
                if backend == "sqlite":
                    url = f"sqlite:///{home}/ledger.db"
                    results.append(run_backend("sqlite", url, home, workers, args))
                    continue
                with pg_schema() as pg:
                    if pg is not None:
                        results.append(run_backend("postgresql", pg, home, workers, args))

    cores = os.cpu_count() or 1
    generator = f"wrk ({args.wrk_threads} thread)" if args.generator == "wrk" else "Python"
    print(f"\nload test on loopback, {cores} cores; load from a separate process: {generator}")
    print(f"raw Ed25519 verify (one core): {verify_rate:,.0f}/s")
    print(
        f"{'run':<40} {'cl':>4} {'sent':>6} {'acks/s':>8} {'×empty':>6} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>7}  (CPU: server's, per append)"
    )
    failed = False
    for run in empty.values():
        show(run, None)
        failed |= bool(run.answers.failures)
    for runs, verdict in results:
        for run in runs:
            workers = int(run.label.split(" w")[1].split()[0])
            show(run, empty[(workers, run.clients)].rate)
            failed |= bool(run.answers.failures)
        print(f"  check: {verdict}")
        failed |= not verdict.startswith("report.ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
