"""The C2SP tlog-tiles read API: byte-equal to the ledger, right types and cache headers."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from insutrace.trace.checkpoint import SignedCheckpoint
from insutrace.trace.ledger import Ledger
from insutrace.trace.merkle import leaf_hash, verify_consistency, verify_inclusion
from insutrace.trace.note import NoteVerifier
from insutrace.trace.proof import TlogProof
from insutrace.trace.tiles import TileRef, decode_bundle, tiles_for_size

TEXT = "text/plain; charset=utf-8"
IMMUTABLE = "public, max-age=31536000, immutable"


def test_checkpoint_is_the_latest_signed_note(client: TestClient, ledger: Ledger) -> None:
    r = client.get("/log/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == TEXT
    assert r.headers["cache-control"] == "no-cache"
    assert r.text == ledger.latest_checkpoint().note
    SignedCheckpoint.open(r.text, ledger.log_verifier())


def test_vkey_parses_and_verifies_the_checkpoint(client: TestClient) -> None:
    r = client.get("/log/log.vkey")
    assert r.headers["content-type"] == TEXT
    verifier = NoteVerifier.parse(r.text.strip())
    SignedCheckpoint.open(client.get("/log/checkpoint").text, verifier)


@pytest.mark.slow
def test_every_tile_is_byte_equal_to_the_ledger(
    ledger: Ledger, grow: Callable[[int], None], client: TestClient
) -> None:
    grow(300)
    size = ledger.size()
    for ref in tiles_for_size(size):
        r = client.get("/log/" + ref.path())
        assert r.status_code == 200, ref.path()
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.content == ledger.tile(ref)
        full = ref.width == 256
        assert (r.headers["cache-control"] == IMMUTABLE) is full
    bundle = client.get("/log/tile/entries/000").content
    assert decode_bundle(bundle) == [ledger.entry_bytes(i) for i in range(256)]


def test_partial_tiles_and_bundles(client: TestClient, ledger: Ledger) -> None:
    size = ledger.size()
    r = client.get(f"/log/tile/0/000.p/{size}")
    assert r.content == leaf_hash(ledger.entry_bytes(0))
    assert r.headers["cache-control"].startswith("public, max-age=")
    assert "immutable" not in r.headers["cache-control"]
    bundle = client.get(f"/log/tile/entries/000.p/{size}").content
    assert decode_bundle(bundle) == [ledger.entry_bytes(i) for i in range(size)]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("tile/0/000", 404),  # full tile beyond the log
        ("tile/0/000.p/200", 404),
        ("tile/1/000.p/1", 404),
        ("tile/0/0", 400),  # non-canonical index
        ("tile/0/000.p/256", 400),
        ("tile/0/000.p/01", 400),
        ("tile/x/000", 400),
        ("tile/entries/x001/000.p/1", 404),
    ],
)
def test_bad_or_missing_tiles(client: TestClient, path: str, status: int) -> None:
    r = client.get("/log/" + path)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


def test_tlog_proof_verifies_offline(client: TestClient, ledger: Ledger) -> None:
    r = client.get("/log/entries/0.tlog-proof")
    assert r.status_code == 200
    assert r.headers["content-type"] == TEXT
    proof = TlogProof.parse(r.text)
    signed = proof.verify(ledger.entry_bytes(0), ledger.log_verifier())
    assert signed.checkpoint.size == ledger.size()
    assert client.get(f"/log/entries/{ledger.size()}.tlog-proof").status_code == 404


def test_json_proofs_verify(
    client: TestClient, ledger: Ledger, grow: Callable[[int], None]
) -> None:
    grow(12)
    old = ledger.latest_checkpoint().checkpoint
    grow(5)
    new = ledger.latest_checkpoint().checkpoint
    r = client.get("/log/proof/inclusion", params={"index": 7, "size": old.size}).json()
    path = [base64.b64decode(h) for h in r["hashes"]]
    verify_inclusion(leaf_hash(ledger.entry_bytes(7)), 7, old.size, path, old.root)
    assert SignedCheckpoint.open(r["checkpoint"], ledger.log_verifier()).checkpoint == old
    latest = client.get("/log/proof/inclusion", params={"index": 3}).json()
    assert latest["size"] == new.size
    assert SignedCheckpoint.open(latest["checkpoint"], ledger.log_verifier()).checkpoint == new
    r = client.get("/log/proof/consistency", params={"old": old.size, "new": new.size}).json()
    proof = [base64.b64decode(h) for h in r["hashes"]]
    verify_consistency(old.size, new.size, old.root, new.root, proof)


@pytest.mark.parametrize(
    "query",
    [
        {"index": 5, "size": 5},
        {"index": 0, "size": 10**9},
        {"old": 3, "new": 2},
        {"old": 0, "new": 10**9},
    ],
)
def test_bad_proof_requests_are_4xx(client: TestClient, query: dict[str, int]) -> None:
    kind = "inclusion" if "index" in query else "consistency"
    r = client.get(f"/log/proof/{kind}", params=query)
    assert 400 <= r.status_code < 500
    assert r.json()["status"] == r.status_code


def test_tile_ref_paths_round_trip(client: TestClient) -> None:
    assert TileRef(0, 1234067).path() == "tile/0/x001/x234/067"
    assert client.get("/log/tile/0/x001/x234/067").status_code == 404
