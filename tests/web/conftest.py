"""The browser tests run on one backend only: a seeded SQLite ledger (the page is the
subject here; both backends are covered through the API tests). The root ``ledger``
fixture still re-verifies the whole log and rebuilds its projections afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from databases import migrated_sqlite


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path / "ledger.db")
