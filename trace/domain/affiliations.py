"""Affiliations between organisations: who may not check whose work.

住建部令第57号 (建设工程质量检测管理办法, 2023) Art. 15 forbids a test lab any subordinate
or other interest relation with the owner, contractor, supervisor or suppliers of the works
it tests; 建筑法 Art. 34 the same of a supervisor and the contractor or material suppliers.
The ledger sees one organisation holding two roles by its USCC; a relation between two
organisations (a parent, a subsidiary, a shareholder over the threshold, the same legal
representative, the same group) is a fact someone must declare: ``org.affiliate``, signed by
either organisation or by a regulator, with the document it rests on. The independence
rules of the policy (``independence.*``, from cn-national-2025 2026.2) then treat the two as
one party.

Projection row ``affiliation``/<uscc>|<uscc> (the two codes in sorted order)::

    {orgs: [a, b], relation, date, document, by, seq}
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..entry import Entry
from ..entrytype import EntryType, Record, roles
from ..errors import Forbidden, RuleViolation
from ..store.base import KV
from . import payloads
from .fields import local_date, reader
from .orgs import Role, require_org

__all__ = ["TYPES", "Relation", "affiliation", "declare_affiliation"]

AFFILIATION_CLAUSE = "住建部令第57号 Art. 15; 建筑法 Art. 34"


class Relation(StrEnum):
    PARENT = "parent"  # org is the parent of affiliate
    SUBSIDIARY = "subsidiary"
    SHAREHOLDER = "shareholder"  # above the jurisdiction's threshold
    SAME_LEGAL_REPRESENTATIVE = "same_legal_representative"
    SAME_GROUP = "same_group"


def _key(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"{first}|{second}"


def affiliation(kv: KV, a: str, b: str) -> dict[str, Any] | None:
    """The declared affiliation of organisations ``a`` and ``b`` (either order), or None."""
    if a == b:
        return None
    return kv.get("affiliation", _key(a, b))


def declare_affiliation(ctx: Context) -> None:
    """org.affiliate, by one of the two organisations or by a regulator."""
    p = reader(ctx)
    org = require_org(ctx, p.text("org", max_len=18))
    other = require_org(ctx, p.text("affiliate", max_len=18), what="affiliate")
    if org["uscc"] == other["uscc"]:
        raise RuleViolation(
            "org.affiliate", f"{org['uscc']} cannot be affiliated with itself", AFFILIATION_CLAUSE
        )
    signer = ctx.kv.get("org", ctx.entry.actor) or {"roles": []}
    if (
        ctx.entry.actor not in (org["uscc"], other["uscc"])
        and Role.REGULATOR not in signer["roles"]
    ):
        raise Forbidden(
            f"org.affiliate of {org['uscc']} and {other['uscc']} is for either of them "
            f"or a regulator, not {ctx.entry.actor}"
        )
    key = _key(org["uscc"], other["uscc"])
    if ctx.kv.get("affiliation", key) is not None:
        raise RuleViolation(
            "org.affiliate", f"the affiliation {key} is already declared", AFFILIATION_CLAUSE
        )
    day = p.date("date")
    if day > local_date(ctx.time):
        raise RuleViolation("org.affiliate", f"{p.where}.date {day} is after the entry's date")
    ctx.kv.put(
        "affiliation",
        key,
        {
            "orgs": sorted((org["uscc"], other["uscc"])),
            "relation": p.one("relation", Relation),
            "date": day.isoformat(),
            "document": p.sha256("document"),
            "by": ctx.entry.actor,
            "seq": ctx.entry.seq,
        },
    )
    ctx.ref(f"org:{org['uscc']}", f"org:{other['uscc']}")


def _pair(entry: Entry) -> list[str]:
    a, b = entry.payload.get("org"), entry.payload.get("affiliate")
    return [_key(a, b)] if isinstance(a, str) and isinstance(b, str) else []


_ANY_ORG = tuple(role.value for role in Role)

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "org.affiliate", "申报关联关系", "Declare an affiliation", declare_affiliation,
        roles(*_ANY_ORG), "Either organisation or a regulator declares an affiliation.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("declaring_affiliation"), None, epcis.regulatory),
        records=(Record("affiliation", _pair),),
        payload=payloads.OrgAffiliate,
    ),
)  # fmt: skip
"""Affiliations' entry types (:mod:`insutrace.trace.entrytype`)."""
