"""Entries written from the browser, and who wrote them.

Two ways a page writes:

* **signed by the organisation**: an entry is signed with its organisation's server-held
  key, exactly as ``POST /v1/<type>`` signs it (:func:`insutrace.api.entries._server_write`:
  the same authorization table, the same payload checks, the same Idempotency-Key handling).
  The log's entry names the organisation (``actor``) and its key; the person who pressed the
  button is recorded beside it, keyed by the entry's seq, in ``api_entry_author``
  (:meth:`AccountStore.record_author`), and, for the types whose payload has a ``by`` member
  (``label.scan``), in the signed payload too.
* **signed on the person's device**: the page signs a statement with the person's device
  key (``key.add``, enrolled with :func:`enrol_device_key`), which signs for the
  organisation and whose key record in the log names its holder.

:func:`entry_authors` is the one answer to "who wrote this entry": the device key's holder
when a device key signed it (read from the log), else the person recorded beside it.
Deactivating a person revokes their device keys (:func:`revoke_device_keys`).
"""

from __future__ import annotations

from typing import Any

from insutrace.api.accounts import Account
from insutrace.api.deps import Services
from insutrace.api.entries import _server_write, check_declared_payload
from insutrace.api.schemas import Receipt
from insutrace.trace.actors import device_keys, key_holder
from insutrace.trace.entry import Entry
from insutrace.trace.errors import Forbidden

__all__ = [
    "enrol_device_key",
    "entry_authors",
    "live_device_keys",
    "person_device_keys",
    "revoke_device_keys",
    "write_as_person",
]


def write_as_person(
    services: Services,
    account: Account,
    type: str,
    payload: dict[str, Any],
    idempotency_key: str | None,
    *,
    author: Account | None = None,
) -> Receipt:
    """Write ``type`` for ``account``'s organisation (its server-held key, its role's
    authorization); record who wrote it: ``author``, else the account itself. The payload
    meets its type's model first (a refusal names each member: PayloadInvalid)."""
    check_declared_payload(services.ledger.types, type, payload)
    receipt = _server_write(services, account, type, payload, idempotency_key)
    if not receipt.duplicate:
        services.accounts.record_author(receipt.seq, author or account)
    return receipt


def _username(account: Account) -> str:
    if account.person is None:
        raise Forbidden("only a person signed in with a password holds a device key")
    return account.person.username


def enrol_device_key(services: Services, account: Account, public_key: str, device: str) -> Receipt:
    """``key.add`` for the signed-in person: the organisation (its server-held key) adds the
    device's public key, naming the person as its holder."""
    payload = {"public_key": public_key, "holder": _username(account), "device": device}
    return write_as_person(services, account, "key.add", payload, None)


def person_device_keys(services: Services, account: Account) -> list[dict[str, Any]]:
    """Every device key the person has held, as the log has them: ``{id, device, from,
    until?, ended?}`` (``until``: the first entry it no longer signs; ``ended``: why)."""
    if account.person is None:
        return []
    with services.ledger.store.read() as tx:
        return device_keys(tx, account.org, account.person.username)


def live_device_keys(services: Services, account: Account) -> list[dict[str, Any]]:
    """The signed-in person's device keys not revoked, as the log has them."""
    return [r for r in person_device_keys(services, account) if r.get("until") is None]


def revoke_device_keys(services: Services, by: Account, person: Account) -> list[int]:
    """``key.revoke`` of each of ``person``'s live device keys, signed by their
    organisation's server-held key (the one that enrolled them) and recorded as written by
    ``by``: the administrator deactivating them, of their organisation or the root
    authority's. Returns the seqs written."""
    if person.person is None:
        return []
    seqs = []
    for row in live_device_keys(services, person):
        payload = {"key": row["id"], "reason": f"{person.person.username} deactivated"}
        receipt = write_as_person(services, person, "key.revoke", payload, None, author=by)
        seqs.append(receipt.seq)
    return seqs


def entry_authors(services: Services, entries: list[Entry]) -> dict[int, dict[str, Any]]:
    """Who wrote each of ``entries``: ``{name, username, org, signed}`` by seq, where
    ``signed`` is ``"device"`` (the device key the log names holds the person's sign-in
    name; ``key`` and ``device`` say which) or ``"server"`` (the organisation's key signed
    it and the person is recorded beside the entry); entries of neither kind are absent."""
    out: dict[int, dict[str, Any]] = {}
    with services.ledger.store.read() as tx:
        holders = {e.seq: (e, key_holder(tx, e.key)) for e in entries}
    names: dict[str, str] = {}
    for entry, holder in holders.values():
        if holder is None:
            continue
        username = str(holder["holder"])
        if username not in names:
            person = services.accounts.by_username(username)
            same = person is not None and person.org == holder["actor"]
            names[username] = person.name if same and person is not None else username
        out[entry.seq] = {
            "name": names[username],
            "username": username,
            "org": holder["actor"],
            "signed": "device",
            "key": entry.key,
            "device": holder["device"],
        }
    recorded = services.accounts.authors([s for s in holders if s not in out])
    for seq, author in recorded.items():
        out[seq] = {**author, "signed": "server"}
    return out
