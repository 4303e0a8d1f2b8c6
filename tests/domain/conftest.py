"""The domain tests' scenario: :class:`insutrace.demo.scenario.Scenario` as ``World``.

Every builder appends real entries through the ``ledger`` fixture (SQLite and
PostgreSQL, verified and rebuilt after each test). Identifiers are valid by
construction (USCC check character, GTIN check digit, CMA format); keys are the
test-only deterministic keys of ``signer_for``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import refused

from insutrace.demo.scenario import B1, DOC, POLICY, RETEST_EXTRAS, TODAY, gtin, results, uscc
from insutrace.demo.scenario import Scenario as World
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

__all__ = [
    "B1",
    "DOC",
    "POLICY",
    "RETEST_EXTRAS",
    "TODAY",
    "World",
    "gtin",
    "refused",
    "results",
    "uscc",
]


@pytest.fixture
def world(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> World:
    """A ledger with a manufacturer, a distributor and an accredited lab."""
    w = World(ledger, root, signer_for)
    w.trade_parties()
    return w
