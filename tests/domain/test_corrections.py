"""Rule 10: corrections are new entries referencing the corrected one; nothing is edited."""

from __future__ import annotations

from typing import Any

import pytest

from insutrace.trace.errors import Forbidden, MalformedInput

from .conftest import World, refused


def seq_of(world: World, kind: str, key: str) -> int:
    with world.ledger.store.read() as tx:
        row = tx.get(kind, key)
    assert row is not None
    return int(row["seq"])


def correct(world: World, who: str, kind: str, key: str, seq: int, **values: Any) -> None:
    payload = {
        "corrects": seq,
        "target": {"kind": kind, "id": key},
        "reason": "录入错误",
        "set": values,
    }
    world.add("entry.correct", payload, world[who])


def test_a_correction_is_a_new_entry_and_the_original_stays(world: World) -> None:
    batch = world.batch(world.product())
    seq = seq_of(world, "batch", batch)
    original = world.ledger.entry_bytes(seq)
    correct(world, "maker", "batch", batch, seq, production_date="2026-10-30", density="31.5")
    with world.ledger.store.read() as tx:
        row = tx.get("batch", batch)
        refs = tx.refs(f"entry:{seq}")
    assert row is not None and (row["production_date"], row["density"]) == ("2026-10-30", "31.5")
    assert row["corrections"][0]["fields"] == {"density": "31.5", "production_date": "2026-10-30"}
    assert world.ledger.entry_bytes(seq) == original
    assert refs == [world.ledger.size() - 1]


def test_only_the_author_corrects_and_only_the_entry_that_created_the_record(world: World) -> None:
    batch = world.batch(world.product())
    seq = seq_of(world, "batch", batch)
    with pytest.raises(Forbidden, match="only the author"):
        correct(world, "dist", "batch", batch, seq, density="31")
    with refused("correct.target", f"entry {seq - 1} did not create batch"):
        correct(world, "maker", "batch", batch, seq - 1, density="31")
    with pytest.raises(MalformedInput, match="expected some of"):
        correct(world, "maker", "batch", batch, seq, lot="L-NEW")
    with pytest.raises(MalformedInput, match="density: expected a decimal string"):
        correct(world, "maker", "batch", batch, seq, density="dense")


def test_fields_that_decisions_used_are_not_corrected(world: World) -> None:
    batch = world.qualified_batch(world.product())
    seq = seq_of(world, "batch", batch)
    with refused("correct.decided", "declared of batch"):
        correct(world, "maker", "batch", batch, seq, declared="B1(C)")
    fresh = world.batch(world.product())
    correct(world, "maker", "batch", fresh, seq_of(world, "batch", fresh), declared="B1(C)级")
    with world.ledger.store.read() as tx:
        assert tx.get("batch", fresh)["declared"]["label"] == "GB 8624 B1(C)"  # type: ignore[index]


def test_root_corrects_an_organisation(world: World) -> None:
    uscc = world.id("dist")
    payload = {
        "corrects": seq_of(world, "org", uscc),
        "target": {"kind": "org", "id": uscc},
        "reason": "名称变更录入错误",
        "set": {"name": "南京测试建材贸易有限责任公司"},
    }
    world.add("entry.correct", payload, world.root)
    with world.ledger.store.read() as tx:
        assert tx.get("org", uscc)["name"] == "南京测试建材贸易有限责任公司"  # type: ignore[index]
