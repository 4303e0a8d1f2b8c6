"""Alembic migrations: the only creator of the schema; the ``log`` and ``api`` branches
build it from nothing, adopt what earlier releases made, and match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text

from insutrace.api.accounts import metadata as api_metadata
from insutrace.api.migrate import alembic_config, current_heads, head_revisions, upgrade
from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.entry import statement_ref
from insutrace.trace.errors import StorageError
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store
from insutrace.trace.store.engine import make_engine
from insutrace.trace.store.sql import SCHEMA_REVISION
from insutrace.trace.store.sql import metadata as log_metadata

ROOT = Path(__file__).resolve().parents[2]


def _models() -> MetaData:
    combined = MetaData()
    for source in (log_metadata, api_metadata):
        for table in source.tables.values():
            table.to_metadata(combined)
    return combined


def _diff(url: str) -> list[object]:
    """What differs between the migrated database and the table models (alembic check)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            return list(compare_metadata(ctx, _models()))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _create_as_before(url: str, *sources: MetaData, revision: str | None = None) -> None:
    """What an earlier release left: its tables made by ``create_all``, maybe a revision."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for source in sources:
                source.create_all(conn)
            if revision is not None:
                conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
                conn.execute(text(f"INSERT INTO alembic_version VALUES ('{revision}')"))
    finally:
        engine.dispose()


def test_upgrade_builds_the_schema_from_nothing(blank_url: str) -> None:
    assert current_heads(blank_url) == ()
    upgrade(blank_url)
    assert current_heads(blank_url) == head_revisions() == ("0002", "a0003")
    assert _diff(blank_url) == []
    upgrade(blank_url)  # at the heads: nothing to do
    store = open_store(blank_url)
    try:
        with store.read() as tx:
            assert tx.head() == (0, bytes(32))
    finally:
        store.close()


def test_the_test_databases_match_an_online_upgrade(store_url: str) -> None:
    """The fixtures' template copy (SQLite) and offline SQL (PostgreSQL) are the migrations."""
    assert current_heads(store_url) == head_revisions()
    assert _diff(store_url) == []


def test_upgrade_adopts_the_log_tables_of_an_unmigrated_init(blank_url: str) -> None:
    _create_as_before(blank_url, log_metadata)  # an earlier `insutrace init`: no version
    upgrade(blank_url)
    assert current_heads(blank_url) == head_revisions()
    assert _diff(blank_url) == []


def test_upgrade_adopts_the_api_tables_of_the_single_branch_release(blank_url: str) -> None:
    """Before the split, revision 0001 created the log's and the API's tables together."""
    _create_as_before(blank_url, log_metadata, api_metadata, revision="0001")
    upgrade(blank_url)
    assert current_heads(blank_url) == head_revisions()
    assert _diff(blank_url) == []


def test_downgrading_the_api_branch_keeps_the_log(store_url: str) -> None:
    command.downgrade(alembic_config(store_url), "api@base")
    tables = _tables(store_url)
    assert "log_entry" in tables
    assert "api_account" not in tables
    assert current_heads(store_url) == (SCHEMA_REVISION,)
    upgrade(store_url)
    assert current_heads(store_url) == head_revisions()


def test_each_branch_lives_beside_its_models() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
    log_head = scripts.get_revision("log@head")
    api_head = scripts.get_revision("api@head")
    assert log_head is not None and api_head is not None
    assert log_head.revision == SCHEMA_REVISION  # what the store insists on
    assert Path(log_head.path).is_relative_to(ROOT / "trace" / "store" / "migrations")
    assert Path(api_head.path).is_relative_to(ROOT / "api" / "migrations")


def test_the_store_refuses_an_unmigrated_database(blank_url: str) -> None:
    with pytest.raises(StorageError, match=r"found no migrations\): run `insutrace db upgrade`"):
        open_store(blank_url)
    assert _tables(blank_url) == set()  # refusing created nothing


def test_the_store_refuses_a_database_behind_its_schema(blank_url: str) -> None:
    _create_as_before(blank_url, log_metadata, revision="0000")
    with pytest.raises(
        StorageError, match=rf"not at the log schema {SCHEMA_REVISION} \(found 0000\)"
    ):
        open_store(blank_url)


def test_db_commands_upgrade_both_branches(blank_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from insutrace.cli.main import app

    def db(*args: str) -> str:
        result = CliRunner().invoke(app, ["--home", str(tmp_path), "--db", blank_url, "db", *args])
        assert result.exit_code == 0, result.output
        return result.output.strip()

    assert db("current") == "current none, latest 0002, a0003"
    assert db("upgrade", "--revision", "log@head") == "schema at revision 0002"
    assert db("upgrade") == "schema at revision 0002, a0003"
    assert db("current") == "current 0002, a0003, latest 0002, a0003"


def test_statement_refs_of_actor_ids_with_a_colon_are_rewritten(
    store_url: str, root: Signer, log_signer: NoteSigner
) -> None:
    """0002: revision 0001 wrote ``statement:a:b:c:cccccccc`` for actor ``a:b``'s id
    ``c:cccccccc`` (also actor ``a``'s ``b:c:cccccccc``, or ``a:b:c``'s ``cccccccc``);
    the upgrade rewrites it from the entry, leaves others as they are, and the
    downgrade writes it back."""
    store = open_store(store_url)
    ledger = Ledger(store, log_signer=log_signer, types=CORE_TYPES)
    ledger.initialize(root, origin=log_signer.name)
    org = Signer.from_seed("a:b", b"insutrace-test-only:a:b")
    payload = {"id": org.actor, "public_key": org.public_b64, "name": "a:b"}
    ledger.append("actor.register", payload, root, id="register-a-b")
    fresh = Signer.from_seed("a:b", b"insutrace-test-only:a:b:fresh")
    ledger.append("key.rotate", {"public_key": fresh.public_b64}, org, id="c:cccccccc")
    store.close()
    old, new = "statement:a:b:c:cccccccc", statement_ref("a:b", "c:cccccccc")
    engine = make_engine(store_url)

    def refs() -> list[tuple[str, int]]:
        with engine.connect() as conn:
            query = "SELECT ref, seq FROM entry_ref WHERE ref LIKE 'statement:%' AND seq > 0"
            return sorted(
                ((str(r), int(seq)) for r, seq in conn.execute(text(query))), key=lambda r: r[1]
            )

    try:
        assert refs() == [("statement:root:register-a-b", 1), (new, 2)]
        with engine.begin() as conn:  # as revision 0001 left the log
            conn.execute(
                text("UPDATE entry_ref SET ref = :old WHERE ref = :new"), {"old": old, "new": new}
            )
            conn.execute(
                text("UPDATE alembic_version SET version_num = '0001' WHERE version_num = '0002'")
            )
        upgrade(store_url)
        assert refs() == [("statement:root:register-a-b", 1), (new, 2)]
        command.downgrade(alembic_config(store_url), "0001")
        assert refs() == [("statement:root:register-a-b", 1), (old, 2)]
        upgrade(store_url)
        assert current_heads(store_url) == head_revisions()
    finally:
        engine.dispose()
    store = open_store(store_url)
    try:  # the retry finds its statement: the original receipt, nothing appended
        again = Ledger(store, log_signer=log_signer, types=CORE_TYPES).append(
            "key.rotate", {"public_key": fresh.public_b64}, org, id="c:cccccccc"
        )
        assert again.duplicate and again.seq == 2
    finally:
        store.close()
