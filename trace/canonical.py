"""RFC 8785 (JSON Canonicalization Scheme) encoding and strict decoding of entries.

Decoding refuses duplicate member names and any byte string that is not the
canonical encoding of the value it decodes to, so one value has one leaf hash.

Speed: ``orjson`` with sorted keys writes exactly the RFC 8785 bytes for the values
entries hold — strings, booleans, null, integers within I-JSON's ±2^53, keys without
astral characters (whose UTF-16 order differs from code-point order). Any other value
goes through the reference encoder (``rfc8785``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import rfc8785

from .errors import MalformedInput

__all__ = ["canonical", "parse_canonical"]

_MAX_SAFE = 2**53 - 1
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# byte classes: digit -> "d", a 4-byte UTF-8 lead (astral character) -> "A", else "."
_CLASSES = bytes(
    ord("d") if 0x30 <= b <= 0x39 else ord("A") if 0xF0 <= b <= 0xF4 else ord(".")
    for b in range(256)
)


def _fast(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _simple(value: Any) -> bool:
    """True when :func:`_fast` already is RFC 8785: no floats, integers in the I-JSON
    range, and no keys whose UTF-16 order differs from code-point order."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_MAX_SAFE <= value <= _MAX_SAFE
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and (k.isascii() or not _ASTRAL.search(k)) and _simple(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_simple(v) for v in value)
    return False


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value."""
    if _simple(value):
        return _fast(value)
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise MalformedInput(f"value cannot be canonicalized: {exc}") from None


def _plain(data: bytes, value: Any) -> bool:
    """The bytes hold no astral character and no run of 16 digits (every integer beyond
    2^53 has one; a long digit run inside a string only costs the slower encoder), and the
    value no float. C-speed scans, then a walk without recursion."""
    classes = data.translate(_CLASSES)
    if classes.find(b"A") >= 0 or classes.find(b"d" * 16) >= 0:
        return False
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            return False
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return True


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedInput(f"duplicate member name {key!r}")
        out[key] = value
    return out


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Decode a canonical JSON object; MalformedInput if not JSON, an object, or canonical.

    Duplicate member names need no check on the way in: the decoder keeps the last one,
    so re-encoding cannot reproduce the input. They are looked for only to name the fault.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedInput(f"expected a JSON object, got {type(value).__name__}")
    if (_fast(value) if _plain(data, value) else canonical(value)) != data:
        json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
        raise MalformedInput("not in RFC 8785 canonical form")
    return value
