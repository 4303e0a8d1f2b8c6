"""The whole-chain domain: entry types, their rules and projections.

``HANDLERS`` maps every entry type the ledger admits to its handler.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..actors import CORE_HANDLERS, Handler

__all__ = ["HANDLERS"]

HANDLERS: Mapping[str, Handler] = dict(CORE_HANDLERS)
