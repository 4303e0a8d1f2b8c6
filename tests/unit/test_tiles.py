"""C2SP tlog-tiles paths, the tiles a tree publishes, and entry bundles."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insutrace.trace.errors import MalformedInput
from insutrace.trace.tiles import (
    MAX_ENTRY_SIZE,
    WIDTH,
    TileRef,
    decode_bundle,
    encode_bundle,
    parse_tile_path,
    tiles_for_size,
)

# --- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        (TileRef(0, 0), "tile/0/000"),
        (TileRef(0, 1234067), "tile/0/x001/x234/067"),
        (TileRef(1, 999), "tile/1/999"),
        (TileRef(2, 1000), "tile/2/x001/000"),
        (TileRef(0, 1, 44), "tile/0/001.p/44"),
        (TileRef(-1, 0, 1), "tile/entries/000.p/1"),
        (TileRef(-1, 1234067, 255), "tile/entries/x001/x234/067.p/255"),
    ],
)
def test_path_round_trip(ref: TileRef, path: str) -> None:
    assert ref.path() == path
    assert parse_tile_path(path) == ref


def test_spec_example_x001_x234_067() -> None:
    ref = parse_tile_path("tile/0/x001/x234/067")
    assert (ref.level, ref.index, ref.width, ref.is_entries) == (0, 1234067, WIDTH, False)


@given(st.integers(-1, 63), st.integers(0, 10**12), st.integers(1, WIDTH))
def test_any_tile_round_trips(level: int, index: int, width: int) -> None:
    ref = TileRef(level, index, width)
    assert parse_tile_path(ref.path()) == ref


@pytest.mark.parametrize("width", [1, 2, 128, 255])
def test_partial_widths(width: int) -> None:
    assert parse_tile_path(f"tile/3/000.p/{width}").width == width


@pytest.mark.parametrize("path", ["tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/044"])
def test_bad_partial_width(path: str) -> None:
    with pytest.raises(MalformedInput, match=r"partial tile width must be 1\.\.255"):
        parse_tile_path(path)


@pytest.mark.parametrize(
    "path",
    ["tile/0/x000/067", "tile/0/x000/x001/067", "tile/entries/x000/000"],
)
def test_non_canonical_index(path: str) -> None:
    with pytest.raises(MalformedInput, match="non-canonical tile path"):
        parse_tile_path(path)


@pytest.mark.parametrize("path", ["tile/01/000", "tile/64/000"])
def test_bad_level(path: str) -> None:
    with pytest.raises(MalformedInput, match="bad tile level"):
        parse_tile_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/67",
        "tile/0/0067",
        "tile/0/000/",
        "/tile/0/000",
        "tile/-1/000",
        "tile/data/000",
        "tile/8/0/000",
        "tile/0/x001",
        "tile/0/001/067",
        "tile/0/000.p/",
        "tile/0/000.p/1/2",
        "tile/0/00a",
    ],
)
def test_not_a_tile_path(path: str) -> None:
    with pytest.raises(MalformedInput, match="not a tile path"):
        parse_tile_path(path)


def test_unicode_digits_are_not_accepted() -> None:
    with pytest.raises(MalformedInput, match="tile"):
        parse_tile_path("tile/0/\u0660\u0660\u0661")


# --- what a tree publishes --------------------------------------------------------------------


def paths(size: int) -> list[str]:
    return [ref.path() for ref in tiles_for_size(size)]


def test_empty_tree_publishes_nothing() -> None:
    assert paths(0) == []


def test_tiles_around_the_first_boundary() -> None:
    assert paths(1) == ["tile/0/000.p/1", "tile/entries/000.p/1"]
    assert paths(256) == ["tile/0/000", "tile/entries/000", "tile/1/000.p/1"]
    assert paths(300) == [
        "tile/0/000",
        "tile/entries/000",
        "tile/0/001.p/44",
        "tile/entries/001.p/44",
        "tile/1/000.p/1",
    ]


def test_level_two_appears_at_65536() -> None:
    assert "tile/2/000.p/1" in paths(WIDTH * WIDTH)
    assert not any(p.startswith("tile/2/") for p in paths(WIDTH * WIDTH - 1))


@given(st.integers(0, 3 * WIDTH * WIDTH))
def test_partial_width_is_the_spec_formula(size: int) -> None:
    for ref in tiles_for_size(size):
        level = max(ref.level, 0)
        level_nodes = size >> (8 * level)
        if ref.width < WIDTH:
            assert ref.index == level_nodes // WIDTH
            assert ref.width == level_nodes % WIDTH
        else:
            assert (ref.index + 1) * WIDTH <= level_nodes


def test_node_range() -> None:
    assert TileRef(0, 1, 44).node_range() == (0, 256, 300)
    assert TileRef(1, 0, 1).node_range() == (8, 0, 1)
    assert TileRef(-1, 2).node_range() == (0, 512, 768)


# --- entry bundles ----------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_bundle_round_trip(entries: list[bytes]) -> None:
    assert decode_bundle(encode_bundle(entries)) == entries


def test_bundle_layout() -> None:
    assert encode_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"


def test_bundle_truncated_in_length_prefix() -> None:
    with pytest.raises(MalformedInput, match="truncated at byte 4"):
        decode_bundle(encode_bundle([b"ab"]) + b"\x00")


def test_bundle_truncated_in_entry() -> None:
    with pytest.raises(MalformedInput, match="truncated in entry 1"):
        decode_bundle(encode_bundle([b"ab", b"cdef"])[:-1])


def test_largest_entry_fits_and_one_more_byte_does_not() -> None:
    big = b"x" * MAX_ENTRY_SIZE
    assert decode_bundle(encode_bundle([big])) == [big]
    assert encode_bundle([big])[:2] == struct.pack(">H", 0xFFFF)
    with pytest.raises(MalformedInput, match="exceeds 65535"):
        encode_bundle([big + b"x"])
