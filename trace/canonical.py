"""RFC 8785 (JSON Canonicalization Scheme) encoding and strict decoding of entries.

Decoding refuses duplicate member names and any byte string that is not the
canonical encoding of the value it decodes to, so one value has one leaf hash.

Speed: ``orjson`` with sorted keys writes exactly the RFC 8785 bytes for the values
entries hold — strings, booleans, null, integers within I-JSON's ±2^53, keys without
astral characters (whose UTF-16 order differs from code-point order). Any other value
goes through the reference encoder (``rfc8785``).

Refusals: every value the scheme cannot encode — lone surrogates (RFC 8785 §3.2.2.2
encodes strings as UTF-8, which has none), integers outside I-JSON's range (RFC 7493
§2.2), non-finite numbers, non-string keys — and every value nested more than
:data:`MAX_DEPTH` levels deep is a :class:`MalformedInput` with one line, never a
crash of the encoder.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import rfc8785

from .errors import MalformedInput

__all__ = ["MAX_DEPTH", "canonical", "parse_canonical"]

# Objects and arrays nested deeper than this are refused. Entries need a handful of
# levels; the bound stays well below orjson's own limit (254) and Python's recursion
# limit, so neither encoder can fail on depth before this check does.
MAX_DEPTH = 64
_MAX_SAFE = 2**53 - 1
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# byte classes: digit -> "d", a 4-byte UTF-8 lead (astral character) -> "A", else "."
_RUN = b"d" * 16  # 16 digits in a row, in the classes below
_MINUS = ord("-")
_NUMBER_AFTER = frozenset(b":,[")
_CLASSES = bytes(
    ord("d") if 0x30 <= b <= 0x39 else ord("A") if 0xF0 <= b <= 0xF4 else ord(".")
    for b in range(256)
)


def _fast(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _too_deep() -> MalformedInput:
    return MalformedInput(f"JSON nested more than {MAX_DEPTH} levels deep")


def _simple(value: Any) -> bool:
    """True when :func:`_fast` already is RFC 8785: no floats, integers in the I-JSON
    range, and no keys whose UTF-16 order differs from code-point order.

    Walks the whole value without recursion and without stopping early, so the checks
    that refuse hold for every value whichever encoder writes it: MalformedInput past
    :data:`MAX_DEPTH`, and for a float that would not decode (:func:`_check_float`)."""
    simple = True
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str | bool) or item is None:
            continue
        if isinstance(item, int):
            simple = simple and -_MAX_SAFE <= item <= _MAX_SAFE
        elif isinstance(item, float):
            _check_float(item)
            simple = False
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise _too_deep()
            simple = simple and (isinstance(item, list) or all(map(_fast_key, item)))
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        else:
            simple = False  # not JSON: the reference encoder names it
    return simple


def _fast_key(key: Any) -> bool:
    return isinstance(key, str) and (key.isascii() or not _ASTRAL.search(key))


def _check_float(x: float) -> None:
    """RFC 8785 §3.2.2.3 writes an integral double below 10^21 as digits alone; beyond
    ±2^53 those digits are an integer outside I-JSON's range (RFC 7493 §2.2), which
    :func:`parse_canonical` refuses — so the encoder refuses it first."""
    if x.is_integer() and _MAX_SAFE < abs(x) < 1e21:
        raise MalformedInput(
            f"number {x!r} would be written as an integer beyond ±2^53 (RFC 7493 §2.2)"
        )


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value; MalformedInput for what it cannot encode."""
    try:
        if _simple(value):
            return _fast(value)
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        # orjson.JSONEncodeError is a TypeError, UnicodeEncodeError a ValueError; deep
        # nesting inside a non-JSON container (a tuple) is past the walk's sight
        raise MalformedInput(f"value cannot be canonicalized: {_one_line(exc)}") from None


def _one_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _plain(data: bytes, value: Any) -> bool:
    """The bytes hold no astral character and no number of 16 digits or more (every
    integer beyond 2^53 is one; see :func:`_long_number`), and the value no float.
    C-speed scans, then a walk without recursion, which refuses (like :func:`_simple`)
    any value nested past :data:`MAX_DEPTH`."""
    classes = data.translate(_CLASSES)
    if classes.find(b"A") >= 0 or _long_number(data, classes):
        return False  # canonical() then checks the depth
    if type(value) is float:
        return False
    stack = [(value, 0)] if type(value) is dict or type(value) is list else []
    while stack:  # containers only: a scalar child is looked at where it is found
        item, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise _too_deep()
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind is float:
                return False
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
    return True


def _long_number(data: bytes, classes: bytes) -> bool:
    """A run of 16 digits that may begin a number: right after ":", "," or "[" (or a "-"
    right after one). Bytes the encoder wrote back unchanged have no whitespace, so each
    of their numbers begins so; a run elsewhere is inside a string (an id, a code)."""
    at = classes.find(_RUN)
    while at >= 0:
        before = data[at - 1] if at else 0
        if before == _MINUS and at >= 2:
            before = data[at - 2]
        if before in _NUMBER_AFTER:
            return True
        at = classes.find(_RUN, at + 1)
    return False


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
