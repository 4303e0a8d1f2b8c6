"""Base64 fields read from outside: text that is not ASCII is refused like any other text
outside the alphabet — with the parser's own error naming the field — never as a bare
``ValueError`` (a crash, or a 500 from the server that parses it)."""

from __future__ import annotations

import binascii
from collections.abc import Callable

import pytest

from insutrace.trace.b64 import b64decode_strict
from insutrace.trace.checkpoint import Checkpoint
from insutrace.trace.errors import MalformedInput
from insutrace.trace.keys import decode_public
from insutrace.trace.note import parse_note
from insutrace.trace.proof import HEADER, TlogProof
from insutrace.trace.witness import AddCheckpoint, WitnessRefusal

NOT_ASCII = "签名"
HASH = "A" * 43 + "="  # 32 zero bytes
NOTE = "example.test/log\n1\n" + HASH + "\n\n— example.test/log AAAAAAAA\n"


@pytest.mark.parametrize("text", [NOT_ASCII, "not base64!", "AAA", "=AAA", "AA=A"])
def test_every_fault_of_the_text_is_a_binascii_error(text: str) -> None:
    with pytest.raises(binascii.Error):
        b64decode_strict(text)


def test_strict_base64_decodes_what_the_standard_encodes() -> None:
    assert b64decode_strict(HASH) == bytes(32)
    assert b64decode_strict(b"aGk=") == b"hi"
    assert b64decode_strict("") == b""


PARSERS: dict[str, tuple[Callable[[], object], type[Exception], str]] = {
    "an entry's public key": (lambda: decode_public(NOT_ASCII), MalformedInput, "not base64"),
    "a checkpoint's root": (
        lambda: Checkpoint.parse(f"example.test/log\n1\n{NOT_ASCII}\n"), MalformedInput, "not base64",
    ),
    "a note's signature line": (
        lambda: parse_note(f"example.test/log\n1\n{HASH}\n\n— example.test/log {NOT_ASCII}\n"),
        MalformedInput, "bad base64",
    ),
    "a tlog-proof's path line": (
        lambda: TlogProof.parse(f"{HEADER}\nindex 0\n{NOT_ASCII}\n\n{NOTE}"), MalformedInput,
        "not base64",
    ),
    "a witness request's proof line": (
        lambda: AddCheckpoint.parse(f"old 0\n{NOT_ASCII}\n\n{NOTE}".encode()), WitnessRefusal,
        "is not base64",
    ),
}  # fmt: skip


@pytest.mark.parametrize("field", sorted(PARSERS))
def test_text_that_is_not_ascii_is_the_parsers_own_error(field: str) -> None:
    parse, error, says = PARSERS[field]
    with pytest.raises(error, match=says):
        parse()
