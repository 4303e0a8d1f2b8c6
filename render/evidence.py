"""What a dossier's HTML and PDF print as evidence, from a dossier that verified.

One function per question, shared by the page (:mod:`insutrace.render.dossier_html`) and the
PDF (:mod:`insutrace.render.dossier_pdf`): the case block, the Chinese-first summary of what
happened, the timeline in China Standard Time with organisations' names beside their credit
codes, and the records with their dates, quantities in m² and test results. Everything is
read from the dossier's trace and entries, which :func:`insutrace.trace.dossier.verify_dossier`
has re-derived from the proven entries before anything is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from insutrace.trace.dossier import DossierCheck

__all__ = ["CaseInfo"]


@dataclass(frozen=True)
class CaseInfo:
    """The case a dossier is printed for, and what its verification established."""

    case: str | None
    investigator: str | None
    check: DossierCheck
