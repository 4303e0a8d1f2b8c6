"""People and their sessions; token expiry and lineage; who wrote an entry from the browser.

``api_account`` gains a person's sign-in (username, argon2 password hash, TOTP secret,
job title, administrator flag; all null for a machine's account); ``api_token`` gains
``expires`` and ``parent`` (the token that minted it). New tables: ``api_session``
(server-side browser sessions), ``api_signin_failure`` (the sign-in rate limit) and
``api_entry_author`` (the person behind an entry written from the browser).

Revision ID: a0002
Revises: a0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "a0002"
down_revision: str | None = "a0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACCOUNT: dict[str, Callable[[], Any]] = {
    "username": lambda: sa.String(32),
    "password": lambda: sa.String(200),
    "totp": lambda: sa.String(64),
    "title": lambda: sa.String(100),
    "admin": sa.Boolean,
}
_TOKEN: dict[str, Callable[[], Any]] = {
    "expires": lambda: sa.String(32),
    "parent": lambda: sa.String(64),
}


def _columns(table: str) -> set[str]:
    """The table's columns now: a database whose API tables were made from this release's
    models (before the branches were split) has them already; offline, none."""
    if context.is_offline_mode():
        return set()
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _tables() -> set[str]:
    if context.is_offline_mode():
        return set()
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    for table, columns, index in (
        ("api_account", _ACCOUNT, ("ix_api_account_username", "username", True)),
        ("api_token", _TOKEN, ("ix_api_token_parent", "parent", False)),
    ):
        present = _columns(table)
        for name, kind in columns.items():
            if name not in present:
                op.add_column(table, sa.Column(name, kind(), nullable=True))
        if index[1] not in present:
            op.create_index(index[0], table, [index[1]], unique=index[2])
    existing = _tables()
    if "api_session" not in existing:
        _create_tables()


def _create_tables() -> None:
    op.create_table(
        "api_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("seen", sa.String(32), nullable=False),
        sa.Column("expires", sa.String(32), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
    )
    op.create_index("ix_api_session_account_id", "api_session", ["account_id"])
    op.create_table(
        "api_signin_failure",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
    )
    op.create_index("ix_api_signin_failure_username", "api_signin_failure", ["username"])
    op.create_index("ix_api_signin_failure_ip", "api_signin_failure", ["ip"])
    op.create_table(
        "api_entry_author",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("username", sa.String(32), nullable=True),
        sa.Column("created", sa.String(32), nullable=False),
    )
    op.create_index("ix_api_entry_author_account_id", "api_entry_author", ["account_id"])


def downgrade() -> None:
    op.drop_table("api_entry_author")
    op.drop_table("api_signin_failure")
    op.drop_table("api_session")
    op.drop_index("ix_api_token_parent", "api_token")
    with op.batch_alter_table("api_token") as batch:
        for name in _TOKEN:
            batch.drop_column(name)
    op.drop_index("ix_api_account_username", "api_account")
    with op.batch_alter_table("api_account") as batch:
        for name in _ACCOUNT:
            batch.drop_column(name)
