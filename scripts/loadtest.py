"""HTTP load test: several uvicorn workers, many concurrent clients, on loopback only.

For each backend (a SQLite file, then a fresh PostgreSQL schema) it

1. creates a ledger, registers one manufacturer per client through the scenario builder
   (:class:`insutrace.demo.scenario.Scenario`; server-held keys, accounts),
   and measures the library-level append rate on that same database;
2. starts ``uvicorn --workers N`` on 127.0.0.1 (a free port) and drives M client threads
   for at most R requests or T seconds: mostly server-signed ``product.register``, every
   fifth a client-signed one (local key, ``POST /v1/entries``, re-signed on a stale head);
3. stops the server and checks: no 5xx, every acknowledged entry is in the log at its seq
   with its leaf hash, nothing logged twice, and the whole log verifies (no fork).

    python scripts/loadtest.py            # 4 workers, 16 clients, 2,000 requests, ≤ 60 s
    python scripts/loadtest.py --small    # CI: 2 workers, 4 clients, 200 requests, ≤ 20 s

PostgreSQL comes from INSUTRACE_TEST_PG_URL (default postgresql://postgres@127.0.0.1/test);
it is skipped with a note when unreachable.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from insutrace.api.accounts import AccountStore, KeyVault
from insutrace.api.client import Client
from insutrace.api.migrate import upgrade
from insutrace.demo.scenario import Scenario, uscc
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.errors import LedgerError
from insutrace.trace.identifiers import gtin_check_digit
from insutrace.trace.keys import Signer, save_signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.merkle import leaf_hash
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings
from insutrace.trace.store import open_store
from insutrace.trace.verify import verify_store

MASTER_KEY = "loadtest-only master key 0123456789abcdef"
ORIGIN = "loadtest.insutrace.local/log"
PG_URL = os.environ.get("INSUTRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    acks: list[tuple[int, str]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, outcome: str, ack: tuple[int, str] | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[outcome] = self.statuses.get(outcome, 0) + 1
            if ack is not None:
                self.acks.append(ack)


def gtin(client: int, n: int) -> str:
    body = f"069{client:04d}{n:06d}"
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


def library_rate(settings: Settings, root: Signer, count: int) -> float:
    """Entries per second through ``Ledger.append`` on the same database, no HTTP."""
    store = open_store(settings.database_url)
    ledger = Ledger(store, types=REGISTRY, admission=ADMISSION)
    scenario = Scenario(ledger, root, Signer.generate)
    maker = scenario.org("maker", "library rate", "manufacturer", code=uscc(9999),
                         address="北京市测试路2号")  # fmt: skip
    start = time.perf_counter()
    for n in range(count):
        ledger.append("product.register", product(gtin(9999, n)), maker)
    rate = count / (time.perf_counter() - start)
    store.close()
    return rate


@contextmanager
def server(settings: Settings, workers: int) -> Iterator[str]:
    port = free_port()
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
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v1/head", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def drive(
    url: str, n: int, signer: Signer, token: str, quota: int, stop: float, stats: Stats, every: int
) -> None:
    with Client(url, token=token, signer=signer, retries=50, timeout=60) as client:
        for k in range(quota):
            if time.monotonic() > stop:
                return
            payload = product(gtin(n, k))
            t0 = time.perf_counter()
            ack, outcome = None, "2xx"
            try:
                if every and k % every == every - 1:
                    receipt = client.append("product.register", payload)
                else:
                    receipt = client.write("product.register", payload)
                ack = (int(receipt["seq"]), str(receipt["leaf"]))
            except LedgerError as exc:
                outcome = "5xx" if "(HTTP 5" in str(exc) else f"4xx {type(exc).__name__}"
            except httpx.TransportError as exc:
                outcome = f"transport {type(exc).__name__}"
            stats.record(time.perf_counter() - t0, outcome, ack)


def check(settings: Settings, root: Signer, stats: Stats, before: int) -> str:
    store = open_store(settings.database_url)
    try:
        report = verify_store(store, root_key=root.public_b64)
        if not report.ok:
            return f"FORK/INVALID: {report.error}"
        with store.read() as tx:
            size = tx.head()[0]
            for seq, leaf in stats.acks:
                rows = tx.entries(seq, seq + 1)
                if not rows or leaf_hash(rows[0]).hex() != leaf:
                    return f"LOST acknowledged entry {seq}"
        if len({s for s, _ in stats.acks}) != len(stats.acks):
            return "one seq acknowledged twice"
        if size - before != len(stats.acks):
            return f"{size - before} entries appended but {len(stats.acks)} acknowledged"
        return f"ok ({report.size} entries verified)"
    finally:
        store.close()


def run_backend(name: str, url: str, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(home=home, database_url=url, origin=ORIGIN, master_key=MASTER_KEY)
    root, parties = prepare(settings, args.clients)
    lib = library_rate(settings, root, args.library)
    with open_store(url).read() as tx:
        before = tx.head()[0]
    stats = Stats()
    quota = -(-args.requests // args.clients)
    with server(settings, args.workers) as base:
        stop = time.monotonic() + args.seconds
        start = time.perf_counter()
        threads = [
            threading.Thread(
                target=drive,
                args=(base, n, s, t, quota, stop, stats, args.client_signed_every),
            )
            for n, (s, t) in enumerate(parties)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
    ms = sorted(x * 1000 for x in stats.latencies)
    return {
        "backend": name,
        "library": lib,
        "requests": len(ms),
        "throughput": len(stats.acks) / elapsed,
        "p50": statistics.median(ms) if ms else 0.0,
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else 0.0,
        "statuses": stats.statuses,
        "check": check(settings, root, stats, before),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="CI sizes")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--clients", type=int)
    parser.add_argument("--requests", type=int, help="total HTTP requests (upper bound)")
    parser.add_argument("--seconds", type=float, help="time bound of the HTTP phase")
    parser.add_argument("--library", type=int, help="appends for the library-level rate")
    parser.add_argument(
        "--client-signed-every", type=int, default=5, help="every k-th request signed locally"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    small = {"workers": 2, "clients": 4, "requests": 200, "seconds": 20.0, "library": 200}
    full = {"workers": 4, "clients": 16, "requests": 2000, "seconds": 60.0, "library": 1000}
    for key, value in (small if args.small else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    results = []
    with tempfile.TemporaryDirectory(prefix="insutrace-load-") as tmp:
        if args.backend in ("sqlite", "both"):
            home = Path(tmp) / "sqlite"
            results.append(run_backend("sqlite", f"sqlite:///{home}/ledger.db", home, args))
        if args.backend in ("postgresql", "both"):
            with pg_schema() as url:
                if url is not None:
                    results.append(run_backend("postgresql", url, Path(tmp) / "pg", args))
    print(
        f"\nload test: {args.workers} uvicorn workers, {args.clients} clients, "
        f"≤ {args.requests} requests, ≤ {args.seconds:.0f} s, loopback only"
    )
    print(f"{'backend':<11} {'library/s':>10} {'HTTP/s':>8} {'p50 ms':>8} {'p99 ms':>8}  check")
    failed = False
    for r in results:
        print(
            f"{r['backend']:<11} {r['library']:>10.0f} {r['throughput']:>8.1f} "
            f"{r['p50']:>8.1f} {r['p99']:>8.1f}  {r['check']}; {r['requests']} requests: "
            + ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        )
        bad = any(k.startswith(("5xx", "transport")) for k in r["statuses"])
        failed |= bad or not r["check"].startswith("ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
