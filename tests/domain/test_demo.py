"""The demo scenario: builds on an empty ledger, deterministic, verifies, under 10 s."""

from __future__ import annotations

import time

from insutrace.trace.domain.demo import build_demo
from insutrace.trace.domain.queries import recall_notice
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger


def test_demo_builds(ledger: Ledger, root: Signer) -> None:
    began = time.perf_counter()
    out = build_demo(ledger, root)
    elapsed = time.perf_counter() - began
    print(out.entries, elapsed)
    with ledger.store.read() as tx:
        notice = recall_notice(tx, out.recalled[0])
    print(notice)
    assert elapsed < 10
