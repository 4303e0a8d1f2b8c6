"""The read model: one function per question asked of the projections.

Every page, JSON answer, CLI command, the permit gate and the back-trace ask these and
nothing else, so two readers never give two answers:

* :func:`qualifying_reports` / :func:`batch_standing` — a batch's standing on a day: the
  report that qualifies it, whether it is recalled, the credit listings in effect for its
  manufacturer and its labs;
* :func:`label_verdict` — what a scanned label is (six verdicts, most serious first);
* :func:`custody_hops` — the batch's chain of custody;
* :func:`batch_walls`, :func:`holders`, :func:`in_transit`, :func:`recall_list` — where a
  batch went: the recall list (整治行动 problem area 6, back-tracing);
* :func:`building_walls`, :func:`building_standing` — the walls of a building with the
  standing of what is in them, the flagged ones and the open rectification orders;
* :func:`project_evidence` — the batches installed on a project, the permit gate's input;
* :func:`label_alerts`, :func:`scan_history` — what a label's page warns of, and where
  and when the label was scanned;
* :func:`failed_properties` — the tested properties that did not conform in the reports
  and re-tests a finding cites;
* :func:`project_list`, :func:`site_batches`, :func:`testing_labs` — the projects an
  organisation is party to, what a project has received of each batch, and the labs a
  witnessed sample may go to;
* :func:`alert_inbox`, :func:`alert_of` — the regulator's alerts (clone, overscan,
  counterfeit, failed re-tests, credit proposals) with their lifecycle
  (:mod:`.alerts`: acknowledged, assigned, closed).

Each function takes a :class:`~insutrace.trace.store.base.KV` (a store transaction, or a
handler's ``ctx.kv`` when a check re-asks the question on append) and returns typed rows
(:mod:`insutrace.trace.domain.rows`) or plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypedDict

from ..clock import parse_time
from ..combustion import CombustionClass
from ..entry import Entry
from ..errors import NotFound
from ..identifiers import build_digital_link
from ..keys import decode_public, verify_signature
from ..store.base import KV, Tx
from .batches import batch_class
from .credit import credit_proposals, describe, listings_in_effect
from .fields import local_date
from .orgs import lab_accreditation_problem
from .rows import (
    BatchRow,
    Holder,
    ReportRow,
    ShipmentRow,
    Transit,
    Wall,
    batch_key,
    batch_row,
    issued_range,
    placed_key,
    report_row,
    scan_key,
    shipment_row,
    split_key,
    voided_range,
)

__all__ = [
    "ALERT_KINDS",
    "ALERT_STATUSES",
    "MAX_HOPS",
    "DesignInForce",
    "InstalledBatch",
    "Memo",
    "Standing",
    "Verdict",
    "alert_inbox",
    "alert_of",
    "batch_brief",
    "batch_standing",
    "batch_walls",
    "building_standing",
    "building_walls",
    "custody_hops",
    "design_in_force",
    "failed_properties",
    "holders",
    "in_transit",
    "label_alerts",
    "label_uri",
    "label_verdict",
    "lot_record",
    "memo",
    "open_orders",
    "org_brief",
    "product_record",
    "project_evidence",
    "project_in_force",
    "project_list",
    "qualifying_report",
    "qualifying_reports",
    "recall_list",
    "report_brief",
    "require_batch_row",
    "resolver_item",
    "scan_history",
    "shipments",
    "site_batches",
    "testing_labs",
]

MAX_HOPS = 20


class Memo:
    """The rows one question reads, each read once: a read-through view of a
    :class:`~insutrace.trace.store.base.KV` for the duration of one call (a recall list
    reads a batch's shipments, projects and organisations from several of the functions
    below). Never kept past the question; it writes nothing."""

    def __init__(self, kv: KV) -> None:
        self.kv = kv
        self._rows: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._scans: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        if (kind, key) not in self._rows:
            self._rows[(kind, key)] = self.kv.get(kind, key)
        return self._rows[(kind, key)]

    def scan(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        if (kind, prefix) not in self._scans:
            self._scans[(kind, prefix)] = self.kv.scan(kind, prefix)
        return self._scans[(kind, prefix)]

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        raise TypeError(f"a question writes nothing (put {kind}/{key:.40})")


def memo(kv: KV) -> Memo:
    """``kv`` as a :class:`Memo` (itself if it is one)."""
    return kv if isinstance(kv, Memo) else Memo(kv)


def require_batch_row(kv: KV, batch: str) -> BatchRow:
    """The ``batch`` row, else NotFound naming it."""
    row = batch_row(kv, batch)
    if row is None:
        raise NotFound(f"no batch {batch!r}")
    return row


# -- a batch's standing on a day ------------------------------------------------------------


def qualifying_reports(kv: KV, batch: str, day: date) -> list[ReportRow]:
    """The reports that qualify batch ``batch`` on ``day``, in the order they were issued.

    One meaning, everywhere (domain rules §4 "a factory test report from an accredited lab
    within its validity"; 2025 整治行动 problem area 2): a report qualifies the batch on a
    day when ``report.issue`` found it qualifying (combustion, thermal conductivity and
    density tested on the same sample by the same accredited lab, tested class ≥ declared,
    conductivity no worse, every result conforming — trace/domain/reports.py) **and** the
    day lies within its validity, ``issued_on ≤ day ≤ valid_until``. A report issued after
    the day did not qualify the batch on that day; an expired one no longer does.
    """
    found = []
    for key in require_batch_row(kv, batch)["qualified_by"]:
        report = report_row(kv, key)
        if report is not None and report["issued_on"] <= day.isoformat() <= report["valid_until"]:
            found.append(report)
    return found


def qualifying_report(kv: KV, batch: str, day: date) -> ReportRow | None:
    """The first report that qualifies ``batch`` on ``day`` (:func:`qualifying_reports`)."""
    found = qualifying_reports(kv, batch, day)
    return found[0] if found else None


class Standing(TypedDict):
    """A batch's standing on a day; ``listings`` maps a subject USCC to its listings."""

    batch: str
    day: str
    report: ReportRow | None
    reports: list[ReportRow]
    recalled: dict[str, Any] | None
    manufacturer: list[dict[str, Any]]
    labs: dict[str, list[dict[str, Any]]]


def _labs(kv: KV, batch: BatchRow) -> list[str]:
    rows = (report_row(kv, key) for key in batch["qualified_by"])
    return sorted({r["lab"] for r in rows if r is not None})


def batch_standing(kv: KV, batch: str, day: date) -> Standing:
    """A batch's standing on ``day``: its qualifying reports (:func:`qualifying_reports`), the
    recall entry if recalled (``recall.issue``), and the listings carrying joint punishment
    in effect that day (NDRC 信用修复管理办法; MOHURD: expired records are not used) for its
    manufacturer and for each lab whose report qualified it."""
    row = require_batch_row(kv, batch)
    reports = qualifying_reports(kv, batch, day)
    return {
        "batch": row["id"],
        "day": day.isoformat(),
        "report": reports[0] if reports else None,
        "reports": reports,
        "recalled": row["recalled"],
        "manufacturer": listings_in_effect(kv, row["manufacturer"], day),
        "labs": {lab: listings_in_effect(kv, lab, day) for lab in _labs(kv, row)},
    }


# -- a label's verdict ------------------------------------------------------------------------


class Verdict(StrEnum):
    """What a scanned label is, most serious first (the order :func:`label_verdict` checks)."""

    UNKNOWN_SERIAL = "unknown_serial"
    BAD_SIGNATURE = "bad_signature"
    RECALLED = "recalled"
    BLACKLISTED = "blacklisted"
    NOT_QUALIFIED = "not_qualified"
    GENUINE = "genuine"


def label_uri(resolver: str, batch: Mapping[str, Any], serial: str) -> str:
    """The GS1 Digital Link a label of ``batch`` names on ``resolver`` (domain rules §6)."""
    return build_digital_link(resolver, batch["gtin"], lot=batch["lot"], serial=serial)


def _signature_problem(
    kv: KV, batch: BatchRow, issued: dict[str, Any], serial: str, key_id: str | None,
    signature: bytes | None,
) -> str | None:  # fmt: skip
    """Why the label's Ed25519 signature (RFC 8032) over the recorded URI does not stand."""
    if key_id is None or signature is None:
        return "the label carries no signature (k and s)"
    if key_id != issued["key"]:
        return (
            f"serials {issued['first']}-{issued['last']} are signed with key {issued['key']}, "
            f"the label names key {key_id}"
        )
    key = kv.get("key", key_id)
    if key is None or key["actor"] != batch["manufacturer"]:
        return f"key {key_id} is not a key of the manufacturer {batch['manufacturer']}"
    if key.get("ended") == "revoked":
        return f"key {key_id} was revoked at entry {key['until'] - 1}: its labels cannot be trusted"
    uri = label_uri(issued["resolver"], batch, serial)
    if not verify_signature(decode_public(key["public"]), signature, uri.encode("utf-8")):
        return f"the signature does not verify for {uri} with key {key_id}"
    return None


def _standing_problems(standing: Standing) -> list[tuple[Verdict, str]]:
    """The verdicts a verified label's batch earns from its standing."""
    found: list[tuple[Verdict, str]] = []
    recalled = standing["recalled"]
    if recalled:
        found.append(
            (
                Verdict.RECALLED,
                f"批次 {standing['batch']} 已于 {recalled['date']} 召回（条目 {recalled['seq']}） "
                f"batch {standing['batch']} was recalled on {recalled['date']} "
                f"({recalled['reason']}, entry {recalled['seq']})",
            )
        )
    found += [(Verdict.BLACKLISTED, describe(x)) for x in standing["manufacturer"]]
    if standing["report"] is None:
        reason = (
            f"{standing['day']} 无有效的合格检验报告 "
            f"no report that qualifies batch {standing['batch']} is valid on {standing['day']}"
        )
        found.append((Verdict.NOT_QUALIFIED, reason))
    return found


def _verdict(
    problems: list[tuple[Verdict, str]], batch: str | None, issued: dict[str, Any] | None
) -> dict[str, Any]:
    order = list(Verdict)
    worst = min((v for v, _ in problems), key=order.index, default=Verdict.GENUINE)
    return {
        "verdict": worst.value,
        "problems": [{"verdict": v.value, "reason": r} for v, r in problems],
        "batch": batch,
        "range": issued,
    }


def label_verdict(
    kv: KV, gtin: str, lot: str, serial: str, key_id: str | None, signature: bytes | None,
    day: date,
) -> dict[str, Any]:  # fmt: skip
    """The verdict on a scanned label on ``day`` (trace/domain/labels.py module docstring).

    Returns ``{verdict, problems[{verdict, reason}], batch (id or None), range (the issued
    range or None)}``; deterministic, so ``label.scan`` re-judges on replay. The URI checked
    is rebuilt from the recorded range, never taken from the label.
    """
    key = batch_key(gtin, lot)
    batch = batch_row(kv, key)
    if batch is None:
        return _verdict([(Verdict.UNKNOWN_SERIAL, f"no batch {key} is in the ledger")], None, None)
    labels = kv.get("labels", key)
    issued = issued_range(labels, serial)
    if issued is None:
        voided = voided_range(labels, serial)
        reason = f"serial {serial} was never issued for batch {key}"
        if voided is not None:
            reason = f"serial {serial} of batch {key} was voided at entry {voided['seq']}"
        return _verdict([(Verdict.UNKNOWN_SERIAL, reason)], key, None)
    problem = _signature_problem(kv, batch, issued, serial, key_id, signature)
    if problem is not None:
        return _verdict([(Verdict.BAD_SIGNATURE, problem)], key, issued)
    standing = batch_standing(kv, key, day)
    if standing["recalled"] and standing["recalled"]["date"] > day.isoformat():
        standing["recalled"] = None  # recalled after ``day``: not yet in force on it
    return _verdict(_standing_problems(standing), key, issued)


# -- custody ------------------------------------------------------------------------------


def shipments(kv: KV, batch: str) -> list[ShipmentRow]:
    """Every shipment that carried the batch, oldest first (its ``transit`` lines)."""
    found = []
    for key, _ in kv.scan("transit", f"{batch}|"):
        ship = shipment_row(kv, split_key(key, batch, 1)[0])
        if ship is not None:
            found.append(ship)
    return sorted(found, key=lambda s: int(s["seq"]))


def org_brief(kv: KV, uscc: str | None) -> dict[str, Any] | None:
    """An organisation as a reader is shown it: code, Chinese and English name."""
    if not uscc:
        return None
    org = kv.get("org", uscc)
    return {
        "uscc": uscc,
        "name": org["name"] if org else uscc,
        "name_en": org.get("name_en", "") if org else "",
    }


def custody_hops(kv: KV, batch: str, limit: int = MAX_HOPS) -> list[dict[str, Any]]:
    """The batch's custody hops, oldest first (FSMA 204 style: each names its immediate
    source and recipient): kind, date, from, to, project, shipped, received, entry."""
    hops = []
    for ship in shipments(kv, batch)[:limit]:
        line = ship["lines"].get(batch, {})
        hops.append(
            {
                "shipment": ship["key"],
                "kind": ship["kind"],
                "date": ship["date"],
                "from": org_brief(kv, ship["from"]),
                "to": org_brief(kv, ship["to"]),
                "to_project": ship["to_site"] or None,
                "shipped": line.get("shipped"),
                "received": line.get("received"),
                "seq": ship["seq"],
            }
        )
    return hops


# -- where a batch went ----------------------------------------------------------------------


def holders(kv: KV, batch: str) -> list[Holder]:
    """Who holds the batch now, and where (site "" = own premises, else a project)."""
    out: list[Holder] = []
    for key, row in kv.scan("holding", f"{batch}|"):
        holder, site = split_key(key, batch, 2)
        if row["qty"] > 0:
            out.append({"holder": holder, "site": site, "qty": row["qty"]})
    return out


def in_transit(kv: KV, batch: str) -> list[Transit]:
    """Open shipment lines of the batch: [{shipment, from, to, qty}]."""
    out: list[Transit] = []
    for key, row in kv.scan("transit", f"{batch}|"):
        if row["qty"] > 0:
            shipment = split_key(key, batch, 1)[0]
            ship = kv.get("shipment", shipment) or {}
            out.append(
                {
                    "shipment": shipment,
                    "from": ship.get("from"),
                    "to": ship.get("to"),
                    "qty": row["qty"],
                }
            )
    return out


def batch_walls(kv: KV, batch: str) -> list[Wall]:
    """The wall sections the batch went into: project, section, building, façade,
    position, contractor, quantity, area and the installation entries."""
    out: list[Wall] = []
    projects: dict[str, dict[str, Any]] = {}  # a batch's walls share a few large project rows
    for key, row in kv.scan("placed", f"{batch}|"):
        project_id, section = split_key(key, batch, 2)
        if project_id not in projects:
            found = kv.get("project", project_id)
            projects[project_id] = found or {"building": None, "sections": {}}
        project = projects[project_id]
        s = project["sections"].get(section, {})
        out.append(
            {
                "project": project_id,
                "section": section,
                "building": project["building"],
                "facade": s.get("facade"),
                "position": s.get("position"),
                "contractor": project.get("contractor"),
                "qty": row["qty"],
                "area": row["area"],
                "entries": row["seqs"],
            }
        )
    return out


def _recipients(kv: KV, batch: str) -> list[dict[str, Any]]:
    """Every (organisation, site) a shipment of the batch delivered to, with what it received."""
    got: dict[tuple[str, str], dict[str, Any]] = {}
    for ship in shipments(kv, batch):
        received = ship["lines"].get(batch, {}).get("received", 0)
        if received <= 0:
            continue
        org = kv.get("org", ship["to"])
        item = got.setdefault(
            (ship["to"], ship["to_site"]),
            {
                "org": ship["to"],
                "name": org["name"] if org else "",
                "site": ship["to_site"],
                "received": 0,
                "shipments": [],
            },
        )
        item["received"] += received
        item["shipments"].append(ship["key"])
    return [got[k] for k in sorted(got)]


def _project_summary(kv: KV, project_id: str) -> dict[str, Any]:
    p = kv.get("project", project_id)
    if p is None:
        return {"project": project_id}
    keys = ("name", "building", "owner", "contractor", "supervisor", "status")
    return {"project": project_id, **{k: p[k] for k in keys}}


def recall_list(kv: KV, batch: str) -> dict[str, Any]:
    """Everyone the batch reached (整治行动 problem area 6, back-tracing): its walls,
    the projects, current holders, every recipient of a shipment, what is in transit, and
    every entry this rests on.

    O(walls + shipments + holdings of the batch): prefix reads of ``placed``, ``holding``
    and ``transit`` rows, one read per distinct project, organisation and shipment.
    """
    kv = memo(kv)
    row = require_batch_row(kv, batch)
    walls = batch_walls(kv, batch)
    recipients = _recipients(kv, batch)
    sites = {w["project"] for w in walls} | {r["site"] for r in recipients if r["site"]}
    entries = {row["seq"], *(s["seq"] for s in shipments(kv, batch))}
    entries |= {s for w in walls for s in w["entries"]}
    if row["recalled"]:
        entries.add(row["recalled"]["seq"])
    return {
        "batch": batch,
        "digital_link": row["digital_link"],
        "manufacturer": row["manufacturer"],
        "unit": row["unit"],
        "recalled": row["recalled"],
        "projects": [_project_summary(kv, p) for p in sorted(sites)],
        "walls": walls,
        "holders": holders(kv, batch),
        "recipients": recipients,
        "in_transit": in_transit(kv, batch),
        "entries": sorted(entries),
    }


# -- a project's evidence, a building's walls -----------------------------------------------


@dataclass
class InstalledBatch:
    """One batch installed on a project: its rows and the sections it went into."""

    batch: dict[str, Any]
    product: dict[str, Any]
    onsite: dict[str, Any]
    placed: dict[str, dict[str, Any]]  # section id -> placed row {qty, area, seqs}
    install_days: dict[int, date] = field(default_factory=dict)  # install seq -> date

    @property
    def declared(self) -> CombustionClass:
        return batch_class(self.batch)

    @property
    def install_seqs(self) -> tuple[int, ...]:
        return tuple(sorted(self.install_days))


def project_evidence(kv: KV, project: dict[str, Any]) -> list[InstalledBatch]:
    """Every batch installed on the project with its on-site record (receipt, inspection,
    re-tests) and sections: what the permit gate's fire-acceptance checks read
    (trace/domain/gate.py). O(batches received there)."""
    uses = []
    for key, onsite in kv.scan("onsite", f"{project['id']}|"):
        if onsite["installed"] <= 0:
            continue
        batch = kv.get("batch", split_key(key, project["id"], 1)[0])
        if batch is None:
            continue
        prefix = placed_key(batch["id"], project["id"], "")
        placed = {k[len(prefix) :]: row for k, row in kv.scan("placed", prefix)}
        product = kv.get("product", batch["gtin"]) or {}
        uses.append(InstalledBatch(batch, product, onsite, placed))
    return uses


def _wall_standing(
    kv: KV, project: dict[str, Any], use: InstalledBatch, day: date
) -> list[dict[str, Any]]:
    standing = batch_standing(kv, use.batch["id"], day)
    report = standing["report"]
    return [
        {
            "project": project["id"],
            "section": sid,
            "facade": project["sections"].get(sid, {}).get("facade"),
            "position": project["sections"].get(sid, {}).get("position"),
            "batch": use.batch["id"],
            "class": use.batch["declared"]["label"],
            "area": placed["area"],
            "recalled": standing["recalled"],
            "non_conforming": bool(use.batch.get("non_conforming")),
            "report": None if report is None else f"{report['lab']}/{report['number']}",
            "accepted": project["status"] == "accepted",
            "entries": placed["seqs"],
        }
        for sid, placed in sorted(use.placed.items())
    ]


def building_walls(kv: KV, building: str, day: date) -> list[dict[str, Any]]:
    """Every wall section of a building's projects with what is in it and its standing on
    ``day``: batch, declared class, recall entry, non-conformity, qualifying report and
    whether the project is accepted (标识化管理, 整治行动 problem area 4)."""
    row = kv.get("building", building)
    if row is None:
        raise NotFound(f"no building {building!r}")
    walls = []
    for project_id in row["projects"]:
        project = kv.get("project", project_id)
        if project is None:
            continue
        for use in project_evidence(kv, project):
            walls += _wall_standing(kv, project, use, day)
    return sorted(walls, key=lambda w: (w["project"], w["section"], w["batch"]))


def open_orders(kv: KV, building: str, day: date) -> list[dict[str, Any]]:
    """The building's rectification orders still open on ``day``, earliest deadline first,
    each marked ``overdue`` once its deadline has passed (整治行动 problem area 4)."""
    rows = [r for _, r in kv.scan("rectification", f"{building}|") if r["status"] == "open"]
    return [
        {**r, "overdue": date.fromisoformat(r["deadline"]) < day}
        for r in sorted(rows, key=lambda r: (r["deadline"], r["number"]))
    ]


def building_standing(kv: KV, building: str, day: date) -> dict[str, Any]:
    """What a building's page and plate must say first: every wall section with its
    standing (:func:`building_walls`), those holding a recalled or non-conforming batch
    (``flagged``), and the open rectification orders with their deadlines."""
    walls = building_walls(kv, building, day)
    return {
        "walls": walls,
        "flagged": [w for w in walls if w["recalled"] or w["non_conforming"]],
        "rectifications": open_orders(kv, building, day),
    }


# -- what a label's page warns of -------------------------------------------------------------

_ALERT_ORDER = ("clone", "counterfeit", "overscan")  # the worst first


def label_alerts(kv: KV, batch: str, serial: str) -> list[dict[str, Any]]:
    """The alerts standing on this label (issue 5 clone/counterfeit on the serial, overscan
    on its batch), the worst first: what its page must show above anything reassuring."""
    keys = (
        f"clone|{scan_key(batch, serial)}",
        f"counterfeit|{scan_key(batch, serial)}",
        f"overscan|{batch}",
    )
    found = [row for row in (kv.get("alert", key) for key in keys) if row is not None]
    return sorted(found, key=lambda row: _ALERT_ORDER.index(row["kind"]))


def scan_history(tx: Tx, batch: str, serial: str) -> list[dict[str, Any]]:
    """Every recorded scan of this label whose signature verified: project, entry and its
    date (China Standard Time), oldest first. O(scans of the serial)."""
    row = _scan_projects(tx, batch, serial)
    seen = [(seq, project) for project, seqs in row.items() for seq in seqs]
    out = []
    for seq, project in sorted(seen):
        entry = Entry.from_bytes(tx.entries(seq, seq + 1)[0])
        out.append(
            {"project": project, "seq": seq, "date": local_date(parse_time(entry.time)).isoformat()}
        )
    return out


def _scan_projects(kv: KV, batch: str, serial: str) -> dict[str, list[int]]:
    """The ``scan`` row's projects of one label: {project: [scan entry seq, …]}."""
    row = kv.get("scan", scan_key(batch, serial))
    return dict(row["projects"]) if row else {}


# -- design changes (design.py): the design in force -----------------------------------------


class DesignInForce(TypedDict):
    """A section's design after every design change in force: class, material and the
    change that set them (None: the design registered with the project)."""

    design_class: str
    material: str | None
    change: str | None
    seq: int


def design_in_force(kv: KV, project: Mapping[str, Any], section: str) -> DesignInForce:
    """The design of ``section`` of ``project`` in force: the registered design, then each
    design change in force (approved by the designer and the drawing reviewer) in order."""
    registered = project["sections"][section]
    current = DesignInForce(
        design_class=registered["design_class"],
        material=registered.get("material"),
        change=None,
        seq=int(project["seq"]),
    )
    index = kv.get("design_changes", f"{project['id']}|{section}")
    for number in index["in_force"] if index else []:
        change = kv.get("design_change", f"{project['id']}|{number}")
        if change is None:
            continue
        to = change["to"]
        current = DesignInForce(
            design_class=to["design_class"] or current["design_class"],
            material=to["material"] or current["material"],
            change=number,
            seq=int(change["in_force_seq"]),
        )
    return current


def project_in_force(kv: KV, project: dict[str, Any]) -> dict[str, Any]:
    """``project`` with each section's design class and material as in force (a copy when a
    design change is in force, else ``project`` itself)."""
    if kv.get("design_changes", project["id"]) is None:
        return project
    sections = {}
    for sid, s in project["sections"].items():
        now = design_in_force(kv, project, sid)
        sections[sid] = {**s, "design_class": now["design_class"], "material": now["material"]}
    return {**project, "sections": sections}


# -- what a GS1 Digital Link names: the resolver's item, the product and lot pages ----------


def report_brief(kv: KV, batch: Mapping[str, Any], standing: Standing) -> dict[str, Any] | None:
    """The report that qualifies the batch that day (:func:`qualifying_report`), else its
    latest report, if any; ``qualifies`` says which of the two it is."""
    report: Mapping[str, Any] | None = standing["report"]
    qualifies = report is not None
    if report is None and batch["reports"]:
        report = kv.get("report", batch["reports"][-1])
    if report is None:
        return None
    lab = kv.get("org", report["lab"])
    burn = report["results"].get("combustion")
    return {
        "number": report["number"],
        "lab": report["lab"],
        "lab_name": lab["name"] if lab else report["lab"],
        "cma": lab["lab"]["cma"] if lab and lab.get("lab") else None,
        "issued_on": report["issued_on"],
        "valid_until": report["valid_until"],
        "class": burn["class"] if burn else None,
        "qualifies": qualifies,
        "seq": report["seq"],
    }


def batch_brief(batch: Mapping[str, Any]) -> dict[str, Any]:
    """A batch as a reader is shown it: lot, unit, production date, declared properties."""
    keys = ("id", "lot", "unit", "production_date", "conductivity", "density", "recalled", "seq")
    return {**{k: batch[k] for k in keys}, "declared_class": batch["declared"]["label"]}


def _product_brief(product: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("gtin", "name", "name_en", "type", "standard")
    return {k: product.get(k) for k in keys}


def _maker(kv: KV, uscc: str, day: date) -> dict[str, Any] | None:
    brief = org_brief(kv, uscc)
    if brief is not None:
        brief["listings"] = [describe(x) for x in listings_in_effect(kv, uscc, day)]
    return brief


def resolver_item(kv: KV, gtin: str, lot: str | None, serial: str | None) -> dict[str, Any] | None:
    """What the ledger knows of the item a GS1 Digital Link names, for the resolver's
    linkset: None when the GTIN is not registered; else ``product`` (its name),
    ``batch`` (the batch id when the lot is registered, else None: the resolver walks up
    to the GTIN's links, GS1-Conformant Resolver §1.2) and ``description``, the
    ``itemDescription`` of the most granular level the ledger knows."""
    product = kv.get("product", gtin)
    if product is None:
        return None
    batch = batch_row(kv, batch_key(gtin, lot)) if lot is not None else None
    name = str(product["name"])
    description = name
    if batch is not None:
        description = f"{name} 批号 lot {batch['lot']}"
        if serial is not None:
            description += f" 序列号 serial {serial}"
    return {"product": name, "batch": batch["id"] if batch else None, "description": description}


def product_record(kv: KV, gtin: str, day: date) -> dict[str, Any]:
    """The product page (``/01/{gtin}``): the product, its manufacturer with the listings in
    effect on ``day``, and each registered lot with its standing that day (qualified by a
    report valid that day, recalled). NotFound when the GTIN is not registered."""
    product = kv.get("product", gtin)
    if product is None:
        raise NotFound(f"no product with GTIN {gtin} in the ledger")
    lots = []
    for _, row in kv.scan("batch", f"{gtin}."):
        standing = batch_standing(kv, row["id"], day)
        lots.append(
            {
                "lot": row["lot"],
                "batch": row["id"],
                "production_date": row.get("production_date"),
                "declared_class": row["declared"]["label"],
                "qualified": standing["report"] is not None,
                "recalled": row["recalled"],
            }
        )
    lots.sort(key=lambda x: (str(x["production_date"] or ""), str(x["lot"])), reverse=True)
    return {
        "checked_on": day.isoformat(),
        "product": _product_brief(product),
        "manufacturer": _maker(kv, product["manufacturer"], day),
        "lots": lots,
    }


def lot_record(kv: KV, gtin: str, lot: str, day: date) -> dict[str, Any]:
    """The lot page (``/01/{gtin}/10/{lot}``): the batch's standing on ``day``
    (:func:`batch_standing`: qualifying report, recall, listings in effect), its report
    (:func:`report_brief`), its chain of custody and its product. NotFound when the lot is
    not registered for the GTIN."""
    row = batch_row(kv, batch_key(gtin, lot))
    if row is None:
        raise NotFound(f"no batch with lot {lot!r:.40} of GTIN {gtin} in the ledger")
    product = kv.get("product", gtin)
    standing = batch_standing(kv, row["id"], day)
    labs = {lab: [describe(x) for x in found] for lab, found in standing["labs"].items()}
    return {
        "checked_on": day.isoformat(),
        "product": _product_brief(product) if product else None,
        "batch": batch_brief(row),
        "manufacturer": _maker(kv, row["manufacturer"], day),
        "qualified": standing["report"] is not None,
        "recalled": row["recalled"],
        "lab_listings": {lab: found for lab, found in labs.items() if found},
        "report": report_brief(kv, row, standing),
        "custody": custody_hops(kv, row["id"]),
    }


# -- the regulator's alerts -------------------------------------------------------------------

ALERT_KINDS = ("clone", "overscan", "counterfeit", "retest", "credit")
"""Where an alert comes from: a label alert (:mod:`.labels`), a failed witnessed re-test
(:mod:`.site`) or a credit listing proposal (:func:`.credit.credit_proposals`)."""
ALERT_STATUSES = ("open", "acknowledged", "assigned", "closed")


def _entry_day(tx: Tx, seq: int) -> str:
    entry = Entry.from_bytes(tx.entries(seq, seq + 1)[0])
    return local_date(parse_time(entry.time)).isoformat()


def _label_alert(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "batch": row["batch"],
        "serial": row.get("serial"),
        "org": row.get("manufacturer"),
        "projects": list(row["projects"]),
        "reason": row["reason"],
        "date": row["date"],
        "entries": list(row["entries"]),
    }


def _retest_alert(kv: KV, sample: Mapping[str, Any]) -> dict[str, Any]:
    result = sample["result"]
    batch = kv.get("batch", sample["batch"])
    return {
        "id": f"retest|{sample['project']}|{sample['sample']}",
        "kind": "retest",
        "batch": sample["batch"],
        "serial": None,
        "org": batch["manufacturer"] if batch else None,
        "projects": [sample["project"]],
        "reason": "; ".join(result["reasons"]) or "the witnessed re-test failed",
        "date": sample["date"],
        "entries": sorted({int(sample["seq"]), int(result["seq"])}),
    }


def _credit_alert(tx: Tx, proposal: Mapping[str, Any]) -> dict[str, Any]:
    entries = [int(s) for s in proposal["entries"]]
    return {
        "id": f"credit|{proposal['kind']}|{proposal['subject']}",
        "kind": "credit",
        "batch": None,
        "serial": None,
        "org": proposal["subject"],
        "projects": [],
        "reason": f"{proposal['rule']} ({proposal['clause']}): {proposal['name']} — "
        f"{proposal['action']}",
        "date": _entry_day(tx, max(entries)),
        "entries": entries,
    }


def _with_case(kv: KV, alert: dict[str, Any]) -> dict[str, Any]:
    case = kv.get("alertcase", alert["id"])
    steps = list(case["steps"]) if case else []
    return {
        **alert,
        "status": case["status"] if case else "open",
        "assignee": case["assignee"] if case else None,
        "steps": steps,
        "entries": sorted({*alert["entries"], *(int(s["seq"]) for s in steps)}),
    }


def _failed_retest(row: Mapping[str, Any]) -> bool:
    return row["result"] is not None and not row["result"]["passed"]


def alert_inbox(
    tx: Tx, day: date, *, kind: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Every alert a regulator handles on ``day``, newest first: label alerts, failed
    witnessed re-tests and credit listing proposals, each with its lifecycle (status,
    assignee, the steps' entries); ``kind`` and ``status`` filter."""
    found: list[dict[str, Any]] = []
    if kind in (None, "clone", "overscan", "counterfeit"):
        prefix = f"{kind}|" if kind else ""
        found += [_label_alert(row) for _, row in tx.scan("alert", prefix)]
    if kind in (None, "retest"):
        found += [_retest_alert(tx, r) for _, r in tx.scan("sample") if _failed_retest(r)]
    if kind in (None, "credit"):
        found += [_credit_alert(tx, p) for p in credit_proposals(tx, day)]
    rows = [_with_case(tx, a) for a in found]
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    return sorted(rows, key=lambda r: (r["date"], max(r["entries"], default=0)), reverse=True)


def alert_of(tx: Tx, alert_id: str, day: date) -> dict[str, Any] | None:
    """The alert ``alert_id`` names (as :func:`alert_inbox` lists it), None if none is."""
    kind, _, rest = alert_id.partition("|")
    if kind in ("clone", "overscan", "counterfeit"):
        row = tx.get("alert", alert_id)
        return None if row is None else _with_case(tx, _label_alert(row))
    if kind == "retest":
        sample = tx.get("sample", rest)
        if sample is None or not _failed_retest(sample):
            return None
        return _with_case(tx, _retest_alert(tx, sample))
    if kind == "credit":
        for proposal in credit_proposals(tx, day):
            if f"credit|{proposal['kind']}|{proposal['subject']}" == alert_id:
                return _with_case(tx, _credit_alert(tx, proposal))
    return None


# -- a site's projects and batches ------------------------------------------------------------

_PARTIES = (("owner", "building_owner"), ("contractor", "contractor"), ("supervisor", "supervisor"))


def project_list(kv: KV, org: str | None = None) -> list[dict[str, Any]]:
    """The projects ``org`` is party to (owner, contractor or supervisor; every project when
    None), by id: {id, name, status, building, roles[], accepted[]}."""
    out = []
    for _, row in kv.scan("project"):
        mine = [role for column, role in _PARTIES if org is None or row.get(column) == org]
        if not mine:
            continue
        out.append(
            {
                "id": row["id"],
                "name": row["name"],
                "status": row["status"],
                "building": row["building"],
                "roles": mine if org is not None else [],
                "accepted": sorted(row["accepted"]),
            }
        )
    return sorted(out, key=lambda r: r["id"])


def site_batches(kv: KV, project: str) -> list[dict[str, Any]]:
    """Every batch received on ``project``: quantities (milli-units) received and installed,
    its arrival inspection, passed and failed re-tests, its declared class and product."""
    out = []
    for key, row in kv.scan("onsite", f"{project}|"):
        batch = kv.get("batch", split_key(key, project, 1)[0])
        if batch is None:
            continue
        product = kv.get("product", batch["gtin"]) or {}
        out.append(
            {
                "batch": batch["id"],
                "lot": batch["lot"],
                "product": product.get("name", batch["gtin"]),
                "unit": batch["unit"],
                "declared_class": batch["declared"]["label"],
                "received": row["received"],
                "installed": row["installed"],
                "inspection": row["inspection"],
                "retests_passed": list(row["retests_passed"]),
                "retests_failed": list(row["retests_failed"]),
                "recalled": bool(batch["recalled"]),
            }
        )
    return sorted(out, key=lambda r: r["batch"])


def testing_labs(kv: KV, day: date) -> list[dict[str, Any]]:
    """The registered testing labs with their CMA number and whether it is valid on ``day``."""
    out = []
    for _, org in kv.scan("org"):
        if "testing_lab" in org["roles"] and org.get("lab"):
            problem = lab_accreditation_problem(org, day)
            out.append(
                {
                    "uscc": org["uscc"],
                    "name": org["name"],
                    "cma": org["lab"]["cma"],
                    "problem": problem,
                }
            )
    return sorted(out, key=lambda r: r["name"])


# -- what failed in a test ---------------------------------------------------------------------


def _results_of(tx: Tx, entry: Entry) -> dict[str, Any]:
    p = entry.payload
    if entry.type == "site.retest_result":
        sample = tx.get("sample", f"{p.get('project')}|{p.get('sample')}")
        result = sample["result"] if sample else None
        return dict(result["results"]) if result and result.get("seq") == entry.seq else {}
    if entry.type == "report.issue":
        report = tx.get("report", f"{entry.actor}|{p.get('number')}")
        return dict(report["results"]) if report and report["seq"] == entry.seq else {}
    return {}


def failed_properties(tx: Tx, entries: list[int] | tuple[int, ...]) -> list[str]:
    """The tested properties (``combustion``, ``thermal_conductivity`` …) that did not
    conform in the factory reports and witnessed re-tests among ``entries``, in order."""
    failed: dict[str, None] = {}
    for seq in sorted(set(entries)):
        rows = tx.entries(seq, seq + 1)
        if not rows:
            continue
        for prop, result in _results_of(tx, Entry.from_bytes(rows[0])).items():
            if not result.get("conforms", True):
                failed[prop] = None
    return list(failed)
