"""Who is to be told of an entry: the organisations each subscription topic reaches.

Pure reads of the read model (:mod:`insutrace.trace.domain.read` and friends), so a
notification says what the ledger's own pages say:

* ``alert.raised``: a label alert raised or updated by the entry — its manufacturer and
  the owner, contractor and supervisor of each project it was seen on;
* ``recall.affecting``: a recall — everyone :func:`~insutrace.trace.domain.read.recall_list`
  names (manufacturer, current holders, every recipient of a shipment, the projects' owners,
  contractors and supervisors, the contractors of the walls it went into), so a downstream
  holder is told, not only listed;
* ``credit.supplier_listed``: a credit listing — every organisation the listed party
  shipped to (its customers: the party is their supplier);
* ``entry.names_org``: any entry indexed under ``org:<uscc>`` that another organisation wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .domain.labels import alerts
from .domain.read import recall_list
from .entry import Entry
from .store.base import KV, Tx

__all__ = ["TOPICS", "Notice", "names_org", "notices"]

TOPICS: dict[str, str] = {
    "alert.raised": "a label alert on my products or projects",
    "recall.affecting": "a recall of a batch I made, hold, received or built in",
    "credit.supplier_listed": "a credit listing of an organisation that shipped to me",
    "entry.names_org": "an entry another organisation wrote that names mine",
}
"""The subscription topics, each with what it tells."""


@dataclass(frozen=True)
class Notice:
    """One organisation to tell, on one topic, with the facts to send."""

    org: str
    topic: str
    data: dict[str, Any]


def _project_parties(kv: KV, project: str) -> set[str]:
    row = kv.get("project", project) or {}
    return {str(row[k]) for k in ("owner", "contractor", "supervisor") if row.get(k)}


def _alert_notices(kv: KV, entry: Entry, seq: int) -> list[Notice]:
    out = []
    for alert in alerts(kv):
        if int(alert["seq"]) != seq:
            continue
        orgs = {str(alert["manufacturer"])} if alert.get("manufacturer") else set()
        for project in alert.get("projects", []):
            orgs |= _project_parties(kv, str(project))
        data = {
            "alert": alert["id"],
            "kind": alert["kind"],
            "batch": alert["batch"],
            "serial": alert.get("serial"),
            "projects": alert.get("projects", []),
            "reason": alert.get("reason"),
        }
        out += [Notice(org, "alert.raised", data) for org in sorted(orgs)]
    return out


def _recall_notices(kv: KV, entry: Entry) -> list[Notice]:
    batch = str(entry.payload["batch"])
    listed = recall_list(kv, batch)
    reached: dict[str, dict[str, Any]] = {}

    def add(org: object, what: str, detail: object) -> None:
        if org:
            reached.setdefault(str(org), {}).setdefault(what, []).append(detail)

    add(listed["manufacturer"], "manufacturer", batch)
    for h in listed["holders"]:
        add(h["holder"], "holding", {"site": h["site"], "qty": h["qty"]})
    for r in listed["recipients"]:
        add(r["org"], "received", {"site": r["site"], "qty": r["received"]})
    for p in listed["projects"]:
        for role in ("owner", "contractor", "supervisor"):
            add(p.get(role), "project", p["project"])
    for w in listed["walls"]:
        add(w["contractor"], "walls", {"project": w["project"], "section": w["section"]})
    base = {"batch": batch, "reason": entry.payload.get("reason"), "recalled": listed["recalled"]}
    return [
        Notice(org, "recall.affecting", {**base, "mine": mine})
        for org, mine in sorted(reached.items())
    ]


def _credit_notices(kv: KV, entry: Entry) -> list[Notice]:
    subject = str(entry.payload["subject"])
    customers = {str(row["to"]) for _, row in kv.scan("shipment", f"{subject}|") if row.get("to")}
    data = {
        "supplier": subject,
        "list": entry.payload.get("list"),
        "reason": entry.payload.get("reason"),
        "decision": entry.payload.get("decision"),
    }
    return [Notice(org, "credit.supplier_listed", data) for org in sorted(customers - {subject})]


def notices(kv: KV, seq: int, entry: Entry) -> list[Notice]:
    """The alert, recall and credit notices entry ``seq`` gives rise to."""
    if entry.type == "batch.recall":
        return _recall_notices(kv, entry)
    if entry.type == "credit.list":
        return _credit_notices(kv, entry)
    if entry.type == "label.scan":
        return _alert_notices(kv, entry, seq)
    return []


def names_org(tx: Tx, seq: int, entry: Entry, org: str) -> bool:
    """Entry ``seq`` is indexed under ``org:<org>`` and was written by someone else."""
    return entry.actor != org and tx.refs(f"org:{org}", after=seq - 1, limit=1) == [seq]
