"""Who may write which entry type, and read which part of the log, through the API.

One table, ``WRITE_RULES``: entry type → the roles that may write it and the ownership
check that binds the payload to the caller's organisation. An entry type with no row is
written by nobody through the API. The ledger's own handlers check the signature and the
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
from dataclasses import dataclass, field
from typing import Any

from insutrace.api.accounts import ROLES, Account
from insutrace.trace.actors import ROOT
from insutrace.trace.errors import Forbidden
from insutrace.trace.store.base import KV

__all__ = [
    "FILTERS",
    "WRITE_RULES",
    "OwnerCheck",
    "WriteRule",
    "authorize_read",
    "authorize_write",
]

# An ownership check returns None when the account's organisation may write the payload,
# else the reason it may not.
OwnerCheck = Callable[[KV, Account, Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class WriteRule:
    roles: frozenset[str]
    owner: OwnerCheck | None = None
    doc: str = ""
    owner_doc: str = field(default="")


def _own_keys(kv: KV, account: Account, payload: Mapping[str, Any]) -> str | None:
    target = payload.get("actor", account.org)
    if target != account.org and account.org != ROOT:
        return f"{account.org} may change only its own keys, not those of {target!r:.70}"
    return None


ALL_ROLES = frozenset(ROLES)
AUTHORITY = frozenset({"authority"})

WRITE_RULES: dict[str, WriteRule] = {
    "actor.register": WriteRule(AUTHORITY, doc="The root authority registers organisations."),
    "key.rotate": WriteRule(ALL_ROLES, _own_keys, doc="An organisation rotates its own key."),
    "key.revoke": WriteRule(ALL_ROLES, _own_keys, doc="An organisation revokes its own key."),
}

# Query filters and the entry references (``Tx.refs``) each one reads.
FILTERS: dict[str, tuple[str, ...]] = {
    "batch": ("batch:{}",),
    "org": ("actor:{}", "org:{}"),
    "project": ("project:{}",),
    "building": ("building:{}",),
}

# Party checks for reads: does the organisation take part in this batch / project / building?
PartyCheck = Callable[[KV, str, str], bool]
PARTY: dict[str, PartyCheck] = {
    "org": lambda _kv, org, value: value == org,
}


def authorize_write(
    kv: KV, account: Account, type: str, actor: str, payload: Mapping[str, Any]
) -> None:
    """Raise Forbidden unless ``account`` may write this entry (see the module docstring)."""
    if actor != account.org:
        raise Forbidden(f"an account of {account.org} cannot write an entry whose actor is {actor}")
    rule = WRITE_RULES.get(type)
    if rule is None:
        raise Forbidden(f"no account may write {type} entries through the API")
    if account.role not in rule.roles:
        allowed = ", ".join(sorted(rule.roles))
        raise Forbidden(f"role {account.role} may not write {type} (allowed: {allowed})")
    if rule.owner is not None:
        reason = rule.owner(kv, account, payload)
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
