"""The compact signed payload a label's QR code carries.

A label's QR holds a GS1 Digital Link URI (GS1 Digital Link URI syntax; domain rules §6)::

    https://{resolver}/01/{gtin14}/10/{lot}/21/{serial}

followed by the manufacturer's signature over it::

    {uri}?k={key id}&s={signature}

``s`` is the Ed25519 signature (RFC 8032 §5.1.6) over the UTF-8 bytes of ``{uri}``, that is
everything before ``?k=``, written in base64url without padding (RFC 4648 §5): 86 characters
for the 64-byte signature. ``k`` names the key so a verifier can find it in the manufacturer's
registered keys.

The whole payload must fit a QR symbol of version 10 at error-correction level M in byte mode,
213 bytes (ISO/IEC 18004:2015 table 7): 57 modules a side, 0.34 mm each in the 19.6 mm
symbol of a 70 x 37 mm label, which phone cameras read at arm's length.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from insutrace.trace.domain.labels import decode_signature
from insutrace.trace.errors import MalformedInput, VerificationError
from insutrace.trace.identifiers import (
    AI_MAX_LEN,
    CSET82,
    check_ai_value,
    check_key_id,
    validate_gtin14,
)

__all__ = [
    "CSET82",
    "MAX_AI_VALUE_CHARS",
    "MAX_PAYLOAD_BYTES",
    "LabelUri",
    "encode_ai_value",
    "parse_label_uri",
    "sign_label",
    "split_label",
    "verify_label",
]

MAX_PAYLOAD_BYTES = 213  # QR version 10-M, byte mode (ISO/IEC 18004:2015 table 7)
MAX_AI_VALUE_CHARS = AI_MAX_LEN

_SIGNATURE_PARAM = "?k="
_SEPARATOR = "&s="
_PATH_TAIL = "/01/{gtin14}/10/{lot}/21/{serial}"
# RFC 3986 §3.3 pchar: unreserved / pct-encoded / sub-delims / ":" / "@".
_PCHAR = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*")
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class LabelUri:
    """The parts of a label's Digital Link URI; ``lot`` and ``serial`` are percent-decoded."""

    resolver: str
    gtin: str
    lot: str
    serial: str


def encode_ai_value(name: str, value: str) -> str:
    """Percent-encode a lot or serial for a Digital Link path segment after checking it.

    GS1 Digital Link URI syntax §6: characters outside RFC 3986 "unreserved" are
    percent-encoded; the value itself must be 1-20 characters of CSET 82.
    """
    return quote(check_ai_value(f"label uri: {name}", value), safe="")


def parse_label_uri(uri: str) -> LabelUri:
    """Split ``https://{resolver}/01/{gtin14}/10/{lot}/21/{serial}`` and check every part."""
    rest = _strip_scheme(uri)
    host, *segments = rest.split("/")
    if not _HOST.fullmatch(host):
        raise MalformedInput(f"label uri: resolver host must be a lowercase DNS name, got {host!r}")
    if len(segments) < 6 or segments[-6::2] != ["01", "10", "21"]:
        raise MalformedInput(f"label uri: path must end in {_PATH_TAIL}, got {rest[len(host) :]!r}")
    prefix = segments[:-6]
    if any(not part or not _PCHAR.fullmatch(part) for part in prefix):
        raise MalformedInput(f"label uri: bad resolver path prefix {'/'.join(prefix)!r}")
    gtin, lot, serial = segments[-5::2]
    return LabelUri(
        resolver="/".join([host, *prefix]),
        gtin=validate_gtin14(gtin, "label uri: gtin"),
        lot=_decode_ai_value("lot", lot),
        serial=_decode_ai_value("serial", serial),
    )


def sign_label(uri: str, key_id: str, private_key: Ed25519PrivateKey) -> str:
    """Return ``{uri}?k={key_id}&s={base64url(Ed25519(uri))}``, checked to fit a 10-M QR."""
    parse_label_uri(uri)
    check_key_id("label key id", key_id)
    signature = private_key.sign(uri.encode("utf-8"))
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")
    payload = f"{uri}{_SIGNATURE_PARAM}{key_id}{_SEPARATOR}{encoded}"
    _check_payload_size(payload)
    return payload


def split_label(payload: str) -> tuple[str, str, bytes]:
    """Split a label payload into (uri, key id, signature), checking its syntax but not the
    signature: call this first to pick the public key named by the key id."""
    _check_payload_size(payload)
    uri, found, query = payload.partition(_SIGNATURE_PARAM)
    if not found:
        raise MalformedInput(f"label payload: expected '{_SIGNATURE_PARAM}<key id>' after the uri")
    key_id, found, encoded = query.partition(_SEPARATOR)
    if not found:
        raise MalformedInput(f"label payload: expected '{_SEPARATOR}<signature>' after the key id")
    parse_label_uri(uri)
    check_key_id("label key id", key_id)
    return uri, key_id, decode_signature(encoded)


def verify_label(payload: str, public_key: Ed25519PublicKey) -> str:
    """Check the payload's Ed25519 signature (RFC 8032 §5.1.7) and return the signed uri."""
    uri, key_id, signature = split_label(payload)
    try:
        public_key.verify(signature, uri.encode("utf-8"))
    except InvalidSignature:
        raise VerificationError(
            f"label signature by key {key_id!r} does not verify for {uri!r}"
        ) from None
    return uri


def _strip_scheme(uri: str) -> str:
    if not uri.startswith("https://"):
        raise MalformedInput(f"label uri: expected scheme 'https://', got {uri[:12]!r}")
    if "?" in uri or "#" in uri:
        raise MalformedInput("label uri: must carry no query or fragment (the signature adds one)")
    return uri.removeprefix("https://")


def _decode_ai_value(name: str, segment: str) -> str:
    if not _PCHAR.fullmatch(segment):
        raise MalformedInput(f"label uri: {name} {segment!r} has characters not allowed in a path")
    try:
        value = unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedInput(f"label uri: {name} {segment!r} is not UTF-8") from None
    return check_ai_value(f"label uri: {name}", value)


def _check_payload_size(payload: str) -> None:
    size = len(payload.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise MalformedInput(
            f"label payload is {size} bytes, over the {MAX_PAYLOAD_BYTES} a version-10 QR "
            "holds at level M; shorten the resolver, lot, serial or key id"
        )
