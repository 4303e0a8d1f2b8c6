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

from collections.abc import Callable, Iterable, Mapping
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


def _party(kind: str, field: str, *columns: str, when_role: str | None = None) -> OwnerCheck:
    """The ``kind`` row the payload's ``field`` names must list the organisation in one of
    ``columns``. A row that does not exist is left to the domain (its precise rule id)."""

    def check(kv: KV, account: Account, payload: Mapping[str, Any]) -> str | None:
        if when_role is not None and account.role != when_role:
            return None
        key = payload.get(field)
        row = kv.get(kind, key) if isinstance(key, str) else None
        if row is None or account.org in (row.get(c) for c in columns):
            return None
        return f"{account.org} is not the {' or '.join(columns)} of {kind} {key}"

    return check


def _batch_maker(kv: KV, account: Account, payload: Mapping[str, Any]) -> str | None:
    product = payload.get("product")
    row = kv.get("product", product) if isinstance(product, str) else None
    if row is None or row.get("manufacturer") == account.org:
        return None
    return f"product {product} is made by {row.get('manufacturer')}, not by {account.org}"


def _rule(
    roles: Iterable[str], owner: OwnerCheck | None = None, doc: str = "", owner_doc: str = ""
) -> WriteRule:
    return WriteRule(frozenset(roles), owner, doc, owner_doc)


ALL_ROLES = frozenset(ROLES)
ORG_ROLES = ALL_ROLES - {"authority"}
HOLDERS = ("manufacturer", "distributor", "contractor", "building_owner")
OWN_PROJECTS = "Only on the organisation's own projects."
OWN_BUILDINGS = "Only on the organisation's own buildings."

WRITE_RULES: dict[str, WriteRule] = {
    "actor.register": _rule(["authority"], doc="The root authority registers an organisation."),
    "org.update": _rule(["authority"], doc="The root authority updates roles, address, CMA."),
    "key.rotate": _rule(ALL_ROLES, _own_keys, "An organisation rotates its own key."),
    "key.revoke": _rule(ALL_ROLES, _own_keys, "An organisation revokes its own key."),
    "product.register": _rule(["manufacturer"], doc="A manufacturer registers its product."),
    "batch.register": _rule(
        ["manufacturer"],
        _batch_maker,
        "A manufacturer registers a batch of its product.",
        "Only for products the organisation registered.",
    ),
    "report.issue": _rule(["testing_lab"], doc="A testing lab issues a report on a batch."),
    "custody.ship": _rule(HOLDERS, doc="The holder ships goods it holds."),
    "custody.receive": _rule(HOLDERS, doc="The recipient receives a shipment."),
    "custody.return": _rule(HOLDERS, doc="The recipient returns received goods."),
    "custody.destroy": _rule(HOLDERS, doc="The holder destroys goods it holds."),
    "project.register": _rule(["building_owner"], doc="The owner registers a project."),
    "project.file": _rule(["regulator"], doc="A regulator files a small project locally."),
    "site.briefing": _rule(
        ["contractor"],
        _party("project", "project", "contractor"),
        "The project's contractor records a briefing.",
        OWN_PROJECTS,
    ),
    "site.inspect": _rule(
        ["supervisor"],
        _party("project", "project", "supervisor"),
        "The project's supervisor inspects arriving material.",
        OWN_PROJECTS,
    ),
    "site.sample": _rule(
        ["supervisor", "building_owner"],
        _party("project", "project", "supervisor", "owner"),
        "The supervisor (or the owner, witnessing) takes a retest sample.",
        OWN_PROJECTS,
    ),
    "site.retest_result": _rule(["testing_lab"], doc="The sample's lab records a retest result."),
    "site.install": _rule(
        ["contractor"],
        _party("project", "project", "contractor"),
        "The project's contractor records an installation.",
        OWN_PROJECTS,
    ),
    "project.accept": _rule(
        ["supervisor", "building_owner"],
        _party("project", "project", "supervisor", "owner"),
        "The supervisor and the owner accept the project.",
        OWN_PROJECTS,
    ),
    "building.register_survey": _rule(
        ["building_owner", "regulator", "investigator"],
        doc="An owner (its own building), a regulator or an investigator registers a survey.",
    ),
    "building.inspect": _rule(
        ["building_owner"],
        _party("building", "building", "owner"),
        "The owner records an inspection of its building.",
        OWN_BUILDINGS,
    ),
    "rectification.order": _rule(["regulator"], doc="A regulator orders a rectification."),
    "rectification.complete": _rule(
        ["building_owner"],
        _party("building", "building", "owner"),
        "The owner completes an ordered rectification.",
        OWN_BUILDINGS,
    ),
    "batch.recall": _rule(
        ["manufacturer", "regulator", "investigator"],
        _party("batch", "batch", "manufacturer", when_role="manufacturer"),
        "A manufacturer (its own batch), a regulator or an investigator recalls a batch.",
    ),
    "entry.correct": _rule(ORG_ROLES, doc="The author of a record corrects it."),
    "credit.authorize": _rule(["authority"], doc="The root authority authorises a lister."),
    "credit.list": _rule(["regulator"], doc="An authorised authority lists a subject."),
    "credit.repair_apply": _rule(ORG_ROLES, doc="The listed subject applies for repair."),
    "credit.repair_decide": _rule(["regulator"], doc="The listing authority decides a repair."),
    "permit.decide": _rule(["regulator"], doc="A regulator decides a permit stage."),
    "incident.record": _rule(
        ["investigator", "regulator"], doc="An investigator or regulator records an incident."
    ),
    "label.issue": _rule(
        ["manufacturer"],
        _party("batch", "batch", "manufacturer"),
        "A manufacturer records a range of label serials of its batch before printing them.",
        "Only for the organisation's own batches.",
    ),
    "label.scan": _rule(
        ["supervisor", "contractor"],
        _party("project", "project", "supervisor", "contractor"),
        "The project's supervisor or contractor records a label scan and its verdict.",
        OWN_PROJECTS,
    ),
}

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
