"""C2SP tlog-proof v1: a self-contained, offline-checkable proof that one entry is logged.

c2sp.org/tlog-proof@v1
[extra <base64 opaque data>]      optional, unauthenticated; accepted and dropped
index <leaf index>
<base64 inclusion-path hash, one per line, leaf sibling first>
<blank line>
<the checkpoint note verbatim, with its signatures>
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from .b64 import b64decode_strict
from .checkpoint import SignedCheckpoint
from .errors import MalformedInput
from .merkle import leaf_hash, verify_inclusion
from .note import NoteVerifier

__all__ = ["HEADER", "TlogProof"]

HEADER = "c2sp.org/tlog-proof@v1"
_INDEX = re.compile(r"0|[1-9][0-9]*")


def _b64(text: str, what: str) -> bytes:
    try:
        return b64decode_strict(text)
    except binascii.Error:
        raise MalformedInput(f"tlog-proof: {what} is not base64") from None


@dataclass(frozen=True)
class TlogProof:
    index: int
    path: tuple[bytes, ...]
    checkpoint_note: str

    def text(self) -> str:
        hashes = "".join(base64.b64encode(h).decode() + "\n" for h in self.path)
        return f"{HEADER}\nindex {self.index}\n{hashes}\n{self.checkpoint_note}"

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or len(lines) < 2 or lines[0] != HEADER:
            raise MalformedInput(f"not a tlog-proof: first line must be {HEADER!r}")
        if lines[1].startswith("extra "):  # optional, unauthenticated: checked and dropped
            _b64(lines.pop(1)[len("extra ") :], "extra")
        index_line = lines[1] if len(lines) > 1 else ""
        key, _, value = index_line.partition(" ")
        if key != "index" or not _INDEX.fullmatch(value):
            raise MalformedInput(f"tlog-proof: bad index line {index_line!r:.40}")
        path = tuple(_b64(line, "a path line") for line in lines[2:])
        if any(len(h) != 32 for h in path):
            raise MalformedInput("tlog-proof: every path hash must be 32 bytes")
        return cls(int(value), path, note)

    def verify(self, entry: bytes, log_key: NoteVerifier) -> SignedCheckpoint:
        """Check the checkpoint signature and the entry's inclusion; return the checkpoint."""
        signed = SignedCheckpoint.open(self.checkpoint_note, log_key)
        cp = signed.checkpoint
        verify_inclusion(leaf_hash(entry), self.index, cp.size, self.path, cp.root)
        return signed
