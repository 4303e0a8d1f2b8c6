#!/usr/bin/env python3
"""Back-trace benchmarks at scale. Prints figures; asserts nothing (the machine is noisy).

Builds a log of real domain entries with ``Ledger.append_batch`` bulk loads (the full
domain handlers run on every entry): projects of 20 wall sections, each supplied by four
batches through a distributor, with factory reports, arrival inspections, witnessed
re-tests and installations; plus one "hot" batch installed in 1,000 walls (10 projects of
100 sections). Then it measures, each query in its own read transaction:

  back-trace of one wall (upstream + recall lists)   target p99 < 100 ms at 10^6 entries
  recall list of the batch installed in 1,000 walls   target < 500 ms at 10^6 entries

    python scripts/bench_backtrace.py              10^6 entries (SQLite; tens of minutes)
    python scripts/bench_backtrace.py --small      ~20,000 entries (CI; seconds)
    python scripts/bench_backtrace.py --pg         PostgreSQL (INSUTRACE_TEST_PG_URL, own schema)
    python scripts/bench_backtrace.py --entries N --db sqlite:///…
"""

from __future__ import annotations

import argparse
import contextlib
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

from insutrace.trace.backtrace import trace_section
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import HANDLERS
from insutrace.trace.domain.read import recall_list
from insutrace.trace.identifiers import gtin_check_digit, uscc_check_char
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store

ORIGIN = "bench.insutrace.local/backtrace"
PG_URL = os.environ.get("INSUTRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
TODAY = "2026-11-22"
DOC = "ab" * 32
POLICY = {"id": "cn-national-2025", "version": "2025.1"}
B1 = "GB 8624 B1(B-s1,d0,t1)"
Item = tuple[str, dict[str, Any], Signer]


def signer(name: str) -> Signer:
    return Signer.from_seed(name, b"insutrace-bench-only:" + name.encode())


def uscc(n: int) -> str:
    first17 = f"91320100MB{n:07d}"
    return first17 + uscc_check_char(first17)


def gtin(n: int) -> str:
    data = f"0691{n:09d}"
    return data + gtin_check_digit(data)


def _results(extra: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"property": "combustion", "standard": "GB 8624-2012", "class": B1},
        {"property": "thermal_conductivity", "standard": "GB/T 10294", "value": "0.030"},
        {"property": "density", "standard": "GB/T 6343", "value": "30"},
    ]
    if extra:
        for prop, value in (("compressive_strength", "200"), ("water_absorption", "1.2"),
                            ("tensile_strength_perpendicular", "0.15")):  # fmt: skip
            out.append({"property": prop, "standard": "GB/T 8813", "value": value, "unit": "-"})
    return out


class Scenario:
    """Deterministic domain entries: organisations, then project flows."""

    def __init__(self, root: Signer) -> None:
        self.root = root
        self.n = 0
        self.orgs: dict[str, Signer] = {}

    def next(self) -> int:
        self.n += 1
        return self.n

    def item(self, type: str, payload: dict[str, Any], who: Signer) -> Item:
        return (type, {"schema": 1, **payload}, who)

    def org(self, key: str, roles: list[str]) -> Item:
        code = uscc(len(self.orgs) + 1)
        self.orgs[key] = signer(code)
        payload: dict[str, Any] = {"id": code, "public_key": self.orgs[key].public_b64,
                                   "name": f"测试单位{key}", "roles": roles,
                                   "address": "江苏省南京市测试路1号"}  # fmt: skip
        if "testing_lab" in roles:
            payload["lab"] = {"cma": "231502280012", "issued_on": "2023-05-10"}
        return self.item("actor.register", payload, self.root)

    def setup(self) -> list[Item]:
        roles = {"maker": ["manufacturer"], "dist": ["distributor"], "lab": ["testing_lab"],
                 "contractor": ["contractor"], "supervisor": ["supervisor"],
                 "owner": ["building_owner"]}  # fmt: skip
        items = [self.org(k, r) for k, r in roles.items()]
        self.gtin = gtin(1)
        product = {"gtin": self.gtin, "name": "挤塑聚苯乙烯泡沫塑料板", "type": "xps",
                   "polymer": "polystyrene", "thermosetting": False,
                   "standard": "GB/T 10801.2-2018"}  # fmt: skip
        items.append(self.item("product.register", product, self.orgs["maker"]))
        return items

    def batch(self, qty: str) -> tuple[str, list[Item]]:
        lot = f"L{self.next():07d}"
        o = self.orgs
        payload = {"product": self.gtin, "lot": lot, "quantity": qty, "unit": "m2",
                   "production_date": "2026-11-01", "declared_class": B1,
                   "conductivity": "0.032", "density": "30"}  # fmt: skip
        report = {"number": f"R{self.n:07d}", "batch": f"{self.gtin}.{lot}", "sample": "S1",
                  "issued_on": "2026-11-10", "valid_until": "2027-11-09", "document": DOC,
                  "standards": ["GB 8624-2012"], "results": _results(False)}  # fmt: skip
        batch = f"{self.gtin}.{lot}"
        ship = self.ship("maker", "dist", batch, qty, None)
        return batch, [
            self.item("batch.register", payload, o["maker"]),
            self.item("report.issue", report, o["lab"]),
            *ship,
        ]

    def ship(self, src: str, dst: str, batch: str, qty: str, project: str | None) -> list[Item]:
        number = f"D{self.next():07d}"
        lines = [{"batch": batch, "unit": "m2", "quantity": qty}]
        payload: dict[str, Any] = {"number": number, "to": self.orgs[dst].actor, "date": TODAY,
                                   "lines": lines}  # fmt: skip
        if project:
            payload["to_project"] = project
        receive = {"shipment": f"{self.orgs[src].actor}|{number}", "date": TODAY, "lines": lines}
        return [
            self.item("custody.ship", payload, self.orgs[src]),
            self.item("custody.receive", receive, self.orgs[dst]),
        ]

    def project(self, sections: int, area: int) -> tuple[str, list[Item]]:
        project = f"P{self.next():07d}"
        o = self.orgs
        payload = {
            "id": project, "name": "测试住宅项目", "contractor": o["contractor"].actor,
            "supervisor": o["supervisor"].actor,
            "location": {"province": "江苏省", "city": "南京市", "address": "建邺区测试路8号"},
            "design": {"use": "residential", "height_m": "80"}, "policy": POLICY,
            "permit": {"number": f"3201{self.n:010d}", "authority": "南京市建邺区住建局"},
            "sections": [
                {"id": f"S{i:03d}", "name": f"墙{i}", "facade": f"f{i:03d}",
                 "position": "external_wall", "area_m2": str(area), "design_class": "B1(B)"}
                for i in range(sections)
            ],
        }  # fmt: skip
        items = [self.item("project.register", payload, o["owner"])]
        for kind in ("technical_briefing", "risk_notification"):
            brief = {"project": project, "kind": kind, "date": TODAY, "attendees": ["张工"],
                     "topics": ["防火隔离带施工"], "document": DOC}  # fmt: skip
            items.append(self.item("site.briefing", brief, o["contractor"]))
        return project, items

    def supply(self, project: str, batch: str, qty: str) -> list[Item]:
        """Deliver to the site through the distributor; inspect; witnessed re-test."""
        o = self.orgs
        sample = f"WS{self.next():07d}"
        inspect = {"project": project, "batch": batch, "date": TODAY, "label_class": "B1(B)级",
                   "accepted": True}  # fmt: skip
        take = {"project": project, "sample": sample, "batch": batch, "quantity": "2",
                "date": TODAY, "lab": o["lab"].actor,
                "sampler": {"name": "王取样", "org": o["contractor"].actor}, "witness": "赵监理"}  # fmt: skip
        retest = {"project": project, "sample": sample, "number": f"F{self.n:07d}",
                  "date": TODAY, "document": DOC, "results": _results(True)}  # fmt: skip
        return [
            *self.ship("dist", "contractor", batch, qty, project),
            self.item("site.inspect", inspect, o["supervisor"]),
            self.item("site.sample", take, o["supervisor"]),
            self.item("site.retest_result", retest, o["lab"]),
        ]

    def install(self, project: str, section: str, batch: str, area: int) -> Item:
        payload = {"project": project, "section": section, "batch": batch,
                   "quantity": str(area), "area_m2": str(area), "date": TODAY}  # fmt: skip
        return self.item("site.install", payload, self.orgs["contractor"])

    def ordinary_project(self) -> tuple[str, list[Item]]:
        """20 sections of 50 m², four batches of 300 m² (each into five sections)."""
        project, items = self.project(20, 50)
        for b in range(4):
            batch, made = self.batch("300")
            items += made + self.supply(project, batch, "260")
            items += [
                self.install(project, f"S{s:03d}", batch, 50) for s in range(b * 5, b * 5 + 5)
            ]
        return project, items

    def hot(self, projects: int = 10, sections: int = 100) -> tuple[str, list[Item], list[str]]:
        """One batch installed in ``projects`` x ``sections`` walls of 10 m²."""
        total = projects * (sections * 10 + 2)
        batch, items = self.batch(str(total))
        names = []
        for _ in range(projects):
            project, made = self.project(sections, 10)
            names.append(project)
            items += made + self.supply(project, batch, str(sections * 10 + 2))
            items += [self.install(project, f"S{s:03d}", batch, 10) for s in range(sections)]
        return batch, items, names


def chunks(items: list[Item], size: int = 1000) -> Iterator[list[Item]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def build(ledger: Ledger, scenario: Scenario, target: int) -> tuple[str, list[tuple[str, str]]]:
    """Append until the log holds ``target`` entries; return the hot batch and sample walls."""
    ledger.append_batch(scenario.setup())
    hot, items, hot_projects = scenario.hot()
    for part in chunks(items):
        ledger.append_batch(part)
    walls: list[tuple[str, str]] = []
    pending: list[Item] = []
    started, size = time.perf_counter(), ledger.size()
    while size + len(pending) < target:
        project, items = scenario.ordinary_project()
        pending += items
        walls.append((project, f"S{len(walls) % 20:03d}"))
        if len(pending) >= 1000:
            ledger.append_batch(pending)
            size += len(pending)
            pending = []
            if size // 50_000 != (size - 1000) // 50_000:
                rate = (size) / (time.perf_counter() - started)
                print(f"  … {size:,} entries ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    if pending:
        ledger.append_batch(pending)
    walls += [(hot_projects[0], "S000")]
    return hot, walls


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(label: str, ms: list[float], target: str) -> None:
    ms = sorted(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{label:<44} p50 {statistics.median(ms):8.2f} ms  p99 {p99:8.2f} ms  "
          f"max {ms[-1]:8.2f} ms  (n={len(ms)}; target {target})")  # fmt: skip


def measure(ledger: Ledger, hot: str, walls: list[tuple[str, str]], samples: int) -> None:
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

    ms = [timed(wall(p, s), 1)[0] for p, s in picks]
    summary("back-trace of one wall (typical)", ms, "p99 < 100 ms")
    project, section = walls[-1]
    summary("back-trace of a wall of the hot batch", timed(wall(project, section), 30),
            "p99 < 100 ms")  # fmt: skip
    summary("recall list of a batch in 1,000 walls", timed(hot_recall, 30), "< 500 ms")
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


def run(url: str, target: int, samples: int) -> None:
    store = open_store(url)
    try:
        clock = FixedClock(START)
        log = NoteSigner(ORIGIN, signer(ORIGIN).private_key)
        ledger = Ledger(store, log_signer=log, handlers=HANDLERS, clock=clock)
        root = signer("root")
        ledger.initialize(root, origin=ORIGIN)
        started = time.perf_counter()
        hot, walls = build(ledger, Scenario(root), target)
        elapsed = time.perf_counter() - started
        size = ledger.size()
        print(f"built {size:,} entries in {elapsed:,.1f} s ({size / elapsed:,.0f} entries/s) "
              f"on {store.url.split(':', 1)[0]}")  # fmt: skip
        measure(ledger, hot, walls, samples)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size (~20,000 entries)")
    parser.add_argument("--entries", type=int, help="log size to build")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--pg", action="store_true", help="a throw-away PostgreSQL schema")
    parser.add_argument("--samples", type=int, default=200, help="walls to back-trace")
    args = parser.parse_args()
    target = args.entries or (20_000 if args.small else 1_000_000)
    if args.pg:
        with pg_schema() as url:
            run(url, target, args.samples)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(args.db or f"sqlite:///{Path(tmp) / 'bench.db'}", target, args.samples)


if __name__ == "__main__":
    main()
