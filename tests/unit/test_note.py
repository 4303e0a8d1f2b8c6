"""C2SP signed-note, its checkpoint body and tlog-cosignature: round trips, then one
malformed input per test."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from insutrace.trace.checkpoint import Checkpoint, SignedCheckpoint
from insutrace.trace.errors import MalformedInput, VerificationError
from insutrace.trace.note import (
    NoteSigner,
    NoteVerifier,
    Signature,
    cosignature_key_id,
    cosignature_message,
    open_note,
    parse_note,
    sign_note,
    verify_cosignature,
)

NAME = "example.test/log"
TEXT = "example.test/log\n3\n" + base64.b64encode(bytes(32)).decode() + "\n"


def key_for(label: str) -> Ed25519PrivateKey:
    """A deterministic test-only key."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"test-only:" + label.encode()).digest()
    )


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner(NAME, key_for(NAME))


@pytest.fixture
def other() -> NoteSigner:
    return NoteSigner("other.test/key", key_for("other"))


def test_sign_open_round_trip(signer: NoteSigner) -> None:
    note = sign_note(TEXT, signer)
    assert note.startswith(TEXT + "\n— example.test/log ")
    text, sigs = open_note(note, signer.verifier)
    assert text == TEXT
    assert [(s.name, s.key_id) for s in sigs] == [(NAME, signer.verifier.key_id)]
    assert len(sigs[0].sig) == 64


def test_key_id_is_spec_hash(signer: NoteSigner) -> None:
    raw = signer.verifier.vkey().split("+", 2)[2]
    public = base64.b64decode(raw)
    assert public[0] == 0x01
    assert signer.verifier.key_id == hashlib.sha256(NAME.encode() + b"\n" + public).digest()[:4]


def test_vkey_round_trip(signer: NoteSigner) -> None:
    vkey = signer.verifier.vkey()
    name, key_id, _ = vkey.split("+", 2)
    assert (name, key_id) == (NAME, signer.verifier.key_id.hex())
    assert NoteVerifier.parse(vkey) == signer.verifier
    assert NoteVerifier.parse(vkey + "\n").vkey() == vkey


def test_vkey_with_plus_in_base64_part() -> None:
    key = next(
        k
        for k in (key_for(f"plus-{i}") for i in range(200))
        if "+" in NoteSigner(NAME, k).verifier.vkey().split("+", 2)[2]
    )
    vkey = NoteSigner(NAME, key).verifier.vkey()
    assert vkey.count("+") > 2
    assert NoteVerifier.parse(vkey).vkey() == vkey


def test_unknown_signature_is_ignored(signer: NoteSigner, other: NoteSigner) -> None:
    note = sign_note(TEXT, other, signer)
    text, sigs = open_note(note, signer.verifier)
    assert text == TEXT
    assert [s.name for s in sigs] == ["other.test/key", NAME]


def test_same_name_other_key_is_unknown(signer: NoteSigner) -> None:
    impostor = NoteSigner(NAME, key_for("impostor"))
    note = sign_note(TEXT, impostor, signer)
    assert open_note(note, signer.verifier)[0] == TEXT
    with pytest.raises(VerificationError, match=r"not signed by example\.test/log"):
        open_note(sign_note(TEXT, impostor), signer.verifier)


def test_bad_known_signature_is_rejected(signer: NoteSigner, other: NoteSigner) -> None:
    sig = signer.sign(TEXT)
    bad = Signature(sig.name, sig.key_id, bytes([sig.sig[0] ^ 1]) + sig.sig[1:])
    note = TEXT + "\n" + other.sign(TEXT).line() + bad.line()
    with pytest.raises(VerificationError, match=r"signature by example\.test/log does not verify"):
        open_note(note, signer.verifier)


def test_changed_text_is_rejected(signer: NoteSigner) -> None:
    note = sign_note(TEXT, signer).replace("\n3\n", "\n4\n", 1)
    with pytest.raises(VerificationError, match="does not verify"):
        open_note(note, signer.verifier)


def test_wrong_key_name_in_signature_line(signer: NoteSigner) -> None:
    note = sign_note(TEXT, signer).replace(f"— {NAME} ", "— example.test/other ", 1)
    with pytest.raises(VerificationError, match="not signed by"):
        open_note(note, signer.verifier)


def test_bad_base64_in_signature_line(signer: NoteSigner) -> None:
    note = TEXT + f"\n— {NAME} not*base64==\n"
    with pytest.raises(MalformedInput, match="bad base64"):
        parse_note(note)


def test_missing_blank_line(signer: NoteSigner) -> None:
    note = TEXT + signer.sign(TEXT).line()
    with pytest.raises(MalformedInput, match="no blank line"):
        parse_note(note)


def test_missing_final_newline(signer: NoteSigner) -> None:
    with pytest.raises(MalformedInput, match="no blank line"):
        parse_note(sign_note(TEXT, signer)[:-1])


def test_crlf_line_endings_are_rejected(signer: NoteSigner) -> None:
    with pytest.raises(MalformedInput, match=r"control character '\\r'"):
        parse_note(sign_note(TEXT, signer).replace("\n", "\r\n"))


def test_control_character_in_text_is_rejected(signer: NoteSigner) -> None:
    with pytest.raises(MalformedInput, match=r"control character '\\t'"):
        parse_note(sign_note(TEXT, signer).replace("\n3\n", "\n3\t\n"))
    with pytest.raises(MalformedInput, match=r"control character '\\t'"):
        sign_note(TEXT.replace("\n3\n", "\n3\t\n"), signer)


def test_signature_lines_split_on_newline_only(signer: NoteSigner, other: NoteSigner) -> None:
    """U+2028 is a line break to str.splitlines(), not to signed-note (nor to Go's x/mod)."""
    note = sign_note(TEXT, other)[:-1] + "\u2028" + signer.sign(TEXT).line()
    with pytest.raises(MalformedInput, match="malformed signature line"):
        parse_note(note)


def test_no_signatures() -> None:
    with pytest.raises(MalformedInput, match="no signatures"):
        parse_note(TEXT + "\n")


def test_signature_line_without_dash(signer: NoteSigner) -> None:
    line = signer.sign(TEXT).line().replace("—", "-", 1)
    with pytest.raises(MalformedInput, match="malformed signature line"):
        parse_note(TEXT + "\n" + line)


def test_signature_too_short() -> None:
    line = f"— {NAME} {base64.b64encode(b'abcd').decode()}\n"
    with pytest.raises(MalformedInput, match="too short"):
        parse_note(TEXT + "\n" + line)


def test_text_must_end_in_newline(signer: NoteSigner) -> None:
    with pytest.raises(MalformedInput, match="must end with a newline"):
        sign_note(TEXT.rstrip("\n"), signer)


@pytest.mark.parametrize("name", ["", "with space", "with+plus", "tab\there"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(MalformedInput, match="key name"):
        NoteVerifier.from_public(name, key_for("x").public_key())


def test_vkey_with_two_parts(signer: NoteSigner) -> None:
    with pytest.raises(MalformedInput, match=r"name\+id\+key"):
        NoteVerifier.parse(NAME + "+0011aabb")


def test_vkey_with_bad_base64(signer: NoteSigner) -> None:
    name, key_id, _ = signer.verifier.vkey().split("+", 2)
    with pytest.raises(MalformedInput, match="bad encoding"):
        NoteVerifier.parse(f"{name}+{key_id}+***")


def test_vkey_of_another_algorithm(signer: NoteSigner) -> None:
    name, key_id, blob = signer.verifier.vkey().split("+", 2)
    raw = base64.b64decode(blob)
    cosig_key = base64.b64encode(b"\x04" + raw[1:]).decode()
    with pytest.raises(MalformedInput, match="expected an Ed25519 key"):
        NoteVerifier.parse(f"{name}+{key_id}+{cosig_key}")


def test_vkey_with_wrong_key_name(signer: NoteSigner) -> None:
    _, key_id, blob = signer.verifier.vkey().split("+", 2)
    with pytest.raises(MalformedInput, match="does not match key"):
        NoteVerifier.parse(f"example.test/renamed+{key_id}+{blob}")


# --- the checkpoint body (C2SP tlog-checkpoint) -----------------------------------------------


def test_checkpoint_round_trip(signer: NoteSigner) -> None:
    cp = Checkpoint(NAME, 3, bytes(range(32)))
    signed = SignedCheckpoint.sign(cp, signer)
    assert SignedCheckpoint.open(signed.note, signer.verifier).checkpoint == cp
    assert Checkpoint.parse(cp.text() + "extension line\n") == cp


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{NAME}\n3\n", "needs origin, size and root"),
        (f"{NAME}\n03\n{base64.b64encode(bytes(32)).decode()}\n", "without leading zeros"),
        (f"{NAME}\n-1\n{base64.b64encode(bytes(32)).decode()}\n", "without leading zeros"),
        (f"{NAME}\n3\n{base64.b64encode(bytes(31)).decode()}\n", "must be 32 bytes"),
        (f"{NAME}\n3\nnot base64!\n", "is not base64"),
        (f"with space\n3\n{base64.b64encode(bytes(32)).decode()}\n", "spaces or '\\+'"),
    ],
    ids=["two-lines", "leading-zero", "negative", "short-root", "bad-base64", "origin-space"],
)
def test_malformed_checkpoint(text: str, message: str) -> None:
    with pytest.raises(MalformedInput, match=message):
        Checkpoint.parse(text)


def test_checkpoint_of_another_origin_is_rejected(signer: NoteSigner) -> None:
    note = sign_note("other.example/log\n3\n" + base64.b64encode(bytes(32)).decode() + "\n", signer)
    with pytest.raises(VerificationError, match="checkpoint origin"):
        SignedCheckpoint.open(note, signer.verifier)


def test_log_key_name_must_be_origin(other: NoteSigner) -> None:
    with pytest.raises(MalformedInput, match="must equal origin"):
        SignedCheckpoint.sign(Checkpoint(NAME, 0, bytes(32)), other)


# --- witness cosignatures (C2SP tlog-cosignature v1.0.1) ----------------------------------------


def cosign(text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> Signature:
    sig = struct.pack(">Q", timestamp) + key.sign(cosignature_message(text, timestamp))
    return Signature(name, cosignature_key_id(name, key.public_key()), sig)


def test_cosignature_round_trip(signer: NoteSigner) -> None:
    witness = key_for("witness")
    note = sign_note(TEXT, signer) + cosign(TEXT, "w.test/1", witness, 1_700_000_000).line()
    text, sigs = open_note(note, signer.verifier)
    assert verify_cosignature(text, sigs[1], "w.test/1", witness.public_key()) == 1_700_000_000
    expected_id = hashlib.sha256(b"w.test/1\n\x04" + _raw(witness)).digest()
    assert sigs[1].key_id == expected_id[:4]


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_cosignature_by_another_witness_is_rejected() -> None:
    sig = cosign(TEXT, "w.test/1", key_for("witness"), 1)
    with pytest.raises(VerificationError, match=r"not a cosignature by w\.test/1"):
        verify_cosignature(TEXT, sig, "w.test/1", key_for("other-witness").public_key())


def test_cosignature_with_changed_timestamp_is_rejected() -> None:
    witness = key_for("witness")
    sig = cosign(TEXT, "w.test/1", witness, 1)
    moved = Signature(sig.name, sig.key_id, struct.pack(">Q", 2) + sig.sig[8:])
    with pytest.raises(VerificationError, match="does not verify"):
        verify_cosignature(TEXT, moved, "w.test/1", witness.public_key())
