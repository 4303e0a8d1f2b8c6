"""Tiles and bundles are read from the store once and then answered from memory, byte for
byte; the checkpoint is answered from memory until a batch commits, here or in another
process (the published-checkpoint file changes), or its time runs out."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import support
from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.api.tilecache import CheckpointCache, TileCache
from insutrace.api.web import label_path
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.tiles import TileRef, parse_tile_path

from .conftest import org_payload, uscc


def test_tiles_are_read_once_then_answered_from_memory(
    client: TestClient, services: Services, world: Any, grow: Callable[[int], None]
) -> None:
    grow(300)  # with the world's entries: one full level-0 tile and entry bundle, then partial
    size = services.ledger.size()
    assert size > 256
    full = ["tile/0/000", "tile/entries/000"]
    partial = [TileRef(0, 1, size - 256).path(), TileRef(-1, 1, size - 256).path()]
    for path in full + partial:
        first = client.get(f"/log/{path}")
        assert first.status_code == 200, (path, first.text)
        store = services.ledger.tile(parse_tile_path(path))
        assert first.content == store
        before = services.tiles.hits
        second = client.get(f"/log/{path}")
        assert second.content == store
        assert services.tiles.hits - before == 1, path  # no second read of the store
        assert second.headers["cache-control"] == first.headers["cache-control"]
        assert second.headers["content-type"] == "application/octet-stream"
        assert second.headers["x-request-id"]  # the guards outside still ran
    assert client.get("/log/tile/0/000").headers["cache-control"] == (
        "public, max-age=31536000, immutable"
    )
    assert client.get(f"/log/{partial[0]}").headers["cache-control"] == "public, max-age=10"


def test_a_non_canonical_or_missing_tile_is_never_answered_from_memory(
    client: TestClient, services: Services, world: Any
) -> None:
    size = services.ledger.size()
    assert client.get(f"/log/tile/0/000.p/{size}").status_code == 200
    assert client.get(f"/log/tile/0/00.p/{size}").status_code == 400  # same tile, other spelling
    assert client.get("/log/tile/0/000").status_code == 404  # not full yet
    assert client.get("/log/tile/0/000").status_code == 404
    # a HEAD or a POST is not a read the memory answers: the router's 405 as before
    assert client.head(f"/log/tile/0/000.p/{size}").status_code == 405
    # the guards outside the memory still hold for a tile it has
    refused = client.get(f"/log/tile/0/000.p/{size}?x=%00")
    assert refused.status_code == 400 and refused.headers["x-request-id"]
    assert refused.headers["content-type"] == "application/problem+json"
    too_large = client.request(
        "GET", f"/log/tile/0/000.p/{size}", headers={"Content-Length": str(2 << 20)}, content=b""
    )
    assert too_large.status_code == 413


def test_the_checkpoint_follows_each_batch_committed_by_this_server(
    client: TestClient, services: Services, world: Any
) -> None:
    first = client.get("/log/checkpoint")
    assert first.status_code == 200
    assert first.text == services.ledger.latest_checkpoint().note
    assert services.checkpoints.get() is not None  # the next one comes from memory
    etag = first.headers["etag"]
    again = client.get("/log/checkpoint", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    org = uscc(9999)
    key = Signer.from_seed(org, b"test-only tile cache key........")
    services.ledger.append(
        "actor.register",
        org_payload(org, "manufacturer", key.public_b64),
        world["authority"].signer,
    )  # a write of this server: the ledger's published hook replaces the note at once
    latest = services.ledger.latest_checkpoint()
    after = client.get("/log/checkpoint", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.text == latest.note
    assert after.headers["etag"] == f'"{latest.checkpoint.size}"' != etag


def test_a_checkpoint_another_process_published_is_read_at_once(
    client: TestClient, services: Services, ledger: Ledger, world: Any, grow: Callable[[int], None]
) -> None:
    client.get("/log/checkpoint")
    grow(3)  # another ledger object on the same database: this process's hook never runs
    signed = ledger.latest_checkpoint()
    stale = client.get("/log/checkpoint").text
    assert stale != signed.note  # from memory: nothing told this process (until the TTL)
    watched = services.checkpoints.watch
    assert watched is not None
    watched.parent.mkdir(parents=True, exist_ok=True)
    tmp = watched.with_name(".other-process")
    tmp.write_text(signed.note, encoding="utf-8")  # what publish_to does in that process
    os.replace(tmp, watched)
    assert client.get("/log/checkpoint").text == signed.note


def test_a_cached_checkpoint_expires(
    ledger: Ledger, world: Any, grow: Callable[[int], None]
) -> None:
    cache = CheckpointCache(watch=None, ttl=0.05)
    cache.publish(ledger.latest_checkpoint())
    assert cache.get() is not None
    time.sleep(0.06)
    assert cache.get() is None
    grow(1)
    newer = ledger.latest_checkpoint()
    cache.fill(newer, None)
    answer = cache.get()
    assert answer is not None and answer[0] == newer.note.encode()


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = TileCache(max_bytes=10, max_partial_bytes=4)
    cache.put("a", b"12345")
    cache.put("b", b"12345")
    assert cache.get("a") == b"12345"  # "a" is now the most recent
    cache.put("c", b"123")
    assert cache.get("b") is None and cache.get("a") == b"12345" and cache.get("c") == b"123"
    assert cache.used <= 10
    cache.put("huge", b"x" * 11)
    assert cache.get("huge") is None
    cache.put("p.p/1", b"1234")  # partial tiles have their own budget: no full tile goes
    cache.put("q.p/2", b"12")
    assert cache.get("p.p/1") is None and cache.get("q.p/2") == b"12"
    assert cache.get("a") == b"12345" and cache.get("c") == b"123"


def test_a_label_verdict_is_read_once_per_log_head(
    client: TestClient,
    services: Services,
    ledger: Ledger,
    root: Signer,
    signer_for: Callable[[str], Signer],
) -> None:
    lw = support.label_world().LabelWorld(ledger, root, signer_for)
    lw.trade_parties()
    lw.site_parties()
    batch = lw.qualified_batch(lw.product())
    lw.issue(batch, count=3)
    path = label_path(lw.label(batch, "000002"))
    json = {"Accept": "application/json"}
    first = client.get(path, headers=json).json()
    assert first["verdict"] == "genuine"
    hits = services.labels.hits
    assert client.get(path, headers=json).json() == first  # nothing appended: from memory
    assert "正品" in client.get(path, headers={"Accept": "text/html"}).text  # the page too
    assert services.labels.hits == hits + 2
    lw.recall(batch)  # appended by another ledger object (as by another process)
    after = client.get(path, headers=json).json()
    assert after["verdict"] == "recalled" and services.labels.hits == hits + 2
