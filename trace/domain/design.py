"""Design changes (设计变更): a change to a section's class or material, and its approvals.

The owner (建设单位) records the change — project, number, section, the new design class
and/or material, the reason, the change document, and the design institute and the
drawing review body that must approve it. The designer (role ``designer``) and the
drawing reviewer (role ``drawing_reviewer``) each sign their own ``design.approve``; with
both on record the change is in force, and from then on the permit gate and installation
judge the section against the design in force (:func:`.read.design_in_force`).

Rules (W2.6): a change may not bring a section below the class the policy requires for its
position (GB 50411-2019 §3.1.2: a change may not lower performance; the requirement's own
rule id and clause are cited); reviewed drawings change only through the original review
body, so the approvals are the named designer's and reviewer's (住建部令第13号 Art. 14;
住建部令第51号 Art. 25–26); a change is processed before the work, so none after the
project's acceptance; a change whose starting design is no longer the one in force when
its approvals complete is stale and must be recorded again.

Projection rows::

    design_change/<project>|<number>   {project, number, section, from {design_class,
                                        material}, to {design_class, material}, reason,
                                        document, designer, reviewer, approvals {designer,
                                        reviewer: {seq, date, document} | null}, status
                                        (pending | in_force), seq, in_force_seq}
    design_changes/<project>|<section> {proposed[number], in_force[number]}
    design_changes/<project>           {sections[]}  (a change exists on the project)
"""

from __future__ import annotations

from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..entry import Entry
from ..entrytype import EntryType, Record, by_fields, party, roles
from ..errors import Forbidden, RuleViolation
from ..policy import InsulationPosition, required_class
from ..store.base import KV
from . import payloads
from .batches import parse_declared
from .fields import local_date, reader
from .orgs import Role, acting_org, require_org
from .products import InsulationType
from .projects import design_of, policy_of, require_project
from .read import design_in_force

__all__ = ["TYPES", "approve_design_change", "design_changes", "record_design_change"]


def _key(project: str, number: str) -> str:
    return f"{project}|{number}"


def record_design_change(ctx: Context) -> None:
    """design.change, by the project's owner: a change to one section's class or material."""
    acting_org(ctx, Role.BUILDING_OWNER)
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    if project["owner"] != ctx.entry.actor:
        raise Forbidden(f"design changes of {project['id']} are the owner {project['owner']}'s")
    if project["status"] == "accepted":
        raise RuleViolation("project.accepted", f"project {project['id']} is already accepted")
    number = p.ident("number")
    if ctx.kv.get("design_change", _key(project["id"], number)) is not None:
        raise RuleViolation("design.unique", f"design change {number} is already recorded")
    sid = p.ident("section")
    if sid not in project["sections"]:
        raise RuleViolation("design.section", f"project {project['id']} has no section {sid}")
    now = design_in_force(ctx.kv, project, sid)
    label = p.text("design_class", max_len=40, optional=True)
    new_class = parse_declared(label, "design.class").label() if label else None
    material = p.choice("material", InsulationType, optional=True)
    to = {"design_class": new_class, "material": material.value if material else None}
    if (new_class in (None, now["design_class"])) and (
        material is None or to["material"] == now["material"]
    ):
        raise RuleViolation(
            "design.no_change",
            f"section {sid} is already {now['design_class']} ({now['material'] or 'material not set'})",
        )
    if new_class is not None:
        position = project["sections"][sid]["position"]
        req = required_class(policy_of(project["policy"]), design_of(project, position))
        if not req.met_by(parse_declared(new_class, "design.class")):
            raise RuleViolation(
                req.rule_id,
                f"design change {number}: section {sid} ({InsulationPosition(position)}) would be "
                f"{new_class}, below the {req.label} required",
                req.clause,
            )
    designer = require_org(ctx, p.text("designer", max_len=18), Role.DESIGNER, what="designer")
    reviewer = require_org(
        ctx, p.text("reviewer", max_len=18), Role.DRAWING_REVIEWER, what="drawing reviewer"
    )
    ctx.kv.put(
        "design_change",
        _key(project["id"], number),
        {
            "project": project["id"],
            "number": number,
            "section": sid,
            "from": {"design_class": now["design_class"], "material": now["material"]},
            "to": to,
            "reason": p.text("reason", max_len=500),
            "document": p.sha256("document"),
            "designer": designer["uscc"],
            "reviewer": reviewer["uscc"],
            "approvals": {"designer": None, "reviewer": None},
            "status": "pending",
            "seq": ctx.entry.seq,
            "in_force_seq": None,
        },
    )
    index_key = f"{project['id']}|{sid}"
    index = ctx.kv.get("design_changes", index_key) or {"proposed": [], "in_force": []}
    index["proposed"] = [*index["proposed"], number]
    ctx.kv.put("design_changes", index_key, index)
    marker = ctx.kv.get("design_changes", project["id"]) or {"sections": []}
    if sid not in marker["sections"]:
        ctx.kv.put("design_changes", project["id"], {"sections": [*marker["sections"], sid]})
    ctx.ref(f"design_change:{project['id']}|{number}", f"section:{project['id']}|{sid}")


def approve_design_change(ctx: Context) -> None:
    """design.approve, by the change's named designer or drawing reviewer."""
    signer = acting_org(ctx, Role.DESIGNER, Role.DRAWING_REVIEWER)
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    number = p.ident("number")
    key = _key(project["id"], number)
    change = ctx.kv.get("design_change", key)
    if change is None:
        raise RuleViolation("design.known", f"no design change {number} of {project['id']}")
    if change["status"] != "pending":
        raise RuleViolation("design.pending", f"design change {number} is already in force")
    parties = [
        part
        for part, role in (("designer", Role.DESIGNER), ("reviewer", Role.DRAWING_REVIEWER))
        if change[part] == signer["uscc"] and role in signer["roles"]
    ]
    if not parties:
        raise RuleViolation(
            "design.approver",
            f"design change {number} is approved by the designer {change['designer']} and the "
            f"drawing reviewer {change['reviewer']}, not by {signer['uscc']}",
        )
    part = next((x for x in parties if change["approvals"][x] is None), None)
    if part is None:
        raise RuleViolation(
            "design.approver", f"{signer['uscc']} has already approved design change {number}"
        )
    day = p.date("date")
    if day > local_date(ctx.time):
        raise RuleViolation("design.date", f"approval date {day} is after the entry's date")
    change["approvals"] = {
        **change["approvals"],
        part: {"seq": ctx.entry.seq, "date": day.isoformat(), "document": p.sha256("document")},
    }
    if all(change["approvals"].values()):
        now = design_in_force(ctx.kv, project, change["section"])
        if [now["design_class"], now["material"]] != [
            change["from"]["design_class"],
            change["from"]["material"],
        ]:
            raise RuleViolation(
                "design.stale",
                f"design change {number} starts from {change['from']['design_class']}; the "
                f"section is now {now['design_class']} (change {now['change']}): record it again",
            )
        change["status"] = "in_force"
        change["in_force_seq"] = ctx.entry.seq
        index_key = f"{project['id']}|{change['section']}"
        index = ctx.kv.get("design_changes", index_key) or {"proposed": [], "in_force": []}
        index["in_force"] = [*index["in_force"], number]
        ctx.kv.put("design_changes", index_key, index)
    ctx.kv.put("design_change", key, change)
    ctx.ref(f"design_change:{key}", f"section:{project['id']}|{change['section']}")


def design_changes(kv: KV, project: str) -> list[dict[str, Any]]:
    """Every design change of ``project``, in the order recorded."""
    rows = [row for _, row in kv.scan("design_change", f"{project}|")]
    return sorted(rows, key=lambda r: int(r["seq"]))


# -- entry types ---------------------------------------------------------------------


def _section_keys(entry: Entry) -> list[str]:
    section = entry.payload.get("section")
    return [f"{entry.payload.get('project')}|{section}"] if isinstance(section, str) else []


TYPES: tuple[EntryType, ...] = (
    EntryType(
        "design.change", "设计变更", "Record a design change", record_design_change,
        roles("building_owner"), "The project's owner records a design change.",
        owner=party("project", "project", "owner"), owner_doc="Only on the owner's projects.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("changing_design"), None, epcis.at_project),
        records=(
            Record("design_change", by_fields("project", "number")),
            Record("section", _section_keys),
        ),
        payload=payloads.DesignChange,
    ),
    EntryType(
        "design.approve", "设计变更审批", "Approve a design change", approve_design_change,
        roles("designer", "drawing_reviewer"),
        "The change's named designer or drawing reviewer approves it.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("approving_design_change"), None, epcis.at_project),
        records=(Record("design_change", by_fields("project", "number")),),
        payload=payloads.DesignApprove,
    ),
)  # fmt: skip
"""Design changes' entry types (:mod:`insutrace.trace.entrytype`)."""
