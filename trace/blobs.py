"""The content-addressed blob store: documents too large for an entry.

A test report's PDF, a decision document, a survey: the entry carries the document's
SHA-256 (hex), the bytes live here under ``<root>/sha256/<first two hex>/<hex>``. A
blob is written once (to a temporary file, then renamed) and never changed; reading
re-hashes it, so a file altered on disk is reported, not served.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from .errors import MalformedInput, NotFound, VerificationError

__all__ = ["DEFAULT_MAX_BYTES", "BlobStore", "sha256_hex"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_HEX = re.compile(r"[0-9a-f]{64}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Blobs in a directory, addressed by SHA-256; safe for concurrent writers."""

    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, digest: str) -> Path:
        if not _HEX.fullmatch(digest):
            raise MalformedInput(
                f"blob id must be 64 lowercase hex digits (SHA-256), got {digest!r:.80}"
            )
        return self.root / "sha256" / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256. Storing the same bytes again is a no-op."""
        if len(data) > self.max_bytes:
            raise MalformedInput(
                f"document of {len(data)} bytes exceeds the {self.max_bytes}-byte limit"
            )
        if not data:
            raise MalformedInput("document is empty")
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        """The bytes of ``digest``; NotFound if absent, VerificationError if altered."""
        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no document {digest} in the blob store") from None
        if sha256_hex(data) != digest:
            raise VerificationError(
                f"document {digest} was altered on disk: its SHA-256 is {sha256_hex(data)}"
            )
        return data

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()
