"""The signed label payload: one round trip, then one malformed or tampered input per test."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insutrace.labels.codec import (
    CSET82,
    MAX_PAYLOAD_BYTES,
    LabelUri,
    encode_ai_value,
    parse_label_uri,
    sign_label,
    split_label,
    verify_label,
)
from insutrace.trace.errors import MalformedInput, VerificationError

KEY_ID = "mfr-test-01"
URI = "https://id.insutrace.test/01/09506000134352/10/L20250601A/21/SN00000001"


@pytest.fixture
def payload(test_only_key: Ed25519PrivateKey) -> str:
    return sign_label(URI, KEY_ID, test_only_key)


def test_round_trip(payload: str, test_only_key: Ed25519PrivateKey) -> None:
    uri, key_id, signature = split_label(payload)
    assert (uri, key_id) == (URI, KEY_ID)
    assert payload == f"{URI}?k={KEY_ID}&s=" + base64.urlsafe_b64encode(signature).decode()[:86]
    test_only_key.public_key().verify(signature, URI.encode("utf-8"))
    assert verify_label(payload, test_only_key.public_key()) == URI
    assert len(payload) <= MAX_PAYLOAD_BYTES


def test_parse_label_uri() -> None:
    uri = "https://example.com/gs1/01/09506000134352/10/LOT%2F7%21/21/A-1"
    assert parse_label_uri(uri) == LabelUri("example.com/gs1", "09506000134352", "LOT/7!", "A-1")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(
    lot=st.text(alphabet=sorted(CSET82), min_size=1, max_size=20),
    serial=st.text(alphabet=sorted(CSET82), min_size=1, max_size=20),
)
def test_any_cset82_lot_and_serial_round_trip(
    lot: str, serial: str, make_uri: Callable[..., str], test_only_key: Ed25519PrivateKey
) -> None:
    uri = make_uri(lot, serial)
    if len(uri) + len(f"?k={KEY_ID}&s=") + 86 > MAX_PAYLOAD_BYTES:
        with pytest.raises(MalformedInput, match=f"over the {MAX_PAYLOAD_BYTES}"):
            sign_label(uri, KEY_ID, test_only_key)
        return
    payload = sign_label(uri, KEY_ID, test_only_key)
    assert verify_label(payload, test_only_key.public_key()) == uri
    link = parse_label_uri(uri)
    assert (link.lot, link.serial) == (lot, serial)


def test_tampered_serial_is_refused(payload: str, test_only_key: Ed25519PrivateKey) -> None:
    tampered = payload.replace("SN00000001", "SN00000002")
    with pytest.raises(VerificationError, match="does not verify"):
        verify_label(tampered, test_only_key.public_key())


def test_tampered_signature_is_refused(payload: str, test_only_key: Ed25519PrivateKey) -> None:
    index = payload.index("&s=") + 3
    flipped = "B" if payload[index] == "A" else "A"
    tampered = payload[:index] + flipped + payload[index + 1 :]
    with pytest.raises(VerificationError, match=f"by key '{KEY_ID}'"):
        verify_label(tampered, test_only_key.public_key())


def test_signature_of_another_label_is_refused(test_only_key: Ed25519PrivateKey) -> None:
    other = sign_label(URI.replace("SN00000001", "SN00000009"), KEY_ID, test_only_key)
    replayed = URI + other[other.index("?k=") :]
    with pytest.raises(VerificationError):
        verify_label(replayed, test_only_key.public_key())


def test_wrong_key_is_refused(payload: str) -> None:
    stranger = Ed25519PrivateKey.from_private_bytes(b"another test-only label key 0002")
    with pytest.raises(VerificationError):
        verify_label(payload, stranger.public_key())


BASE = "https://id.insutrace.test/01/09506000134352"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (f"{BASE}/10//21/SN1", "lot is empty"),
        (f"{BASE}/10/L1/21/", "serial is empty"),
        (f"{BASE}/10/L1/21/{'S' * 21}", "serial is 21 characters, at most 20"),
        (f"{BASE}/10/L%7E1/21/S1", r"lot 'L~1' has characters outside CSET 82: \['~'\]"),
        (f"{BASE}/10/L~1/21/S1", "outside CSET 82"),
        (f"{BASE}/10/%E6%89%B9/21/S1", "outside CSET 82"),
        (f"{BASE}/10/L%201/21/S1", "outside CSET 82"),
        (f"{BASE}/10/L%FF/21/S1", "is not UTF-8"),
        (f"{BASE}/10/L[1]/21/S1", "not allowed in a path"),
        ("https://id.insutrace.test/01/09506000134353/10/L1/21/S1", "check digit: expected 2"),
        ("https://id.insutrace.test/01/9506000134352/10/L1/21/S1", "gtin must be 14 digits"),
        ("http://id.insutrace.test/01/09506000134352/10/L1/21/S1", "expected scheme 'https://'"),
        (f"{BASE}/10/L1/21/S1?17=260101", "no query or fragment"),
        (f"{BASE}/10/L1/21/S1#x", "no query or fragment"),
        (f"{BASE}/21/S1/10/L1", "path must end in /01/{gtin14}/10/{lot}/21/{serial}"),
        (f"{BASE}/10/L1", "path must end in"),
        ("https://ID.insutrace.test/01/09506000134352/10/L1/21/S1", "resolver host"),
        ("https://x.test//01/09506000134352/10/L1/21/S1", "bad resolver path prefix"),
    ],
)
def test_malformed_uri(uri: str, message: str, test_only_key: Ed25519PrivateKey) -> None:
    with pytest.raises(MalformedInput, match=message):
        sign_label(uri, KEY_ID, test_only_key)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("lot", "", "lot is empty"),
        ("serial", "X" * 21, "serial is 21 characters, at most 20"),
        ("lot", "批号1", "outside CSET 82"),
        ("serial", "A B", r"outside CSET 82: \[' '\]"),
    ],
)
def test_encode_ai_value_refuses(name: str, value: str, message: str) -> None:
    with pytest.raises(MalformedInput, match=message):
        encode_ai_value(name, value)


def test_encode_ai_value_percent_encodes_reserved_characters() -> None:
    assert encode_ai_value("serial", "A/B%C") == "A%2FB%25C"


@pytest.mark.parametrize("key_id", ["", "has space", "k" * 17, "k&s=x"])
def test_bad_key_id(key_id: str, test_only_key: Ed25519PrivateKey) -> None:
    with pytest.raises(MalformedInput, match="label key id"):
        sign_label(URI, key_id, test_only_key)


def test_payload_over_qr_capacity(test_only_key: Ed25519PrivateKey) -> None:
    long_resolver = "https://" + "r" * 60 + ".test/01/09506000134352/10/L20250601A/21/SN00000001"
    with pytest.raises(MalformedInput, match="over the 213 a version-10 QR holds"):
        sign_label(long_resolver, KEY_ID, test_only_key)


def test_split_without_key_id() -> None:
    with pytest.raises(MalformedInput, match=r"expected '\?k=<key id>'"):
        split_label(URI)


def test_split_without_signature() -> None:
    with pytest.raises(MalformedInput, match="expected '&s=<signature>'"):
        split_label(f"{URI}?k={KEY_ID}")


@pytest.mark.parametrize("signature", ["A" * 85, "A" * 87, "A" * 84 + "==", "A" * 85 + "+"])
def test_split_with_bad_signature_length_or_alphabet(signature: str) -> None:
    with pytest.raises(MalformedInput, match="expected 86 base64url characters"):
        split_label(f"{URI}?k={KEY_ID}&s={signature}")


def test_split_with_non_canonical_signature(payload: str) -> None:
    # 64 bytes leave 4 unused bits in the last character; setting one gives the same bytes.
    last = payload[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(last) | 1]
    with pytest.raises(MalformedInput, match="non-canonical"):
        split_label(payload[:-1] + sibling)


def test_split_checks_the_uri(payload: str) -> None:
    with pytest.raises(MalformedInput, match="check digit"):
        split_label(payload.replace("09506000134352", "09506000134353"))
