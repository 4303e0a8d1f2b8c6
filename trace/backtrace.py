"""Back-tracing: from a wall, a building, a label, a batch or an incident to everyone involved.

Upstream, for every batch in the wall: its manufacturer and product, its factory reports
and their labs, each custody hop that brought it to the site, the arrival inspection, the
witnessed re-test with its lab, sampler and witness, the installing contractor, the
supervisor, the acceptance signers and the permit decisions. Downstream, the recall list:
every project, wall and holder that received the same batch.

Every query reads projection rows by key or by key prefix and the entry references of a
few identifiers (``shipment:…``), so its cost is O(number of related entries), never a
scan of the log. Results are plain JSON: a graph of ``nodes`` (``{id, kind, key, facts,
entries[]}``) and ``edges`` (``{from, to, kind, facts, entries[]}``), the ``recall`` lists
of the batches involved, and ``entries``: every sequence number cited, which a dossier
proves against one signed checkpoint (:mod:`insutrace.trace.dossier`).

Node ids are ``<kind>:<key>``: ``org:<uscc>``, ``product:<gtin>``, ``batch:<id>``,
``report:<lab>|<number>``, ``project:<id>``, ``section:<project>|<section>``,
``building:<id>``, ``inspection:<project>|<batch>``, ``sample:<project>|<sample>``,
``acceptance:<project>``, ``permit:<project>|<stage>``, ``incident:<id>``,
``listing:<id>``.

``incident.record`` (the starting point of an accident back-trace) is declared in
:mod:`insutrace.trace.domain.incidents`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .domain.read import Memo, design_in_force, recall_list, shipments
from .domain.rows import ShipmentRow
from .errors import MalformedInput, NotFound
from .identifiers import parse_digital_link
from .store.base import Tx

__all__ = [
    "Trace",
    "trace_batch",
    "trace_building",
    "trace_incident",
    "trace_label",
    "trace_section",
]

_STAGES = ("fire_design_review", "construction_permit", "fire_acceptance")
_MAX_REFS = 200


# -- the graph --------------------------------------------------------------------------


@dataclass
class Trace:
    """A back-trace under construction; :meth:`to_json` is the result."""

    kv: Tx
    subject: dict[str, Any]
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    recall: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: Memo = field(init=False)  # every projection row the trace reads, read once

    def __post_init__(self) -> None:
        self.rows = Memo(self.kv)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """A projection row, read once per trace."""
        return self.rows.get(kind, key)

    def node(
        self, kind: str, key: str, facts: dict[str, Any] | None = None, entries: Iterable[int] = ()
    ) -> str:
        node_id = f"{kind}:{key}"
        row = self.nodes.setdefault(
            node_id, {"id": node_id, "kind": kind, "key": key, "facts": {}, "entries": []}
        )
        row["facts"].update(facts or {})
        row["entries"] = sorted({*row["entries"], *entries})
        return node_id

    def edge(
        self,
        src: str,
        dst: str,
        kind: str,
        entries: Iterable[int] = (),
        facts: dict[str, Any] | None = None,
    ) -> None:
        row = self.edges.setdefault(
            (src, dst, kind), {"from": src, "to": dst, "kind": kind, "facts": {}, "entries": []}
        )
        row["facts"].update(facts or {})
        row["entries"] = sorted({*row["entries"], *entries})

    def cited(self) -> list[int]:
        seqs: set[int] = set()
        for item in [*self.nodes.values(), *self.edges.values(), *self.recall.values()]:
            seqs.update(item["entries"])
        return sorted(seqs)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "nodes": [self.nodes[k] for k in sorted(self.nodes)],
            "edges": [self.edges[k] for k in sorted(self.edges)],
            "recall": [self.recall[k] for k in sorted(self.recall)],
            "entries": self.cited(),
        }


def _refs(kv: Tx, ref: str) -> list[int]:
    return kv.refs(ref, limit=_MAX_REFS)


# -- organisations and listings ------------------------------------------------------------


def _org(t: Trace, uscc: str, role: str) -> str:
    row = t.get("org", uscc)
    facts: dict[str, Any] = {"uscc": uscc, "name": row["name"] if row else uscc}
    if row is not None:
        facts["roles"] = row["roles"]
        if row.get("lab"):
            facts["cma"] = row["lab"]["cma"]
    node = t.node("org", uscc, facts, [row["seq"]] if row else [])
    t.nodes[node]["facts"].setdefault("as", [])
    if role not in t.nodes[node]["facts"]["as"]:
        t.nodes[node]["facts"]["as"] = sorted([*t.nodes[node]["facts"]["as"], role])
    _listings(t, uscc, node)
    return node


def _listings(t: Trace, uscc: str, org_node: str) -> None:
    subject = t.get("credit", uscc)
    for listing_id in subject["listings"] if subject else []:
        row = t.get("listing", listing_id)
        if row is None:
            continue
        seqs = [row["seq"], *(h["seq"] for h in row["history"])]
        facts = {
            "list": row["list"],
            "authority": row["authority"],
            "decision": row["decision"]["number"],
            "from": row["decision"]["date"],
            "until": row["max_date"],
            "repaired_on": row["repaired_on"],
        }
        node = t.node("listing", listing_id, facts, seqs)
        t.edge(node, org_node, "lists", [row["seq"]])


# -- batches ---------------------------------------------------------------------------------


def _batch_node(t: Trace, batch_id: str) -> dict[str, Any]:
    batch = t.get("batch", batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id!r}")
    facts = {
        "gtin": batch["gtin"],
        "lot": batch["lot"],
        "declared": batch["declared"]["label"],
        "unit": batch["unit"],
        "produced": batch["produced"],
        "production_date": batch["production_date"],
        "digital_link": batch["digital_link"],
        "recalled": bool(batch["recalled"]),
        "non_conforming": len(batch["non_conforming"]),
    }
    seqs = [batch["seq"]] + ([batch["recalled"]["seq"]] if batch["recalled"] else [])
    node = t.node("batch", batch_id, facts, seqs)
    maker = _org(t, batch["manufacturer"], "manufacturer")
    t.edge(maker, node, "produced", [batch["seq"]])
    product = t.get("product", batch["gtin"])
    if product is not None:
        pfacts = {k: product[k] for k in ("name", "type", "polymer", "thermosetting", "standard")}
        pnode = t.node("product", batch["gtin"], pfacts, [product["seq"]])
        t.edge(pnode, node, "lot_of", [batch["seq"]])
        t.edge(maker, pnode, "makes", [product["seq"]])
    for key in batch["reports"]:
        _report(t, key, node)
    return batch


def _report(t: Trace, key: str, batch_node: str) -> None:
    row = t.get("report", key)
    if row is None:
        return
    burn = row["results"].get("combustion")
    facts = {
        "number": row["number"],
        "sample": row["sample"],
        "issued_on": row["issued_on"],
        "valid_until": row["valid_until"],
        "class": burn["class"] if burn else None,
        "qualifies": row["qualifies"],
        "reasons": row["reasons"],
    }
    node = t.node("report", key, facts, [row["seq"]])
    t.edge(batch_node, node, "tested_in", [row["seq"]])
    t.edge(_org(t, row["lab"], "lab"), node, "issued", [row["seq"]])


def _hop(t: Trace, ship: ShipmentRow, batch_id: str) -> None:
    line = ship["lines"].get(batch_id, {})
    seqs = _refs(t.kv, f"shipment:{ship['key']}")
    src = _org(t, ship["from"], "holder")
    dst = _org(t, ship["to"], "holder")
    facts = {
        "shipment": ship["key"],
        "kind": ship["kind"],
        "date": ship["date"],
        "batch": batch_id,
        "shipped": line.get("shipped"),
        "received": line.get("received"),
        "from_site": ship["from_site"],
        "to_site": ship["to_site"],
    }
    t.edge(src, dst, f"custody:{ship['key']}", [ship["seq"], *seqs], facts)


def _custody(t: Trace, batch_id: str, holder: str | None, site: str | None) -> None:
    """Custody hops of the batch; with ``holder``/``site``, only those on a path there."""
    carried = shipments(t.rows, batch_id)
    chosen: list[ShipmentRow] = []
    if holder is None:
        chosen = carried
    else:
        targets = {(holder, site or "")}
        grew = True
        while grew:
            grew = False
            for ship in carried:
                if ship in chosen or (ship["to"], ship["to_site"]) not in targets:
                    continue
                chosen.append(ship)
                targets.add((ship["from"], ship["from_site"]))
                grew = True
    for ship in sorted(chosen, key=lambda s: int(s["seq"])):
        _hop(t, ship, batch_id)


def _site(t: Trace, project: dict[str, Any], batch_id: str, batch_node: str) -> None:
    """Arrival inspection and witnessed re-tests of the batch on the project."""
    onsite = t.get("onsite", f"{project['id']}|{batch_id}")
    if onsite is None:
        return
    pnode = _project(t, project)
    inspection = onsite["inspection"]
    if inspection:
        facts = {"date": inspection["date"], "accepted": inspection["accepted"]}
        inode = t.node("inspection", f"{project['id']}|{batch_id}", facts, [inspection["seq"]])
        t.edge(batch_node, inode, "inspected", [inspection["seq"]])
        t.edge(_org(t, project["supervisor"], "supervisor"), inode, "signed", [inspection["seq"]])
        t.edge(inode, pnode, "at", [inspection["seq"]])
    for name in [*onsite["retests_passed"], *onsite["retests_failed"]]:
        _sample(t, project, name, batch_node, pnode)


def _sample(t: Trace, project: dict[str, Any], name: str, batch_node: str, pnode: str) -> None:
    row = t.get("sample", f"{project['id']}|{name}")
    if row is None:
        return
    result = row["result"] or {}
    seqs = [row["seq"], *([result["seq"]] if result else [])]
    facts = {
        "sample": name,
        "date": row["date"],
        "sampler": row["sampler"],
        "witness": row["witness"],
        "passed": result.get("passed"),
        "report": result.get("report"),
        "reasons": result.get("reasons", []),
        "class": (result.get("results", {}).get("combustion") or {}).get("class"),
    }
    node = t.node("sample", f"{project['id']}|{name}", facts, seqs)
    t.edge(batch_node, node, "sampled", [row["seq"]])
    witness = _org(t, row["witness"]["org"], row["witness"]["role"])
    t.edge(witness, node, "witnessed", [row["seq"]])
    t.edge(_org(t, row["sampler"]["org"], "sampler"), node, "sampled_by", [row["seq"]])
    t.edge(_org(t, row["lab"], "lab"), node, "retested", seqs[1:])
    t.edge(node, pnode, "at", [row["seq"]])


# -- projects, sections, buildings ------------------------------------------------------------


def _project(t: Trace, project: dict[str, Any]) -> str:
    node_id = f"project:{project['id']}"
    if node_id in t.nodes:
        return node_id
    seqs = [project["seq"]] + ([project["filing"]["seq"]] if project["filing"] else [])
    facts = {
        "name": project["name"],
        "design": project["design"],
        "policy": project["policy"],
        "permit": project["permit"],
        "below_quota": project["below_quota"],
        "filing": project["filing"],
        "status": project["status"],
        "location": project["location"],
    }
    node = t.node("project", project["id"], facts, seqs)
    t.edge(_org(t, project["owner"], "owner"), node, "owns", [project["seq"]])
    t.edge(_org(t, project["contractor"], "contractor"), node, "builds", [project["seq"]])
    t.edge(_org(t, project["supervisor"], "supervisor"), node, "supervises", [project["seq"]])
    _acceptance(t, project, node)
    _permits(t, project, node)
    building = t.get("building", project["building"])
    if building is not None:
        t.edge(node, _building_node(t, building), "on", [project["seq"]])
    return node


def _acceptance(t: Trace, project: dict[str, Any], pnode: str) -> None:
    accepted = project["accepted"]
    if not accepted:
        return
    facts = {"by": sorted(accepted), "complete": project["status"] == "accepted"}
    node = t.node("acceptance", project["id"], facts, accepted.values())
    t.edge(node, pnode, "accepts", accepted.values())
    for role, seq in sorted(accepted.items()):
        t.edge(_org(t, project[role], role), node, "signed", [seq])


def _permits(t: Trace, project: dict[str, Any], pnode: str) -> None:
    for stage in _STAGES:
        row = t.get("permit", f"{project['id']}|{stage}")
        if row is None:
            continue
        latest = row["latest"]
        facts = {
            "stage": stage,
            "outcome": latest["outcome"],
            "rules": latest["rules"],
            "date": latest["date"],
            "number": latest["number"],
            "decisions": len(row["decisions"]),
        }
        node = t.node("permit", f"{project['id']}|{stage}", facts, row["decisions"])
        t.edge(node, pnode, "decides", row["decisions"])
        t.edge(_org(t, latest["by"], "regulator"), node, "signed", [latest["seq"]])


def _building_node(t: Trace, building: dict[str, Any]) -> str:
    facts = {
        "name": building["name"],
        "address": building["address"],
        "use": building["use"],
        "height_m": building["height_m"],
        "status": building["status"],
        "source": building["source"],
    }
    node = t.node("building", building["id"], facts, [building["seq"]])
    index = t.get("incidents", building["id"])
    for incident_id in index["ids"] if index else []:
        _incident_node(t, incident_id, node)
    return node


def _incident_node(t: Trace, incident_id: str, building_node: str) -> str:
    row = t.get("incident", incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id!r}")
    facts = {k: row[k] for k in ("date", "kind", "facades", "description", "by")}
    node = t.node("incident", incident_id, facts, [row["seq"]])
    t.edge(node, building_node, "at", [row["seq"]])
    t.edge(_org(t, row["by"], "investigator"), node, "recorded", [row["seq"]])
    return node


def _section(t: Trace, project: dict[str, Any], sid: str, *, downstream: bool) -> None:
    section = project["sections"].get(sid)
    if section is None:
        raise NotFound(f"project {project['id']} has no section {sid!r}")
    pnode = _project(t, project)
    facts = {
        k: section[k] for k in ("name", "facade", "position", "area", "design_class", "installed")
    }
    snode = t.node("section", f"{project['id']}|{sid}", facts, [project["seq"]])
    t.edge(snode, pnode, "part_of", [project["seq"]])
    _design_changes(t, project, sid, snode)
    wall = t.get("wallid", f"{project['building']}|{section['facade']}")
    records = [
        r
        for r in (wall["records"] if wall else [])
        if r.get("project") == project["id"] and r.get("section") == sid
    ]
    for batch_id in sorted({r["batch"] for r in records}):
        installs = [r["seq"] for r in records if r["batch"] == batch_id]
        _batch_in_project(t, batch_id, project, downstream=downstream)
        bnode = f"batch:{batch_id}"
        t.edge(bnode, snode, "installed", installs, {"area": _sum(records, batch_id, "area")})
        t.edge(_org(t, project["contractor"], "contractor"), snode, "installed", installs)


def _design_changes(t: Trace, project: dict[str, Any], sid: str, snode: str) -> None:
    """The section's design changes (设计变更), each with its approvals, and the design in
    force on the section node."""
    index = t.get("design_changes", f"{project['id']}|{sid}")
    for number in index["proposed"] if index else []:
        change = t.get("design_change", f"{project['id']}|{number}")
        if change is None:
            continue
        approvals = [a["seq"] for a in change["approvals"].values() if a is not None]
        facts = {k: change[k] for k in ("number", "from", "to", "status", "reason", "document")}
        cnode = t.node("design_change", f"{project['id']}|{number}", facts, [change["seq"], *approvals])  # fmt: skip
        t.edge(cnode, snode, "changes", [change["seq"], *approvals])
        for part in ("designer", "reviewer"):
            if change["approvals"][part] is not None:
                seq = change["approvals"][part]["seq"]
                t.edge(_org(t, change[part], part), cnode, "approved", [seq])
    now = design_in_force(t.rows, project, sid)
    t.nodes[snode]["facts"]["design_in_force"] = now["design_class"]


def _sum(records: list[dict[str, Any]], batch_id: str, name: str) -> int:
    return sum(int(r[name]) for r in records if r["batch"] == batch_id)


def _batch_in_project(
    t: Trace, batch_id: str, project: dict[str, Any], *, downstream: bool
) -> None:
    batch = _batch_node(t, batch_id)
    _custody(t, batch_id, project["contractor"], project["id"])
    _site(t, project, batch_id, f"batch:{batch_id}")
    if downstream:
        t.recall[batch["id"]] = recall_list(t.rows, batch["id"])


def _require(t: Trace, kind: str, key: str) -> dict[str, Any]:
    row = t.get(kind, key)
    if row is None:
        raise NotFound(f"no {kind} {key!r}")
    return row


# -- public queries ------------------------------------------------------------------------------


def trace_section(kv: Tx, project_id: str, section: str, *, downstream: bool = True) -> Trace:
    """The upstream chain of one wall section, and the recall list of each of its batches."""
    t = Trace(kv, {"kind": "section", "id": f"{project_id}/{section}"})
    _section(t, _require(t, "project", project_id), section, downstream=downstream)
    return t


def _building(t: Trace, building: dict[str, Any], *, downstream: bool) -> None:
    _building_node(t, building)
    for project_id in building["projects"]:
        project = _require(t, "project", project_id)
        for sid in sorted(project["sections"]):
            _section(t, project, sid, downstream=downstream)
    for key, wall in t.rows.scan("wallid", f"{building['id']}|"):
        surveyed = [r for r in wall["records"] if r.get("source") == "survey"]
        if surveyed:
            facts = {"facade": wall["facade"], "surveyed": surveyed}
            t.node("building", building["id"], {f"survey:{key}": facts}, [building["seq"]])


def trace_building(kv: Tx, building_id: str, *, downstream: bool = True) -> Trace:
    """Every project and wall section of a building, traced upstream and downstream."""
    t = Trace(kv, {"kind": "building", "id": building_id})
    _building(t, _require(t, "building", building_id), downstream=downstream)
    return t


def trace_batch(kv: Tx, batch_id: str) -> Trace:
    """A batch: manufacturer, reports, every custody hop, every site it reached, its walls,
    and its recall list."""
    t = Trace(kv, {"kind": "batch", "id": batch_id})
    _batch_node(t, batch_id)
    _custody(t, batch_id, None, None)
    notice = recall_list(t.rows, batch_id)
    t.recall[batch_id] = notice
    projects = {w["project"] for w in notice["walls"]} | {
        r["site"] for r in notice["recipients"] if r["site"]
    }
    for project_id in sorted(projects):
        project = t.get("project", project_id)
        if project is not None:
            _site(t, project, batch_id, f"batch:{batch_id}")
    for wall in notice["walls"]:
        project = t.get("project", wall["project"])
        snode = t.node(
            "section", f"{wall['project']}|{wall['section']}", {"facade": wall["facade"]}
        )
        t.edge(f"batch:{batch_id}", snode, "installed", wall["entries"], {"area": wall["area"]})
        if project is not None:
            t.edge(snode, _project(t, project), "part_of", [project["seq"]])
    return t


def batch_of_label(uri: str) -> tuple[str, str | None]:
    """The batch id (``<gtin14>.<lot>``) and serial of a label's GS1 Digital Link URI.

    The signed QR payload (``…?k=<key>&s=<signature>``) is accepted as well; the signature
    is the label layer's to check."""
    link = parse_digital_link(uri.split("?k=", 1)[0])
    if link.lot is None:
        raise MalformedInput(f"label {uri!r:.80}: the URI has no lot (AI 10)")
    return f"{link.gtin}.{link.lot}", link.serial


def trace_label(kv: Tx, uri: str) -> Trace:
    """The batch a label (GS1 Digital Link URI, serial optional) belongs to, traced."""
    batch_id, serial = batch_of_label(uri)
    t = trace_batch(kv, batch_id)
    t.subject = {"kind": "label", "id": uri, "batch": batch_id, "serial": serial}
    return t


def trace_incident(kv: Tx, incident_id: str, *, downstream: bool = True) -> Trace:
    """The building an incident happened on, traced as :func:`trace_building`."""
    t = Trace(kv, {"kind": "incident", "id": incident_id})
    incident = _require(t, "incident", incident_id)
    _building(t, _require(t, "building", incident["building"]), downstream=downstream)
    return t
