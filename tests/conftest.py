"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL comes from INSUTRACE_TEST_PG_URL (default: the local server at
127.0.0.1:5432, database ``test``); each test gets its own schema, dropped after.
Without a reachable server the PostgreSQL cases skip with a one-line reason,
unless INSUTRACE_REQUIRE_PG=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from insutrace.trace.actors import Handler
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import HANDLERS
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.rules import watch_faults
from insutrace.trace.store import Store, open_store
from insutrace.trace.verify import verify_store

PG_URL = os.environ.get("INSUTRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
ORIGIN = "test.insutrace.local/ledger"
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@cache
def pg_unavailable() -> str | None:
    """None if PostgreSQL answers, else a one-line reason."""
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip().splitlines()[0]}"
    return None


def require_pg() -> None:
    reason = pg_unavailable()
    if reason is None:
        return
    if os.environ.get("INSUTRACE_REQUIRE_PG") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _pg_schema_url(schema: str) -> str:
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(autouse=True)
def rule_catalogue_faults() -> Iterator[None]:
    """Fail a test whose code refuses with a rule id, clause or message field the rule
    catalogue does not give (ids built at run time included)."""
    faults: list[str] = []
    watch_faults(faults.append)
    yield
    watch_faults(None)
    if faults:
        pytest.fail("rule catalogue: " + "; ".join(sorted(set(faults))))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    require_pg()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _pg_schema_url(schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START, step=timedelta(seconds=1))


def fixed_signer(actor: str) -> Signer:
    """Deterministic keys: test-only, derived from the actor name."""
    return Signer.from_seed(actor, b"insutrace-test-only:" + actor.encode())


@pytest.fixture
def signer_for() -> Callable[[str], Signer]:
    """``signer_for(actor)``: the deterministic test-only key of an actor."""
    return fixed_signer


@pytest.fixture
def root() -> Signer:
    return fixed_signer("root")


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner(ORIGIN, fixed_signer(ORIGIN).private_key)


def check_log(ledger: Ledger, root: Signer) -> None:
    """The whole-ledger check run after every scenario (after sunlight's CheckLog):
    the log verifies from the root key alone, and projections rebuild identically."""
    ledger.checkpoint()
    report = verify_store(ledger.store, root_key=root.public_b64)
    assert report.ok, f"ledger does not verify: {report.error}"
    before = ledger.store.projection_digest()
    assert ledger.rebuild() == before, "projections differ after rebuild from the log"


@pytest.fixture
def make_ledger(
    store: Store, clock: FixedClock, root: Signer, log_signer: NoteSigner
) -> Iterator[Callable[..., Ledger]]:
    made: list[Ledger] = []

    def make(handlers: dict[str, Handler] | None = None) -> Ledger:
        ledger = Ledger(store, log_signer=log_signer, clock=clock, handlers=handlers or HANDLERS)
        if ledger.size() == 0:
            ledger.initialize(root, origin=ORIGIN)
        made.append(ledger)
        return ledger

    yield make
    if made:
        check_log(made[0], root)


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger]) -> Ledger:
    """An initialised ledger with the full domain; verified and rebuilt after the test."""
    return make_ledger()
