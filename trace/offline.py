"""Offline submissions: when a client-signed statement is admitted, and at which time it is judged.

A statement carries its signer's ``time``; the log adds its own (``log.time``), so both are
in the leaf (:mod:`insutrace.trace.entry`). The national policy version in force on the
log time's date (China Standard Time) decides how far apart they may be:

- a version **without** ``entry.offline_window`` (2025.1, 2026.1, and 2026.2, in force on
  2027-01-01 alone): the signed time must be within the ledger's clock skew of its clock
  (rule ``entry.time``), and the statement is judged at its log time — as the ledger
  always did;
- a version **with** it (2026.3 from 2026-12-03, 2027.1 from 2027-01-02): a statement
  signed up to the window before its log time is admitted and judged at its signed time
  (:func:`judged_at`); one signed longer ago is refused (rule ``entry.offline_window``),
  one signed beyond the skew in the future too (``entry.time``).

The time a statement is judged at is a function of the leaf alone, so a replay judges it
at the same time as its admission did. Time order along the log stays on ``log.time``.
A statement the ledger builds itself is signed and placed at one time, so it is judged at
that time under every version.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from .clock import format_time, local_date, parse_time
from .entry import VERSION, Entry
from .errors import NotFound, RuleViolation
from .policy import NATIONAL, Policy, current_policy, offline_window

__all__ = ["OFFLINE_RULE", "check_signed_time", "judged_at", "window_at"]

OFFLINE_RULE = "entry.offline_window"


def window_at(logged: datetime) -> tuple[timedelta, Policy] | None:
    """The offline window of the national policy version in force on ``logged``'s date and
    that version; None when it has none (or no version is in force yet)."""
    return _window_on(local_date(logged))


@lru_cache(maxsize=1024)
def _window_on(day: date) -> tuple[timedelta, Policy] | None:
    try:
        policy = current_policy(NATIONAL, day)
    except NotFound:
        return None
    window = offline_window(policy)
    return None if window is None else (window, policy)


def _hours(window: timedelta) -> float:
    return window.total_seconds() / 3600


def _refuse_stale(signed: datetime, logged: datetime, window: timedelta, policy: Policy) -> None:
    if logged - signed > window:
        late = logged - signed
        raise RuleViolation(
            OFFLINE_RULE,
            f"statement signed at {format_time(signed)}, logged at {format_time(logged)}: "
            f"{_hours(late):.1f} h after it was signed, more than the offline window of "
            f"{_hours(window):g} h "
            f"(policy {policy.id} {policy.version}); sign it again now",
            policy.rule(OFFLINE_RULE).clause,
            max_hours=_hours(window),
        )


def check_signed_time(signed: str, logged: str, now: datetime, max_skew: timedelta) -> None:
    """Admit a client statement signed at ``signed`` and to be logged at ``logged`` (the
    ledger's clock reading ``now``): within ``max_skew`` of now, or, under a policy with an
    offline window, up to the window before ``logged`` (never beyond the skew in the future)."""
    at = parse_time(signed)
    found = window_at(parse_time(logged))
    if found is None or at - now > max_skew:
        if abs(at - now) > max_skew:
            raise RuleViolation(
                "entry.time", f"entry time {signed} is more than {max_skew} from now"
            )
        return
    _refuse_stale(at, parse_time(logged), *found)


def judged_at(entry: Entry) -> datetime:
    """The time an entry's rules are judged at: its signed time for a statement signed
    before its log time under a policy with an offline window, else its log time.

    Refuses (``entry.offline_window``) a statement signed longer ago than that window, so a
    log holding one does not replay."""
    logged = parse_time(entry.time)
    if entry.v != VERSION or entry.signed_time >= entry.time:
        return logged  # one time (v 1, built by the ledger), or signed within the skew ahead
    found = window_at(logged)
    if found is None:
        return logged
    signed = parse_time(entry.signed_time)
    _refuse_stale(signed, logged, *found)
    return signed
