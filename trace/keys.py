"""Ed25519 signing keys of actors, their ids, and files that hold them.

An actor's key id is the first 16 hex digits of SHA-256(raw public key). Which key
is valid for which actor at which entry is decided by the log itself (see
:mod:`insutrace.trace.ledger`), never by these files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from .b64 import b64decode_strict
from .errors import MalformedInput

__all__ = [
    "Signer",
    "decode_public",
    "encode_public",
    "key_id_of",
    "load_signer",
    "save_signer",
    "verify_signature",
]


def key_id_of(public: bytes) -> str:
    """16 hex digits of SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public).hexdigest()[:16]


def encode_public(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def decode_public(b64: str) -> Ed25519PublicKey:
    try:
        raw = b64decode_strict(b64)
    except (binascii.Error, TypeError):
        raise MalformedInput("public key is not base64") from None
    if len(raw) != 32:
        raise MalformedInput(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_signature(key: Ed25519PublicKey, sig: bytes, message: bytes) -> bool:
    try:
        key.verify(sig, message)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class Signer:
    """An actor's private key."""

    actor: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, actor: str) -> Signer:
        return cls(actor, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, actor: str, seed: bytes) -> Signer:
        """Deterministic key from a 32-byte seed (tests and reproducible fixtures only)."""
        return cls(actor, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest()))

    @cached_property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @cached_property
    def public_b64(self) -> str:
        return encode_public(self.public_key)

    @cached_property
    def key_id(self) -> str:
        return key_id_of(self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def save_signer(signer: Signer, path: Path) -> None:
    """Write the key as PKCS#8 PEM, readable by its owner only; the actor is the first line."""
    pem = signer.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(f"# actor: {signer.actor}\n".encode() + pem)


def load_signer(path: Path) -> Signer:
    data = path.read_bytes()
    first, _, pem = data.partition(b"\n")
    if not first.startswith(b"# actor: "):
        raise MalformedInput(f"{path}: key file must start with '# actor: <id>'")
    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise MalformedInput(f"{path}: not an Ed25519 private key")
    return Signer(first[9:].decode().strip(), key)
