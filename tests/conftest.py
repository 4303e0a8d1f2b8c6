"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL comes from INSUTRACE_TEST_PG_URL (default: the local server at
127.0.0.1:5432, database ``test``); each test gets a schema of its own: an empty one
(``blank_url``, dropped after) or a migrated one lent by a pool and emptied after.
Without a reachable server the PostgreSQL cases skip with a one-line reason,
unless INSUTRACE_REQUIRE_PG=1 (CI), where they fail.

``store_url`` is a database at the migrations' heads (see ``tests/databases.py``);
``blank_url`` an empty one, for the tests of the migrations themselves.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
from databases import PG_URL, migrated_pg_schema, migrated_sqlite, pg_schema_url
from support import ORIGIN, START, check_log, fixed_signer

from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.entrytype import AdmissionCheck, EntryType
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.rules import watch_faults
from insutrace.trace.store import Store, open_store


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


@pytest.fixture(autouse=True)
def rule_catalogue_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose code refuses with a rule id, clause or message field the rule
    catalogue does not give (ids built at run time included). A test that declares its own
    rules (a test-only entry type or check) names them: ``@pytest.mark.test_rules("x.y")``."""
    own = {f"'{r}'" for m in request.node.iter_markers("test_rules") for r in m.args}
    faults: list[str] = []
    watch_faults(lambda fault: None if any(r in fault for r in own) else faults.append(fault))
    yield
    watch_faults(None)
    if faults:
        pytest.fail("rule catalogue: " + "; ".join(sorted(set(faults))))


@contextmanager
def _pg_schema() -> Iterator[str]:
    """A new schema of its own for one test, dropped after it."""
    require_pg()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: no tables, no migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    with _pg_schema() as schema:
        yield pg_schema_url(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the migrations' heads, as ``insutrace db upgrade`` leaves it."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "ledger.db")
        return
    require_pg()
    with migrated_pg_schema() as schema:
        yield pg_schema_url(schema)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START, step=timedelta(seconds=1))


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


@pytest.fixture
def make_ledger(
    store: Store, clock: FixedClock, root: Signer, log_signer: NoteSigner
) -> Iterator[Callable[..., Ledger]]:
    made: list[Ledger] = []

    def make(
        types: Mapping[str, EntryType] | None = None,
        admission: tuple[AdmissionCheck, ...] | None = None,
    ) -> Ledger:
        """A ledger over ``types`` with ``admission`` checks (default: the domain's; with
        other types, none unless given)."""
        checks = (ADMISSION if types is None else ()) if admission is None else admission
        ledger = Ledger(
            store, log_signer=log_signer, clock=clock, types=types or REGISTRY, admission=checks
        )
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
