"""Standard base64 (RFC 4648 §4), decoded strictly: the one decoder of the base64 fields
the core reads from outside (signatures, keys, checkpoint roots, note signatures, proofs,
dossiers).

``base64.b64decode(text, validate=True)`` raises ``binascii.Error`` for bytes outside the
alphabet or bad padding, but a bare ``ValueError`` for text that is not ASCII, which a
caller catching ``binascii.Error`` lets through as a crash. Here every fault of the text
is a ``binascii.Error``.
"""

from __future__ import annotations

import binascii

__all__ = ["b64decode_strict"]


def b64decode_strict(text: str | bytes) -> bytes:
    """The bytes ``text`` encodes; ``binascii.Error`` when it is not strict base64 (a
    character outside the alphabet, not ASCII at all, padding missing or misplaced)."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        raise
    except ValueError as exc:  # text that is not ASCII
        raise binascii.Error(str(exc)) from None
