"""The rule catalogue, served: what the ledger enforces, readable by a regulator and a client.

    GET  /v1/rules   JSON: the catalogue's version and every rule with its id, clause (and every
                     clause its sources give), confidence (V / S / U), source (ledger, gate,
                     policy), where it applies (entry types, gate stages), the policy versions
                     carrying it (with their effective dates) and its message in Chinese
                     (``zh``) and English (``en``)
    GET  /rules      the same as a bilingual page, Chinese first

Both read :func:`insutrace.trace.rules.catalogue`; nothing here decides a rule.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from insutrace.api.web import render
from insutrace.trace.rules import RuleEntry, catalogue

__all__ = ["CONFIDENCE", "SOURCES", "router"]

CONFIDENCE = {
    "V": "原文核对 Verified",
    "S": "二手来源 Secondary source",
    "U": "待确认 Unconfirmed",
}
SOURCES = {
    "ledger": ("入账规则", "Rules checked when an entry is appended"),
    "gate": ("审批门规则", "Permit gate rules (消防设计审查, 施工许可, 消防验收)"),
    "policy": ("政策规则", "Policy rules (versioned policy files)"),
}
router = APIRouter()


@router.get("/v1/rules", tags=["rules"])
def list_rules() -> dict[str, Any]:
    """Every rule the ledger enforces, each id once (the rule catalogue)."""
    rules = catalogue()
    return {"version": rules.version, "rules": [entry.to_json() for entry in rules]}


def _groups() -> list[dict[str, Any]]:
    by_source: dict[str, list[RuleEntry]] = {name: [] for name in SOURCES}
    for entry in catalogue():
        by_source[entry.source].append(entry)
    return [
        {"zh": SOURCES[name][0], "en": SOURCES[name][1], "rules": entries}
        for name, entries in by_source.items()
        if entries
    ]


@router.get("/rules", include_in_schema=False)
def rules_page(request: Request) -> HTMLResponse:
    context = {
        "version": catalogue().version,
        "groups": _groups(),
        "confidence": CONFIDENCE,
        "count": len(catalogue().rules),
    }
    return render(request, "rules.html", context)
