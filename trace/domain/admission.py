"""Admission checks: rules that apply to every domain entry, run before its type's handler.

The extension point for cross-cutting gates. The credit-blacklist module (issue 6)
appends a check here that refuses entries by an organisation on a current
serious-dishonesty list (e.g. a blacklisted manufacturer registering a batch). A
check is ``(ctx) -> None`` and refuses by raising, like a handler; it must judge at
``ctx.time`` from the projections only, so replay reaches the same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable

from ..actors import Context, Handler

__all__ = ["ADMISSION_CHECKS", "AdmissionCheck", "admitted"]

AdmissionCheck = Callable[[Context], None]

ADMISSION_CHECKS: list[AdmissionCheck] = []
"""Run in order before every domain handler; empty until a module registers one."""


def admitted(handler: Handler) -> Handler:
    """Wrap a domain handler so that every admission check runs first."""

    def run(ctx: Context) -> None:
        for check in ADMISSION_CHECKS:
            check(ctx)
        handler(ctx)

    run.__doc__ = handler.__doc__
    run.__name__ = getattr(handler, "__name__", "handler")
    return run
