"""Helpers shared across test folders (``tests/`` is on pytest's ``pythonpath`` but is not
a package): the test-only keys and the whole-ledger check the fixtures use, the refusal
check, the label scenario module loaded by path, once per session, a uvicorn server in a
thread for tests that need a real socket, and the reference files beside the checkout. The
scenario builder itself is :mod:`insutrace.demo.scenario`."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn

from insutrace.trace.errors import RuleViolation
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.verify import verify_store

_TESTS = Path(__file__).parent
ORIGIN = "test.insutrace.local/ledger"  # the test ledgers' log origin
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # the test ledgers' genesis (their clock)
# The demo's first day in tests: the Monday after the test ledgers' genesis (START), since
# entry times never go back along the log (rule log.time_order).
DEMO_START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
# reference material kept beside the checkout, not in it (a fresh clone has none)
SHARED = _TESTS.resolve().parents[1] / "shared"
EPCIS_SCHEMA = "data/epcis-2.0/EPCIS-JSON-Schema.json"


def fixed_signer(actor: str) -> Signer:
    """Deterministic keys: test-only, derived from the actor name."""
    return Signer.from_seed(actor, b"insutrace-test-only:" + actor.encode())


def check_log(ledger: Ledger, root: Signer) -> None:
    """The whole-ledger check run after every scenario (after sunlight's CheckLog):
    the log verifies from the root key alone, and projections rebuild identically."""
    ledger.checkpoint()
    report = verify_store(ledger.store, root_key=root.public_b64)
    assert report.ok, f"ledger does not verify: {report.error}"
    before = ledger.store.projection_digest()
    assert ledger.rebuild() == before, "projections differ after rebuild from the log"


def shared_file(relative: str, override: str | None = None) -> Path:
    """A reference file from ``../shared`` (or the path in the environment variable
    ``override``). When it is absent the calling test skips with one line — unless
    INSUTRACE_REQUIRE_SHARED=1 (CI), where the absence fails the test."""
    given = os.environ.get(override) if override else None
    path = Path(given) if given else SHARED / relative
    if path.is_file():
        return path
    reason = f"{relative} not found at {path}" + (f" (set {override})" if override else "")
    if os.environ.get("INSUTRACE_REQUIRE_SHARED") == "1":
        pytest.fail(f"{reason}; INSUTRACE_REQUIRE_SHARED=1 requires it", pytrace=False)
    pytest.skip(reason)


def epcis_schema() -> Path:
    """The EPCIS 2.0 JSON Schema (GS1), from ../shared or INSUTRACE_EPCIS_SCHEMA."""
    return shared_file(EPCIS_SCHEMA, "INSUTRACE_EPCIS_SCHEMA")


def _load(name: str, relative: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _TESTS / relative)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def label_world() -> ModuleType:
    """Label scenarios on a real ledger (tests/labels/world.py)."""
    return _load("insutrace_tests_label_world", "labels/world.py")


@contextmanager
def refused(rule: str, match: str | None = None) -> Iterator[None]:
    """Expect a RuleViolation with this rule id (and ``match`` literally in its message)."""
    with pytest.raises(RuleViolation, match=re.escape(match) if match else None) as info:
        yield
    assert info.value.rule == rule, info.value


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def write_lock_held(store: Any) -> Iterator[None]:
    """``store``'s write transaction open in another thread, holding the log's writer lock
    (as another process's batch would), until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.write() as tx:
            tx.head()
            holding.set()
            release.wait(20)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(20)
        yield
    finally:
        release.set()
        holder.join()


class AccountStatements:
    """How many statements the account store's engine sent (:func:`account_statements`)."""

    count = 0


@contextmanager
def account_statements(engine: Any) -> Iterator[AccountStatements]:
    """Count the statements sent on the account store's ``engine`` inside the block, but
    for the webhook worker's: it polls its own tables (``api_webhook*``) on its own clock
    from a thread of the app, whatever the requests do."""
    from sqlalchemy import event

    seen = AccountStatements()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "api_webhook" not in statement:
            seen.count += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
