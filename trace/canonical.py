"""RFC 8785 (JSON Canonicalization Scheme) encoding and strict decoding of entries.

Decoding refuses duplicate member names and any byte string that is not the
canonical encoding of the value it decodes to, so one value has one leaf hash.

Speed: ``orjson`` with sorted keys writes exactly the RFC 8785 bytes for the values
entries hold — strings, booleans, null, integers within I-JSON's ±2^53, keys without
astral characters (whose UTF-16 order differs from code-point order). Any other value
goes through the reference encoder (``rfc8785``). Decoding such bytes is done by
``msgspec``, which stops at a float (see :func:`parse_canonical`).

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

import msgspec
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
# the lead byte of a 4-byte UTF-8 sequence (an astral character) -> "A", else "."
_LEADS = bytes(ord("A") if 0xF0 <= b <= 0xF4 else ord(".") for b in range(256))
# what the fast decoding path encodes with: integers beyond ±2^53 raise
_STRICT = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


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


def _plain(data: bytes) -> bool:
    """The bytes hold no astral character and too few brackets to nest past
    :data:`MAX_DEPTH`: C-speed scans. (Floats the fast decoder refuses itself, integers
    beyond ±2^53 the strict encoder.)"""
    if data.count(b"{") + data.count(b"[") >= MAX_DEPTH:
        return False
    return data.isascii() or data.translate(_LEADS).find(b"A") < 0


class _Float(Exception):
    """A float, met by the fast decoder: the value is left to the reference path."""


def _no_float(_: str) -> Any:
    raise _Float


# msgspec decodes what the fast path takes (objects, arrays, strings, integers, booleans
# and null) to the same values as orjson, in C, and calls this hook at a float: cheaper
# than a walk of the value in Python to find one.
_decode_plain = msgspec.json.Decoder(float_hook=_no_float).decode


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

    Bytes that hold no float, no integer beyond ±2^53, no astral character and little
    nesting (an entry, almost always) are decoded and re-encoded in C alone; whatever
    that path does not accept goes to :func:`_parse_reference`, which gives the verdict
    and the message. The path accepts only bytes the reference accepts, as the same value:
    what it decodes orjson decodes alike, and what it encodes is the reference encoding.
    """
    value = _parse_plain(data)
    return _parse_reference(data) if value is None else value


def _parse_plain(data: bytes) -> dict[str, Any] | None:
    """The object ``data`` encodes when it is canonical and the C path can tell; None
    when it cannot (bytes :func:`_plain` does not take, a float, an integer beyond
    ±2^53, bytes that are not canonical JSON of an object), for the reference path to
    judge and name."""
    if not _plain(data):
        return None
    try:
        value = _decode_plain(data)
        same = type(value) is dict and orjson.dumps(value, option=_STRICT) == data
    except (_Float, msgspec.DecodeError, orjson.JSONEncodeError):
        return None
    return value if same else None


def _parse_reference(data: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedInput(f"expected a JSON object, got {type(value).__name__}")
    if canonical(value) != data:
        json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
        raise MalformedInput("not in RFC 8785 canonical form")
    return value
