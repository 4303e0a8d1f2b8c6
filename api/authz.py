"""Who may write which entry type, and read which part of the log, through the API.

One table, ``WRITE_RULES``, derived from the entry types' declarations: entry type → the
roles that may write it (``signers``) and the ownership check (``owner``) that binds the
payload to the caller's organisation. An entry type declared with no signers is written
by nobody through the API. The ledger's own handlers check the signature and the
domain rules again inside the append transaction; this layer refuses early, with a
403 naming the role or the ownership that is missing.

Every write is checked the same way, whoever holds the key:

1. the entry's actor is the account's organisation (a token never signs for another);
2. the account's role is one of the type's roles;
3. the ownership check, if any, finds the organisation owns what the payload names.

Reads: the log itself (checkpoint, tiles, proofs) is public. The query API needs an
account: regulators, investigators and the root authority read everything; every other
account reads the entries of what its organisation is party to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from insutrace.api.accounts import Account
from insutrace.trace.domain import REGISTRY
from insutrace.trace.entrytype import EntryType, Owner
from insutrace.trace.errors import Forbidden
from insutrace.trace.store.base import KV

__all__ = [
    "FILTERS",
    "WRITE_RULES",
    "WriteRule",
    "authorize_read",
    "authorize_write",
    "write_rule",
    "write_rules",
]


@dataclass(frozen=True)
class WriteRule:
    """Who may write one entry type through the API: its declaration's signers and
    ownership rule (:class:`~insutrace.trace.entrytype.EntryType`)."""

    roles: frozenset[str]
    owner: Owner | None = None
    doc: str = ""
    owner_doc: str = ""


def write_rule(types: Mapping[str, EntryType], type: str) -> WriteRule | None:
    """The write rule of ``type`` as ``types`` declares it; None when no role may write it."""
    declared = types.get(type)
    if declared is None or not declared.signers:
        return None
    return WriteRule(declared.signers, declared.owner, declared.signers_doc, declared.owner_doc)


def write_rules(types: Mapping[str, EntryType]) -> dict[str, WriteRule]:
    """Every type of ``types`` some role may write, with its rule."""
    rules = {name: write_rule(types, name) for name in types}
    return {name: rule for name, rule in rules.items() if rule is not None}


WRITE_RULES: Mapping[str, WriteRule] = MappingProxyType(write_rules(REGISTRY))
"""The domain's write rules (the table this module's docstring describes)."""

# Query filters and the entry references (``Tx.refs``) each one reads.
FILTERS: dict[str, tuple[str, ...]] = {
    "batch": ("batch:{}",),
    "product": ("product:{}",),
    "org": ("actor:{}", "org:{}"),
    "project": ("project:{}",),
    "building": ("building:{}",),
}

# Party checks for reads: is the organisation party to this batch / project / building?
PartyCheck = Callable[[KV, str, str], bool]


def _row_lists(kind: str, *columns: str) -> PartyCheck:
    def check(kv: KV, org: str, value: str) -> bool:
        row = kv.get(kind, value)
        return row is not None and org in (row.get(c) for c in columns)

    return check


def _batch_party(kv: KV, org: str, value: str) -> bool:
    """The batch's manufacturer, or an organisation that holds or held some of it."""
    row = kv.get("batch", value)
    if row is None:
        return False
    return row.get("manufacturer") == org or bool(kv.scan("holding", f"{value}|{org}|"))


PARTY: dict[str, PartyCheck] = {
    "org": lambda _kv, org, value: value == org,
    "batch": _batch_party,
    "product": _row_lists("product", "manufacturer"),
    "project": _row_lists("project", "owner", "contractor", "supervisor"),
    "building": _row_lists("building", "owner"),
}


def authorize_write(
    kv: KV,
    account: Account,
    type: str,
    actor: str,
    payload: Mapping[str, Any],
    *,
    types: Mapping[str, EntryType] = REGISTRY,
) -> None:
    """Raise Forbidden unless ``account`` may write this entry (see the module docstring);
    ``types``: the entry types the ledger admits."""
    if actor != account.org:
        raise Forbidden(f"an account of {account.org} cannot write an entry whose actor is {actor}")
    rule = write_rule(types, type)
    if rule is None:
        raise Forbidden(f"no account may write {type} entries through the API")
    if account.role not in rule.roles:
        allowed = ", ".join(sorted(rule.roles))
        raise Forbidden(f"role {account.role} may not write {type} (allowed: {allowed})")
    if rule.owner is not None:
        reason = rule.owner(kv, account.org, account.role, payload)
        if reason is not None:
            raise Forbidden(reason)


def authorize_read(kv: KV, account: Account, filters: Mapping[str, str]) -> None:
    """Raise Forbidden unless the account is party to every scoped filter it gives."""
    if account.reads_everything:
        return
    for kind, value in filters.items():
        check = PARTY.get(kind)
        if check is None or not check(kv, account.org, value):
            raise Forbidden(
                f"{account.org} ({account.role}) is not party to {kind} {value!r:.70}; "
                "only regulators and investigators read everything"
            )
