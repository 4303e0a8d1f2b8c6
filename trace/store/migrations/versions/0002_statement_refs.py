"""Statement references that tell an actor id's ``:`` from the separator.

``statement:{actor}:{id}`` gave two statements one reference when an actor id held a
``:`` (actor ``a:b`` with id ``cccccccc``, actor ``a`` with id ``b:cccccccc``): the
second was refused as the first's id reused, or answered with the first's receipt.
:func:`insutrace.trace.entry.statement_ref` now writes an actor id's ``:`` as ``%3A``
(no actor id holds ``%``). The references of actors without ``:`` are unchanged; the
others are rewritten here from their entries (the formula is copied, as a migration
keeps the one of its day). Offline ``--sql`` output creates an empty log: nothing to
rewrite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFS = sa.table("entry_ref", sa.column("ref", sa.String), sa.column("seq", sa.BigInteger))
_ENTRIES = sa.table("log_entry", sa.column("seq", sa.BigInteger), sa.column("body", sa.LargeBinary))


def _statement_ref(actor: str, id: str) -> str:
    return f"statement:{actor.replace(':', '%3A')}:{id}"


def upgrade() -> None:
    if context.is_offline_mode():
        return
    bind = op.get_bind()
    # "statement:" holds one ":", the separator another: a third is in the actor or the id
    suspects = sa.select(_REFS.c.ref, _REFS.c.seq).where(_REFS.c.ref.like("statement:%:%:%"))
    for ref, seq in bind.execute(suspects).all():
        body = bind.execute(sa.select(_ENTRIES.c.body).where(_ENTRIES.c.seq == seq)).scalar_one()
        entry = json.loads(bytes(body))
        new = _statement_ref(entry["actor"], entry["id"])
        if new != ref:
            rewrite = _REFS.update().where(_REFS.c.ref == ref, _REFS.c.seq == seq)
            bind.execute(rewrite.values(ref=new))


def downgrade() -> None:
    """The references as revision 0001's code wrote them."""
    if context.is_offline_mode():
        return
    bind = op.get_bind()
    column = _REFS.c.ref
    escaped = sa.select(column, _REFS.c.seq).where(
        column.startswith("statement:") & column.contains("%3A", autoescape=True)
    )
    for ref, seq in bind.execute(escaped).all():
        rewrite = _REFS.update().where(_REFS.c.ref == ref, _REFS.c.seq == seq)
        bind.execute(rewrite.values(ref=ref.replace("%3A", ":")))
