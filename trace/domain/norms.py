"""Industry norms (行业规范条件 / 行业清单): a manufacturer's standing on an industry list.

No national or provincial list of compliant insulation producers was found (W2.10 [U]); the
2025 campaign has local industry bureaux (工信) build a 行业清单 of producers and sellers.
``norms.list``, by a regulator, records a manufacturer's standing on such a list — listed
or removed — with the list's name, the notice number and date and the notice document.

A jurisdiction's policy may require the standing for batch registration: the policy rule
``norms.industry_list`` with the value ``required_for_batch_registration: true``. Absent
the rule (every packaged version today), it is not required. When required, a batch
registered by a manufacturer not listed on the entry's date is refused with
``norms.required`` (:func:`require_listing`, wrapped around ``batch.register``). The
policies consulted are the versions in force on that date of every packaged policy whose
jurisdiction covers the manufacturer's region (``CN`` covers every region; a numeric
jurisdiction covers the region codes it begins).

Projection row ``norms``/<manufacturer> ``{manufacturer, standing (listed | removed), list,
number, date, document, by, history [{standing, list, number, date, by, seq}], seq}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context, Handler
from ..entrytype import EntryType, Record, by_field, roles
from ..errors import NotFound, RuleViolation
from ..policy import Policy, available_policies, current_policy
from ..store.base import KV
from . import payloads
from .fields import local_date, reader
from .orgs import Role, acting_org, require_org

__all__ = [
    "POLICY_RULE",
    "TYPES",
    "jurisdiction_policies",
    "listed_on",
    "norms_required",
    "record_standing",
    "require_listing",
]

POLICY_RULE = "norms.industry_list"

PolicySource = Callable[[str, date], Iterable[Policy]]
"""``(region, day) -> policies`` in force for a manufacturer's region on a day."""


def record_standing(ctx: Context) -> None:
    """norms.list, by a regulator: a manufacturer listed on, or removed from, an industry list."""
    acting_org(ctx, Role.REGULATOR)
    p = reader(ctx)
    maker = require_org(
        ctx, p.text("manufacturer", max_len=18), Role.MANUFACTURER, what="manufacturer"
    )
    day = p.date("date")
    if day > local_date(ctx.time):
        raise RuleViolation("norms.date", f"notice date {day} is after the entry's date")
    standing = p.text("standing", max_len=10)
    if standing not in ("listed", "removed"):
        raise RuleViolation("norms.standing", f"standing is listed or removed, got {standing!r}")
    row = ctx.kv.get("norms", maker["uscc"])
    if standing == "removed" and (row is None or row["standing"] != "listed"):
        raise RuleViolation(
            "norms.not_listed", f"{maker['uscc']} is not on an industry list to be removed from"
        )
    if row is not None and day < date.fromisoformat(row["date"]):
        raise RuleViolation("norms.date", f"notice date {day} precedes the last one {row['date']}")
    event = {
        "standing": standing,
        "list": p.text("list", max_len=100),
        "number": p.ident("number"),
        "date": day.isoformat(),
        "document": p.sha256("document"),
        "by": ctx.entry.actor,
        "seq": ctx.entry.seq,
    }
    history = [*(row["history"] if row else []), event]
    ctx.kv.put("norms", maker["uscc"], {"manufacturer": maker["uscc"], **event, "history": history})
    ctx.ref(f"org:{maker['uscc']}")


def listed_on(kv: KV, manufacturer: str, day: date) -> dict[str, Any] | None:
    """The listing event in force for ``manufacturer`` on ``day``, or None."""
    row = kv.get("norms", manufacturer)
    current = None
    for event in row["history"] if row else []:
        if date.fromisoformat(event["date"]) <= day:
            current = event
    return current if current is not None and current["standing"] == "listed" else None


def norms_required(policy: Policy) -> bool:
    """Whether ``policy`` requires industry-list standing for batch registration (default no)."""
    rule = policy.rules.get(POLICY_RULE)
    return rule is not None and rule.values.get("required_for_batch_registration") is True


def _covers(jurisdiction: str, region: str) -> bool:
    return jurisdiction == "CN" or (jurisdiction.isdigit() and region.startswith(jurisdiction))


def jurisdiction_policies(region: str, day: date) -> list[Policy]:
    """The packaged policies in force on ``day`` whose jurisdiction covers ``region``."""
    found = []
    for policy_id in sorted({pid for pid, _ in available_policies()}):
        try:
            policy = current_policy(policy_id, day)
        except NotFound:
            continue
        if _covers(policy.jurisdiction, region):
            found.append(policy)
    return found


def require_listing(register: Handler, policies: PolicySource = jurisdiction_policies) -> Handler:
    """``register`` (batch.register) refusing a manufacturer without industry-list standing
    where a policy in force requires it."""

    def handler(ctx: Context) -> None:
        maker = ctx.kv.get("org", ctx.entry.actor)
        if maker is not None:
            day = local_date(ctx.time)
            requiring = [
                p for p in policies(str(maker.get("region", "")), day) if norms_required(p)
            ]
            if requiring and listed_on(ctx.kv, maker["uscc"], day) is None:
                policy = requiring[0]
                raise RuleViolation(
                    "norms.required",
                    f"{maker['uscc']} ({maker['name']}) is not on an industry list on {day}; "
                    f"policy {policy.id} {policy.version} ({policy.rule(POLICY_RULE).clause}) "
                    "requires it for batch registration",
                )
        register(ctx)

    return handler


TYPES: tuple[EntryType, ...] = (
    EntryType(
        "norms.list", "行业规范条件名单", "Record industry-list standing", record_standing,
        roles("regulator"), "A regulator records a manufacturer's industry-list standing.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("recording_industry_standing"), None, epcis.regulatory),
        records=(Record("norms", by_field("manufacturer")),),
        payload=payloads.NormsList,
    ),
)  # fmt: skip
"""Industry norms' entry types (:mod:`insutrace.trace.entrytype`)."""
