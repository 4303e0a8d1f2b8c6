"""The content-addressed blob store: documents too large for an entry.

A test report's PDF, a decision document, a survey: the entry carries the document's
SHA-256 (hex), the bytes live here under ``<root>/sha256/<first two hex>/<hex>``. A
blob is written once (to a temporary file under ``<root>/incoming``, hashed as it is
written, then renamed) and never changed; reading re-hashes it, so a file altered on disk
is reported, not served. :meth:`BlobStore.writer` takes a document chunk by chunk, so an
upload is never held in memory whole.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from .errors import MalformedInput, NotFound, VerificationError

__all__ = ["DEFAULT_MAX_BYTES", "BlobStore", "BlobWriter", "sha256_hex"]

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
        writer = self.writer()
        try:
            writer.write(data)
            return writer.commit()
        finally:
            writer.abort()

    def writer(self) -> BlobWriter:
        """A new document, written chunk by chunk and hashed as it goes."""
        return BlobWriter(self)

    def _place(self, tmp: Path, digest: str) -> None:
        target = self.path(digest)
        if target.exists():
            tmp.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)

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


class BlobWriter:
    """One document on its way in: bytes go to a temporary file as they come, SHA-256
    computed over them; :meth:`commit` fsyncs and files it under its hash, :meth:`abort`
    (always safe to call) removes what a refused or broken upload left."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self.size = 0
        self._hash = hashlib.sha256()
        incoming = store.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=incoming, prefix=".incoming-")
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._done = False

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; MalformedInput once the document passes the store's limit."""
        self.size += len(chunk)
        if self.size > self.store.max_bytes:
            raise MalformedInput(
                f"document of more than {self.store.max_bytes} bytes exceeds the limit"
            )
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self) -> str:
        """File the document under its SHA-256, which is returned."""
        if self.size == 0:
            raise MalformedInput("document is empty")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
        self.store._place(self._tmp, digest)
        self._done = True
        return digest

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        if not self._done:
            self._tmp.unlink(missing_ok=True)
            self._done = True
