"""The store's boundary: every database failure leaves as one StorageError line, never as a
driver exception, KeyError or ValueError; the command line prints it as one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import require_pg
from databases import PG_URL, migrated_pg_schema, pg_schema_url
from sqlalchemy import text
from typer.testing import CliRunner

from insutrace.cli.main import app
from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.errors import StorageError
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger, ServerWrite
from insutrace.trace.store import Store, open_store

runner = CliRunner()


def sql(store: Store, statement: str) -> None:
    """Change the database behind the store's back."""
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text(statement))


def cli(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.output


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    code, out = cli(home, "init")
    assert code == 0, out
    return home


def test_init_migrates_the_database_it_creates(home: Path) -> None:
    code, out = cli(home, "verify")
    assert (code, out.count("\n")) == (0, 1), out
    assert out.startswith("ok: 1 entries")


def test_verify_on_a_corrupt_sqlite_file_is_one_line(home: Path) -> None:
    (home / "ledger.db").write_bytes(b"this is not an SQLite database" * 200)
    for name in ("ledger.db-wal", "ledger.db-shm"):
        (home / name).unlink(missing_ok=True)
    code, out = cli(home, "verify")
    assert code == 1
    assert out.count("\n") == 1 and "Traceback" not in out, out
    assert out.startswith("error: storage failed on sqlite:///")
    assert "file is not a database" in out


def test_verify_with_a_missing_table_is_one_line(home: Path) -> None:
    store = open_store(f"sqlite:///{home / 'ledger.db'}")
    sql(store, "DROP TABLE log_checkpoint")
    store.close()
    code, out = cli(home, "verify")
    assert code == 1
    assert out.count("\n") == 1 and "Traceback" not in out, out
    assert "no such table: log_checkpoint" in out


def test_an_unmigrated_database_names_the_command_to_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "ledger.db").touch()  # an empty SQLite file: no tables, no migrations
    code, out = cli(home, "verify")
    assert code == 1
    assert out.count("\n") == 1, out
    assert out.rstrip().endswith("(found no migrations): run `insutrace db upgrade`")


def test_a_missing_table_in_a_write_is_storage_error(ledger: Ledger) -> None:
    sql(ledger.store, "ALTER TABLE entry_ref RENAME TO entry_ref_moved")
    refused = pytest.raises(StorageError, match=r"^storage failed on .*entry_ref")
    with refused, ledger.store.write() as tx:
        tx.add_refs(0, ["batch:B1"])
    sql(ledger.store, "ALTER TABLE entry_ref_moved RENAME TO entry_ref")


def test_a_duplicate_row_is_storage_error_not_integrity_error(ledger: Ledger) -> None:
    with pytest.raises(StorageError, match=r"^storage failed on "), ledger.store.write() as tx:
        tx.add_checkpoint(0, "x")  # harmless: ON CONFLICT DO NOTHING
        tx.add_refs(0, ["org:root"])
        tx.add_refs(0, ["org:root"])  # the primary key (ref, seq) again
    with ledger.store.read() as tx:
        assert tx.checkpoint_at(0) is None  # the whole transaction rolled back


def test_missing_merkle_nodes_are_storage_error(ledger: Ledger) -> None:
    with ledger.store.read() as tx, pytest.raises(StorageError, match=r"nodes missing"):
        tx.nodes([(5, 0)])


class _RolledBack(Exception):
    """Leaves a write transaction without committing it."""


def test_a_run_of_nodes_reads_as_its_nodes_one_by_one(
    make_ledger: Callable[..., Ledger], root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    """Consecutive indexes (a verification's batch) are read as a range: the same hashes
    as each node read alone; a node missing inside the run is named."""
    ledger = make_ledger(types=CORE_TYPES)
    orgs = [signer_for(f"run-{i}") for i in range(20)]
    ledger.admit(
        [
            ServerWrite(
                "actor.register", {"id": o.actor, "public_key": o.public_b64, "name": "o"}, root
            )
            for o in orgs
        ]
    )
    wanted = [(0, i) for i in range(3, 17)] + [(1, i) for i in range(8)] + [(2, 1), (2, 3)]
    with ledger.store.read() as tx:
        run = tx.nodes(wanted)
        alone = {node: tx.nodes([node])[node] for node in wanted}
    assert run == alone and len(run) == len(wanted)
    with ledger.store.read() as tx:  # a run read as a list, in index order
        assert tx.node_run(0, 3, 17) == [alone[(0, i)] for i in range(3, 17)]
        assert tx.node_run(1, 0, 8) == [alone[(1, i)] for i in range(8)]
        assert tx.node_run(1, 9, 40) == [tx.nodes([(1, 9)])[(1, 9)]]  # as many as held
    with ledger.store.read() as tx:
        size = tx.head()[0]
        before = tx.nodes([(0, size - 2), (0, size - 1), (1, size // 2 - 1)])
    with pytest.raises(_RolledBack), ledger.store.write() as tx:  # a writer's held nodes
        leaf, node = b"L" * 32, b"N" * 32  # (not hashes of anything: only read back)
        tx.append(size, b"{}", leaf, {(0, size): leaf, (1, size // 2): node})
        assert tx.node_run(0, size - 2, size + 5) == [
            before[(0, size - 2)],
            before[(0, size - 1)],
            leaf,
        ]
        assert tx.node_run(1, size // 2 - 1, size // 2 + 3) == [before[(1, size // 2 - 1)], node]
        raise _RolledBack
    with ledger.store.read() as tx:  # rolled back: the stored ones only
        assert tx.node_run(0, size - 2, size + 5) == [before[(0, size - 2)], before[(0, size - 1)]]
    logged = list(ledger.store.iter_logged(batch=4))  # each entry with its stored leaf
    assert [(seq, body) for seq, body, _ in logged] == list(ledger.store.iter_entries())
    assert [leaf for _, _, leaf in logged[3:17]] == [alone[(0, i)] for i in range(3, 17)]
    held = run[(1, 4)]
    sql(ledger.store, "DELETE FROM log_node WHERE level = 1 AND idx = 4")
    try:
        with ledger.store.read() as tx, pytest.raises(StorageError, match=r"\(1, 4\)"):
            tx.nodes([(1, i) for i in range(8)])
        with ledger.store.read() as tx:  # one missing: the others, in order
            assert tx.node_run(1, 0, 8) == [run[(1, i)] for i in range(8) if i != 4]
    finally:
        with ledger.store.engine.begin() as conn:  # type: ignore[attr-defined]
            insert = "INSERT INTO log_node (level, idx, hash) VALUES (1, 4, :hash)"
            conn.execute(text(insert), {"hash": held})


def test_a_damaged_projection_row_is_storage_error(ledger: Ledger) -> None:
    with ledger.store.write() as tx:
        tx.put("orgs", "X", {"name": "x"})
    sql(ledger.store, "UPDATE projection SET data = '[1, 2' WHERE kind = 'orgs' AND key = 'X'")
    with ledger.store.read() as tx, pytest.raises(StorageError, match=r"\(orgs, X\)"):
        tx.get("orgs", "X")
    sql(ledger.store, "DELETE FROM projection WHERE kind = 'orgs' AND key = 'X'")


def test_an_unreachable_server_is_storage_error() -> None:
    with pytest.raises(StorageError, match=r"^storage failed on postgresql\+psycopg://"):
        open_store("postgresql://nobody:secret@127.0.0.1:1/none")


def test_the_password_never_appears_in_the_message() -> None:
    with pytest.raises(StorageError) as failed:
        open_store("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(failed.value)


def test_only_sqlite_and_postgresql(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"unsupported database 'mysql'"):
        open_store("mysql://localhost/x")
    with pytest.raises(StorageError, match=r"needs a file path"):
        open_store("sqlite://")


def test_a_missing_head_row_is_storage_error(ledger: Ledger) -> None:
    sql(ledger.store, "UPDATE log_head SET id = 2")
    try:
        with pytest.raises(StorageError, match=r"log_head row is missing"):
            ledger.size()
    finally:
        sql(ledger.store, "UPDATE log_head SET id = 1")


def _end_pooled_connection(store: Store) -> None:
    """End, from outside, the server session of the connection the store's pool lends."""
    import psycopg

    with store.read() as tx:
        ours = tx._one("SELECT pg_backend_pid()")[0]  # type: ignore[attr-defined]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        row = conn.execute("SELECT pg_terminate_backend(%s)", (ours,)).fetchone()
    assert row == (True,)


def test_pooled_connections_the_server_closed_are_replaced() -> None:
    """The pool lends PostgreSQL connections without a test round trip: when the server
    ended one while it sat in the pool (a restart, an idle time-out), the next write or
    read is begun again on a new connection and succeeds."""
    require_pg()
    with migrated_pg_schema() as schema:
        store = open_store(pg_schema_url(schema))
        try:
            _end_pooled_connection(store)
            with store.write() as tx:
                tx.put("test", "reconnected", {"written": True})
            _end_pooled_connection(store)
            with store.read() as tx:
                assert tx.get("test", "reconnected") == {"written": True}
        finally:
            store.close()
