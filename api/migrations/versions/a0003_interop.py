"""The standard interfaces' tables: EPCIS capture jobs and eventID index, webhooks.

Revision ID: a0003
Revises: a0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "a0003"
down_revision: str | None = "a0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _existing() -> set[str]:
    if context.is_offline_mode():
        return set()
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    """Each table only when missing (a database made from the models may hold them)."""
    if "api_epcis_capture" not in _existing():
        _create()


def _create() -> None:
    op.create_table(
        "api_epcis_capture",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("finished", sa.String(32), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("behaviour", sa.String(16), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
    )
    op.create_index("ix_api_epcis_capture_org", "api_epcis_capture", ["org"])
    op.create_table(
        "api_epcis_event",
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("capture_id", sa.String(40), nullable=False),
    )
    op.create_index("ix_api_epcis_event_capture_id", "api_epcis_event", ["capture_id"])
    op.create_table(
        "api_webhook",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("after", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_api_webhook_org", "api_webhook", ["org"])
    op.create_table(
        "api_webhook_delivery",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("subscription", sa.String(40), nullable=False),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("delivered", sa.String(32), nullable=True),
    )
    op.create_index(
        "ix_api_webhook_delivery_subscription", "api_webhook_delivery", ["subscription"]
    )


def downgrade() -> None:
    for name in (
        "api_webhook_delivery",
        "api_webhook",
        "api_epcis_event",
        "api_epcis_capture",
    ):
        op.drop_table(name)
