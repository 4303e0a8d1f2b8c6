"""Incidents: ``incident.record``, an accident on a building (2025 整治行动 problem area 6).

Signed by an investigator or a regulator; the starting point of an accident back-trace
(:mod:`insutrace.trace.backtrace`). Payload ``id, building, date, kind (fire | detachment
| falling | other), facades[]?, description, document?``; projection rows
``incident``/<id> and ``incidents``/<building> ``{ids[]}``.
"""

from __future__ import annotations

from enum import StrEnum

from .. import epcis_map as epcis
from ..actors import Context
from ..entrytype import EntryType, Record, by_field, roles
from ..errors import RuleViolation
from . import payloads
from .fields import local_date, reader
from .orgs import Role, acting_org

__all__ = ["TYPES", "IncidentKind", "record_incident"]


class IncidentKind(StrEnum):
    FIRE = "fire"  # 火灾
    DETACHMENT = "detachment"  # 脱落
    FALLING = "falling"  # 坠落
    OTHER = "other"


def record_incident(ctx: Context) -> None:
    """incident.record, by an investigator or a regulator: an accident on a building, the
    starting point of an accident back-trace (2025 整治行动 problem area 6)."""
    signer = acting_org(ctx, Role.INVESTIGATOR, Role.REGULATOR)
    p = reader(ctx)
    incident_id = p.ident("id")
    if ctx.kv.get("incident", incident_id) is not None:
        raise RuleViolation("incident.unique", f"incident {incident_id} is already recorded")
    building = ctx.kv.get("building", p.ident("building"))
    if building is None:
        raise RuleViolation("building.known", f"no building {p.data['building']!r}")
    day = p.date("date")
    if day > local_date(ctx.time):
        raise RuleViolation("incident.date", f"incident date {day} is after the entry's date")
    facades = p.texts("facades", min_items=0) if p.has("facades") else []
    ctx.kv.put(
        "incident",
        incident_id,
        {
            "id": incident_id,
            "building": building["id"],
            "date": day.isoformat(),
            "kind": p.one("kind", IncidentKind),
            "facades": facades,
            "description": p.text("description", max_len=1000),
            "document": p.sha256("document", optional=True),
            "by": signer["uscc"],
            "seq": ctx.entry.seq,
        },
    )
    index = ctx.kv.get("incidents", building["id"]) or {"ids": []}
    ctx.kv.put("incidents", building["id"], {"ids": [*index["ids"], incident_id]})
    ctx.ref(f"incident:{incident_id}", f"building:{building['id']}")


# -- entry types ---------------------------------------------------------------------

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "incident.record", "记录事故", "Record an incident", record_incident,
        roles("investigator", "regulator"), "An investigator or regulator records an incident.",
        epcis=epcis.EventSpec("OBSERVE", epcis.voc("recording_incident"), None, epcis.regulatory),
        records=(Record("incident", by_field("id")),),
        payload=payloads.IncidentRecord,
    ),
)  # fmt: skip
"""Incidents' entry types (:mod:`insutrace.trace.entrytype`)."""
