"""Credit listings (失信名单), repair, and joint punishment checked when entries are appended.

A listing is published by an authority the root authority has authorised for that list
type (NDRC 信用修复管理办法 ordinary / serious dishonesty, SAMR Order 44 严重违法失信名单,
MOHURD 建筑市场不良行为记录). It names the subject's unified social credit code, the
decision document (number, date, SHA-256) and the minimum and maximum publication dates,
which must lie within the list's periods in the combustion policy the entry names
(:func:`insutrace.trace.policy.listing_period`).

A listing *applies* on a day ``d`` when ``decision date <= d < max_date`` and no repair was
granted on or before ``d``: it stops applying at its maximum date by itself, and an expired
listing is never used (MOHURD: expired records must not be used for punishment). Repair may
be applied for from the minimum date on, by the subject, with its public credit commitment
and evidence that its obligations are discharged; the listing authority grants or refuses.

Joint punishment, judged at the entry's own date (China Standard Time) from the
projections only, so that replay reaches the same verdicts, citing the listing:

==================  ===========================================  ===========================
signer / subject    effect                                       where
==================  ===========================================  ===========================
manufacturer        may not register batches or issue labels     :func:`check_listings`
                                                                 (admission check),
                                                                 :func:`refuse_if_listed`
testing lab         its new reports do not qualify batches       :func:`disqualify_reports`
contractor          may not be named on a new project            :func:`check_listings`
==================  ===========================================  ===========================

Only lists carrying joint punishment count (serious dishonesty, SAMR serious illegal,
MOHURD bad records; not NDRC ordinary dishonesty) — a policy may override per list with the
flag ``joint_punishment`` in its ``credit.<list>`` rule. Proposals for the regulator
(:func:`credit_proposals`) flag labs with reports contradicted by witnessed re-tests and
manufacturers with recalled batches; nothing is listed automatically.

=========================  ==============  ===============================================
entry type                 signed by       payload (besides ``schema``)
=========================  ==============  ===============================================
credit.authorize           root            authority (USCC, a regulator), lists[] (list
                                           types it may publish on; [] withdraws)
credit.list                an authorised   subject (USCC), subject_name (when the subject
                           authority       is not registered), list, policy {id, version,
                                           sha256},
                                           decision {number, date, document}, min_date,
                                           max_date, reason
credit.repair_apply        the subject     listing (<authority>|<number>), date,
                                           commitment (SHA-256), evidence (SHA-256)
credit.repair_decide       the listing     listing, granted, number, date, document,
                           authority       note?
=========================  ==============  ===============================================

Projection rows::

    credit_authority/<uscc>       {uscc, lists[], seq, history[seq]}
    listing/<authority>|<number>  {id, subject, subject_name, list, authority, decision
                                   {number, date, document}, min_date, max_date, reason,
                                   punishing, clause, rule, policy, repair {status,
                                   applications[], decision}, repaired_on, seq, history[]}
    credit/<uscc>                 {uscc, name, listings[id]}
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .. import epcis_map as epcis
from ..actors import ROOT, Context, Handler
from ..combustion import parse_class
from ..entry import Entry
from ..entrytype import AUTHORITY, ORGANISATION_ROLES, EntryType, Record, by_field, roles
from ..errors import Forbidden, MalformedInput, RuleViolation
from ..identifiers import is_valid_uscc, validate_uscc
from ..policy import CreditList, Policy, current_policy, is_serious_lab_case, listing_period
from ..store.base import KV, Tx
from . import payloads
from .fields import Reader, local_date, reader
from .orgs import Role, acting_org, require_org
from .projects import read_policy

__all__ = [
    "EFFECTS",
    "TYPES",
    "Effect",
    "add_months",
    "applies",
    "authorize",
    "check_listings",
    "credit_proposals",
    "credit_status",
    "decide_repair",
    "disqualify_reports",
    "list_subject",
    "listed_now",
    "listing_view",
    "listings_in_effect",
    "refuse_if_listed",
    "report_contradictions",
    "request_repair",
]

JOINT_PUNISHMENT_CLAUSE = "社会信用体系 联合惩戒 (joint punishment of serious dishonesty)"
REPAIR_CLAUSE = "NDRC 信用修复管理办法 (in force 2026-04-01): repair after the minimum period"
_PUNISHING_BY_DEFAULT = {
    CreditList.NDRC_ORDINARY: False,
    CreditList.NDRC_SERIOUS: True,
    CreditList.SAMR_SERIOUS_ILLEGAL: True,
    CreditList.MOHURD_BAD_RECORD: True,
}


# -- dates and the listing predicate ------------------------------------------------


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the month's last day (Jan 31 + 1 = Feb 28)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def applies(listing: dict[str, Any], day: date) -> bool:
    """True when ``listing`` is in force on ``day``: published, not expired, not repaired."""
    start = date.fromisoformat(listing["decision"]["date"])
    end = date.fromisoformat(listing["max_date"])
    repaired = listing["repaired_on"]
    if repaired is not None and date.fromisoformat(repaired) <= day:
        return False
    return start <= day < end


def listings_in_effect(
    kv: KV, uscc: str, day: date, *, punishing_only: bool = True
) -> list[dict[str, Any]]:
    """The listings of ``uscc`` in force on ``day`` (only those carrying joint punishment
    unless ``punishing_only`` is false), oldest first."""
    subject = kv.get("credit", uscc)
    if subject is None:
        return []
    found = []
    for listing_id in subject["listings"]:
        row = kv.get("listing", listing_id)
        if row is not None and applies(row, day) and (row["punishing"] or not punishing_only):
            found.append(row)
    return found


def describe(listing: dict[str, Any]) -> str:
    """One line citing a listing: list, authority, decision, entry, period."""
    d = listing["decision"]
    return (
        f"{listing['subject_name']} 列入失信名单（{listing['authority']} 决定书 {d['number']}，"
        f"公示至 {listing['max_date']}） "
        f"{listing['subject']} ({listing['subject_name']}) is on the {listing['list']} list "
        f"by {listing['authority']}, decision {d['number']} of {d['date']} (entry "
        f"{listing['seq']}), published until {listing['max_date']}"
    )


def refuse_if_listed(kv: KV, uscc: str, day: date, role: str, doing: str) -> None:
    """Raise ``credit.<role>_listed`` citing the first listing of ``uscc`` in force on ``day``.

    Public so that layers that act outside the log (the label printer signs labels offline)
    refuse a listed manufacturer the same way the ledger does.
    """
    current = listings_in_effect(kv, uscc, day)
    if current:
        first = current[0]
        raise RuleViolation(
            f"credit.{role}_listed",
            f"{describe(first)}: a listed {role} may not {doing} on {day.isoformat()} "
            f"({first['clause']})",
        )


# -- the admission check --------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """Which organisation an entry type involves, and what a listing forbids it."""

    role: str
    doing: str
    subject: Callable[[Context], str | None]


def _signer(ctx: Context) -> str | None:
    return ctx.entry.actor


def _payload_field(name: str) -> Callable[[Context], str | None]:
    def subject(ctx: Context) -> str | None:
        value = ctx.entry.payload.get(name)
        return value if isinstance(value, str) else None

    return subject


EFFECTS: dict[str, Effect] = {
    "batch.register": Effect("manufacturer", "register batches", _signer),
    "label.issue": Effect("manufacturer", "issue labels", _signer),
    "project.register": Effect(
        "contractor", "be assigned new projects", _payload_field("contractor")
    ),
}
"""Entry types refused while the organisation they involve is listed."""


def check_listings(ctx: Context) -> None:
    """Admission check: refuse an entry a current listing forbids (see :data:`EFFECTS`)."""
    effect = EFFECTS.get(ctx.entry.type)
    if effect is None:
        return
    subject = effect.subject(ctx)
    if subject:
        refuse_if_listed(ctx.kv, subject, local_date(ctx.time), effect.role, effect.doing)


def disqualify_reports(issue: Handler) -> Handler:
    """Wrap ``report.issue``: a report issued while its lab is listed does not qualify its
    batch; it is recorded with the listing among its reasons (joint punishment of labs)."""

    def run(ctx: Context) -> None:
        issue(ctx)
        current = listings_in_effect(ctx.kv, ctx.entry.actor, local_date(ctx.time))
        if not current:
            return
        key = f"{ctx.entry.actor}|{ctx.entry.payload.get('number')}"
        report = ctx.kv.get("report", key)
        if report is None:  # pragma: no cover - the handler wrote it or raised
            return
        report["reasons"] = [*report["reasons"], *(describe(x) for x in current)]
        report["qualifies"] = False
        report["listings"] = [x["id"] for x in current]
        ctx.kv.put("report", key, report)
        batch = ctx.kv.get("batch", report["batch"])
        if batch is not None and key in batch["qualified_by"]:
            batch["qualified_by"] = [k for k in batch["qualified_by"] if k != key]
            ctx.kv.put("batch", batch["id"], batch)
        ctx.ref(*(f"listing:{x['id']}" for x in current))

    run.__doc__ = issue.__doc__
    run.__name__ = getattr(issue, "__name__", "issue_report")
    return run


# -- handlers -------------------------------------------------------------------------


def _list_type(p: Reader) -> CreditList:
    return p.one("list", CreditList)


def authorize(ctx: Context) -> None:
    """credit.authorize, by the root authority: which lists a regulator may publish on."""
    if ctx.entry.actor != ROOT:
        raise Forbidden("only the root authority authorises credit-listing authorities")
    p = reader(ctx)
    authority = require_org(ctx, p.text("authority", max_len=18), Role.REGULATOR, what="authority")
    lists = sorted(p.choices("lists", CreditList, min_items=0))
    row = ctx.kv.get("credit_authority", authority["uscc"]) or {"history": []}
    ctx.kv.put(
        "credit_authority",
        authority["uscc"],
        {
            "uscc": authority["uscc"],
            "lists": lists,
            "seq": ctx.entry.seq,
            "history": [*row["history"], ctx.entry.seq],
        },
    )


def _authorised(ctx: Context, kind: CreditList) -> None:
    acting_org(ctx, Role.REGULATOR)
    row = ctx.kv.get("credit_authority", ctx.entry.actor)
    if row is None or kind not in row["lists"]:
        held = ", ".join(row["lists"]) if row and row["lists"] else "none"
        raise Forbidden(
            f"{ctx.entry.actor} is not authorised to publish on the {kind} list "
            f"(authorised: {held})"
        )


def _subject(ctx: Context, p: Reader) -> tuple[str, str]:
    try:
        uscc = validate_uscc(p.text("subject", max_len=18))
    except MalformedInput as exc:
        raise RuleViolation("credit.subject", str(exc), "GB 32100-2015 §4") from None
    org = ctx.kv.get("org", uscc)
    if org is not None:
        ctx.ref(f"org:{uscc}")
        return uscc, str(org["name"])
    return uscc, p.text("subject_name", max_len=100)


def _period(policy: Policy, kind: CreditList, decided: date, low: date, high: date) -> None:
    """The publication period lies within the policy's minimum and maximum for the list."""
    period = listing_period(policy, kind)
    earliest = add_months(decided, period.min_months)
    problems = []
    if low < earliest:
        problems.append(f"min_date {low} is before {earliest} ({period.min_months} months)")
    if period.max_months is not None and high > add_months(decided, period.max_months):
        latest = add_months(decided, period.max_months)
        problems.append(f"max_date {high} is after {latest} ({period.max_months} months)")
    if high < low:
        problems.append(f"max_date {high} is before min_date {low}")
    if problems:
        raise RuleViolation("credit.period", f"{'; '.join(problems)} ({period.clause})")


def _punishing(policy: Policy, kind: CreditList) -> bool:
    rule = policy.rule(f"credit.{kind}")
    value = rule.values.get("joint_punishment")
    return value if isinstance(value, bool) else _PUNISHING_BY_DEFAULT[kind]


def _decision(ctx: Context, p: Reader) -> dict[str, str]:
    """The listing decision: number (unique per authority), date (not in the future)."""
    d = p.obj("decision")
    number = d.ident("number")
    if ctx.kv.get("listing", f"{ctx.entry.actor}|{number}") is not None:
        raise RuleViolation("credit.unique", f"decision {number} of {ctx.entry.actor} is listed")
    decided = d.date("date")
    if decided > local_date(ctx.time):
        raise RuleViolation("credit.decision_date", f"decision date {decided} is in the future")
    return {"number": number, "date": decided.isoformat(), "document": d.sha256("document")}


def list_subject(ctx: Context) -> None:
    """credit.list, by an authorised authority: a subject published on a credit list."""
    p = reader(ctx)
    kind = _list_type(p)
    _authorised(ctx, kind)
    uscc, name = _subject(ctx, p)
    decision = _decision(ctx, p)
    policy_ref, policy = read_policy(p)
    low, high = p.date("min_date"), p.date("max_date")
    _period(policy, kind, date.fromisoformat(decision["date"]), low, high)
    rule = policy.rule(f"credit.{kind}")
    listing_id = f"{ctx.entry.actor}|{decision['number']}"
    row = {
        "id": listing_id,
        "subject": uscc,
        "subject_name": name,
        "list": kind,
        "authority": ctx.entry.actor,
        "decision": decision,
        "min_date": low.isoformat(),
        "max_date": high.isoformat(),
        "reason": p.text("reason", max_len=500),
        "punishing": _punishing(policy, kind),
        "rule": rule.id,
        "clause": rule.clause,
        "policy": policy_ref,
        "repair": {"status": "none", "applications": [], "decision": None},
        "repaired_on": None,
        "seq": ctx.entry.seq,
        "history": [{"seq": ctx.entry.seq, "event": "listed", "date": decision["date"]}],
    }
    ctx.kv.put("listing", listing_id, row)
    subject = ctx.kv.get("credit", uscc) or {"uscc": uscc, "name": name, "listings": []}
    subject["listings"] = [*subject["listings"], listing_id]
    ctx.kv.put("credit", uscc, subject)
    ctx.ref(f"listing:{listing_id}", f"credit:{uscc}", f"org:{uscc}")


def _listing(ctx: Context, p: Reader) -> dict[str, Any]:
    listing_id = p.text("listing", max_len=120)
    row = ctx.kv.get("listing", listing_id)
    if row is None:
        raise RuleViolation("credit.listing", f"no listing {listing_id!r} (<authority>|<number>)")
    ctx.ref(f"listing:{listing_id}", f"credit:{row['subject']}")
    return row


def _event(row: dict[str, Any], seq: int, event: str, day: date) -> None:
    row["history"] = [*row["history"], {"seq": seq, "event": event, "date": day.isoformat()}]


def request_repair(ctx: Context) -> None:
    """credit.repair_apply, by the listed subject, once the minimum period has passed."""
    p = reader(ctx)
    row = _listing(ctx, p)
    if ctx.entry.actor != row["subject"]:
        raise Forbidden(f"only {row['subject']}, the listed subject, applies for repair")
    day = p.date("date")
    if day > local_date(ctx.time):
        raise RuleViolation("credit.repair_date", f"application date {day} is in the future")
    if not applies(row, day):
        raise RuleViolation("credit.repair_listed", f"listing {row['id']} is not in force on {day}")
    if day < date.fromisoformat(row["min_date"]):
        raise RuleViolation(
            "credit.repair_early",
            f"repair of {row['id']} may be applied for from {row['min_date']}, not on {day}",
            REPAIR_CLAUSE,
        )
    if row["repair"]["status"] == "applied":
        raise RuleViolation("credit.repair_open", f"listing {row['id']} has an open application")
    application = {
        "seq": ctx.entry.seq,
        "date": day.isoformat(),
        "commitment": p.sha256("commitment"),
        "evidence": p.sha256("evidence"),
    }
    row["repair"] = {
        **row["repair"],
        "status": "applied",
        "applications": [*row["repair"]["applications"], application],
    }
    _event(row, ctx.entry.seq, "repair_applied", day)
    ctx.kv.put("listing", row["id"], row)


def decide_repair(ctx: Context) -> None:
    """credit.repair_decide, by the listing authority: repair granted (the listing stops
    applying from the decision date) or refused."""
    p = reader(ctx)
    row = _listing(ctx, p)
    if ctx.entry.actor != row["authority"]:
        raise Forbidden(f"only {row['authority']}, the listing authority, decides on repair")
    if row["repair"]["status"] != "applied":
        raise RuleViolation("credit.repair_open", f"listing {row['id']} has no open application")
    day = p.date("date")
    applied = date.fromisoformat(row["repair"]["applications"][-1]["date"])
    if not applied <= day <= local_date(ctx.time):
        raise RuleViolation(
            "credit.repair_date",
            f"decision date {day} must be between the application ({applied}) and today",
        )
    granted = p.flag("granted")
    decision = {
        "seq": ctx.entry.seq,
        "granted": granted,
        "number": p.ident("number"),
        "date": day.isoformat(),
        "document": p.sha256("document"),
        "note": p.text("note", max_len=500, optional=True),
    }
    row["repair"] = {**row["repair"], "status": "granted" if granted else "refused"}
    row["repair"]["decision"] = decision
    if granted:
        row["repaired_on"] = day.isoformat()
    _event(row, ctx.entry.seq, "repair_granted" if granted else "repair_refused", day)
    ctx.kv.put("listing", row["id"], row)


# -- queries --------------------------------------------------------------------------


_REPAIR = {
    "none": ("未申请信用修复", "no repair applied for"),
    "applied": ("信用修复申请审核中", "repair applied for, pending"),
    "granted": ("信用修复已准予", "repair granted"),
    "refused": ("信用修复未予准许", "repair refused"),
}


def listing_view(kv: KV, row: dict[str, Any], day: date) -> dict[str, Any]:
    """One listing as the public reads it on ``day``: the row (reason, decision number,
    date and document, list, policy rule) with the authority's name, the publication
    period, whether it is in force, and the state of any repair (Chinese first)."""
    authority = kv.get("org", row["authority"])
    repair = row["repair"]
    decided = repair["decision"]
    if applies(row, day):
        state = ("in_force", "在效", "in force")
    elif row["repaired_on"] is not None and date.fromisoformat(row["repaired_on"]) <= day:
        state = ("repaired", f"已修复（{row['repaired_on']}）", f"repaired on {row['repaired_on']}")
    elif day < date.fromisoformat(row["decision"]["date"]):
        state = ("not_yet", "尚未公示", "not yet published")
    else:
        state = ("expired", f"已届满（{row['max_date']}）", f"expired on {row['max_date']}")
    zh, en = _REPAIR.get(repair["status"], (repair["status"], repair["status"]))
    if decided is not None:
        zh += f"（决定 {decided['number']}，{decided['date']}）"
        en += f" (decision {decided['number']}, {decided['date']})"
    applied = repair["applications"][-1]["date"] if repair["applications"] else None
    return {
        **row,
        "authority_name": authority["name"] if authority else row["authority"],
        "period": {
            "from": row["decision"]["date"],
            "until": row["max_date"],
            "repair_from": row["min_date"],
        },
        "state": {"code": state[0], "zh": state[1], "en": state[2]},
        "repair_view": {
            "status": repair["status"],
            "zh": zh,
            "en": en,
            "applied_on": applied,
            "decision": decided,
        },
    }


def _status_of(kv: KV, uscc: str, name: str, day: date) -> dict[str, Any]:
    subject = kv.get("credit", uscc)
    ids = subject["listings"] if subject else []
    rows = [row for row in (kv.get("listing", i) for i in ids) if row is not None]
    history = [listing_view(kv, row, day) for row in rows]
    current = [row for row in history if row["state"]["code"] == "in_force"]
    punished = any(row["punishing"] for row in current)
    return {
        "uscc": uscc,
        "name": subject["name"] if subject else name,
        "on": day.isoformat(),
        "status": "listed" if current else "clear",
        "joint_punishment": punished,
        "current": current,
        "history": history,
    }


def listed_now(kv: KV, day: date) -> list[dict[str, Any]]:
    """Every organisation with a listing in force on ``day``, as :func:`credit_status`
    reads each (the blacklist page and ``/public/blacklist``)."""
    found = (_status_of(kv, code, "", day) for code, _ in kv.scan("credit"))
    return [s for s in found if s["status"] == "listed"]


def credit_status(kv: KV, query: str, on: date) -> list[dict[str, Any]]:
    """Current status and history by credit code, or by (part of) a name.

    Anyone may ask. A registered organisation with no listing is ``clear``; an unknown code
    is ``clear`` too (the ledger knows of no listing). Names match listed subjects and
    registered organisations, case-insensitively.
    """
    query = query.strip()
    if is_valid_uscc(query.upper()):
        code = query.upper()
        org = kv.get("org", code)
        return [_status_of(kv, code, org["name"] if org else "", on)]
    needle = query.casefold()
    if not needle:
        raise MalformedInput("credit query: expected a credit code or a name, got nothing")
    names: dict[str, str] = {}
    for kind in ("credit", "org"):
        for code, row in kv.scan(kind):
            if needle in str(row.get("name", "")).casefold():
                names.setdefault(code, str(row["name"]))
    return [_status_of(kv, code, name, on) for code, name in sorted(names.items())]


def _refs(tx: Tx, ref: str) -> Iterator[int]:
    after = -1
    while True:
        page = tx.refs(ref, after=after, limit=500)
        yield from page
        if len(page) < 500:
            return
        after = page[-1]


def report_contradictions(
    report: dict[str, Any], retest: dict[str, Any], batch: dict[str, Any]
) -> list[str]:
    """Properties on which a failed witnessed re-test contradicts a factory report that
    claimed conformity: a weaker combustion class, a conductivity above the declared value
    that the report did not show, or a property the report passed and the re-test failed."""
    found = []
    mine, theirs = report["results"], retest["results"]
    burn, reburn = mine.get("combustion"), theirs.get("combustion")
    if (
        burn
        and reburn
        and not parse_class(reburn["class"]).meets(parse_class(burn["class"]).effective_sub_class)
    ):
        found.append(f"combustion: report {burn['class']}, re-test {reburn['class']}")
    heat, reheat = mine.get("thermal_conductivity"), theirs.get("thermal_conductivity")
    declared = Decimal(batch["conductivity"])
    if heat and reheat and Decimal(reheat["value"]) > declared >= Decimal(heat["value"]):
        found.append(
            f"thermal_conductivity: report {heat['value']}, re-test {reheat['value']} "
            f"(declared {batch['conductivity']})"
        )
    for prop, result in theirs.items():
        claimed = mine.get(prop)
        if claimed and claimed["conforms"] and not result["conforms"]:
            found.append(f"{prop}: report conforms, re-test does not")
    return found


def _lab_proposals(tx: Tx, policy: Policy, day: date) -> list[dict[str, Any]]:
    by_lab: dict[str, dict[str, Any]] = {}
    for seq in _refs(tx, "type:site.retest_result"):
        entry_refs = _sample_of(tx, seq)
        if entry_refs is None:
            continue
        sample, batch = entry_refs
        for key in batch["reports"]:
            report = tx.get("report", key)
            if report is None:
                continue
            why = report_contradictions(report, sample["result"], batch)
            if why:
                found = by_lab.setdefault(report["lab"], {"reports": {}, "entries": set()})
                found["reports"].setdefault(key, []).extend(why)
                found["entries"].update({report["seq"], sample["seq"], sample["result"]["seq"]})
    out = []
    for lab, found in sorted(by_lab.items()):
        if is_serious_lab_case(policy, len(found["reports"])):
            out.append(_proposal(tx, lab, "lab_false_reports", found, day, policy))
    return out


def _sample_of(tx: Tx, seq: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The failed sample and its batch that the re-test entry ``seq`` recorded."""
    payload = Entry.from_bytes(tx.entries(seq, seq + 1)[0]).payload
    sample = tx.get("sample", f"{payload.get('project')}|{payload.get('sample')}")
    if sample is None or sample["result"] is None or sample["result"]["passed"]:
        return None
    batch = tx.get("batch", sample["batch"])
    return None if batch is None else (sample, batch)


def _proposal(
    tx: Tx, subject: str, kind: str, found: dict[str, Any], day: date, policy: Policy
) -> dict[str, Any]:
    org = tx.get("org", subject)
    rule = policy.rule("credit.lab_false_reports")
    return {
        "subject": subject,
        "name": org["name"] if org else "",
        "kind": kind,
        "rule": rule.id if kind == "lab_false_reports" else "credit.manufacturer_recall",
        "clause": rule.clause if kind == "lab_false_reports" else "2025 整治行动: 失信惩戒",
        "evidence": {k: v for k, v in found.items() if k != "entries"},
        "entries": sorted(found["entries"]),
        "listed": bool(listings_in_effect(tx, subject, day)),
        "action": "review by the regulator; not listed automatically",
    }


def _maker_proposals(tx: Tx, policy: Policy, day: date) -> list[dict[str, Any]]:
    by_maker: dict[str, dict[str, Any]] = {}
    for seq in _refs(tx, "type:batch.recall"):
        payload = Entry.from_bytes(tx.entries(seq, seq + 1)[0]).payload
        batch = tx.get("batch", str(payload.get("batch")))
        if batch is None or not batch["recalled"]:
            continue
        maker = by_maker.setdefault(batch["manufacturer"], {"batches": {}, "entries": set()})
        maker["batches"][batch["id"]] = batch["recalled"]["reason"]
        maker["entries"].update({batch["seq"], seq})
    return [
        _proposal(tx, maker, "manufacturer_recall", found, day, policy)
        for maker, found in sorted(by_maker.items())
    ]


def credit_proposals(tx: Tx, on: date, policy: Policy | None = None) -> list[dict[str, Any]]:
    """Listing proposals for the regulator, flagged for review, never listed automatically.

    A lab with at least ``credit.lab_false_reports.serious_case_min_reports`` (2 in the
    national policy, SAMR 2026) reports contradicted by failed witnessed re-tests, and a
    manufacturer with a recalled batch. Reads only the re-test and recall entries (through
    their ``type:`` references) and the rows they name: never a scan of the log.
    """
    policy = policy or current_policy("cn-national-2025", on)
    return [*_lab_proposals(tx, policy, on), *_maker_proposals(tx, policy, on)]


# -- entry types ---------------------------------------------------------------------


def _listed(entry: Entry) -> list[str]:
    """A listing is keyed by its authority and its decision's number."""
    decision = entry.payload.get("decision")
    number = decision.get("number") if isinstance(decision, dict) else None
    return [f"{entry.actor}|{number}"]


_REGULATORY = epcis.regulatory

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "credit.authorize", "授权名单发布机关", "Authorise a credit authority", authorize,
        roles(AUTHORITY), "The root authority authorises a lister.",
        epcis=epcis.EventSpec(
            "OBSERVE", epcis.voc("authorizing_credit_authority"), None, _REGULATORY
        ),
        records=(Record("credit_authority", by_field("authority")),),
        payload=payloads.CreditAuthorize,
    ),
    EntryType(
        "credit.list", "列入失信名单", "List a dishonest party", list_subject,
        roles("regulator"), "An authorised authority lists a subject.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("listing_dishonest_party"), None, _REGULATORY),
        records=(Record("listing", _listed),),
        payload=payloads.CreditList,
    ),
    EntryType(
        "credit.repair_apply", "申请信用修复", "Apply for credit repair", request_repair,
        ORGANISATION_ROLES, "The listed subject applies for repair.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("applying_credit_repair"), None, _REGULATORY),
        records=(Record("listing", by_field("listing")),),
        payload=payloads.CreditRepairApply,
    ),
    EntryType(
        "credit.repair_decide", "信用修复决定", "Decide a credit repair", decide_repair,
        roles("regulator"), "The listing authority decides a repair.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("deciding_credit_repair"), None, _REGULATORY),
        records=(Record("listing", by_field("listing")),),
        payload=payloads.CreditRepairDecide,
    ),
)  # fmt: skip
"""Credit listings' entry types (:mod:`insutrace.trace.entrytype`)."""
