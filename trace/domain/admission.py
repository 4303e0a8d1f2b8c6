"""Admission checks: rules that apply to every domain entry, run before its type's handler.

The extension point for cross-cutting gates, passed to the ledger explicitly
(``Ledger(..., admission=ADMISSION)``), which runs them in order before the handler of
every type declared ``admitted``. A check is ``(ctx) -> None`` and refuses by raising,
like a handler; it must judge at ``ctx.time`` from the projections only, so replay
reaches the same verdicts.
"""

from __future__ import annotations

from ..entrytype import AdmissionCheck
from .credit import check_listings

__all__ = ["ADMISSION", "AdmissionCheck"]

ADMISSION: tuple[AdmissionCheck, ...] = (check_listings,)
"""The domain's admission checks: the credit blacklist (issue 6, :func:`.credit.check_listings`)
refuses entries by an organisation on a current serious-dishonesty list."""
