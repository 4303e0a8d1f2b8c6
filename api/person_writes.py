"""Entries written from the browser: signed by the organisation, naming the person.

An entry is signed with its organisation's server-held key, exactly as ``POST /v1/<type>``
signs it (:func:`insutrace.api.entries._server_write`: the same authorization table, the same
payload checks, the same Idempotency-Key handling). The log's entry names the organisation
(``actor``) and its key; the person who pressed the button is recorded beside it, keyed by
the entry's seq, in ``api_entry_author`` (:meth:`AccountStore.record_author`), and, for the
types whose payload has a ``by`` member (``label.scan``), in the signed payload too.
"""

from __future__ import annotations

from typing import Any

from insutrace.api.accounts import Account
from insutrace.api.deps import Services
from insutrace.api.entries import _server_write, check_declared_payload
from insutrace.api.schemas import Receipt

__all__ = ["write_as_person"]


def write_as_person(
    services: Services,
    account: Account,
    type: str,
    payload: dict[str, Any],
    idempotency_key: str | None,
) -> Receipt:
    """Write ``type`` for the signed-in person's organisation; record who wrote it. The
    payload meets its type's model first (a refusal names each member: PayloadInvalid)."""
    check_declared_payload(services.ledger.types, type, payload)
    receipt = _server_write(services, account, type, payload, idempotency_key)
    if not receipt.duplicate:
        services.accounts.record_author(receipt.seq, account)
    return receipt
