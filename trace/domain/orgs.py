"""Organisations: who may do what, identified by the unified social credit code.

An organisation's actor id *is* its USCC (GB 32100-2015, check character verified).
The root authority registers it (``actor.register``, wrapping the core's key
registration) with its roles; a testing lab also carries its CMA accreditation
number, valid 6 years from issue. ``org.update`` (root) renews a CMA certificate or
changes roles and address; history stays in the log.

Projection row ``org``/<uscc>::

    {uscc, name, name_en, roles[], address, region, domain, lab: {cma, issued_on,
     expires_on} | null, seq, updated: [seq…]}
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import ROOT, Context, register_actor
from ..entrytype import AUTHORITY, EntryType, Record, by_field, roles
from ..errors import Forbidden, MalformedInput, RuleViolation
from ..identifiers import CmaNumber, parse_cma, validate_uscc
from . import payloads
from .fields import Reader, local_date, reader

__all__ = [
    "CMA_CLAUSE",
    "TYPES",
    "Role",
    "acting_org",
    "lab_accreditation_problem",
    "register_org",
    "require_org",
    "rows_read",
    "update_org",
]

USCC_CLAUSE = "GB 32100-2015 §4"
CMA_CLAUSE = "检验检测机构资质认定: CMA certificate valid 6 years from issue"


class Role(StrEnum):
    """What an organisation may do in the chain."""

    MANUFACTURER = "manufacturer"
    DISTRIBUTOR = "distributor"
    TESTING_LAB = "testing_lab"
    CONTRACTOR = "contractor"
    SUPERVISOR = "supervisor"  # 监理单位
    BUILDING_OWNER = "building_owner"  # 建设单位 / 业主
    REGULATOR = "regulator"  # 住建 / 市场监管 / 消防
    INVESTIGATOR = "investigator"  # accident back-tracing
    DESIGNER = "designer"  # 设计单位
    DRAWING_REVIEWER = "drawing_reviewer"  # 施工图审查机构


def _uscc(value: str) -> str:
    try:
        code = validate_uscc(value)
    except MalformedInput as exc:
        raise RuleViolation("org.uscc", str(exc), USCC_CLAUSE) from None
    if code != value:
        raise MalformedInput(f"actor.register: payload.id must be upper case, got {value!r}")
    return code


def _cma(lab: Reader, today: date) -> dict[str, Any]:
    """Parse the lab's CMA number; refuse one outside its 6-year validity today."""
    try:
        cma = parse_cma(lab.text("cma", max_len=12), lab.day("issued_on", optional=True))
    except MalformedInput as exc:
        raise RuleViolation("org.cma", str(exc), CMA_CLAUSE) from None
    if not cma.valid_on(today):
        raise RuleViolation(
            "org.cma_valid",
            f"CMA {cma.number} is valid {_validity(cma)}, not on {today.isoformat()}",
            CMA_CLAUSE,
        )
    issued = cma.issued_on.isoformat() if cma.issued_on else None
    return {"cma": cma.number, "issued_on": issued, "expires_on": cma.expires_on().isoformat()}


def _validity(cma: CmaNumber) -> str:
    start = cma.issued_on.isoformat() if cma.issued_on else f"{cma.issue_year}-01-01"
    return f"from {start} to {cma.expires_on().isoformat()}"


def _lab(ctx: Context, p: Reader, roles: list[Role]) -> dict[str, Any] | None:
    if Role.TESTING_LAB not in roles:
        if p.has("lab"):
            raise MalformedInput(f"{p.where}.lab: only an organisation with role testing_lab")
        return None
    return _cma(p.obj("lab"), local_date(ctx.time))


def _require_root(ctx: Context) -> None:
    if ctx.entry.actor != ROOT:
        raise Forbidden(f"only the root authority may write {ctx.entry.type}")


def register_org(ctx: Context) -> None:
    """actor.register: an organisation, its roles and its first key (GB 32100-2015)."""
    _require_root(ctx)
    p = reader(ctx)
    uscc = _uscc(p.text("id", max_len=18))
    roles = p.choices("roles", Role)
    lab = _lab(ctx, p, roles)
    register_actor(ctx)
    row = {
        "uscc": uscc,
        "name": p.text("name"),
        "name_en": p.text("name_en", optional=True),
        "roles": sorted(roles),
        "address": p.text("address"),
        "region": uscc[2:8],
        "domain": p.text("domain", max_len=100, optional=True),
        "lab": lab,
        "seq": ctx.entry.seq,
        "updated": [],
    }
    ctx.kv.put("org", uscc, row)
    ctx.ref(f"org:{uscc}")


def update_org(ctx: Context) -> None:
    """org.update (root): new roles, address or a renewed CMA certificate."""
    _require_root(ctx)
    p = reader(ctx)
    row = require_org(ctx, p.text("id", max_len=18))
    if p.has("roles"):
        row["roles"] = sorted(p.choices("roles", Role))
    if p.has("address"):
        row["address"] = p.text("address")
    roles = [Role(r) for r in row["roles"]]
    if p.has("lab") or (Role.TESTING_LAB in roles and row["lab"] is None):
        row["lab"] = _lab(ctx, p, roles)
    elif Role.TESTING_LAB not in roles:
        row["lab"] = None
    row["updated"] = [*row["updated"], ctx.entry.seq]
    ctx.kv.put("org", row["uscc"], row)
    ctx.ref(f"org:{row['uscc']}")


def require_org(
    ctx: Context, uscc: str, *roles: Role, what: str = "organisation"
) -> dict[str, Any]:
    """The registered organisation ``uscc``, holding one of ``roles`` when any are given."""
    row = ctx.kv.get("org", uscc)
    if row is None:
        raise RuleViolation("org.known", f"{what} {uscc!r} is not a registered organisation")
    if roles and not set(row["roles"]) & set(roles):
        raise RuleViolation(
            "org.role",
            f"{what} {uscc} ({row['name']}) must have role {' or '.join(roles)}, "
            f"has {', '.join(row['roles'])}",
        )
    ctx.ref(f"org:{uscc}")
    return row


def acting_org(ctx: Context, *roles: Role) -> dict[str, Any]:
    """The signer's organisation; Forbidden unless it holds one of ``roles``."""
    row = ctx.kv.get("org", ctx.entry.actor)
    if row is None or not set(row["roles"]) & set(roles):
        held = ", ".join(row["roles"]) if row else "no organisation record"
        raise Forbidden(
            f"{ctx.entry.type} must be signed by a {' or '.join(roles)}; "
            f"{ctx.entry.actor} has {held}"
        )
    return row


def rows_read(actor: str, type: str, payload: Any) -> list[tuple[str, str]]:
    """What admitting any domain write reads besides its records: the signer's
    organisation (:func:`acting_org`, the credit checks); the registry's ``reads`` hint."""
    return [("org", actor)] if actor else []


def lab_accreditation_problem(lab: dict[str, Any], day: date) -> str | None:
    """Why ``lab`` was not an accredited testing lab on ``day``, or None if it was."""
    cma = lab.get("lab")
    if Role.TESTING_LAB not in lab["roles"] or cma is None:
        return f"{lab['uscc']} is not a testing lab"
    if day > date.fromisoformat(cma["expires_on"]):
        return f"CMA {cma['cma']} of {lab['uscc']} expired on {cma['expires_on']}"
    start = cma["issued_on"] or f"20{cma['cma'][:2]}-01-01"
    if day < date.fromisoformat(start):
        return f"CMA {cma['cma']} of {lab['uscc']} was issued only on {start}"
    return None


# -- entry types ---------------------------------------------------------------------

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "actor.register", "登记单位", "Register an organisation", register_org,
        roles(AUTHORITY), "The root authority registers an organisation.",
        epcis=epcis.EventSpec(
            "ADD", epcis.voc("registering_organisation"), None, epcis.organisation
        ),
        records=(Record("org", by_field("id")), Record("actor", by_field("id"))),
        payload=payloads.ActorRegister,
    ),
    EntryType(
        "org.update", "变更单位信息", "Update an organisation", update_org,
        roles(AUTHORITY), "The root authority updates roles, address, CMA.",
        epcis=epcis.EventSpec(
            "OBSERVE", epcis.voc("updating_organisation"), None, epcis.organisation
        ),
        records=(Record("org", by_field("id")),),
        payload=payloads.OrgUpdate,
    ),
)  # fmt: skip
"""Organisations' entry types (:mod:`insutrace.trace.entrytype`); the domain's
``actor.register`` supersedes the core's bare actor registration."""
