"""The one day without the offline window (docs/offline.md): policy cn-national-2025 2026.2,
shipped before the window existed, is in force on 2027-01-01 alone, between 2026.3 and 2027.1
that carry it. A statement a device queued on 2026-12-31 and sends on 2027-01-01 is refused
(``entry.time``); the outbox keeps it, and sent again on 2027-01-02, within 72 h of its
signing, it is logged and judged at its signed time. Against a real server on loopback, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import support
from fastapi import FastAPI

from insutrace.api.client import Client, Outbox, sign_statement
from insutrace.trace.clock import FixedClock, format_time
from insutrace.trace.errors import RuleViolation
from insutrace.trace.ledger import Ledger
from insutrace.trace.offline import judged_at

from .conftest import World
from .test_roles import product_payload

CST = timezone(timedelta(hours=8))
START = datetime(2026, 12, 31, 10, 0, tzinfo=CST)  # policy 2026.3: the window


@pytest.fixture
def clock() -> FixedClock:
    """The server's clock (overrides the suite's)."""
    return FixedClock(START.astimezone(UTC), step=timedelta(milliseconds=10))


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with support.served(app) as url:
        yield url


def test_a_statement_queued_on_new_year_s_eve_waits_for_2_january(
    server: str, world: World, ledger: Ledger, clock: FixedClock, tmp_path: Path
) -> None:
    maker = world["manufacturer"]
    signed_at = datetime(2026, 12, 31, 20, 0, tzinfo=CST)
    device = FixedClock(signed_at.astimezone(UTC))
    outbox = Outbox(tmp_path / "outbox")
    item = outbox.put(
        sign_statement(maker.signer, "product.register", product_payload(), clock=device)
    )
    size = ledger.size()

    clock.tick(datetime(2027, 1, 1, 10, 0, tzinfo=CST) - clock.now())  # 2026.2: no window
    with Client(server, token=maker.token) as c:
        (outcome,) = c.submit_queued(outbox)
    assert outcome.item.state == "refused"
    assert isinstance(outcome.error, RuleViolation) and outcome.error.rule == "entry.time"
    (kept,) = outbox.items()
    assert kept.path == item.path and kept.problem is not None
    assert kept.problem["rule"] == "entry.time"
    assert ledger.size() == size  # nothing written

    clock.tick(datetime(2027, 1, 2, 8, 0, tzinfo=CST) - clock.now())  # 2027.1: 36 h after
    with Client(server, token=maker.token) as c:
        assert c.submit_queued(outbox) == []  # nothing pending: it was answered
        (again,) = c.submit_queued(outbox, again=True)
    assert again.item.state == "sent" and again.receipt is not None
    entry = ledger.entry(again.receipt["seq"])
    assert entry.signed_time == format_time(signed_at)
    assert entry.time.startswith("2027-01-02T00:00")  # 08:00 CST
    assert judged_at(entry) == signed_at
    assert ledger.size() == size + 1
