"""The scenario builder itself: defaults and overrides, bulk loads, its own timeline."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from insutrace.demo.scenario import OMIT, Scenario
from insutrace.trace.entry import Entry
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

from .conftest import World, gtin

SCRIPTS = Path(__file__).parents[2] / "scripts"


def _last(ledger: Ledger) -> Entry:
    size = ledger.size()
    with ledger.store.read() as tx:
        return Entry.from_bytes(tx.entries(size - 1, size)[0])


def test_overrides_replace_defaults_and_omit_leaves_them_out(world: World) -> None:
    world.batch(world.product(), lot="X1", density="45", note="试制")
    batch = _last(world.ledger).payload
    assert batch["lot"] == "X1" and batch["density"] == "45" and batch["note"] == "试制"
    assert batch["declared_class"].startswith("GB 8624")
    world.project(permit=OMIT, below_quota=True, design={"height_m": "12"})
    project = _last(world.ledger).payload
    assert "permit" not in project and project["below_quota"] is True
    assert project["design"] == {"use": "residential", "height_m": "12"}


def test_a_bulk_load_admits_its_entries_a_chunk_per_transaction(world: World) -> None:
    before = world.ledger.size()
    with world.bulk(chunk=3):
        product = world.product()
        world.batch(product)
        assert world.ledger.size() == before  # two gathered, none admitted yet
        world.batch(product)
        assert world.ledger.size() == before + 3
        world.batch(product)
        assert world.ledger.size() == before + 3
    assert world.ledger.size() == before + 4 and world.written == 7  # 3 organisations before


def test_a_receipt_is_written_after_the_gathered_entries(world: World) -> None:
    with world.bulk():
        product = world.product()
        payload = {"gtin": gtin(999), "name": "岩棉板", "type": "rock_wool",
                   "polymer": "inorganic", "thermosetting": False, "standard": "GB/T 25975-2018"}  # fmt: skip
        receipt = world.append("product.register", payload, "maker")
    assert receipt.seq == world.ledger.size() - 1
    with world.ledger.store.read() as tx:
        assert tx.get("product", product) is not None and tx.get("product", gtin(999)) is not None


def test_its_own_timeline_stamps_entries_and_dates_payloads(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    start = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 in China Standard Time
    s = Scenario(ledger, root, signer_for, now=start, step=timedelta(hours=1))
    s.trade_parties()
    assert _last(ledger).time == "2026-11-30T17:30:00.000Z"
    assert s.today == "2026-12-01"  # CST has passed midnight
    s.deliver("maker", "dist", s.qualified_batch(s.product()), "10")
    assert _last(ledger).payload["date"] == "2026-12-01"
    with pytest.raises(ValueError, match="ledger's clock"), s.bulk():
        pass


@pytest.mark.slow
def test_the_demo_script_writes_the_same_bytes_twice(tmp_path: Path) -> None:
    outputs = []
    for run in ("one", "two"):
        done = subprocess.run(
            [sys.executable, str(SCRIPTS / "demo.py"), str(tmp_path / run)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        files = [(tmp_path / run / name).read_bytes() for name in ("demo.json", "epcis.jsonld")]
        outputs.append((done.stdout, files))
    assert outputs[0] == outputs[1]
    assert re.match(r"\d+ entries, root [0-9a-f]{64}\n", outputs[0][0])
