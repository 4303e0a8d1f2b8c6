"""The ledger's exception tree.

Every failure the core reports is one of these; third-party exceptions are
translated at the boundary, and the API maps each class to one HTTP status
and an RFC 9457 problem body::

    LedgerError                      base; never raised itself
    ├── MalformedInput               bytes or fields that do not parse (400/422)
    ├── RuleViolation                a domain rule refuses the entry (422)
    │                                  .rule (id), .clause (citation or "")
    ├── VerificationError            a signature, proof or chain does not verify
    │                                  .index (entry index or None)
    ├── Conflict                     the request races the log: stale prev hash,
    │                                  duplicate identifier (409)
    ├── NotFound                     no such entry, tile, batch ... (404)
    ├── Forbidden                    the actor may not do this (403)
    └── StorageError                 the database is unreachable, unmigrated or
                                       damaged; the request may be retried (503)

Messages name the field and say what was expected and what was found.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "Forbidden",
    "LedgerError",
    "MalformedInput",
    "NotFound",
    "RuleViolation",
    "StorageError",
    "VerificationError",
]


class LedgerError(Exception):
    """Base class of every error the ledger core raises."""


class MalformedInput(LedgerError):
    """Input that does not parse or breaks a format (size, encoding, canonical form)."""


class RuleViolation(LedgerError):
    """A rule refuses an entry; carries the rule id and, where there is one, the clause."""

    def __init__(self, rule: str, message: str, clause: str = "") -> None:
        self.rule = rule
        self.clause = clause
        self.reason = message
        text = f"{rule}: {message}"
        if clause:
            text += f" ({clause})"
        super().__init__(text)


class VerificationError(LedgerError):
    """A signature, inclusion/consistency proof, chain link or checkpoint fails to verify."""

    def __init__(self, message: str, index: int | None = None) -> None:
        self.index = index
        prefix = f"entry {index}: " if index is not None else ""
        super().__init__(prefix + message)


class Conflict(LedgerError):
    """The request conflicts with the log's current state (stale head, duplicate id)."""


class NotFound(LedgerError):
    """The requested object does not exist."""


class Forbidden(LedgerError):
    """The actor is not allowed to perform this operation."""


class StorageError(LedgerError):
    """The database failed or is not at the schema this release needs; nothing was written."""
