"""trace/canonical.py against the reference RFC 8785 encoder (the ``rfc8785`` package).

The orjson fast path must write the reference's bytes for every value the project
accepts; whatever it refuses is a MalformedInput (never an encoder's own exception),
and only where the reference refuses too, or past the project's own depth limit.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given
from hypothesis import strategies as st

from insutrace.trace.canonical import MAX_DEPTH, _parse_reference, canonical, parse_canonical
from insutrace.trace.errors import MalformedInput

# characters where encoders go wrong: controls (escaped or not), DEL, the line and
# paragraph separators, BOM, combining marks, astral characters (UTF-16 order ≠ code-point
# order: RFC 8785 §3.2.3), the last code point, and lone surrogates (no UTF-8 form)
TRICKY = '\x00\x08\t\n\x0c\r\x1f"\\/\x7f\u0080\u00e9\u0301\u0308\u2028\u2029\ufeff\uffff'
ASTRAL = "\U00010000\U0001f600\U0001d11e\U0010ffff"
SURROGATES = "\ud800\udbff\udc00\udfff"
BIG = (2**53 - 1, -(2**53 - 1), 2**53, -(2**53), 2**53 + 1, 2**63, -(2**64), 10**21)

valid_chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(TRICKY + ASTRAL))
any_chars = st.one_of(valid_chars, st.sampled_from(SURROGATES))


def json_values(chars: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    text = st.text(chars, max_size=12)
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53) + 1, 2**53 - 1),
        st.sampled_from(BIG),
        st.integers(),
        st.floats(),
        text,
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(text, inner, max_size=5)
        ),
        max_leaves=30,
    )


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def nested(levels: int, leaf: Any = 0) -> Any:
    value = leaf
    for n in range(levels):
        value = {"k": value} if n % 2 else [value]
    return value


def reference(value: Any) -> bytes | None:
    """The reference encoding, or None where the reference refuses the value."""
    try:
        out: bytes = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return None
    return out


@given(json_values(any_chars))
@example({"\U0001f600": 1, "\uffff": 2, "a\u0301": 3})  # astral key sorts before U+FFFF
@example({"a": 2**53})
@example({"a": "\ud800"})
@example({"\udfff": None})
@example([1e16, 1.5, -0.0, 5e-324, 1e21])
def test_canonical_is_the_reference_encoding_or_a_malformed_input(value: Any) -> None:
    expected = reference(value)
    try:
        got = canonical(value)
    except MalformedInput:
        assert expected is None or depth(value) > MAX_DEPTH or _float_beyond_ijson(value)
        return
    assert got == expected


@given(st.dictionaries(st.text(valid_chars, max_size=12), json_values(valid_chars), max_size=6))
@example({"n": 2**53 - 1, "s": "\x00\u2028\U0010ffff", "\U00010000": [], "\uffff": {}})
def test_parse_canonical_round_trips_what_canonical_writes(value: dict[str, Any]) -> None:
    try:
        data = canonical(value)
    except MalformedInput:
        return
    assert parse_canonical(data) == value
    assert canonical(parse_canonical(data)) == data


@given(st.dictionaries(st.text(valid_chars, max_size=8), json_values(valid_chars), max_size=6))
def test_any_other_spelling_of_the_value_is_refused(value: dict[str, Any]) -> None:
    try:
        data = canonical(value)
    except MalformedInput:
        return
    spaced = json.dumps(value, ensure_ascii=True, separators=(", ", ": ")).encode()
    if spaced != data:
        with pytest.raises(MalformedInput):
            parse_canonical(spaced)


def _float_beyond_ijson(value: Any) -> bool:
    """An integral double beyond ±2^53 written without an exponent (RFC 8785 §3.2.2.3)."""
    if isinstance(value, float):
        return value.is_integer() and 2**53 - 1 < abs(value) < 1e21
    children = value.values() if isinstance(value, dict) else value
    return isinstance(value, dict | list) and any(map(_float_beyond_ijson, children))


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 300, 5000])
def test_deep_nesting_is_a_one_line_malformed_input(levels: int) -> None:
    with pytest.raises(MalformedInput, match=f"^JSON nested more than {MAX_DEPTH} levels deep$"):
        canonical(nested(levels))
    with pytest.raises(MalformedInput, match=f"^JSON nested more than {MAX_DEPTH} levels deep$"):
        canonical({"first": 1.5, "then": nested(levels)})  # the walk does not stop at a float


def test_nesting_up_to_the_limit_is_accepted() -> None:
    value = nested(MAX_DEPTH)
    assert canonical(value) == rfc8785.dumps(value)
    data = canonical({"v": nested(MAX_DEPTH - 1)})
    assert parse_canonical(data) == {"v": nested(MAX_DEPTH - 1)}


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 300, 2000])
def test_parsing_deep_nesting_is_a_malformed_input(levels: int) -> None:
    data = b'{"a":' * levels + b"1" + b"}" * levels
    with pytest.raises(MalformedInput, match=r"nested more than|depth limit"):
        parse_canonical(data)


@pytest.mark.parametrize(
    "value", [{"a": "\ud800"}, {"\udc00": 1}, ["x\udfffy"], {"a": 1.5, "b": "\ud800"}]
)
def test_lone_surrogates_are_a_one_line_malformed_input(value: Any) -> None:
    with pytest.raises(MalformedInput, match=r"^value cannot be canonicalized: [^\n]+$"):
        canonical(value)


def test_parse_refuses_an_escaped_lone_surrogate() -> None:
    with pytest.raises(MalformedInput, match="not UTF-8 JSON"):
        parse_canonical(b'{"a":"\\ud800"}')


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"a": 2**53}, "safe integer"),
        ({"a": float("nan")}, "nan"),
        ({"a": float("inf")}, "inf"),
        ({"a": 1e16}, "integer beyond ±2\\^53"),
        ({1: "x"}, "keys must be strings"),
        ({"a": object()}, "cannot be canonicalized"),
    ],
)
def test_values_outside_the_scheme_are_malformed_input(value: Any, match: str) -> None:
    with pytest.raises(MalformedInput, match=match):
        canonical(value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'{"b":1,"a":2}', "not in RFC 8785 canonical form"),
        (b'{"a":1,"a":1}', "duplicate member name 'a'"),
        (b'{"a":1.0}', "not in RFC 8785 canonical form"),
        (b'{"a":10000000000000000}', "safe integer"),
        (b'{"a":-10000000000000000}', "safe integer"),
        (b'{"a":[10000000000000000]}', "safe integer"),
        (b'{"a":[1,10000000000000000]}', "safe integer"),
        (b'{"a":"10000000000000000","b":9007199254740992}', "safe integer"),
        (b"[1]", "expected a JSON object, got list"),
        (b'{"a":"\xff"}', "not UTF-8 JSON"),
    ],
)
def test_parse_refuses_non_canonical_bytes(data: bytes, match: str) -> None:
    with pytest.raises(MalformedInput, match=match):
        parse_canonical(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":"91320100000000003H","b":9007199254740991}',
        b'{"a":"at-5154435356417310940c","b":[-9007199254740991]}',
        b'{"a":"x:10000000000000000","b":["[10000000000000000"]}',
    ],
)
def test_long_digit_runs_inside_strings_parse(data: bytes) -> None:
    """A run of 16 digits in a string (a credit code, a hex id) is no number: it parses,
    whichever encoder checks it."""
    assert canonical(parse_canonical(data)) == data


def _verdict(parse: Any, data: bytes) -> tuple[str, str]:
    """What a parser makes of ``data``: the value (its repr tells 1, 1.0 and True apart,
    and shows the members' order) or the refusal's message."""
    try:
        return "value", repr(parse(data))
    except MalformedInput as exc:
        return "refused", str(exc)


def _spellings(value: dict[str, Any], at: int, byte: int) -> list[bytes]:
    """Canonical bytes where there are, other spellings of the value, and one byte changed."""
    out = [
        json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(errors="replace"),
        json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode(),
        json.dumps(value, sort_keys=True).encode(),
    ]
    with contextlib.suppress(MalformedInput):
        out.append(canonical(value))
    return out + [
        data[: at % len(data)] + bytes([byte]) + data[at % len(data) + 1 :] for data in out
    ]


@given(
    st.dictionaries(st.text(any_chars, max_size=8), json_values(any_chars), max_size=6),
    st.integers(0, 200),
    st.integers(0, 255),
)
@example({"a": 1.0, "b": 2**53}, 5, ord("1"))
@example({"a": [1, {"b": None}], "\U0001f600": "x"}, 3, ord("a"))
@example({"a": 1}, 5, ord("1"))
def test_the_fast_path_agrees_with_the_reference_path(
    value: dict[str, Any], at: int, byte: int
) -> None:
    """Whatever the bytes, parse_canonical gives the reference path's verdict: the same
    value, or the same refusal in the same words."""
    extra = [b'{"a":1.0}', b'{"a":[2.0]}', b'{"a":1e0}', b'{"a":-0}', b'{"a":1,"a":1}']
    extra += [b'{"a":9007199254740992}', b'{"a":"\\ud800"}']
    for data in [*_spellings(value, at, byte), *extra]:
        assert _verdict(parse_canonical, data) == _verdict(_parse_reference, data), data
