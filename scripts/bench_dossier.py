#!/usr/bin/env python3
"""Dossier benchmarks: build and offline verification. Prints figures; asserts nothing.

Two subjects, each measured in the same run against baselines on the same machine:

  the demo's largest trace   the demo story (insutrace demo), the subject (wall, building
                             or batch) whose back-trace cites the most entries
  a wall of the hot batch    the world of scripts/bench_backtrace.py: one batch installed
                             in 1,000 walls (10 projects of 100 sections), plus ordinary
                             projects up to the log size asked for

Building a dossier replays the log up to the checkpoint once, recording which rows each
entry reads and writes, to find the entries the trace rests on (its support); verifying
replays only the support through the domain's handlers and re-runs the back-trace. The
baselines are the plain back-trace on the live store and the whole-log replay
(``Ledger.rebuild``), so the ratios say what proving costs over asking.

    python scripts/bench_dossier.py              hot world of 50,000 entries (SQLite)
    python scripts/bench_dossier.py --small      hot world of ~3,000 entries, one run each (CI)
    python scripts/bench_dossier.py --entries N
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtrace import ORIGIN, START, build, signer

from insutrace.api.migrate import upgrade
from insutrace.demo.scenario import Scenario
from insutrace.demo.story import build_demo
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.dossier import build_dossier, derive_trace, verify_dossier
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store


def _ledger(path: Path) -> Ledger:
    url = f"sqlite:///{path}"
    upgrade(url)
    log = NoteSigner(ORIGIN, signer(ORIGIN).private_key)
    ledger = Ledger(open_store(url), log_signer=log, types=REGISTRY, admission=ADMISSION,
                    clock=FixedClock(START))  # fmt: skip
    ledger.initialize(signer("root"), origin=ORIGIN)
    return ledger


def _ms(fn: Callable[[], object], n: int) -> tuple[float, object]:
    out, result = [], None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out), result


def _measure(label: str, ledger: Ledger, query: dict[str, Any], repeat: int) -> None:
    def trace() -> object:
        with ledger.store.read() as tx:
            return derive_trace(tx, query).to_json()

    ask, _ = _ms(trace, 3)
    rebuild, _ = _ms(ledger.rebuild, 1)
    made, dossier = _ms(lambda: build_dossier(ledger, query), repeat)
    assert isinstance(dossier, dict)
    text = json.dumps(dossier, ensure_ascii=False)
    check, _ = _ms(lambda: verify_dossier(json.loads(text)), repeat)
    cited, support = len(dossier["trace"]["entries"]), len(dossier["entries"])
    print(f"{label}: {query['kind']} {query['id']}")
    print(f"  log {ledger.size():,} entries; trace cites {cited:,}; dossier carries "
          f"{support:,} entries ({len(text) / 1e6:.2f} MB)")  # fmt: skip
    print(f"  baseline back-trace     {ask:9.1f} ms")
    print(f"  baseline whole replay   {rebuild:9.1f} ms  (Ledger.rebuild)")
    print(f"  dossier build           {made:9.1f} ms  = {made / ask:7.1f} x back-trace, "
          f"{made / rebuild:5.2f} x whole replay")  # fmt: skip
    print(f"  dossier verify          {check:9.1f} ms  = {check / ask:7.1f} x back-trace, "
          f"{check / rebuild:5.2f} x whole replay")  # fmt: skip


def _largest_demo_query(ledger: Ledger) -> dict[str, Any]:
    with ledger.store.read() as tx:
        queries = [{"kind": "section", "id": f"{k}/{s}"}
                   for k, p in tx.scan("project") for s in sorted(p["sections"])]  # fmt: skip
        queries += [{"kind": "building", "id": k} for k, _ in tx.scan("building")]
        queries += [{"kind": "batch", "id": k} for k, _ in tx.scan("batch")]
        sizes = [(len(derive_trace(tx, q).cited()), i) for i, q in enumerate(queries)]
    return queries[max(sizes)[1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size (~3,000 entries)")
    parser.add_argument("--entries", type=int, help="log size of the hot world")
    parser.add_argument("--repeat", type=int, help="runs per figure (median; default 3)")
    args = parser.parse_args()
    target = args.entries or (3_000 if args.small else 50_000)
    args.repeat = args.repeat or (1 if args.small else 3)
    with tempfile.TemporaryDirectory() as tmp:
        demo = _ledger(Path(tmp) / "demo.db")
        build_demo(demo, signer("root"), start=START + timedelta(hours=1))
        _measure("the demo's largest trace", demo, _largest_demo_query(demo), args.repeat)
        demo.store.close()
        ledger = _ledger(Path(tmp) / "hot.db")
        started = time.perf_counter()
        _, walls = build(ledger, Scenario(ledger, signer("root"), signer), target, {})
        print(f"built the hot world: {ledger.size():,} entries in "
              f"{time.perf_counter() - started:,.1f} s", file=sys.stderr)  # fmt: skip
        project, section = walls[-1]
        query = {"kind": "section", "id": f"{project}/{section}"}
        _measure("a wall of the batch in 1,000 walls", ledger, query, args.repeat)
        ledger.store.close()


if __name__ == "__main__":
    main()
