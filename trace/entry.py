"""Log entries: RFC 8785 canonical JSON objects, Ed25519-signed by their actor.

An entry's bytes are the leaf of the Merkle tree (RFC 9162 §2.1.1). Members::

    v        format version, 1
    seq      its index in the log (0 for genesis); no gaps
    type     entry type, e.g. "actor.register", "batch.register"
    actor    the acting organisation's id ("root" for the root authority)
    key      id of the actor's key that signed it (see keys.key_id_of)
    time     RFC 3339 UTC, milliseconds, "Z"
    prev     hex leaf hash of entry seq − 1 (64 zeros for genesis)
    payload  the type's own object
    sig      base64 Ed25519 signature over the canonical bytes of all other members

At most 65,535 bytes (the C2SP entry-bundle limit); larger documents go to the
blob store and are referenced by SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .canonical import canonical, parse_canonical
from .clock import parse_time
from .errors import MalformedInput
from .keys import Signer, verify_signature
from .merkle import leaf_hash
from .tiles import MAX_ENTRY_SIZE

__all__ = ["GENESIS_PREV", "VERSION", "Entry"]

VERSION = 1
GENESIS_PREV = "0" * 64
_MEMBERS = {"v", "seq", "type", "actor", "key", "time", "prev", "payload", "sig"}
_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_ACTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Entry:
    seq: int
    type: str
    actor: str
    key: str
    time: str
    prev: str
    payload: dict[str, Any]
    sig: str = ""
    # The entry's exact bytes, set only by parsing and signing (never copied by replace()).
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        """All members except the signature: what the actor signs."""
        return {
            "v": VERSION,
            "seq": self.seq,
            "type": self.type,
            "actor": self.actor,
            "key": self.key,
            "time": self.time,
            "prev": self.prev,
            "payload": self.payload,
        }

    def signing_bytes(self) -> bytes:
        """Canonical bytes of :meth:`body`. For a parsed entry they are its own bytes less
        the ``"sig"`` member: every member after it (time, type, v) is quote-free, so the
        last ``,"sig":"`` is the top-level one."""
        if self.raw is not None:
            cut = self.raw.rfind(b',"sig":"')
            end = self.raw.find(b'"', cut + 8)
            if cut > 0 and end > 0:
                return self.raw[:cut] + self.raw[end + 1 :]
        return canonical(self.body())

    def to_bytes(self) -> bytes:
        data = self.raw if self.raw is not None else canonical({**self.body(), "sig": self.sig})
        if len(data) > MAX_ENTRY_SIZE:
            raise MalformedInput(
                f"entry is {len(data)} bytes, more than {MAX_ENTRY_SIZE}: "
                "put large documents in the blob store and reference them by SHA-256",
                "",
            )
        return data

    def signed(self, signer: Signer) -> Entry:
        if signer.actor != self.actor or signer.key_id != self.key:
            raise MalformedInput(
                f"signer {signer.actor}/{signer.key_id} does not match entry "
                f"actor/key {self.actor}/{self.key}"
            )
        message = self.signing_bytes()
        sig = base64.b64encode(signer.sign(message)).decode()
        signed = replace(self, sig=sig)
        # canonical order puts "sig" right before the top-level "time", the last one
        cut = message.rfind(b',"time":"')
        object.__setattr__(
            signed, "raw", message[:cut] + f',"sig":"{sig}"'.encode() + message[cut:]
        )
        return signed

    def signature_valid(self, key: Ed25519PublicKey) -> bool:
        try:
            sig = base64.b64decode(self.sig, validate=True)
        except binascii.Error:
            return False
        return verify_signature(key, sig, self.signing_bytes())

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        """Parse and check the form of an entry (not its signature or place in the log)."""
        if len(data) > MAX_ENTRY_SIZE:
            raise MalformedInput(f"entry is {len(data)} bytes, more than {MAX_ENTRY_SIZE}", "")
        entry = cls.from_json(parse_canonical(data))
        object.__setattr__(entry, "raw", data)
        return entry

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Entry:
        if set(obj) != _MEMBERS:
            missing, extra = _MEMBERS - set(obj), set(obj) - _MEMBERS
            raise MalformedInput(
                f"entry members: missing {sorted(missing)}, unknown {sorted(extra)}",
                _pointer(sorted(missing or extra)[0]),
            )
        if obj["v"] != VERSION:
            raise MalformedInput(f"entry version must be {VERSION}, got {obj['v']!r}", "/v")
        entry = cls(
            seq=_field(obj, "seq", int),
            type=_matching(obj, "type", _TYPE),
            actor=_matching(obj, "actor", _ACTOR),
            key=_matching(obj, "key", _HEX16),
            time=_field(obj, "time", str),
            prev=_matching(obj, "prev", _HEX64),
            payload=_field(obj, "payload", dict),
            sig=_field(obj, "sig", str),
        )
        try:
            parse_time(entry.time)
        except MalformedInput as exc:
            raise MalformedInput(str(exc), "/time") from None
        if entry.seq < 0 or isinstance(obj["seq"], bool):
            raise MalformedInput(
                f"entry seq must be a non-negative integer, got {obj['seq']!r}", "/seq"
            )
        return entry


def _pointer(name: str) -> str:
    """RFC 6901 JSON Pointer to a top-level member (§3 escapes ``~`` and ``/``)."""
    return "/" + name.replace("~", "~0").replace("/", "~1")


def _field(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj[name]
    if not isinstance(value, kind):
        raise MalformedInput(
            f"entry {name} must be {kind.__name__}, got {type(value).__name__}", _pointer(name)
        )
    return value


def _matching(obj: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value: str = _field(obj, name, str)
    if not pattern.fullmatch(value):
        raise MalformedInput(
            f"entry {name} {value!r:.70} does not match {pattern.pattern}", _pointer(name)
        )
    return value
