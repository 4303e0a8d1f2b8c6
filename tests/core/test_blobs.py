"""The content-addressed blob store: documents by SHA-256, written once, checked on read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from insutrace.trace.blobs import BlobStore
from insutrace.trace.errors import MalformedInput, NotFound, VerificationError

PDF = b"%PDF-1.7\n% a factory test report\n" + bytes(range(256)) * 40


def test_put_returns_sha256_and_get_gives_the_bytes_back(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(PDF)
    assert digest == hashlib.sha256(PDF).hexdigest()
    assert store.get(digest) == PDF
    assert store.put(PDF) == digest  # idempotent
    assert store.path(digest) == tmp_path / "sha256" / digest[:2] / digest
    assert [p.name for p in store.path(digest).parent.iterdir()] == [digest]  # no temp files


def test_a_file_altered_on_disk_is_reported(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(PDF)
    store.path(digest).write_bytes(PDF.replace(b"factory", b"forged!"))
    with pytest.raises(VerificationError, match="altered on disk"):
        store.get(digest)


def test_unknown_document_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no document"):
        BlobStore(tmp_path).get("0" * 64)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "A" * 64, "0" * 63])
def test_ids_other_than_sha256_hex_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(MalformedInput, match="64 lowercase hex"):
        BlobStore(tmp_path).get(bad)


def test_oversized_and_empty_documents_are_refused_and_nothing_written(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=1000)
    with pytest.raises(MalformedInput, match="exceeds the 1000-byte limit"):
        store.put(PDF)
    with pytest.raises(MalformedInput, match="empty"):
        store.put(b"")
    assert not (tmp_path / "sha256").exists()
