#!/usr/bin/env python3
"""Ledger benchmarks. Prints figures; asserts nothing (the machine is noisy).

Every rate is printed beside the raw Ed25519 sign and verify rates measured in
the same run, as a ratio, with the target from the ledger-core issue:

  append (real entry types and rules, one checkpoint per batch, the server's durability:
  scripts/bench_append.py), per batch size     >= 1,500/s on 2 cores; printed as a
                                                  ratio of raw Ed25519 sign+verify
  full verification             >= 80 % of the raw verify rate x cores used
                                 (bench_verify.py: a served-like ledger, 1 and 2 jobs)
  inclusion proof at 10^6       <  5 ms
  storage per entry             <= 2 x entry bytes + 64

    python scripts/bench.py            full sizes (10^5 and 10^6 entries: minutes)
    python scripts/bench.py --small    CI sizes (seconds)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_append  # scripts/: the append figure's world and workload
import bench_verify  # scripts/: the verification figure's served-like ledger
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from insutrace.api.migrate import upgrade
from insutrace.trace.actors import TYPES, Context
from insutrace.trace.entrytype import EntryType, Record, Registry, by_field
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import Store, open_store

ORIGIN = "bench.insutrace.local/ledger"
PG_URL = os.environ.get("INSUTRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _note(ctx: Context) -> None:
    ctx.ref(f"batch:{ctx.entry.payload['batch']}")


NOTE = EntryType(
    "bench.note", "基准测试记录", "Benchmark note", _note, frozenset(),
    "Nobody through the API: written by this benchmark only.",
    epcis=None, records=(Record("batch", by_field("batch")),), admitted=False,
    fields="batch, lot, quantity {value, unit}, class, lambda, note",
)  # fmt: skip
TYPES_WITH_NOTE = Registry((*TYPES, NOTE))


def signer(name: str) -> Signer:
    return Signer.from_seed(name, b"insutrace-bench-only:" + name.encode())


def payload(i: int) -> dict[str, Any]:
    """About the size of a real batch or custody entry."""
    return {
        "batch": f"91350100M000100Y43/L2026{i % 997:04d}",
        "lot": f"L2026-11-{i:07d}",
        "quantity": {"value": "1200.000", "unit": "m2"},
        "class": "GB 8624 B1(B-s1,d0,t1)",
        "lambda": "0.032",
        "note": "挤塑聚苯乙烯泡沫塑料板 XPS board, 50 mm",
    }


def new_ledger(url: str) -> Ledger:
    upgrade(url)
    store = open_store(url)
    ledger = Ledger(
        store, log_signer=NoteSigner(ORIGIN, signer(ORIGIN).private_key), types=TYPES_WITH_NOTE
    )
    root, org = signer("root"), signer("bench-org")
    ledger.initialize(root, origin=ORIGIN)
    ledger.append(
        "actor.register", {"id": org.actor, "public_key": org.public_b64, "name": "Bench"}, root
    )
    return ledger


def rate(n: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def raw_ed25519(n: int) -> tuple[float, float]:
    key = Ed25519PrivateKey.generate()
    pub, msg = key.public_key(), os.urandom(400)
    sig = key.sign(msg)
    sign = rate(n, lambda: [key.sign(msg) for _ in range(n)] and None)
    verify = rate(n, lambda: [pub.verify(sig, msg) for _ in range(n)] and None)
    return sign, verify


def append_one_by_one(ledger: Ledger, n: int, offset: int = 0) -> None:
    org = signer("bench-org")
    for i in range(n):
        ledger.append("bench.note", payload(offset + i), org)


def bulk_load(ledger: Ledger, n: int, batch: int = 1000) -> None:
    org = signer("bench-org")
    done = 0
    while done < n:
        k = min(batch, n - done)
        ledger.append_batch([("bench.note", payload(done + i), org) for i in range(k)])
        done += k


def _writer(url: str, n: int, offset: int, ready: Any, go: Any) -> None:
    store = open_store(url)
    ledger = Ledger(store, types=TYPES_WITH_NOTE)
    ready.release()
    go.wait()
    append_one_by_one(ledger, n, offset)
    store.close()


def several_writers(url: str, writers: int, n: int) -> float:
    """Writer processes start, open the store, then all begin appending at once."""
    ctx = mp.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_writer, args=(url, n, w * n, ready, go)) for w in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"writer exited with {p.exitcode}")
    return writers * n / (time.perf_counter() - start)


def proof_latency(ledger: Ledger, size: int, samples: int) -> tuple[float, float, float]:
    rng = random.Random(size)
    times = []
    for _ in range(samples):
        i = rng.randrange(size)
        t = time.perf_counter()
        ledger.inclusion_proof(i, size)
        times.append(time.perf_counter() - t)
    ctimes = []
    for _ in range(samples):
        old = rng.randrange(1, size)
        t = time.perf_counter()
        ledger.consistency_proof(old, size)
        ctimes.append(time.perf_counter() - t)
    times.sort()
    return (
        statistics.median(times) * 1e3,
        times[int(len(times) * 0.99) - 1] * 1e3,
        statistics.median(ctimes) * 1e3,
    )


def mean_entry_bytes(store: Store, sample: int = 2000) -> float:
    with store.read() as tx:
        size = tx.head()[0]
        bodies = tx.entries(max(0, size - sample), size)
    return sum(map(len, bodies)) / len(bodies)


def pg_url() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        print(f"  (PostgreSQL skipped: {str(exc).splitlines()[0]})")
        return None
    return PG_URL


class PgSchema:
    def __enter__(self) -> str:
        import psycopg

        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.name}")
        base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{self.name}"

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.name} CASCADE")


def line(label: str, value: str, ratio: str = "", target: str = "") -> None:
    print(f"  {label:<44} {value:>16} {ratio:>16}  {target}")


class Baseline:
    """Raw Ed25519 verification, re-measured around every figure: the machine is shared
    and noisy, so each ratio uses the mean of the rates just before and just after it."""

    def __init__(self) -> None:
        key = Ed25519PrivateKey.generate()
        self.pub, self.msg = key.public_key(), os.urandom(400)
        self.sig = key.sign(self.msg)

    def verify_rate(self, seconds: float = 0.25) -> float:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(100):
                self.pub.verify(self.sig, self.msg)
            n += 100
        return n / (time.perf_counter() - start)

    def ratio(self, fn: Callable[[], float]) -> tuple[float, float]:
        """Run ``fn`` (which returns a rate) between two baseline readings."""
        before = self.verify_rate()
        value = fn()
        return value, value / ((before + self.verify_rate()) / 2)


def figure(base: Baseline, label: str, fn: Callable[[], float], target: str = "") -> None:
    value, ratio = base.ratio(fn)
    line(label, f"{value:,.0f}/s", f"{ratio:.0%} of verify", target)


def appends(n: int) -> None:
    """The append figure: ``Ledger.admit`` of the everyday domain mix (batch.register,
    custody.ship, custody.receive, label.scan, each with its statement id) in batches of
    1, 8, 32 and 128 as the sequencer hands them over — the domain's rules and admission
    checks, one checkpoint signed per batch, durable commits: SQLite WAL with
    ``synchronous=NORMAL`` as the server runs (survives a killed process) and ``FULL``
    (survives power loss too), PostgreSQL with ``synchronous_commit`` on. Each rate is a
    ratio of raw Ed25519 sign+verify pairs measured just before and after it."""
    sizes = [1, 8, 32, 128]
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("NORMAL", "FULL"):
            _appends(f"SQLite {sync}", f"sqlite:///{Path(tmp) / sync}.db", sync, sizes, n)
    with bench_append.pg_schema() as pg:
        if pg is not None:
            _appends("PostgreSQL", pg, "NORMAL", sizes, n)


def _appends(label: str, url: str, sync: str, sizes: list[int], n: int) -> None:
    ledger = bench_append.domain_ledger(url, sqlite_synchronous=sync)
    work = bench_append.Workload(ledger)
    bench_append.measure(ledger, work, 8, 64)  # warm
    for size in sizes:
        fig = bench_append.measure(ledger, work, size, max(n // 4, size) if size == 1 else n)
        line(
            f"append, {label}, batch {size} ({fig.entries})",
            f"{fig.rate:,.0f}/s",
            f"{fig.rate / fig.baseline:.0%} of sign+verify",
            f"{fig.cpu_us:,.0f} µs CPU, {fig.statements:.1f} SQL/entry",
        )
    ledger.store.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--small", action="store_true", help="CI sizes")
    args = ap.parse_args()
    n_append = 1500 if args.small else 20000
    n_batched = 256 if args.small else 2048
    n_writer = 150 if args.small else 2000
    proof_sizes = [10_000] if args.small else [100_000, 1_000_000]

    sign_rate, verify_rate = raw_ed25519(2000 if args.small else 20000)
    base = Baseline()
    print(
        f"InsuTrace ledger benchmarks ({'small' if args.small else 'full'} sizes, "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}); ratios against raw "
        "Ed25519 verification measured just before and after each figure"
    )
    line("raw Ed25519 sign (1 core)", f"{sign_rate:,.0f}/s", "baseline")
    line("raw Ed25519 verify (1 core)", f"{verify_rate:,.0f}/s", "baseline")

    appends(n_batched)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        ledger = new_ledger(url)
        figure(
            base,
            "load, trivial entries, 100 per tx, no checkpoint",
            lambda: rate(n_append, lambda: bulk_load(ledger, n_append, 100)),
        )
        figure(
            base,
            f"lock hand-off: 4 processes, trivial entries ({4 * n_writer})",
            lambda: several_writers(url, 4, n_writer),
        )
        ledger.store.close()

    bench_verify.section(args.small)  # full verification: a served-like ledger, 1 and 2 jobs

    if pg_url():
        with PgSchema() as url:
            ledger = new_ledger(url)
            figure(
                base,
                f"lock hand-off: 4 processes, trivial, PostgreSQL ({4 * n_writer})",
                lambda: several_writers(url, 4, n_writer),
            )
            ledger.store.close()

    for size in proof_sizes:
        with tempfile.TemporaryDirectory() as tmp:
            ledger = new_ledger(f"sqlite:///{Path(tmp) / 'proofs.db'}")
            todo = size - ledger.size()
            figure(
                base,
                f"bulk load, SQLite, 1000 per tx ({size:,})",
                lambda: rate(todo, lambda: bulk_load(ledger, todo)),  # noqa: B023 (runs now)
            )
            p50, p99, c50 = proof_latency(ledger, ledger.size(), 200)
            line(
                f"inclusion proof at {size:,}: p50 / p99",
                f"{p50:.2f} / {p99:.2f} ms",
                "",
                "< 5 ms at 10^6",
            )
            line(f"consistency proof at {size:,}: p50", f"{c50:.2f} ms")
            stored, entry = (
                ledger.store.size_bytes() / ledger.size(),
                mean_entry_bytes(ledger.store),
            )
            line(
                f"storage per entry at {size:,}",
                f"{stored:,.0f} B",
                f"entry {entry:,.0f} B",
                f"<= {2 * entry + 64:,.0f} B",
            )
            ledger.store.close()


if __name__ == "__main__":
    main()
