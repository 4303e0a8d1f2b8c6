"""Full tiles and full entry bundles in memory: immutable bytes, served without a query.

C2SP tlog-tiles: a full tile (width 256) never changes once the tree has grown past it,
so the bytes read once can answer every later request for it, from the event loop with no
thread hand-off and no database transaction. Partial tiles are never kept here (they are
superseded as the log grows). The cache is bounded by bytes and drops the least recently
used tile first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["TileCache"]


class TileCache:
    """A byte-bounded LRU map from a tile's path to its bytes."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str) -> bytes | None:
        with self._lock:
            body = self._items.get(path)
            if body is None:
                self.misses += 1
                return None
            self._items.move_to_end(path)
            self.hits += 1
            return body

    def put(self, path: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(path, None)
            if old is not None:
                self.used -= len(old)
            self._items[path] = body
            self.used += len(body)
            while self.used > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.used -= len(dropped)
