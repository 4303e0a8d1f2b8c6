"""C2SP signed-note v1.0.0 with Ed25519 keys, and tlog-cosignature v1.0.1 verification.

A note is UTF-8 text ending in "\\n", a blank line, then signature lines
``— <name> <base64(key id[4] || signature)>``. The signed message is the text
including its final newline; the note splits at the *last* "\\n\\n".

    Ed25519 key id   = SHA-256(name || 0x0A || 0x01 || public key)[:4]
    cosignature id   = SHA-256(name || 0x0A || 0x04 || public key)[:4]
    verifier key     = <name>+<hex key id>+<base64(0x01 || public key)>

Verifiers ignore signatures by unknown keys and reject a note where a known
key's signature fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .b64 import b64decode_strict
from .errors import MalformedInput, VerificationError

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "NoteSigner",
    "NoteVerifier",
    "Signature",
    "cosignature_key_id",
    "cosignature_message",
    "open_note",
    "parse_note",
    "sign_note",
    "verify_cosignature",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
_DASH = "\u2014"
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # signed-note: no C0 controls but newline


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _key_hash(name: str, alg: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise MalformedInput(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Signature:
    """One signature line: the key name, its 4-byte id, and the signature bytes."""

    name: str
    key_id: bytes
    sig: bytes

    def line(self) -> str:
        return f"{_DASH} {self.name} {base64.b64encode(self.key_id + self.sig).decode()}\n"


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 note verifier key (C2SP signed-note)."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def from_public(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        _check_name(name)
        return cls(name, _key_hash(name, ALG_ED25519, _raw(public_key)), public_key)

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Parse ``name+hexid+base64(0x01||key)``; split on the first two '+' only."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise MalformedInput(f"verifier key must be name+id+key, got {vkey!r:.60}")
        name, hex_id, b64 = parts
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise MalformedInput(f"verifier key {name!r}: id must be 8 lowercase hex digits")
        try:
            key_id, blob = bytes.fromhex(hex_id), b64decode_strict(b64)
        except (ValueError, binascii.Error) as exc:
            raise MalformedInput(f"verifier key {name!r}: bad encoding ({exc})") from None
        if len(key_id) != 4 or len(blob) != 33 or blob[0] != ALG_ED25519:
            raise MalformedInput(f"verifier key {name!r}: expected an Ed25519 key (0x01 + 32B)")
        verifier = cls.from_public(name, Ed25519PublicKey.from_public_bytes(blob[1:]))
        if verifier.key_id != key_id:
            raise MalformedInput(
                f"verifier key {name!r}: id {hex_id} does not match key (expected "
                f"{verifier.key_id.hex()})"
            )
        return verifier

    def vkey(self) -> str:
        blob = base64.b64encode(bytes([ALG_ED25519]) + _raw(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, message: bytes, sig: bytes) -> bool:
        try:
            self.public_key.verify(sig, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 note signer; ``verifier`` is its public half."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier.from_public(self.name, self.private_key.public_key())

    def sign(self, text: str) -> Signature:
        return Signature(self.name, self.verifier.key_id, self.private_key.sign(text.encode()))


def sign_note(text: str, *signers: NoteSigner) -> str:
    """Sign ``text`` (which must end in a newline) with each signer."""
    if not text.endswith("\n"):
        raise MalformedInput("note text must end with a newline")
    if bad := _CONTROL.search(text):
        raise MalformedInput(f"note text has control character {bad.group()!r}")
    return text + "\n" + "".join(s.sign(text).line() for s in signers)


def parse_note(note: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and signature lines (no verification)."""
    if len(note) > 1_000_000:
        raise MalformedInput("note larger than 1 MB")
    if bad := _CONTROL.search(note):
        raise MalformedInput(f"note contains control character {bad.group()!r} (only \\n allowed)")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise MalformedInput("note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    sigs = [_parse_sig_line(line) for line in block.split("\n")[:-1]]  # lines end in \n only
    if not sigs:
        raise MalformedInput("note has no signatures")
    return text, sigs


def _parse_sig_line(line: str) -> Signature:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != _DASH:
        raise MalformedInput(f"malformed signature line {line!r:.60}")
    try:
        blob = b64decode_strict(parts[2])
    except binascii.Error:
        raise MalformedInput(f"signature line for {parts[1]!r}: bad base64") from None
    if len(blob) < 5:
        raise MalformedInput(f"signature line for {parts[1]!r}: too short")
    return Signature(parts[1], blob[:4], blob[4:])


def open_note(note: str, verifier: NoteVerifier) -> tuple[str, list[Signature]]:
    """Verify ``note`` against ``verifier``; return its text and all signatures.

    Unknown signatures are ignored; a known key's bad signature is an error; so is
    the absence of any signature by ``verifier``.
    """
    text, sigs = parse_note(note)
    found = False
    for sig in sigs:
        if sig.name == verifier.name and sig.key_id == verifier.key_id:
            if not verifier.verify(text.encode(), sig.sig):
                raise VerificationError(f"note signature by {verifier.name} does not verify")
            found = True
    if not found:
        raise VerificationError(f"note is not signed by {verifier.name}+{verifier.key_id.hex()}")
    return text, sigs


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """C2SP tlog-cosignature v1: the message a witness signs for one checkpoint."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def cosignature_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """C2SP tlog-cosignature: SHA-256(name || 0x0A || 0x04 || key)[:4]."""
    return _key_hash(name, ALG_COSIGNATURE_V1, _raw(public_key))


def verify_cosignature(
    checkpoint_text: str, sig: Signature, name: str, public_key: Ed25519PublicKey
) -> int:
    """Verify a witness cosignature line; return its timestamp."""
    if sig.key_id != cosignature_key_id(name, public_key) or len(sig.sig) != 72:
        raise VerificationError(f"not a cosignature by {name}")
    (timestamp,) = struct.unpack(">Q", sig.sig[:8])
    try:
        public_key.verify(sig.sig[8:], cosignature_message(checkpoint_text, timestamp))
    except InvalidSignature:
        raise VerificationError(f"cosignature by {name} does not verify") from None
    return int(timestamp)
