"""The API's own tables: accounts, tokens, server-held keys, idempotency records.

The root of the ``api`` branch (the log's tables are the ``log`` branch, in the core).
A database migrated by an earlier release holds these tables already, created by the
log's revision 0001 before the branches were split: online, each is created only when
missing (offline ``--sql`` output creates them all).

Revision ID: a0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "a0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("api",)
depends_on: str | Sequence[str] | None = None


def _account() -> None:
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


def _token() -> None:
    op.create_table(
        "api_token",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("revoked", sa.String(32), nullable=True),
    )
    op.create_index("ix_api_token_account_id", "api_token", ["account_id"])


def _org_key() -> None:
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


def _idempotency() -> None:
    op.create_table(
        "api_idempotency",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("api_account.id"), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("created", sa.String(32), nullable=False),
    )


# parents before the tables that refer to them
_CREATE: dict[str, Callable[[], None]] = {
    "api_account": _account,
    "api_token": _token,
    "api_org_key": _org_key,
    "api_idempotency": _idempotency,
}


def _existing() -> set[str]:
    if context.is_offline_mode():
        return set()
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    existing = _existing()
    for name, create in _CREATE.items():
        if name not in existing:
            create()


def downgrade() -> None:
    for name in reversed(list(_CREATE)):
        op.drop_table(name)
