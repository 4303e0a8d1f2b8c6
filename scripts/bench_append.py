#!/usr/bin/env python3
"""The ledger's per-entry cost inside a batch, with real entry types and rules.

A world built by the scenario builder (a manufacturer, a distributor, a lab, a project
with its contractor and supervisor, qualified batches with issued label ranges), then a
stream of the writes a server takes every day — ``batch.register``, ``custody.ship``,
``custody.receive``, ``label.scan`` of a genuine label — each a :class:`ServerWrite` with
its own statement id (as every page write and every API write with an Idempotency-Key
has), admitted by :meth:`Ledger.admit` in batches of 1, 8, 32 and 128 as the sequencer
hands them over: the domain's registry and admission checks, one checkpoint signed per
batch, the server's durability (SQLite WAL with ``synchronous`` as the server sets it,
PostgreSQL with ``synchronous_commit`` on).

Per batch size: entries/s (wall), CPU µs per entry (this process), SQL statements per
entry (every execute and executemany the store sends, the commit included), and the
rate as a ratio of raw Ed25519 sign+verify measured in the same run. Asserts nothing.

    python scripts/bench_append.py                 # SQLite and PostgreSQL, 1/8/32/128
    python scripts/bench_append.py --entries 512 --sizes 1,32 --profile 32
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from insutrace.api.migrate import upgrade
from insutrace.demo.scenario import Scenario, section
from insutrace.labels.codec import sign_label
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.identifiers import build_digital_link
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger, Receipt, ServerWrite
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store
from insutrace.trace.store.sql import counted_statements

__all__ = ["Workload", "counted_statements", "domain_ledger", "raw_sign_verify"]

ORIGIN = "bench.insutrace.local/ledger"
PG_URL = os.environ.get("INSUTRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # the scenario's payload dates are this day
RESOLVER = "id.insutrace.bench"
SCANNED_BATCHES = 4
LABELS_PER_BATCH = 200_000


def signer(name: str) -> Signer:
    return Signer.from_seed(name, b"insutrace-bench-only:" + name.encode())


def domain_ledger(url: str, *, sqlite_synchronous: str = "NORMAL", migrate: bool = True) -> Ledger:
    """A ledger as the server builds it (api/app.py build_services): the domain's registry
    and admission checks, a checkpoint signed in every write transaction."""
    if migrate:
        upgrade(url)
    store = open_store(url, sqlite_synchronous=sqlite_synchronous)
    ledger = Ledger(
        store,
        log_signer=NoteSigner(ORIGIN, signer(ORIGIN).private_key),
        types=REGISTRY,
        admission=ADMISSION,
        clock=FixedClock(START, step=timedelta(milliseconds=1)),
        checkpoint_writes=True,
    )
    ledger.initialize(signer("root"), origin=ORIGIN)
    return ledger


class Workload:
    """The world, then an endless stream of everyday writes against it."""

    def __init__(self, ledger: Ledger, run: str | None = None) -> None:
        self.world = w = Scenario(ledger, signer("root"), signer)
        with w.bulk(chunk=256):
            w.trade_parties()
            w.site_parties()
            self.project = w.project(
                [section("N1", "北立面", "north", "600"), section("S1", "南立面", "south", "600")]
            )
            self.products = [w.product() for _ in range(4)]
            self.batches = [w.qualified_batch(p, qty="1000000") for p in self.products]
        for batch in self.batches[:SCANNED_BATCHES]:
            w.append(
                "label.issue",
                {
                    "batch": batch,
                    "first": "000001",
                    "count": LABELS_PER_BATCH,
                    "resolver": RESOLVER,
                    "key": w["maker"].key_id,
                },
                "maker",
            )
        self.n = 0
        self.run = run or uuid.uuid4().hex[:8]  # lots, shipments and ids unique per run
        self.stream = self._writes()

    def write(self, type: str, payload: dict[str, Any], who: str) -> ServerWrite:
        self.n += 1
        signer_ = self.world.signer_of(who)
        return ServerWrite(type, {"schema": 1, **payload}, signer_, id=f"b-{self.run}-{self.n}")

    def _scan(self, i: int) -> ServerWrite:
        batch = self.batches[i % SCANNED_BATCHES]
        gtin, lot = batch.split(".", 1)
        serial = f"{i // SCANNED_BATCHES + 1:06d}"
        maker = self.world["maker"]
        link = build_digital_link(RESOLVER, gtin, lot=lot, serial=serial)
        label = sign_label(link, maker.key_id, maker.private_key)
        payload = {
            "project": self.project,
            "gtin": gtin,
            "lot": lot,
            "serial": serial,
            "key": maker.key_id,
            "sig": label.split("&s=", 1)[1],
            "verdict": "genuine",
        }
        return self.write("label.scan", payload, "supervisor")

    def _writes(self) -> Iterator[ServerWrite]:
        """batch.register, custody.ship, custody.receive, label.scan, over and over."""
        w = self.world
        for i in range(10**9):
            number = f"D{self.run}{i:07d}"
            product = self.products[i % len(self.products)]
            batch = self.batches[i % len(self.batches)]
            yield self.write(
                "batch.register",
                {
                    "product": product,
                    "lot": f"L{self.run}{i:07d}",
                    "quantity": "1000",
                    "unit": "m2",
                    "production_date": "2026-11-01",
                    "declared_class": "GB 8624 B1(B-s1,d0,t1)",
                    "conductivity": "0.032",
                    "density": "30",
                },
                "maker",
            )
            line = {"batch": batch, "unit": "m2", "quantity": "1"}
            yield self.write(
                "custody.ship",
                {"number": number, "to": w.id("dist"), "date": w.today, "lines": [line]},
                "maker",
            )
            yield self.write(
                "custody.receive",
                {"shipment": f"{w.id('maker')}|{number}", "date": w.today, "lines": [line]},
                "dist",
            )
            yield self._scan(i)


def raw_sign_verify(seconds: float = 0.5) -> float:
    """Raw Ed25519 sign + verify pairs per second of a 400-byte message, one core."""
    key = Ed25519PrivateKey.generate()
    pub, msg = key.public_key(), os.urandom(400)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            pub.verify(key.sign(msg), msg)
        n += 50
    return n / (time.perf_counter() - start)


@dataclass
class Figure:
    batch: int
    entries: int
    rate: float
    cpu_us: float
    statements: float
    baseline: float


def measure(ledger: Ledger, work: Workload, batch: int, entries: int) -> Figure:
    """Admit ``entries`` writes of the stream in batches of ``batch``; every one must land."""
    stream = work.stream
    batches = [[next(stream) for _ in range(batch)] for _ in range(max(1, entries // batch))]
    before = raw_sign_verify(0.25)
    with counted_statements() as counter:
        cpu, wall = time.process_time(), time.perf_counter()
        for items in batches:
            results = ledger.admit(items)
            refused = [r for r in results if not isinstance(r, Receipt)]
            if refused:
                raise SystemExit(f"a benchmark write was refused: {refused[0]}")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = sum(map(len, batches))
    baseline = (before + raw_sign_verify(0.25)) / 2
    return Figure(batch, n, n / wall, cpu / n * 1e6, (counter.statements + len(batches)) / n,
                  baseline)  # fmt: skip


def report(label: str, fig: Figure) -> None:
    print(
        f"  {label:<28} batch {fig.batch:>4}: {fig.rate:>7,.0f} entries/s "
        f"{fig.cpu_us:>6,.0f} µs CPU/entry {fig.statements:>5.2f} SQL/entry  "
        f"{fig.rate / fig.baseline:>5.1%} of raw sign+verify ({fig.baseline:,.0f}/s)"
    )


@contextmanager
def pg_schema() -> Iterator[str | None]:
    """A fresh PostgreSQL schema (None, with one line, when no server answers)."""
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3, autocommit=True) as conn:
            name = f"bench_{uuid.uuid4().hex[:10]}"
            conn.execute(f"CREATE SCHEMA {name}")
    except psycopg.Error as exc:
        print(f"  (PostgreSQL skipped: {str(exc).strip().splitlines()[0]})")
        yield None
        return
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def run(
    url: str, label: str, sizes: list[int], entries: int, profile: int | None, sync: str
) -> list[Figure]:
    ledger = domain_ledger(url, sqlite_synchronous=sync)
    work = Workload(ledger)
    measure(ledger, work, 8, 64)  # warm: keys unsealed, caches filled
    figures = []
    for size in sizes:
        fig = measure(ledger, work, size, entries)
        report(label, fig)
        figures.append(fig)
    if profile:
        prof = cProfile.Profile()
        prof.runcall(measure, ledger, work, profile, entries)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
    ledger.store.close()
    return figures


def main(argv: list[str] | None = None, show: Callable[[str], None] = print) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entries", type=int, default=1024, help="entries per batch size")
    ap.add_argument("--sizes", default="1,8,32,128", help="batch sizes")
    ap.add_argument("--profile", type=int, default=None, help="cProfile one batch size")
    ap.add_argument("--sync", default="NORMAL", help="SQLite synchronous (server: NORMAL)")
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    show(
        f"Ledger.admit, real domain entries ({os.cpu_count()} cores, Python {sys.version.split()[0]})"
    )
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            run(
                url, f"SQLite synchronous={args.sync}", sizes, args.entries, args.profile, args.sync
            )
    if args.backend in ("postgresql", "both"):
        with pg_schema() as url:
            if url is not None:
                run(url, "PostgreSQL", sizes, args.entries, args.profile, args.sync)


if __name__ == "__main__":
    main()
