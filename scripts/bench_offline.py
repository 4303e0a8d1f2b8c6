"""What judging statements at their signed time costs (docs/offline.md), as ratios measured
in the same run (the machine's speed cancels out).

1. ``judged_at`` per entry against ``Entry.from_bytes`` of the same leaf: for a statement
   the ledger built (one time) and for one signed 30 h before its log time;
2. on a fresh SQLite ledger on a day policy 2027.1 is in force: admitting ``--n``
   client-signed statements signed 30 h ago against ``--n`` signed just now, and rebuilding
   the projections of the whole log against rebuilding a log of only the recent ones.

    .venv/bin/python scripts/bench_offline.py [--n 400]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path

from insutrace.api.migrate import upgrade
from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.clock import FixedClock, format_time
from insutrace.trace.entry import Entry, Statement, new_statement_id
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.offline import judged_at
from insutrace.trace.store import open_store

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
ROOT = Signer.from_seed("root", b"bench-only:root")
ORIGIN = "bench.insutrace.local/offline"


def statement(n: int, signed: datetime) -> bytes:
    actor = Signer.from_seed(f"org{n}", b"bench-only:%d" % n)
    payload = {"id": actor.actor, "public_key": actor.public_b64, "name": actor.actor}
    body = Statement(
        "actor.register", ROOT.actor, ROOT.key_id, format_time(signed), payload, new_statement_id()
    )
    return body.signed(ROOT).to_bytes()


def per_entry() -> tuple[float, float]:
    def leaf(signed: datetime) -> bytes:
        return (
            Statement.from_bytes(statement(0, signed))
            .place(7, "0" * 64, format_time(NOW))
            .to_bytes()
        )

    built, offline = leaf(NOW), leaf(NOW - timedelta(hours=30))
    a, b = Entry.from_bytes(built), Entry.from_bytes(offline)
    n = 20000
    base = min(timeit.repeat(lambda: Entry.from_bytes(built), number=n, repeat=5))
    one = min(timeit.repeat(lambda: judged_at(a), number=n, repeat=5))
    two = min(timeit.repeat(lambda: judged_at(b), number=n, repeat=5))
    return one / base, two / base


def ledger_in(home: Path) -> tuple[Ledger, FixedClock]:
    url = f"sqlite:///{home / 'ledger.db'}"
    upgrade(url)
    clock = FixedClock(NOW, step=timedelta(milliseconds=1))
    log = NoteSigner(ORIGIN, Signer.from_seed(ORIGIN, b"bench-only:log").private_key)
    ledger = Ledger(open_store(url), log_signer=log, types=CORE_TYPES, clock=clock)
    ledger.initialize(ROOT, origin=ORIGIN)
    return ledger, clock


def admit(ledger: Ledger, clock: FixedClock, first: int, n: int, back: timedelta) -> float:
    kept = [statement(i, clock.now() - back) for i in range(first, first + n)]
    started = time.perf_counter()
    for data in kept:
        ledger.submit(data)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    n = parser.parse_args().n
    built, offline = per_entry()
    print(
        f"judged_at / Entry.from_bytes: built by the ledger {built:.3f}, signed 30 h ago {offline:.3f}"
    )
    admitted: dict[str, list[float]] = {"late": [], "recent": []}
    rebuilt: dict[str, list[float]] = {"late": [], "recent": []}
    for _ in range(3):  # alternating rounds on fresh ledgers; the fastest of each counts
        for kind, back in (("recent", timedelta(seconds=1)), ("late", timedelta(hours=30))):
            with tempfile.TemporaryDirectory() as home:
                ledger, clock = ledger_in(Path(home))
                admitted[kind].append(admit(ledger, clock, 1, n, back))
                started = time.perf_counter()
                ledger.rebuild()
                rebuilt[kind].append(time.perf_counter() - started)
                ledger.store.close()
    ratio = min(admitted["late"]) / min(admitted["recent"])
    print(f"admit {n} client statements, signed 30 h ago / signed just now: {ratio:.3f}")
    ratio = min(rebuilt["late"]) / min(rebuilt["recent"])
    print(f"rebuild their log, signed 30 h ago / signed just now: {ratio:.3f}")


if __name__ == "__main__":
    main()
