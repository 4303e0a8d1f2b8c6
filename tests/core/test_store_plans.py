"""PostgreSQL: the batch's lookups of many keys at once stay index probes however the
table's rows are spread and whatever size the planner last saw it at.

A write batch reads its statement ids (``entry_ref``) and the projection rows its rules
will read in one statement each (:meth:`SQLTx.prefetch_refs`, :meth:`SQLTx.prefetch_rows`).
Written as a plain join of the unnested keys, PostgreSQL planned a hash join over a
sequential scan of the whole table: with no statistics yet it takes any ref to match
0.5 % of the rows, and a scan looks cheaper than 64 probes — 11 ms a batch at 10^5 refs,
growing with the log, all of it under the head lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from conftest import require_pg
from databases import migrated_pg_schema, pg_schema_url

from insutrace.trace.store import open_store
from insutrace.trace.store.sql import SQLStore


@pytest.fixture(params=["never analysed", "analysed when small"])
def loaded(request: pytest.FixtureRequest) -> Iterator[tuple[SQLStore, str]]:
    """A migrated schema whose entry_ref and projection look like a served log's: 40,000
    entries' refs, two of each entry's three shared by thousands of entries; never
    analysed (a new deployment's tables until autovacuum first runs, every table where it
    is off), or analysed at a tenth of that size and grown since (between its runs)."""
    require_pg()
    with migrated_pg_schema() as schema:
        url = pg_schema_url(schema)
        store = open_store(url)
        assert isinstance(store, SQLStore)
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            conn.execute(f"SET search_path TO {schema}")
            _fill(conn, 0, 4_000)
            if request.param == "analysed when small":
                conn.execute("ANALYZE entry_ref")
                conn.execute("ANALYZE projection")
            _fill(conn, 4_000, 40_000)
        yield store, schema
        store.close()


def _libpq(url: str) -> str:
    return url.split("?", 1)[0].replace("postgresql+psycopg://", "postgresql://")


def _fill(conn: psycopg.Connection[Any], start: int, end: int) -> None:
    conn.execute(
        "INSERT INTO entry_ref (ref, seq) "
        "SELECT r, g FROM generate_series(%s, %s - 1) AS g, "
        "LATERAL (VALUES ('statement:' || g), ('type:t' || mod(g, 4)), ('actor:a' || mod(g, 16))) "
        "AS v(r)",
        (start, end),
    )
    conn.execute(
        "INSERT INTO projection (kind, key, data) "
        "SELECT 'product', 'p' || g, '{}' FROM generate_series(%s, %s - 1) AS g",
        (start, end),
    )


def _plan(store: SQLStore, schema: str, query: str, params: list[Any]) -> dict[str, Any]:
    """The plan PostgreSQL makes for ``query`` as the store runs it (unprepared: planned
    with these parameters), as JSON."""
    with psycopg.connect(_libpq(store.url), autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {query}", params, prepare=False).fetchone()
    assert row is not None
    plan = row[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]  # type: ignore[no-any-return]


def _scans(plan: dict[str, Any]) -> set[str]:
    """The node types of ``plan`` that read a table (and which)."""
    found = set()
    if "Relation Name" in plan:
        found.add(f"{plan['Node Type']} on {plan['Relation Name']}")
    for child in plan.get("Plans", []):
        found |= _scans(child)
    return found


def test_a_batchs_statement_ids_are_index_probes(loaded: tuple[SQLStore, str]) -> None:
    store, schema = loaded
    refs = [f"statement:{n}" for n in range(0, 40_000, 625)]  # 64, across the table
    query = store._sql.refs_any.replace("%b", "%s")
    scans = _scans(_plan(store, schema, query, [refs]))
    assert scans and not any(s.startswith("Seq Scan") for s in scans), scans


def test_a_batchs_projection_rows_are_index_probes(loaded: tuple[SQLStore, str]) -> None:
    store, schema = loaded
    keys = [f"p{n}" for n in range(0, 40_000, 80)]  # 500: a prefetch's largest round trip
    query = store._sql.rows_any.replace("%b", "%s")
    scans = _scans(_plan(store, schema, query, [["product"] * len(keys), keys]))
    assert scans and not any(s.startswith("Seq Scan") for s in scans), scans


def test_the_lookups_answer_what_is_stored(loaded: tuple[SQLStore, str]) -> None:
    """The same rows as asked one by one: found ones with their seqs, missing ones absent."""
    store, _ = loaded
    with store.write() as tx:
        tx.prefetch_refs(["statement:7", "statement:39999", "statement:40000"])
        tx.prefetch_rows([("product", "p5"), ("product", "p40000")])
        assert tx.refs("statement:7") == [7]
        assert tx.refs("statement:39999") == [39999]
        assert tx.refs("statement:40000") == []
        assert tx.get("product", "p5") == {}
        assert tx.get("product", "p40000") is None
