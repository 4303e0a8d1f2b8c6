"""The log's tables and the API's account tables.

The log tables may already exist: ``insutrace init`` and the store create them on
first use (``SQLStore`` runs ``create_all``), so each is created only when missing.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
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


def _api_tables() -> None:
    op.create_table(
        "api_account",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
    )
    op.create_index("ix_api_account_org", "api_account", ["org"])
    op.create_table(
        "api_token",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("revoked", sa.String(32), nullable=True),
    )
    op.create_index("ix_api_token_account_id", "api_token", ["account_id"])
    op.create_table(
        "api_org_key",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("public", sa.String(64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
    )
    op.create_index("ix_api_org_key_org", "api_org_key", ["org"])
    op.create_table(
        "api_idempotency",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("api_account.id"), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("created", sa.String(32), nullable=False),
    )


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns, options in _log_tables():
        if name not in existing:
            op.create_table(name, *columns, **options)  # type: ignore[arg-type]
    head = sa.table("log_head", sa.column("id"), sa.column("size"), sa.column("leaf"))
    if op.get_bind().execute(sa.select(sa.func.count()).select_from(head)).scalar() == 0:
        op.execute(head.insert().values(id=1, size=0, leaf=bytes(32)))
    _api_tables()


def downgrade() -> None:
    for name in ("api_idempotency", "api_org_key", "api_token", "api_account"):
        op.drop_table(name)
