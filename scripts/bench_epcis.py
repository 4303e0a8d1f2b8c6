#!/usr/bin/env python3
"""EPCIS 2.0 benchmarks. Prints figures; asserts nothing (the machine is noisy).

Builds the demo ledger (``insutrace demo``: every domain entry type) on SQLite, repeated
``--copies`` times on one timeline, then measures in the same run:

  mapping only     every entry mapped to its event, no eventID          (the baseline)
  export           the same with the CBV 2.0 event hash (GS1's reference implementation)
  query page       GET /epcis/events?EQ_bizStep=shipping&perPage=30 as run_query does

    python scripts/bench_epcis.py            the demo 10 times (~2,000 events)
    python scripts/bench_epcis.py --small    the demo once (CI; seconds)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from insutrace.api.migrate import upgrade
from insutrace.demo.story import build_demo
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.epcis import identified, ledger_events
from insutrace.trace.epcis_map import Uris
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store

ORIGIN = "bench.insutrace.local/epcis"
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def signer(name: str) -> Signer:
    return Signer.from_seed(name, b"insutrace-bench-only:" + name.encode())


def build(path: Path) -> Ledger:
    url = f"sqlite:///{path}"
    upgrade(url)
    log = NoteSigner(ORIGIN, signer(ORIGIN).private_key)
    ledger = Ledger(
        open_store(url),
        log_signer=log,
        clock=FixedClock(START, step=timedelta(seconds=1)),
        types=REGISTRY,
        admission=ADMISSION,
    )
    ledger.initialize(signer("root"), origin=ORIGIN)
    return ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the demo once")
    parser.add_argument("--copies", type=int, default=10, help="demo ledgers measured")
    args = parser.parse_args()
    copies = 1 if args.small else args.copies
    u = Uris("id.insutrace.local")
    base = hashed = query = 0.0
    events = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(copies):
            ledger = build(Path(tmp) / f"demo{n}.db")
            build_demo(ledger, signer("root"), start=START + timedelta(days=1))
            with ledger.store.read() as tx:
                started = time.perf_counter()
                plain = [e for _, e in ledger_events(ledger, tx, u, identify=False)]
                base += time.perf_counter() - started
                started = time.perf_counter()
                for event in plain:
                    if "eventID" not in event:
                        identified(event)
                hashed += time.perf_counter() - started
                started = time.perf_counter()
                page = [
                    e
                    for _, e in ledger_events(ledger, tx, u, types=["custody.ship"], identify=False)
                ][:30]
                for event in page:
                    identified(event)
                query += time.perf_counter() - started
            events += len(plain)
            ledger.store.close()
    per = 1000 / events
    print(f"events mapped: {events} ({copies} demo ledger{'s' if copies > 1 else ''})")
    print(f"mapping only (baseline): {base * per:.3f} ms/event")
    print(f"CBV 2.0 hash added:      {(base + hashed) * per:.3f} ms/event "
          f"({(base + hashed) / base:.1f}x the baseline)")  # fmt: skip
    print(f"shipping query page:     {query / copies * 1000:.1f} ms per page of <= 30")


if __name__ == "__main__":
    main()
