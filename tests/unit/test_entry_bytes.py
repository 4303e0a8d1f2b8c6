"""The byte splicing of trace/entry.py against the naive encoding of the whole entry.

Signing inserts the ``"sig"`` member into the canonical bytes of the body, and a parsed
entry's signing bytes are its own bytes with that member cut out; neither re-encodes.
Both must equal RFC 8785 of the entry object, whatever the payload holds — including
strings and member names that look like the members being spliced.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, example, given
from hypothesis import strategies as st

from insutrace.trace.canonical import MAX_DEPTH, canonical, parse_canonical
from insutrace.trace.entry import GENESIS_PREV, VERSION, Entry, Statement
from insutrace.trace.errors import MalformedInput
from insutrace.trace.keys import Signer

SIGNER = Signer.from_seed("91110000MA0000001X", b"insutrace-test-only:entry-bytes")
# fragments of the members the splicing looks for, to hide inside payloads
DECOYS = (',"sig":"', ',"time":"', '"sig"', '"}', "\\", '\\"', "sig", "time", "v")

chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from("\x00\x1f\u2028\U0001f600"))
text = st.one_of(st.text(chars, max_size=10), st.sampled_from(DECOYS))
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.floats(-1e6, 1e6), text
)
payloads = st.dictionaries(
    text,
    st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)
        ),
        max_leaves=20,
    ),
    max_size=6,
)


def entry(payload: dict[str, Any], seq: int = 7) -> Entry:
    return Entry(
        seq=seq,
        type="batch.register",
        actor=SIGNER.actor,
        key=SIGNER.key_id,
        time="2026-11-22T08:00:00.000Z",
        prev="ab" * 32 if seq else GENESIS_PREV,
        payload=payload,
    )


def naive(e: Entry) -> bytes:
    """The whole entry object through the reference encoder."""
    out: bytes = rfc8785.dumps({**e.body(), "sig": e.sig})
    return out


@given(payloads, st.integers(0, 2**53 - 1))
@example({"sig": ',"sig":"x"', "time": ',"time":"'}, 1)
@example({"z": {"sig": "\\", "time": '"}'}}, 0)
def test_signed_bytes_are_the_canonical_entry(payload: dict[str, Any], seq: int) -> None:
    signed = entry(payload, seq).signed(SIGNER)
    assert signed.to_bytes() == naive(signed)
    assert signed.signing_bytes() == rfc8785.dumps(signed.body())
    assert signed.signature_valid(SIGNER.public_key)


@given(payloads)
@example({"a": 'x","sig":"forged'})
def test_parsed_signing_bytes_are_the_canonical_body(payload: dict[str, Any]) -> None:
    data = entry(payload).signed(SIGNER).to_bytes()
    parsed = Entry.from_bytes(data)
    assert parsed.to_bytes() == data
    assert parsed.signing_bytes() == canonical(parsed.body())
    assert parsed.signature_valid(SIGNER.public_key)
    assert parsed == Entry.from_json(parsed.body() | {"sig": parsed.sig})


@given(payloads, payloads)
def test_a_signature_does_not_carry_over_to_another_payload(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    signed = entry(first).signed(SIGNER)
    moved = Entry.from_bytes(naive(entry(second).signed(SIGNER)))
    forged = Entry.from_json({**moved.body(), "sig": signed.sig})
    assert forged.signature_valid(SIGNER.public_key) == (canonical(first) == canonical(second))


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"a": "\ud800"}, "cannot be canonicalized"),
        ({"\udfff": 1}, "cannot be canonicalized"),
        ({"n": 2**53}, "safe integer"),
        ({"x": float("nan")}, "nan"),
    ],
)
def test_unencodable_payloads_are_refused_when_signing(payload: dict[str, Any], match: str) -> None:
    with pytest.raises(MalformedInput, match=match):
        entry(payload).signed(SIGNER)


def test_a_payload_nested_past_the_limit_is_refused_when_signing() -> None:
    deep: Any = "leaf"
    for _ in range(300):
        deep = [deep]
    with pytest.raises(MalformedInput, match=f"nested more than {MAX_DEPTH} levels"):
        entry({"deep": deep}).signed(SIGNER)


@given(st.binary(max_size=300))
@example(b'{"a":' * 300 + b"1" + b"}" * 300)
@example(b'{"payload":{"a":"\\ud800"}}')
def test_arbitrary_bytes_parse_or_are_malformed_input(data: bytes) -> None:
    try:
        Entry.from_bytes(data)
    except MalformedInput as exc:
        assert "\n" not in str(exc)


def placed(seen: bool = False) -> dict[str, Any]:
    """A well-formed v 2 entry as parsed JSON."""
    statement = Statement(
        type="batch.register",
        actor=SIGNER.actor,
        key=SIGNER.key_id,
        time="2026-11-22T08:00:00.000Z",
        payload={"batch": "B-1"},
        id="stmt-0001",
        seen={"size": 3, "root": "q" * 43 + "="} if seen else None,
    ).signed(SIGNER)
    raw = statement.place(7, "ab" * 32, "2026-11-22T08:00:01.000Z").to_bytes()
    return dict(parse_canonical(raw))


def outcome(obj: dict[str, Any]) -> Entry | str:
    try:
        return Entry.from_json(obj)
    except MalformedInput as exc:
        return f"{exc} at {exc.pointer}"


MEMBERS = ("v", "id", "type", "actor", "key", "time", "payload", "sig", "seen", "log")
LOG_MEMBERS = ("seq", "prev", "time")
ODD = (
    *(None, True, False, 0, 1, 2, -1, 2**60, 2.0, 0.5, "", [], {}, [1], {"a": 1}),
    *("x" * 200, "ab" * 32, "AB" * 32, "ab" * 8, "a.b", "A.b", "_x", "batch.register"),
    *("2026-11-22T08:00:00.000Z", "2026-02-30T08:00:00.000Z", "2026-11-22T08:00:00Z"),
    *({"size": 1, "root": "AA=="}, {"size": -1, "root": "q" * 43 + "="}),
    {"prev": "ab" * 32, "seq": 1, "time": "2026-11-22T08:00:00.000Z"},
)
odd_values = st.one_of(leaves, st.sampled_from(ODD))


def as_defined(obj: dict[str, Any]) -> Entry | str:
    """What the v 2 form's definition gives for ``obj``: the ``log`` member's faults
    first (checked beside a well-formed statement), then the statement's own
    (``Statement.from_json`` of every other member); else the statement placed there."""
    if "log" not in obj:
        return "a statement the log has not placed: it has no log member at /log"
    beside_valid = outcome({**placed(), "log": obj["log"]})
    if isinstance(beside_valid, str):
        return beside_valid
    try:
        statement = Statement.from_json({k: v for k, v in obj.items() if k != "log"})
    except MalformedInput as exc:
        return f"{exc} at {exc.pointer}"
    log = beside_valid
    return replace(
        log,
        type=statement.type,
        actor=statement.actor,
        key=statement.key,
        payload=statement.payload,
        sig=statement.sig,
        id=statement.id,
        signed_time=statement.time,
        seen=statement.seen,
    )


def changed(seen: bool, changes: list[tuple[str, Any]], dropped: list[str]) -> dict[str, Any]:
    obj = placed(seen)
    obj["log"] = dict(obj["log"])
    for name, value in changes:
        where, _, member = name.rpartition(".")
        target = obj["log"] if where == "log" and isinstance(obj.get("log"), dict) else obj
        target[member or name] = value
    for name in dropped:
        where, _, member = name.rpartition(".")
        target = obj["log"] if where == "log" and isinstance(obj.get("log"), dict) else obj
        target.pop(member or name, None)
    return obj


def test_each_member_of_each_wrong_kind_is_refused_as_its_definition_says() -> None:
    for seen in (False, True):
        for name in (*MEMBERS, *(f"log.{m}" for m in LOG_MEMBERS)):
            for value in ODD:
                obj = changed(seen, [(name, value)], [])
                if obj["v"] == VERSION:  # else it is read as the v 1 form
                    assert outcome(obj) == as_defined(obj), (name, value)


@given(
    st.booleans(),
    st.lists(
        st.tuples(st.sampled_from((*MEMBERS, *(f"log.{m}" for m in LOG_MEMBERS))), odd_values),
        max_size=3,
    ),
    st.lists(st.sampled_from((*MEMBERS, "log.seq", "log.time", "extra")), max_size=2),
)
def test_a_placed_entry_is_accepted_and_refused_as_its_statement_and_log_member(
    seen: bool, changes: list[tuple[str, Any]], dropped: list[str]
) -> None:
    """Entry.from_json of a v 2 entry checks the statement's members as a statement is
    checked (one implementation, remembered matches included) and its log member."""
    obj = changed(seen, changes, dropped)
    assume(obj.get("v") == VERSION and "seq" not in obj)  # else it is read as the v 1 form
    assert outcome(obj) == as_defined(obj)


def test_well_formed_entries_parse_to_their_statement_placed() -> None:
    for seen in (False, True):
        obj = placed(seen)
        taken = Entry.from_json(obj)
        assert taken == Entry.from_bytes(canonical(obj))
        assert taken.seen == obj.get("seen")
        assert isinstance(as_defined(obj), Entry) and taken == as_defined(obj)
