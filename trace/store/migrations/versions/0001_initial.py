"""The log's tables: entries, Merkle nodes, head, checkpoints, projections, entry refs.

The root of the ``log`` branch. A database that an earlier release's ``insutrace init``
created without migrations already holds these tables: online, each is created only
when missing (offline ``--sql`` output creates them all).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("log",)
depends_on: str | Sequence[str] | None = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid


def _log_tables() -> list[tuple[str, list[sa.Column[object] | sa.Constraint], dict[str, object]]]:
    return [
        (
            "log_entry",
            [
                sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
                sa.Column("body", sa.LargeBinary(), nullable=False),
                sa.Column("leaf", sa.LargeBinary(), nullable=False),
            ],
            {},
        ),
        (
            "log_node",
            [
                sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
                sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
                sa.Column("hash", sa.LargeBinary(), nullable=False),
            ],
            {"sqlite_with_rowid": False},
        ),
        (
            "log_head",
            [
                sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
                sa.Column("size", sa.BigInteger(), nullable=False),
                sa.Column("leaf", sa.LargeBinary(), nullable=False),
            ],
            {},
        ),
        (
            "log_checkpoint",
            [
                sa.Column("size", _SEQ, primary_key=True, autoincrement=False),
                sa.Column("note", sa.Text(), nullable=False),
            ],
            {},
        ),
        (
            "projection",
            [
                sa.Column("kind", sa.String(64), primary_key=True),
                sa.Column("key", sa.String(512), primary_key=True),
                sa.Column("data", sa.Text(), nullable=False),
            ],
            {"sqlite_with_rowid": False},
        ),
        (
            "entry_ref",
            [
                sa.Column("ref", sa.String(512), primary_key=True),
                sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
            ],
            {"sqlite_with_rowid": False},
        ),
    ]


# 32 zero bytes, written as SQL so that offline (--sql) output can carry it too
_ZERO_LEAF = {"sqlite": "zeroblob(32)", "postgresql": "decode(repeat('00', 32), 'hex')"}


def _existing() -> set[str]:
    if context.is_offline_mode():
        return set()
    return set(sa.inspect(op.get_bind()).get_table_names())


def _needs_head() -> bool:
    if context.is_offline_mode():
        return True
    head = sa.table("log_head")
    return op.get_bind().execute(sa.select(sa.func.count()).select_from(head)).scalar() == 0


def upgrade() -> None:
    existing = _existing()
    for name, columns, options in _log_tables():
        if name not in existing:
            op.create_table(name, *columns, **options)  # type: ignore[arg-type]
    if _needs_head():  # the empty log: size 0, no last leaf (32 zero bytes)
        zero = _ZERO_LEAF[context.get_context().dialect.name]
        op.execute(f"INSERT INTO log_head (id, size, leaf) VALUES (1, 0, {zero})")


def downgrade() -> None:
    """Nothing: the log is append-only, and no migration drops it."""
