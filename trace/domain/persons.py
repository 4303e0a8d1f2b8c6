"""Persons: project managers, samplers, witnesses, named with a privacy-preserving id.

A person is identified by ``P-`` and the first 40 hex digits of HMAC-SHA256 over the
person's national ID number (GB 11643-1999, checked before hashing) under the operator's
secret person key (:class:`PersonKey`, ``<home>/keys/person.key``); the log carries only
that id and the person's name, never the ID number (docs/persons.md). The same number
always yields the same id under one ledger's key, so a person keeps one identity across
employers, projects and credit listings.

=================  ==========================  ==============================================
entry type         signed by                   payload (besides ``schema``)
=================  ==========================  ==============================================
person.register    the employing organisation  person, name, role, certificate?
person.assign      the person's employer       project, person, role
person.list        an authorised authority     person, org, role, list, policy, decision
                                               {number, date, document}, min_date,
                                               max_date, reason
=================  ==========================  ==============================================

Which organisation may employ a person in a role (W2.5): a witness (见证人) belongs to the
owner or the supervisor (住建部令第57号 Art. 18; 建建〔2000〕211号), a sampler to the
contractor (Art. 19), a project manager to the contractor or the owner, a chief
supervisor to the supervisor (建质〔2014〕124号). A person on a credit list in effect on
the entry's date may not be assigned to a project (建设工程质量管理条例 Art. 72: practice
stopped); the listing names the unit too, as joint punishment does (W2.8).

Projection rows::

    person/<id>                         {id, name, employments [{org, role, certificate,
                                         seq}], seq}
    project_person/<project>|<role>|<id>  {project, person, role, org, seq}
    person_listing/<authority>|<number>|<person>  {id, person, name, org, org_name, role,
                                         list, authority, decision, min_date, max_date,
                                         reason, punishing, rule, clause, policy,
                                         repaired_on, seq}
    person_credit/<id>                  {person, name, listings[id]}
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context, Handler
from ..entry import Entry
from ..entrytype import ORGANISATION_ROLES, EntryType, Record, by_field, roles
from ..errors import MalformedInput, RuleViolation
from ..policy import CreditList
from ..store.base import KV
from . import payloads
from .credit import _authorised, _period, _punishing, applies
from .fields import local_date, reader
from .orgs import Role, acting_org, require_org
from .projects import read_policy, require_project

__all__ = [
    "PERSON_ID",
    "TYPES",
    "PersonKey",
    "PersonRole",
    "assign_person",
    "list_person",
    "name_sample_persons",
    "national_id_problem",
    "person_credit_status",
    "person_listings_in_effect",
    "persons_listed",
    "project_persons",
    "register_person",
    "require_person",
]

PERSON_ID = re.compile(r"P-[0-9a-f]{40}")
_NATIONAL_ID = re.compile(r"[1-9][0-9]{16}[0-9X]")
_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))
_CHECK = "10X98765432"


class PersonRole(StrEnum):
    PROJECT_MANAGER = "project_manager"  # 项目经理 / 项目负责人
    CHIEF_SUPERVISOR = "chief_supervisor"  # 总监理工程师
    SAMPLER = "sampler"  # 取样人
    WITNESS = "witness"  # 见证人
    SAFETY_MANAGER = "safety_manager"  # 消防安全管理人 of a building's management unit
    DESIGNER = "designer"  # 设计负责人


EMPLOYERS: dict[PersonRole, frozenset[Role]] = {
    PersonRole.PROJECT_MANAGER: frozenset({Role.CONTRACTOR, Role.BUILDING_OWNER}),
    PersonRole.CHIEF_SUPERVISOR: frozenset({Role.SUPERVISOR}),
    PersonRole.SAMPLER: frozenset({Role.CONTRACTOR}),
    PersonRole.WITNESS: frozenset({Role.SUPERVISOR, Role.BUILDING_OWNER}),
    PersonRole.SAFETY_MANAGER: frozenset({Role.BUILDING_OWNER}),
    PersonRole.DESIGNER: frozenset({Role.DESIGNER}),
}
"""The organisation roles that may employ a person in each role (W2.5, W2.8)."""


# -- the identifier -------------------------------------------------------------------


def national_id_problem(number: str) -> str | None:
    """Why ``number`` is not a GB 11643-1999 citizen identity number, or None."""
    if not _NATIONAL_ID.fullmatch(number):
        return "expected 18 characters: 17 digits and a check character (0-9 or X)"
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return f"digits 7-14 ({number[6:14]}) are not a date of birth"
    check = _CHECK[sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True)) % 11]
    if number[17] != check:
        return f"the check character is {number[17]}, ISO 7064 MOD 11-2 gives {check}"
    return None


class PersonKey:
    """The operator's secret key under which national ID numbers become person ids."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise MalformedInput("a person key has at least 32 bytes")
        self._key = key

    @classmethod
    def at(cls, path: Path) -> PersonKey:
        """The key stored at ``path``; a new random one is created (mode 0600) if absent."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(32))
        return cls(path.read_bytes())

    def person_id(self, national_id: str) -> str:
        """``P-`` and 40 hex digits of HMAC-SHA256(key, number); MalformedInput if invalid."""
        number = national_id.strip().upper()
        problem = national_id_problem(number)
        if problem is not None:
            raise MalformedInput(f"national ID number: {problem}")
        digest = hmac.new(self._key, number.encode("ascii"), hashlib.sha256).hexdigest()
        return f"P-{digest[:40]}"


def _person_id(ctx: Context, value: Any) -> str:
    if not isinstance(value, str) or not PERSON_ID.fullmatch(value):
        raise MalformedInput(f"{ctx.entry.type}.person: expected P- and 40 hex digits")
    return value


def require_person(kv: KV, person: str) -> dict[str, Any]:
    row = kv.get("person", person)
    if row is None:
        raise RuleViolation("person.known", f"no person {person} is registered")
    return row


# -- handlers -------------------------------------------------------------------------


def _employer_fits(org: dict[str, Any], role: PersonRole) -> None:
    allowed = EMPLOYERS[role]
    if not set(org["roles"]) & allowed:
        raise RuleViolation(
            "person.role_org",
            f"a {role} belongs to a {' or '.join(sorted(allowed))}; {org['uscc']} "
            f"({org['name']}) is {', '.join(org['roles'])}",
        )


def register_person(ctx: Context) -> None:
    """person.register, by the employer: a named person in a role."""
    org = acting_org(ctx, *Role)
    p = reader(ctx)
    person = _person_id(ctx, p.data.get("person"))
    role = p.one("role", PersonRole)
    _employer_fits(org, role)
    name = p.text("name", max_len=40)
    row = ctx.kv.get("person", person) or {
        "id": person,
        "name": name,
        "employments": [],
        "seq": ctx.entry.seq,
    }
    if row["name"] != name:
        raise RuleViolation(
            "person.name", f"person {person} is registered as {row['name']}, not {name}"
        )
    if any(e["org"] == org["uscc"] and e["role"] == role for e in row["employments"]):
        raise RuleViolation(
            "person.unique", f"{name} is already registered by {org['uscc']} as {role}"
        )
    employment = {
        "org": org["uscc"],
        "role": role.value,
        "certificate": p.text("certificate", max_len=40, optional=True) or None,
        "seq": ctx.entry.seq,
    }
    row["employments"] = [*row["employments"], employment]
    ctx.kv.put("person", person, row)
    ctx.ref(f"person:{person}", f"org:{org['uscc']}")


def person_listings_in_effect(kv: KV, person: str, day: date) -> list[dict[str, Any]]:
    """The credit listings naming ``person`` in force on ``day``, oldest first."""
    index = kv.get("person_credit", person)
    rows = (kv.get("person_listing", i) for i in (index["listings"] if index else []))
    return [r for r in rows if r is not None and applies(r, day)]


def assign_person(ctx: Context) -> None:
    """person.assign, by the person's employer, a party of the project."""
    org = acting_org(ctx, *Role)
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    person = require_person(ctx.kv, _person_id(ctx, p.data.get("person")))
    role = p.one("role", PersonRole)
    parties = {project["owner"], project["contractor"], project["supervisor"]}
    if org["uscc"] not in parties:
        raise RuleViolation(
            "person.assign_party", f"{org['uscc']} is not a party of project {project['id']}"
        )
    if not any(e["org"] == org["uscc"] and e["role"] == role for e in person["employments"]):
        raise RuleViolation(
            "person.assign_party",
            f"{person['name']} is not registered by {org['uscc']} as {role}",
        )
    day = local_date(ctx.time)
    listed = person_listings_in_effect(ctx.kv, person["id"], day)
    if listed:
        first = listed[0]
        raise RuleViolation(
            "person.listed",
            f"{person['name']} is on the {first['list']} list by {first['authority']}, "
            f"decision {first['decision']['number']} of {first['decision']['date']}, "
            f"until {first['max_date']}: may not be assigned on {day.isoformat()}",
        )
    key = f"{project['id']}|{role}|{person['id']}"
    if ctx.kv.get("project_person", key) is not None:
        raise RuleViolation("person.unique", f"{person['name']} is already {role} of the project")
    ctx.kv.put(
        "project_person",
        key,
        {
            "project": project["id"],
            "person": person["id"],
            "name": person["name"],
            "role": role.value,
            "org": org["uscc"],
            "seq": ctx.entry.seq,
        },
    )
    ctx.ref(f"person:{person['id']}", f"project:{project['id']}")


def list_person(ctx: Context) -> None:
    """person.list, by an authority authorised for the list: a person with the unit."""
    p = reader(ctx)
    kind = p.one("list", CreditList)
    _authorised(ctx, kind)
    person = require_person(ctx.kv, _person_id(ctx, p.data.get("person")))
    unit = require_org(ctx, p.text("org", max_len=18), what="unit")
    role = p.one("role", PersonRole)
    if not any(e["org"] == unit["uscc"] for e in person["employments"]):
        raise RuleViolation(
            "person.listing_unit", f"{person['name']} is not registered by {unit['uscc']}"
        )
    d = p.obj("decision")
    number = d.ident("number")
    listing_id = f"{ctx.entry.actor}|{number}|{person['id']}"
    if ctx.kv.get("person_listing", listing_id) is not None:
        raise RuleViolation(
            "credit.unique", f"decision {number} of {ctx.entry.actor} already lists this person"
        )
    decided = d.date("date")
    if decided > local_date(ctx.time):
        raise RuleViolation("credit.decision_date", f"decision date {decided} is in the future")
    policy_ref, policy = read_policy(p)
    low, high = p.date("min_date"), p.date("max_date")
    _period(policy, kind, decided, low, high)
    rule = policy.rule(f"credit.{kind}")
    decision = {"number": number, "date": decided.isoformat(), "document": d.sha256("document")}
    row = {
        "id": listing_id,
        "person": person["id"],
        "name": person["name"],
        "org": unit["uscc"],
        "org_name": unit["name"],
        "role": role.value,
        "list": kind.value,
        "authority": ctx.entry.actor,
        "decision": decision,
        "min_date": low.isoformat(),
        "max_date": high.isoformat(),
        "reason": p.text("reason", max_len=500),
        "punishing": _punishing(policy, kind),
        "rule": rule.id,
        "clause": rule.clause,
        "policy": policy_ref,
        "repaired_on": None,
        "seq": ctx.entry.seq,
    }
    ctx.kv.put("person_listing", listing_id, row)
    index = ctx.kv.get("person_credit", person["id"]) or {
        "person": person["id"],
        "name": person["name"],
        "listings": [],
    }
    index["listings"] = [*index["listings"], listing_id]
    ctx.kv.put("person_credit", person["id"], index)
    ctx.ref(f"person:{person['id']}", f"org:{unit['uscc']}")


def _named(
    assigned: list[dict[str, Any]], role: PersonRole, name: str, org: str
) -> dict[str, Any] | None:
    """The person assigned in ``role`` by ``org`` under ``name``; None when none is assigned
    in that role at all; RuleViolation when some are, but not this one."""
    in_role = [a for a in assigned if a["role"] == role]
    if not in_role:
        return None
    match = [a for a in in_role if a["name"] == name and a["org"] == org]
    if not match:
        names = ", ".join(sorted(f"{a['name']} ({a['org']})" for a in in_role))
        raise RuleViolation(
            f"person.{role}_assigned",
            f"the {role} {name} of {org} is not a {role} assigned to the project ({names})",
        )
    return match[0]


def name_sample_persons(take_sample: Handler) -> Handler:
    """site.sample naming its sampler and witness as persons: when the project has persons
    assigned as samplers or witnesses (名单书面告知), the sample's must be among them, and the
    sample row records their person ids (住建部令第57号 Art. 18–19; 建建〔2000〕211号)."""

    def handler(ctx: Context) -> None:
        take_sample(ctx)
        key = f"{ctx.entry.payload.get('project')}|{ctx.entry.payload.get('sample')}"
        row = ctx.kv.get("sample", key)
        if row is None:  # pragma: no cover - the handler wrote it or raised
            return
        assigned = project_persons(ctx.kv, row["project"])
        sampler = _named(
            assigned, PersonRole.SAMPLER, row["sampler"]["name"], row["sampler"]["org"]
        )
        witness = _named(
            assigned, PersonRole.WITNESS, row["witness"]["name"], row["witness"]["org"]
        )
        if sampler is None and witness is None:
            return
        row["sampler"] = {**row["sampler"], "person": sampler["person"] if sampler else None}
        row["witness"] = {**row["witness"], "person": witness["person"] if witness else None}
        ctx.kv.put("sample", key, row)
        for person in (sampler, witness):
            if person is not None:
                ctx.ref(f"person:{person['person']}")

    return handler


# -- queries --------------------------------------------------------------------------


def _status(kv: KV, index: dict[str, Any], day: date) -> dict[str, Any]:
    history = [r for r in (kv.get("person_listing", i) for i in index["listings"]) if r]
    current = [r for r in history if applies(r, day)]
    return {
        "person": index["person"],
        "name": index["name"],
        "on": day.isoformat(),
        "status": "listed" if current else "clear",
        "joint_punishment": any(r["punishing"] for r in current),
        "units": sorted({r["org"] for r in current}),
        "current": current,
        "history": history,
    }


def person_credit_status(kv: KV, query: str, day: date) -> list[dict[str, Any]]:
    """Credit status of persons by person id, or by (part of) a registered person's name."""
    query = query.strip()
    if PERSON_ID.fullmatch(query):
        person = kv.get("person", query)
        index = kv.get("person_credit", query)
        if index is None:
            index = {"person": query, "name": person["name"] if person else "", "listings": []}
        return [_status(kv, index, day)]
    if not query:
        raise MalformedInput("person query: expected a person id or a name, got nothing")
    found = []
    for pid, row in kv.scan("person"):
        if query.casefold() in str(row["name"]).casefold():
            index = kv.get("person_credit", pid) or {
                "person": pid,
                "name": row["name"],
                "listings": [],
            }
            found.append(_status(kv, index, day))
    return found


def persons_listed(kv: KV, day: date) -> list[dict[str, Any]]:
    """Every person on a credit list in effect on ``day`` (the blacklist's persons)."""
    statuses = (_status(kv, index, day) for _, index in kv.scan("person_credit"))
    return [s for s in statuses if s["status"] == "listed"]


def project_persons(kv: KV, project: str) -> list[dict[str, Any]]:
    """The persons assigned to ``project``, by role then name."""
    rows = [row for _, row in kv.scan("project_person", f"{project}|")]
    return sorted(rows, key=lambda r: (r["role"], r["name"], r["person"]))


# -- entry types ---------------------------------------------------------------------


def _person_details(u: epcis.Uris, e: Entry, kv: KV) -> dict[str, Any]:
    """A person event names the person by id only, at the project or the signer."""
    p = e.payload
    where = u.project(p["project"]) if isinstance(p.get("project"), str) else u.org(e.actor)
    facts = {k: p[k] for k in ("person", "role", "list") if isinstance(p.get(k), str)}
    return {"epcList": [], "bizLocation": {"id": where}, "insu:person": facts}


def _listed(entry: Entry) -> list[str]:
    decision = entry.payload.get("decision")
    number = decision.get("number") if isinstance(decision, dict) else None
    return [f"{entry.actor}|{number}|{entry.payload.get('person')}"]


TYPES: tuple[EntryType, ...] = (
    EntryType(
        "person.register", "登记人员", "Register a person", register_person,
        ORGANISATION_ROLES, "The employing organisation registers a person in a role.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("registering_person"), None, _person_details),
        records=(Record("person", by_field("person")),),
        payload=payloads.PersonRegister,
    ),
    EntryType(
        "person.assign", "人员到岗", "Assign a person to a project", assign_person,
        roles("contractor", "supervisor", "building_owner"),
        "The person's employer, a party of the project, assigns the person.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("assigning_person"), None, _person_details),
        records=(Record("person", by_field("person")),),
        payload=payloads.PersonAssign,
    ),
    EntryType(
        "person.list", "人员列入失信名单", "List a dishonest person", list_person,
        roles("regulator"), "An authorised authority lists a person with the unit.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("listing_dishonest_person"), None, _person_details),
        records=(Record("person", by_field("person")), Record("person_listing", _listed)),
        payload=payloads.PersonList,
    ),
)  # fmt: skip
"""Persons' entry types (:mod:`insutrace.trace.entrytype`)."""
