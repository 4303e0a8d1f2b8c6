"""The ledger's exception tree.

Every failure the core reports is one of these; third-party exceptions are
translated at the boundary, and the API maps each class to one HTTP status
and an RFC 9457 problem body::

    LedgerError                      base; never raised itself
    ├── MalformedInput               bytes or fields that do not parse (400)
    │                                  .pointer (RFC 6901 JSON Pointer or None)
    ├── RuleViolation                a domain rule refuses the entry (422)
    │                                  .rule (id), .clause, .message {zh, en}
    ├── VerificationError            a signature, proof or chain does not verify (422)
    │                                  .index (entry index or None)
    ├── Conflict                     the request races the log: stale prev hash,
    │                                  duplicate identifier (409)
    ├── NotFound                     no such entry, tile, batch ... (404)
    ├── Forbidden                    the actor may not do this (403)
    ├── StorageError                 the database is unreachable, unmigrated or
                                       damaged; the request may be retried (503)
    └── Unavailable                  the ledger is not set up or reachable for this:
                                       no log key, no database, a sealed key that
                                       does not open (503)

Messages name the field and say what was expected and what was found. A rule
violation's clause and bilingual message come from the rule catalogue
(:mod:`insutrace.trace.rules`); the raise site gives the per-instance detail.
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
    "Unavailable",
    "VerificationError",
]


class LedgerError(Exception):
    """Base class of every error the ledger core raises."""


class MalformedInput(LedgerError):
    """Input that does not parse or breaks a format (size, encoding, canonical form).

    ``pointer`` is an RFC 6901 JSON Pointer to the offending member of the entry
    (``/payload/sections/0/area_m2``) when the reader knows it.
    """

    def __init__(self, message: str, pointer: str | None = None) -> None:
        self.pointer = pointer
        super().__init__(message)


class RuleViolation(LedgerError):
    """A rule refuses an entry: the rule id, its clause and its message in Chinese and English
    (from the rule catalogue), and ``reason``, this instance's English detail.

    A raise site may pass ``clause`` to narrow the citation to the part of the catalogue's
    clause that applies (or, for a policy rule, the clause of the policy version applied), and
    named ``fields`` for the catalogue's message templates.
    """

    def __init__(self, rule: str, message: str, clause: str = "", **fields: object) -> None:
        # imported here: the catalogue reads the policy files, whose loader raises these errors
        from .rules import explain

        self.rule = rule
        self.reason = message
        self.clause, self.message = explain(rule, clause, fields)
        text = f"{rule}: {message}"
        if self.clause:
            text += f" ({self.clause})"
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


class Unavailable(LedgerError):
    """The ledger cannot do this as it is set up or reachable now (no log key, no database)."""
