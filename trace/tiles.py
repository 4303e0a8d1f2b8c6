"""C2SP tlog-tiles v0.1.0: tile paths, tile bodies and entry bundles (tile height 8).

    <prefix>/tile/<L>/<N>[.p/<W>]          hashes, 32 bytes each
    <prefix>/tile/entries/<N>[.p/<W>]      uint16 big-endian length || entry, repeated

Level-L tile N holds the tree-level 8L node hashes 256·N … 256·N + W − 1.
N is written in 3-digit groups, all but the last prefixed "x": 1234067 → x001/x234/067.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .errors import MalformedInput

__all__ = [
    "HEIGHT",
    "MAX_ENTRY_SIZE",
    "WIDTH",
    "TileRef",
    "decode_bundle",
    "encode_bundle",
    "parse_tile_path",
    "tiles_for_size",
]

HEIGHT = 8
WIDTH = 1 << HEIGHT
MAX_ENTRY_SIZE = 0xFFFF
_PATH = re.compile(r"tile/(entries|\d+)/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?")


@dataclass(frozen=True)
class TileRef:
    """A tile: ``level`` is -1 for an entry bundle; ``width`` 256 means full."""

    level: int
    index: int
    width: int = WIDTH

    @property
    def is_entries(self) -> bool:
        return self.level < 0

    def path(self) -> str:
        digits = f"{self.index:03d}"
        digits = "0" * (-len(digits) % 3) + digits
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        index = "/".join([*("x" + g for g in groups[:-1]), groups[-1]])
        level = "entries" if self.is_entries else str(self.level)
        suffix = "" if self.width == WIDTH else f".p/{self.width}"
        return f"tile/{level}/{index}{suffix}"

    def node_range(self) -> tuple[int, int, int]:
        """(tree level, first node index, last + 1) of the hashes this tile holds."""
        first = self.index * WIDTH
        return max(self.level, 0) * HEIGHT, first, first + self.width


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/…``; MalformedInput otherwise."""
    m = _PATH.fullmatch(path)
    if not m:
        raise MalformedInput(f"not a tile path: {path!r:.80}")
    level_s, index_s, width_s = m.groups()
    index = int(index_s.replace("x", "").replace("/", ""))
    width = int(width_s) if width_s else WIDTH
    if width_s is not None and (not 1 <= width < WIDTH or width_s != str(width)):
        raise MalformedInput(f"partial tile width must be 1..255, got {width_s}")
    level = -1 if level_s == "entries" else int(level_s)
    if level_s != "entries" and (level > 63 or level_s != str(level)):
        raise MalformedInput(f"bad tile level {level_s!r}")
    ref = TileRef(level, index, width)
    if ref.path() != path:
        raise MalformedInput(f"non-canonical tile path {path!r:.80}, expected {ref.path()!r}")
    return ref


def tiles_for_size(size: int) -> Iterator[TileRef]:
    """Every tile (hash and entry bundle) a tree of ``size`` leaves publishes."""
    level = 0
    while True:
        count = size >> (HEIGHT * level)
        if count == 0:
            break
        full, partial = divmod(count, WIDTH)
        for n in range(full):
            yield TileRef(level, n)
            if level == 0:
                yield TileRef(-1, n)
        if partial:
            yield TileRef(level, full, partial)
            if level == 0:
                yield TileRef(-1, full, partial)
        level += 1


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry prefixed by its uint16 big-endian length."""
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY_SIZE:
            raise MalformedInput(f"entry of {len(e)} bytes exceeds {MAX_ENTRY_SIZE}")
        out += struct.pack(">H", len(e)) + e
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle; MalformedInput on a truncated one."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise MalformedInput(f"entry bundle truncated at byte {pos}")
        (n,) = struct.unpack_from(">H", data, pos)
        if pos + 2 + n > len(data):
            raise MalformedInput(f"entry bundle truncated in entry {len(out)}")
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out
