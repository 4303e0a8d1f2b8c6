"""Full tiles are read from the store once and then answered from memory, byte for byte;
partial tiles are read each time (the log outgrows them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.api.tilecache import TileCache
from insutrace.trace.tiles import TileRef


def test_a_full_tile_is_read_once_and_a_partial_one_every_time(
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
        store = services.ledger.tile(_ref(path))
        assert first.content == store
        before = services.tiles.hits
        second = client.get(f"/log/{path}")
        assert second.content == store
        cached = services.tiles.hits - before
        assert cached == (1 if path in full else 0), path
    assert client.get("/log/tile/0/000").headers["cache-control"].endswith("immutable")


def _ref(path: str) -> TileRef:
    from insutrace.trace.tiles import parse_tile_path

    return parse_tile_path(path)


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = TileCache(max_bytes=10)
    cache.put("a", b"12345")
    cache.put("b", b"12345")
    assert cache.get("a") == b"12345"  # "a" is now the most recent
    cache.put("c", b"123")
    assert cache.get("b") is None and cache.get("a") == b"12345" and cache.get("c") == b"123"
    assert cache.used <= 10
    cache.put("huge", b"x" * 11)
    assert cache.get("huge") is None
