"""C2SP tlog-checkpoint v1.0.0: the signed statement of a log's size and root.

Body (the text of a signed note)::

    <origin>\\n
    <tree size, decimal, no leading zeros>\\n
    <base64 RFC 6962 root, 44 characters>\\n
    [extension lines]
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from .b64 import b64decode_strict
from .errors import MalformedInput, VerificationError
from .note import NoteSigner, NoteVerifier, open_note, sign_note

__all__ = ["Checkpoint", "SignedCheckpoint"]

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True)
class Checkpoint:
    """The unsigned body of a checkpoint."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise MalformedInput("checkpoint needs origin, size and root lines")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin or " " in origin or "+" in origin:
            raise MalformedInput(f"checkpoint origin {origin!r} is empty or has spaces or '+'")
        if not _SIZE.fullmatch(size) or int(size) >= 2**63:
            raise MalformedInput(
                f"checkpoint size {size!r} is not a decimal below 2^63 without leading zeros"
            )
        try:
            raw = b64decode_strict(root)
        except binascii.Error:
            raise MalformedInput(f"checkpoint root {root!r:.50} is not base64") from None
        if len(raw) != 32:
            raise MalformedInput(f"checkpoint root must be 32 bytes, got {len(raw)}")
        return cls(origin, int(size), raw)


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with its note: ``note`` is what is served and stored verbatim."""

    checkpoint: Checkpoint
    note: str

    @classmethod
    def sign(cls, checkpoint: Checkpoint, signer: NoteSigner) -> SignedCheckpoint:
        if signer.name != checkpoint.origin:
            raise MalformedInput(
                f"log key name {signer.name!r} must equal origin {checkpoint.origin!r}"
            )
        return cls(checkpoint, sign_note(checkpoint.text(), signer))

    @classmethod
    def open(cls, note: str, verifier: NoteVerifier) -> SignedCheckpoint:
        """Verify the note with the log key and parse its body."""
        text, _ = open_note(note, verifier)
        checkpoint = Checkpoint.parse(text)
        if checkpoint.origin != verifier.name:
            raise VerificationError(
                f"checkpoint origin {checkpoint.origin!r}, expected {verifier.name!r}"
            )
        return cls(checkpoint, note)
