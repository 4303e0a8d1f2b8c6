"""Tables of the standard interfaces (``api`` branch, revision a0002): EPCIS capture jobs,
the eventID index that makes capture idempotent, webhook subscriptions and their delivery
log. Declared on :data:`insutrace.api.accounts.metadata`, the api branch's models."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, String, Table, Text

from insutrace.api.accounts import metadata

__all__ = [
    "capture_table",
    "delivery_table",
    "event_index_table",
    "subscription_table",
]

capture_table = Table(
    "api_epcis_capture",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org", String(64), nullable=False, index=True),
    Column("created", String(32), nullable=False),
    Column("finished", String(32), nullable=True),
    Column("success", Boolean, nullable=False),
    Column("behaviour", String(16), nullable=False),
    Column("events", Integer, nullable=False),
    Column("errors", Text, nullable=False),  # JSON list of RFC 9457 objects
)
event_index_table = Table(
    "api_epcis_event",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("capture_id", String(40), nullable=False, index=True),
)
subscription_table = Table(
    "api_webhook",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org", String(64), nullable=False, index=True),
    Column("url", String(500), nullable=False),
    Column("topics", Text, nullable=False),  # JSON list
    Column("secret", String(100), nullable=False),  # whsec_<base64>, shown once on creation
    Column("created", String(32), nullable=False),
    Column("after", BigInteger, nullable=False),  # entries up to this seq are examined
    Column("active", Boolean, nullable=False),
)
delivery_table = Table(
    "api_webhook_delivery",
    metadata,
    Column("id", String(40), primary_key=True),  # the webhook-id: unchanged across retries
    Column("subscription", String(40), nullable=False, index=True),
    Column("topic", String(40), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("created", String(32), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", String(32), nullable=True),  # None: delivered or given up
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("last_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("delivered", String(32), nullable=True),
)
