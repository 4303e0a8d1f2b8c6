"""What an entry costs inside a batch, and that the cheaper way is the same ledger.

A write transaction holds its entries, Merkle nodes, refs and projection rows in memory and
writes them at commit, one statement per table; a savepoint is a mark in memory. So:

* the SQL statements per appended entry, with the domain's real rules, are a constant
  handful per batch plus the first read of each row an entry touches — the same at any
  log size (counted here on the benchmark's everyday mix: ``scripts/bench_append.py``);
* a batch with refused items (refused after they wrote rows) leaves exactly what admitting
  the accepted items one transaction each leaves: the same log bytes, the same projections;
* every read of the transaction sees what it holds (scans, refs, entries, nodes), and a
  rolled-back savepoint, nested or not, drops it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import require_pg
from databases import migrated_pg_schema, pg_schema_url
from support import _load

from insutrace.demo.scenario import gtin
from insutrace.trace.errors import Conflict, LedgerError, RuleViolation
from insutrace.trace.ledger import Ledger, Receipt, ServerWrite
from insutrace.trace.merkle import leaf_hash
from insutrace.trace.store import Store
from insutrace.trace.store import sql as sql_store

B = _load("bench_append", "../scripts/bench_append.py")


def domain_ledger(url: str) -> Ledger:
    return B.domain_ledger(url, migrate=False)  # type: ignore[no-any-return]


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    ledger = domain_ledger(store_url)
    yield ledger
    ledger.store.close()


def statements_per_entry(ledger: Ledger, work: Any, batch: int, batches: int) -> float:
    items = [[next(work.stream) for _ in range(batch)] for _ in range(batches)]
    with B.counted_statements() as counter:
        for writes in items:
            results = ledger.admit(writes)
            assert all(isinstance(r, Receipt) and not r.duplicate for r in results), results
    return (counter.statements + batches) / (batch * batches)  # + each batch's commit


def test_sql_statements_per_entry_are_a_constant_handful(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    work = B.Workload(ledger)
    statements_per_entry(ledger, work, 8, 2)  # warm: the ledger holds the head
    small = statements_per_entry(ledger, work, 32, 2)
    statements_per_entry(ledger, work, 128, 4)  # the log grows by 512 entries
    large = statements_per_entry(ledger, work, 32, 2)
    single = statements_per_entry(ledger, work, 1, 8)
    with capsys.disabled():
        print(
            f"\nSQL statements per entry (batch.register, custody.ship, custody.receive, "
            f"label.scan): batch of 32 {small:.2f} at {ledger.size() - 576} entries, "
            f"{large:.2f} at {ledger.size() - 64}; batch of 1 {single:.2f}"
        )
    # Per batch, about ten: BEGIN or the head's row lock, the fail-stop reads (head leaf and
    # latest checkpoint in one), the batch's statement ids, four inserts (entries, nodes,
    # refs, projection rows), the head, the checkpoint, the commit. Per entry, only the
    # first read of each row it touches that the batch has not read yet: here a new batch,
    # shipment, scan or holding row, about two. One more statement per entry (a savepoint,
    # a statement-id lookup, an insert) would pass 3; a batch of one, alone, reads every
    # row it touches (the signer's key and organisation, the product, the project …).
    assert small <= 3.0
    assert abs(large - small) <= 0.25  # not a function of the log's size
    assert single <= 17


@pytest.fixture
def pg_ledger() -> Iterator[Ledger]:
    require_pg()
    with migrated_pg_schema() as schema:
        ledger = domain_ledger(pg_schema_url(schema))
        yield ledger
        ledger.store.close()


def test_rows_every_write_reads_are_read_once_per_batch(pg_ledger: Ledger) -> None:
    """PostgreSQL: the signing key and organisation of every write, and the records its
    type declares, are read for the whole batch in one round trip (Registry.rows_read): a
    batch of product.register by as many manufacturers costs the same statements whether
    they are 4 or 32. (SQLite reads each row when asked: a call within the process.)"""
    ledger = pg_ledger
    w = B.Workload(ledger).world
    makers = [w.org(f"m{i}", f"制造商 {i}", "manufacturer", address="北京市") for i in range(36)]
    ledger.checkpoint()

    def batch_statements(signers: list[Any]) -> int:
        writes = [
            ServerWrite("product.register", {**PRODUCT, "gtin": gtin(w.next())}, s, id=f"p{i}")
            for i, s in enumerate(signers)
        ]
        with B.counted_statements() as counter:
            results = ledger.admit(writes)
        assert all(isinstance(r, Receipt) and not r.duplicate for r in results), results
        return counter.statements

    few, many = batch_statements(makers[:4]), batch_statements(makers[4:])
    assert many == few <= 12, (few, many)


PRODUCT = {
    "schema": 1,
    "name": "挤塑聚苯乙烯泡沫塑料板",
    "type": "xps",
    "polymer": "polystyrene",
    "thermosetting": False,
    "standard": "GB/T 10801.2-2018",
}


def writes_with_refusals(work: Any) -> list[ServerWrite]:
    """The everyday mix with items refused after they have written rows, duplicates and a
    reused statement id among them."""
    w = work.world
    stream = [next(work.stream) for _ in range(24)]
    two = [work.batches[0], work.batches[1]]
    lines = [{"batch": b, "unit": "m2", "quantity": "1"} for b in two]
    ship = work.write(
        "custody.ship",
        {"number": f"T{work.run}", "to": w.id("dist"), "date": w.today, "lines": lines},
        "maker",
    )
    shipment = f"{w.id('maker')}|T{work.run}"
    # the first line is received (rows written), the second is more than was shipped
    over = copy.deepcopy(lines)
    over[1]["quantity"] = "5"
    bad_receive = work.write(
        "custody.receive", {"shipment": shipment, "date": w.today, "lines": over}, "dist"
    )
    good_receive = work.write(
        "custody.receive", {"shipment": shipment, "date": w.today, "lines": lines}, "dist"
    )
    again = ServerWrite(stream[0].type, stream[0].payload, stream[0].signer, id=stream[0].id)
    reused = ServerWrite(stream[1].type, {**stream[1].payload, "quantity": "2"}, stream[1].signer,
                         id=stream[0].id)  # fmt: skip
    lot = work.write("batch.register", stream[0].payload, "maker")  # the same lot again
    return [
        *stream[:6], ship, bad_receive, again, *stream[6:12], good_receive, reused, lot,
        bad_receive, *stream[12:],
    ]  # fmt: skip


def outcome(result: Receipt | LedgerError) -> Any:
    if isinstance(result, Receipt):
        return (result.seq, result.duplicate)
    return (type(result).__name__, getattr(result, "rule", None))


def log_of(store: Store) -> list[bytes]:
    with store.read() as tx:
        return tx.entries(0, tx.head()[0])


@pytest.mark.parametrize("held", [sql_store.HELD_ROWS, 7], ids=["at-commit", "every-7-rows"])
def test_a_batch_with_refusals_leaves_what_separate_transactions_leave(
    store_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    held: int,
) -> None:
    monkeypatch.setattr(sql_store, "HELD_ROWS", held)
    batched = domain_ledger(store_url)
    alone = domain_ledger(_sqlite(tmp_path))  # SQLite: the same bytes on either backend
    try:
        writes = {}
        for name, ledger in (("batched", batched), ("alone", alone)):
            work = B.Workload(ledger, run="same")
            writes[name] = writes_with_refusals(work)
        results = [r for i in range(0, len(writes["batched"]), 8)
                   for r in batched.admit(writes["batched"][i : i + 8])]  # fmt: skip
        single = [alone.admit([w])[0] for w in writes["alone"]]
        assert [outcome(r) for r in results] == [outcome(r) for r in single]
        refused = [r for r in results if not isinstance(r, Receipt)]
        assert {type(r) for r in refused} == {RuleViolation, Conflict}
        assert {r.rule for r in refused if isinstance(r, RuleViolation)} == {
            "custody.overreceipt",  # after its first line's rows were written
            "custody.closed",  # the same receipt once the shipment was received in full
            "batch.unique",
        }
        assert sum(isinstance(r, Receipt) and r.duplicate for r in results) == 1
        assert log_of(batched.store) == log_of(alone.store)
        digest = batched.store.projection_digest()
        assert digest == alone.store.projection_digest()
        assert batched.rebuild() == digest
    finally:
        batched.store.close()
        alone.store.close()


def _sqlite(tmp_path: Any) -> str:
    from databases import migrated_sqlite

    return str(migrated_sqlite(tmp_path / "alone.db"))


def test_reads_see_what_the_transaction_holds(store: Store) -> None:
    with store.read() as tx:
        start = tx.head()
    with pytest.raises(RuntimeError, match="whole"), store.write() as tx:
        size, _ = tx.head()
        tx.put("t", "b|2", {"n": 2})
        tx.put("t", "a|1", {"n": 1})
        tx.add_refs(size, ["r:x"])
        body = b'{"held":1}'
        tx.append(size, body, leaf_hash(body), {})
        assert tx.scan("t") == [("a|1", {"n": 1}), ("b|2", {"n": 2})]
        assert tx.scan("t", "b|") == [("b|2", {"n": 2})]
        assert tx.refs("r:x") == [size] and tx.refs("r:x", descending=True) == [size]
        assert tx.refs("r:x", after=size) == []
        assert tx.entries(size, size + 1) == [body]
        assert tx.leaf(size) == leaf_hash(body) == tx.nodes([(0, size)])[(0, size)]
        assert tx.head() == (size + 1, leaf_hash(body))
        row = tx.get("t", "a|1")
        assert row is not None
        row["n"] = 99  # changing what was read changes nothing held
        assert tx.get("t", "a|1") == {"n": 1}
        with pytest.raises(KeyError, match="outer"), tx.savepoint():
            tx.put("t", "a|1", {"n": 10})
            tx.put("t", "c|3", {"n": 3})
            other = b'{"held":2}'
            tx.append(size + 1, other, leaf_hash(other), {(1, size // 2): b"n" * 32})
            with tx.savepoint():  # released: its writes belong to the outer savepoint
                tx.put("t", "a|1", {"n": 11})
                tx.add_refs(size + 1, ["r:x", "r:y"])
            assert tx.get("t", "a|1") == {"n": 11} and tx.refs("r:y") == [size + 1]
            assert tx.refs("r:x", descending=True) == [size + 1, size]
            assert tx.refs("r:x", limit=1) == [size]
            with pytest.raises(KeyError, match="inner"), tx.savepoint():
                tx.put("t", "a|1", {"n": 12})
                raise KeyError("inner")
            assert tx.get("t", "a|1") == {"n": 11}
            raise KeyError("outer")
        assert tx.scan("t") == [("a|1", {"n": 1}), ("b|2", {"n": 2})]
        assert tx.get("t", "c|3") is None and tx.refs("r:y") == [] and tx.refs("r:x") == [size]
        assert tx.head() == (size + 1, leaf_hash(body))
        assert tx.entries(size, size + 2) == [body]
        with tx.savepoint(), pytest.raises(RuntimeError, match="inside a savepoint"):
            tx.add_checkpoint(size + 1, "a savepoint could not take this back")
        with tx.savepoint(), pytest.raises(RuntimeError, match="inside a savepoint"):
            tx.clear_projections()
        raise RuntimeError("roll the whole transaction back")
    with store.read() as tx:
        assert tx.head() == start and tx.scan("t") == [] and tx.refs("r:x") == []
