"""The entry-type table, rendered from the declarations (never written by hand).

One Markdown row per declared type (:class:`~insutrace.trace.entrytype.EntryType`): its
name, bilingual title, the roles that sign it through the API, its ownership rule and its
EPCIS 2.0 event (:mod:`insutrace.trace.epcis_map`). ``insutrace entry-types`` prints it;
the README carries the same table between markers, and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping

from .entrytype import AUTHORITY, ORGANISATION_ROLES, ROLES, EntryType
from .epcis_map import VOC, ErrorDeclaration, EventMapping

__all__ = ["entry_type_table", "epcis_text", "signers_text"]

_HEAD = ("type", "title", "signed by", "ownership", "EPCIS 2.0 event")


def signers_text(signers: frozenset[str]) -> str:
    """The roles that sign a type, in the order of :data:`~.entrytype.ROLES`."""
    if not signers:
        return "nobody (not through the API)"
    if signers == frozenset(ROLES):
        return "every role"
    if signers == ORGANISATION_ROLES:
        return "any organisation role"
    names = {AUTHORITY: "authority (root)"}
    return ", ".join(names.get(r, r) for r in ROLES if r in signers)


def epcis_text(mapping: EventMapping | None) -> str:
    """An EPCIS mapping in one line: event type, action, business step, disposition."""
    if mapping is None:
        return "not exported (log mechanics)"
    if isinstance(mapping, ErrorDeclaration):
        return f"the corrected event with an errorDeclaration ({mapping.reason})"
    step = mapping.biz_step.replace(VOC, "insu:")
    disposition = f", {mapping.disposition}" if mapping.disposition else ""
    return f"{mapping.event_type} {mapping.action} {step}{disposition}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


def _row(t: EntryType, fields: bool) -> list[str]:
    cells = [
        f"`{t.name}`",
        f"{t.title_zh} {t.title_en}",
        signers_text(t.signers),
        t.owner_doc,
        epcis_text(t.epcis),
    ]
    return [*cells, t.payload_fields()] if fields else cells


def entry_type_table(types: Mapping[str, EntryType], *, fields: bool = False) -> str:
    """The Markdown table of ``types`` in declaration order (``fields``: add the payload)."""
    head = [*_HEAD, "payload (besides schema)"] if fields else list(_HEAD)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in types.values():
        lines.append("| " + " | ".join(_cell(c) for c in _row(t, fields)) + " |")
    return "\n".join(lines) + "\n"
