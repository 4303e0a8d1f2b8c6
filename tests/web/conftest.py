"""The web tests run on one backend only: a seeded SQLite ledger (the page is the subject
here; both backends are covered through the API tests). The root ``ledger`` fixture still
re-verifies the whole log and rebuilds its projections afterwards; so does the module-wide
``demo_world`` (:mod:`browser_roles`), whose fixtures are offered here with ``browser``.

For the form tests (HTTP level, :mod:`people`): ``world``, the label scenario's trade
parties on the test's ledger; ``app`` over it with server-held keys, its ``services``, and a
``client`` (a TestClient) of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from browser_roles import browser, demo_world
from databases import migrated_sqlite
from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.trace.clock import FixedClock
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner

__all__ = ["browser", "demo_world"]

P = support._load("insutrace_tests_web_people", "web/people.py")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path / "ledger.db")


@pytest.fixture
def world(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> Any:
    w = P.W.LabelWorld(ledger, root, signer_for)
    w.trade_parties()
    return w


@pytest.fixture
def app(
    tmp_path: Path, store_url: str, world: Any, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[Any]:
    made = P.make_app(tmp_path, store_url, clock, log_signer)
    yield made
    P.close(made)


@pytest.fixture
def services(app: Any) -> Services:
    s: Services = app.state.services
    return s


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    yield from P.client_for(app)
