#!/usr/bin/env python3
"""Back-trace benchmarks at scale. Prints figures; asserts nothing (the machine is noisy).

Builds a log of real domain entries through the scenario builder
(:class:`insutrace.demo.scenario.Scenario`) in bulk loads, a thousand entries per
``Ledger.append_batch`` (the full domain handlers run on every entry; SQLite with
``synchronous=OFF`` for the build only): projects of 20 wall sections, each supplied by
four batches through a distributor, with factory reports, arrival inspections, witnessed
re-tests and installations; plus one "hot" batch installed in 1,000 walls (10 projects of
100 sections). Then it measures, each query in its own read transaction, p50 and p99,
the p50 as a multiple of one indexed projection read measured in the same run, and the
CPU-time p50 and p99 of the same runs (the machine is shared: the CPU time and the
multiple are the figures to compare across sizes):

  back-trace of one wall (upstream + recall lists)   target p99 < 100 ms at 10^6 entries
  recall list of the batch installed in 1,000 walls   target p99 < 100 ms at 10^6 entries

With ``--sizes``, one ledger is grown to each size in turn and measured there: the cost
of a query must not grow with the log.

    python scripts/bench_backtrace.py              10^6 entries (SQLite; tens of minutes)
    python scripts/bench_backtrace.py --small      ~20,000 entries (CI; seconds)
    python scripts/bench_backtrace.py --sizes 100000,250000,1000000 [--verify]
    python scripts/bench_backtrace.py --pg         PostgreSQL (INSUTRACE_TEST_PG_URL, own schema)
    python scripts/bench_backtrace.py --entries N --db sqlite:///… (kept; measured again later)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from insutrace.api.migrate import upgrade
from insutrace.demo.scenario import Scenario, section
from insutrace.trace.backtrace import trace_section
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.domain.read import recall_list
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store
from insutrace.trace.verify import default_jobs, verify_store

ORIGIN = "bench.insutrace.local/backtrace"
PG_URL = os.environ.get("INSUTRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def signer(name: str) -> Signer:
    return Signer.from_seed(name, b"insutrace-bench-only:" + name.encode())


def setup(s: Scenario) -> str:
    """The six parties and the one product every batch is a lot of; its GTIN."""
    s.trade_parties()
    s.site_parties()
    return s.product()


def site(s: Scenario, sections: int, area: int) -> str:
    """A project of ``sections`` walls of ``area`` m², briefed; its id."""
    walls = [section(f"S{i:03d}", f"墙{i}", f"f{i:03d}", str(area)) for i in range(sections)]
    project = s.project(walls)
    s.brief(project)
    return project


def stocked_batch(s: Scenario, product: str, qty: str) -> str:
    """A batch with its factory report, delivered in full to the distributor."""
    batch = s.qualified_batch(product, qty)
    s.deliver("maker", "dist", batch, qty)
    return batch


def ordinary_project(s: Scenario, product: str) -> str:
    """20 sections of 50 m², four batches of 300 m² (each into five sections)."""
    project = site(s, 20, 50)
    for b in range(4):
        batch = stocked_batch(s, product, "300")
        s.on_site(project, batch, "260", sender="dist")
        for i in range(b * 5, b * 5 + 5):
            s.install(project, batch, "50", "50", f"S{i:03d}")
    return project


def hot(s: Scenario, product: str, projects: int = 10, sections: int = 100) -> tuple[str, list[str]]:  # fmt: skip
    """One batch installed in ``projects`` x ``sections`` walls of 10 m²."""
    per_site = str(sections * 10 + 2)
    batch = stocked_batch(s, product, str(projects * (sections * 10 + 2)))
    names = []
    for _ in range(projects):
        project = site(s, sections, 10)
        names.append(project)
        s.on_site(project, batch, per_site, sender="dist")
        for i in range(sections):
            s.install(project, batch, "10", "10", f"S{i:03d}")
    return batch, names


def build(
    ledger: Ledger, s: Scenario, target: int, world: dict[str, Any]
) -> tuple[str, list[tuple[str, str]]]:
    """Bulk-load until the log holds ``target`` entries; the hot batch and sample walls.

    ``world`` carries what an earlier call built (the product, the hot batch, the walls),
    so the log can be grown size after size."""
    started, shown = time.perf_counter(), ledger.size() // 50_000
    with s.bulk():
        if not world:
            product = setup(s)
            batch, hot_projects = hot(s, product)
            world.update(product=product, hot=batch, hot_wall=[hot_projects[0], "S000"], walls=[])
        walls: list[list[str]] = world["walls"]
        base, written = ledger.size(), s.written  # the scenario counts what it ever wrote
        while base + s.written - written < target:
            walls.append([ordinary_project(s, world["product"]), f"S{len(walls) % 20:03d}"])
            size = base + s.written - written
            if size // 50_000 > shown:
                shown = size // 50_000
                rate = (size - base) / (time.perf_counter() - started)
                print(f"  … {size:,} entries ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    return world["hot"], [(p, w) for p, w in walls] + [(world["hot_wall"][0], world["hot_wall"][1])]


CPU: list[float] = []  # the CPU time of every query timed, in step with what timed() returns


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Wall-clock milliseconds of ``n`` runs (their CPU milliseconds go to :data:`CPU`)."""
    out = []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t) * 1000)
        CPU.append((time.process_time() - c) * 1000)
    return out


def pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, int(len(ms) * q))]


def summary(label: str, ms: list[float], base: float, target: str) -> None:
    """Wall-clock p50/p99, the p50 as a multiple of the baseline read, and the CPU-time
    p50/p99 of the same runs (what a machine shared with other work cannot inflate)."""
    cpu = CPU[-len(ms) :]
    p50, p99 = statistics.median(ms), pct(ms, 0.99)
    print(f"  {label:<40} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  p50 = {p50 / base:6.1f} x read;"
          f"  CPU p50 {statistics.median(cpu):6.2f} ms  p99 {pct(cpu, 0.99):6.2f} ms"
          f"  (n={len(ms)}; target {target})")  # fmt: skip


def measure(ledger: Ledger, hot: str, walls: list[tuple[str, str]], samples: int) -> None:
    """p50/p99 of each query, each in its own read transaction, with its p50 as a multiple
    of the baseline measured in the same run: one indexed projection read (the hot batch's
    row, in its own read transaction)."""
    store = ledger.store
    rng = random.Random(6)
    picks = [rng.choice(walls[:-1]) for _ in range(samples)]

    def wall(project: str, section: str) -> Callable[[], object]:
        def run() -> object:
            with store.read() as tx:
                return trace_section(tx, project, section).to_json()

        return run

    def hot_recall() -> object:
        with store.read() as tx:
            return recall_list(tx, hot)

    def one_read() -> object:
        with store.read() as tx:
            return tx.get("batch", hot)

    timed(one_read, 50)  # warm
    base = statistics.median(timed(one_read, 500))
    print(f"  baseline: one indexed projection read {base:.3f} ms (p50 of 500; "
          f"CPU {statistics.median(CPU[-500:]):.3f} ms)")  # fmt: skip
    ms = [timed(wall(p, s), 1)[0] for p, s in picks]
    summary("back-trace of one wall (typical)", ms, base, "p99 < 100 ms")
    project, section = walls[-1]
    rounds = max(30, samples // 2)
    summary("back-trace of a wall of the hot batch", timed(wall(project, section), rounds), base,
            "p99 < 100 ms")  # fmt: skip
    summary("recall list of a batch in 1,000 walls", timed(hot_recall, rounds), base,
            "p99 < 100 ms")  # fmt: skip
    # The p99 tail above is the cyclic garbage collector's full collections, whose cost is
    # every object the process holds (its imported modules first): a server that freezes
    # them after start-up (gc.freeze()) scans only what a request made.
    gc.collect()
    gc.freeze()
    try:
        summary("  the same, objects frozen (gc.freeze)", timed(wall(project, section), rounds),
                base, "p99 < 100 ms")  # fmt: skip
        summary("  recall list, objects frozen (gc.freeze)", timed(hot_recall, rounds), base,
                "p99 < 100 ms")  # fmt: skip
    finally:
        gc.unfreeze()
    with store.read() as tx:
        notice = recall_list(tx, hot)
        traced = trace_section(tx, *picks[0]).to_json()
    print(f"  hot batch: {len(notice['walls'])} walls, {len(notice['projects'])} projects; "
          f"one wall's trace: {len(traced['nodes'])} nodes, {len(traced['entries'])} entries")  # fmt: skip


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A throw-away schema in the test database (INSUTRACE_TEST_PG_URL), dropped after."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def run(url: str, sizes: list[int], samples: int, verify: bool) -> None:
    """Grow one ledger to each size in turn and measure there. A SQLite file given with
    ``--db`` keeps the ledger (and ``<file>.world.json``, what it is made of): a later run
    on it measures it again as it is."""
    upgrade(url)
    store = open_store(url, sqlite_synchronous="OFF")  # the benchmark's build only
    sidecar = Path(url[len("sqlite:///") :] + ".world.json") if url.startswith("sqlite") else None
    try:
        clock = FixedClock(START)
        log = NoteSigner(ORIGIN, signer(ORIGIN).private_key)
        ledger = Ledger(store, log_signer=log, types=REGISTRY, admission=ADMISSION, clock=clock)
        root = signer("root")
        world: dict[str, Any] = {}
        scenario: Scenario | None = Scenario(ledger, root, signer)
        if ledger.size() == 0:
            ledger.initialize(root, origin=ORIGIN)
        elif sidecar is not None and sidecar.exists():  # measured again, not grown
            world, scenario = json.loads(sidecar.read_text()), None
        else:
            raise SystemExit(f"{url} holds a ledger this benchmark did not build")
        for target in sizes:
            started, before = time.perf_counter(), ledger.size()
            if scenario is not None:
                hot, walls = build(ledger, scenario, target, world)
            else:
                hot, walls = world["hot"], [*map(tuple, world["walls"]), tuple(world["hot_wall"])]
            elapsed = time.perf_counter() - started
            size = ledger.size()
            if sidecar is not None:
                sidecar.write_text(json.dumps(world))
            print(f"{size:,} entries on {store.url.split(':', 1)[0]} (built {size - before:,} "
                  f"in {elapsed:,.1f} s, {(size - before) / max(elapsed, 1e-9):,.0f}/s)")  # fmt: skip
            measure(ledger, hot, walls, samples)
        if verify:
            ledger.checkpoint()
            started = time.perf_counter()
            report = verify_store(store, root_key=root.public_b64, jobs=default_jobs())
            print(f"  verified: {report.ok} ({report.error or 'ok'}) in "
                  f"{time.perf_counter() - started:,.1f} s")  # fmt: skip
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size (~20,000 entries)")
    parser.add_argument("--entries", type=int, help="log size to build")
    parser.add_argument(
        "--sizes", help="log sizes to grow to and measure at, in turn (e.g. 100000,250000)"
    )
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--pg", action="store_true", help="a throw-away PostgreSQL schema")
    parser.add_argument("--samples", type=int, default=200, help="walls to back-trace")
    parser.add_argument("--verify", action="store_true", help="verify the ledger at the end")
    args = parser.parse_args()
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    else:
        sizes = [args.entries or (20_000 if args.small else 1_000_000)]
    if args.pg:
        with pg_schema() as url:
            run(url, sizes, args.samples, args.verify)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(args.db or f"sqlite:///{Path(tmp) / 'bench.db'}", sizes, args.samples, args.verify)


if __name__ == "__main__":
    main()
