"""Log entries: RFC 8785 canonical JSON objects, Ed25519-signed by their actor.

An entry's bytes are the leaf of the Merkle tree (RFC 9162 §2.1.1). Two forms, told
apart by ``v``:

**v 2, a placed statement** (everything the ledger writes). The actor signs a
*statement* that names no log position::

    v        2
    id       a unique id the signer chooses (8–128 of A–Z a–z 0–9 . _ : -)
    type     entry type, e.g. "actor.register", "batch.register"
    actor    the acting organisation's id ("root" for the root authority)
    key      id of the actor's key that signed it (see keys.key_id_of)
    time     RFC 3339 UTC, milliseconds, "Z": when the actor signed it
    payload  the type's own object
    seen     optional {"size": n, "root": base64}: the checkpoint the signer last
             verified, its attestation of the history it saw
    sig      base64 Ed25519 signature over the canonical bytes of all other members

and the log places it: the leaf is the statement with one member added,
``"log": {"seq": n, "prev": <hex leaf hash of entry n − 1>, "time": <the log's time>}``
(RFC 8785 sorts it right after ``key``, so the statement's bytes are the leaf's less that
one member). The position is bound by the chain and the Merkle tree (and so by every
checkpoint), not by the signer, so concurrent writers never invalidate each other's
signatures; the same statement sent twice is logged once (its ``(actor, id)`` is
unique in the log). ``log.time`` never decreases along the log; it is
:attr:`Entry.time`, and the signed ``time`` is :attr:`Entry.signed_time`.

**v 1, a positioned entry** (read and verified; still admitted at the head for
compatibility): ``v, seq, type, actor, key, time, prev, payload, sig`` with the
signature over all members but ``sig`` — the signer names the position itself.

At most 65,535 bytes (the C2SP entry-bundle limit); larger documents go to the
blob store and are referenced by SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .b64 import b64decode_strict
from .canonical import canonical, parse_canonical
from .clock import parse_time
from .errors import MalformedInput
from .keys import Signer, verify_signature
from .merkle import leaf_hash
from .tiles import MAX_ENTRY_SIZE

__all__ = [
    "GENESIS_PREV",
    "POSITIONED",
    "VERSION",
    "Entry",
    "Statement",
    "check_actor_id",
    "new_statement_id",
    "statement_ref",
]

VERSION = 2  # the form the ledger writes: a statement placed by the log
POSITIONED = 1  # the earlier form: the signer names seq and prev
GENESIS_PREV = "0" * 64
_MEMBERS = {"v", "seq", "type", "actor", "key", "time", "prev", "payload", "sig"}
_STATEMENT = {"v", "id", "type", "actor", "key", "time", "payload", "sig"}
_OPTIONAL = {"seen"}
_LOG = {"seq", "prev", "time"}
_PLACED = _STATEMENT | {"log"}  # a placed entry's members (and the optional ones)
_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_ACTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_LOG_MEMBER = b',"log":{'
_PAYLOAD_MEMBER = b',"payload":'


def check_actor_id(actor_id: str) -> None:
    """An actor id has the form entries accept for their ``actor`` member."""
    _matching({"actor": actor_id}, "actor", _ACTOR)


def new_statement_id() -> str:
    """A fresh random statement id (128 bits)."""
    return secrets.token_hex(16)


def statement_ref(actor: str, id: str) -> str:
    """The entry reference under which the log finds a statement by its ``(actor, id)``.

    Both may hold ``:``, so the actor's are written ``%3A`` (no actor id holds ``%``):
    the first ``:`` after ``statement:`` ends the actor, and two pairs never share a
    reference (``a:b`` + ``cccccccc`` and ``a`` + ``b:cccccccc`` did, before)."""
    return f"statement:{actor.replace(':', '%3A')}:{id}"


@dataclass(frozen=True)
class Statement:
    """What an actor signs in the v 2 form: no ``seq``, no ``prev`` (see the module)."""

    type: str
    actor: str
    key: str
    time: str
    payload: dict[str, Any]
    id: str
    seen: dict[str, Any] | None = None
    sig: str = ""
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        out = {
            "v": VERSION,
            "id": self.id,
            "type": self.type,
            "actor": self.actor,
            "key": self.key,
            "time": self.time,
            "payload": self.payload,
        }
        if self.seen is not None:
            out["seen"] = self.seen
        return out

    def signing_bytes(self) -> bytes:
        """Canonical bytes of :meth:`body`; for parsed bytes, those bytes less ``"sig"``
        (the members after it — time, type, v — are quote-free)."""
        return _without_sig(self.raw) if self.raw is not None else canonical(self.body())

    def to_bytes(self) -> bytes:
        data = self.raw if self.raw is not None else canonical({**self.body(), "sig": self.sig})
        _check_size(len(data), "statement")
        return data

    def signed(self, signer: Signer) -> Statement:
        if signer.actor != self.actor or signer.key_id != self.key:
            raise MalformedInput(
                f"signer {signer.actor}/{signer.key_id} does not match statement "
                f"actor/key {self.actor}/{self.key}"
            )
        message = self.signing_bytes()
        sig = base64.b64encode(signer.sign(message)).decode()
        signed = replace(self, sig=sig)
        object.__setattr__(signed, "raw", _with_sig(message, sig))
        return signed

    def place(self, seq: int, prev: str, logged: str) -> Entry:
        """The log entry holding this statement at ``seq`` after the leaf ``prev``."""
        data = self.to_bytes()
        # members before "payload" (actor, id, key) are quote-free: the first match is it
        cut = data.index(_PAYLOAD_MEMBER)
        log = f',"log":{{"prev":"{prev}","seq":{seq},"time":"{logged}"}}'.encode()
        leaf = data[:cut] + log + data[cut:]
        _check_size(len(leaf), "entry")
        entry = Entry(
            seq=seq,
            type=self.type,
            actor=self.actor,
            key=self.key,
            time=logged,
            prev=prev,
            payload=self.payload,
            sig=self.sig,
            id=self.id,
            signed_time=self.time,
            seen=self.seen,
            v=VERSION,
        )
        object.__setattr__(entry, "raw", leaf)
        return entry

    @classmethod
    def from_bytes(cls, data: bytes) -> Statement:
        """Parse and check the form of a signed statement (not its signature)."""
        _check_size(len(data), "statement")
        statement = cls.from_json(parse_canonical(data))
        object.__setattr__(statement, "raw", data)
        return statement

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Statement:
        return cls(**_statement_fields(obj, _STATEMENT))


@dataclass(frozen=True)
class Entry:
    """One log entry, of either form. ``time`` is the time along the log (v 2: when the
    log placed it; v 1: the signed time); ``signed_time`` is when the actor signed."""

    seq: int
    type: str
    actor: str
    key: str
    time: str
    prev: str
    payload: dict[str, Any]
    sig: str = ""
    id: str = ""
    signed_time: str = ""
    seen: dict[str, Any] | None = None
    v: int = POSITIONED
    # The entry's exact bytes, set only by parsing and signing (never copied by replace()).
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def statement(self) -> Statement:
        """The signed statement of a v 2 entry."""
        if self.v != VERSION:
            raise MalformedInput(f"entry {self.seq} is of form {self.v}: it holds no statement")
        stmt = Statement(
            type=self.type,
            actor=self.actor,
            key=self.key,
            time=self.signed_time,
            payload=self.payload,
            id=self.id,
            seen=self.seen,
            sig=self.sig,
        )
        if self.raw is not None:
            object.__setattr__(stmt, "raw", self.statement_bytes())
        return stmt

    def statement_bytes(self) -> bytes:
        """The signed statement's own bytes: the v 2 leaf less its ``"log"`` member."""
        data = self.to_bytes()
        cut, close = _log_span(data)
        return data[:cut] + data[close:]

    def body(self) -> dict[str, Any]:
        """What the actor signs: v 1 all members but the signature, v 2 the statement's."""
        if self.v == VERSION:
            return self.statement().body()
        return {
            "v": POSITIONED,
            "seq": self.seq,
            "type": self.type,
            "actor": self.actor,
            "key": self.key,
            "time": self.time,
            "prev": self.prev,
            "payload": self.payload,
        }

    def signing_bytes(self) -> bytes:
        """Canonical bytes of :meth:`body`. For a parsed entry they are cut from its own
        bytes (see :func:`_without_sig`)."""
        if self.v == VERSION:
            if self.raw is not None:  # what statement().signing_bytes() cuts, without building it
                return _signed_part(self.raw)
            return self.statement().signing_bytes()
        if self.raw is not None:
            return _without_sig(self.raw)
        return canonical(self.body())

    def to_bytes(self) -> bytes:
        data = self.raw
        if data is None and self.v == VERSION:
            log = {"seq": self.seq, "prev": self.prev, "time": self.time}
            data = canonical({**self.statement().body(), "sig": self.sig, "log": log})
        elif data is None:
            data = canonical({**self.body(), "sig": self.sig})
        _check_size(len(data), "entry")
        return data

    def signed(self, signer: Signer) -> Entry:
        """Sign the entry with ``signer`` (a v 2 entry: its statement, keeping its place)."""
        if self.v == VERSION:
            return self.statement().signed(signer).place(self.seq, self.prev, self.time)
        if signer.actor != self.actor or signer.key_id != self.key:
            raise MalformedInput(
                f"signer {signer.actor}/{signer.key_id} does not match entry "
                f"actor/key {self.actor}/{self.key}"
            )
        message = self.signing_bytes()
        sig = base64.b64encode(signer.sign(message)).decode()
        signed = replace(self, sig=sig)
        object.__setattr__(signed, "raw", _with_sig(message, sig))
        return signed

    def signature_valid(self, key: Ed25519PublicKey) -> bool:
        try:
            sig = b64decode_strict(self.sig)
        except binascii.Error:
            return False
        return verify_signature(key, sig, self.signing_bytes())

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        """Parse and check the form of an entry (not its signature or place in the log)."""
        _check_size(len(data), "entry")
        entry = cls.from_json(parse_canonical(data))
        object.__setattr__(entry, "raw", data)
        return entry

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Entry:
        if obj.get("v") == VERSION and "seq" not in obj:
            return cls._placed(obj)
        if set(obj) != _MEMBERS:
            missing, extra = _MEMBERS - set(obj), set(obj) - _MEMBERS
            raise MalformedInput(
                f"entry members: missing {sorted(missing)}, unknown {sorted(extra)}",
                _pointer(sorted(missing or extra)[0]),
            )
        if obj["v"] != POSITIONED or isinstance(obj["v"], bool):
            raise MalformedInput(
                f"entry version must be {POSITIONED} or {VERSION}, got {obj['v']!r}", "/v"
            )
        return cls(
            seq=_seq(obj),
            type=_matching(obj, "type", _TYPE),
            actor=_matching(obj, "actor", _ACTOR),
            key=_matching(obj, "key", _HEX16),
            time=_time(obj),
            prev=_matching(obj, "prev", _HEX64),
            payload=_field(obj, "payload", dict),
            sig=_field(obj, "sig", str),
        )

    @classmethod
    def _placed(cls, obj: dict[str, Any]) -> Entry:
        if "log" not in obj:
            raise MalformedInput("a statement the log has not placed: it has no log member", "/log")
        log = _field(obj, "log", dict)
        _members(log, _LOG, set(), "entry log")
        try:
            seq = _seq(log)
            prev = _matching(log, "prev", _HEX64)
            logged = _time(log)
        except MalformedInput as exc:
            raise MalformedInput(str(exc), "/log" + (exc.pointer or "")) from None
        # the statement's own checks, on the entry's members (all but "log")
        stmt = _statement_fields(obj, _PLACED)
        # every field is checked: set at once, not one by one through object.__setattr__
        # as a frozen dataclass's __init__ does (a tenth of a parse, on a log's replay)
        entry = object.__new__(cls)
        entry.__dict__.update(
            stmt, seq=seq, time=logged, prev=prev, signed_time=stmt["time"], v=VERSION
        )
        return entry


def _statement_fields(obj: dict[str, Any], members: set[str]) -> dict[str, Any]:
    """A signed statement's members, checked: those of :class:`Statement`, from a
    statement (``members`` :data:`_STATEMENT`) or a placed entry (:data:`_PLACED`)."""
    _members(obj, members, _OPTIONAL, "statement")
    if obj["v"] != VERSION or isinstance(obj["v"], bool):
        raise MalformedInput(f"statement version must be {VERSION}, got {obj['v']!r}", "/v")
    seen = obj.get("seen")
    if seen is not None:
        _check_seen(seen)
    return {
        "type": _matching(obj, "type", _TYPE, remember=True),
        "actor": _matching(obj, "actor", _ACTOR, remember=True),
        "key": _matching(obj, "key", _HEX16, remember=True),
        "time": _time(obj),
        "payload": _field(obj, "payload", dict),
        "id": _matching(obj, "id", _ID),
        "seen": seen,
        "sig": _field(obj, "sig", str),
    }


@functools.lru_cache(maxsize=4096)
def _repeated(value: str, pattern: re.Pattern[str]) -> bool:
    """``pattern`` matches ``value`` in full (remembered: along a log the same types,
    actors and keys come again and again)."""
    return pattern.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _valid_time(value: str) -> bool:
    """``value`` is an entry time (remembered: a batch's entries share the log's time)."""
    try:
        parse_time(value)
    except MalformedInput:
        return False
    return True


def _without_sig(raw: bytes) -> bytes:
    """Canonical bytes less their top-level ``"sig"`` member: every member sorted after
    it (time, type, v) is quote-free, so the last ``,"sig":"`` is the top-level one."""
    span = _sig_span(raw)
    if span is not None:
        return raw[: span[0]] + raw[span[1] :]
    return canonical({k: v for k, v in parse_canonical(raw).items() if k != "sig"})


def _sig_span(raw: bytes) -> tuple[int, int] | None:
    """Where the top-level ``"sig"`` member lies in canonical bytes (see
    :func:`_without_sig`), its leading comma included; None when it cannot be found so."""
    cut = raw.rfind(b',"sig":"')
    end = raw.find(b'"', cut + 8)
    return (cut, end + 1) if cut > 0 and end > 0 else None


def _log_span(data: bytes) -> tuple[int, int]:
    """Where a v 2 leaf's ``"log"`` member lies, its leading comma included: the members
    before it are quote-free, and it holds no ``}``."""
    cut = data.index(_LOG_MEMBER)
    return cut, data.index(b"}", cut) + 1


def _signed_part(raw: bytes) -> bytes:
    """A v 2 leaf's signing bytes, less its ``"log"`` and its ``"sig"`` members in one
    pass: what ``_without_sig(statement_bytes())`` gives, with one copy fewer."""
    cut, close = _log_span(raw)
    span = _sig_span(raw)
    if span is not None and close <= span[0]:
        return raw[:cut] + raw[close : span[0]] + raw[span[1] :]
    return _without_sig(raw[:cut] + raw[close:])


def _with_sig(message: bytes, sig: str) -> bytes:
    """Canonical order puts ``"sig"`` right before the top-level ``"time"``, the last one."""
    cut = message.rfind(b',"time":"')
    return message[:cut] + f',"sig":"{sig}"'.encode() + message[cut:]


def _check_size(size: int, what: str) -> None:
    if size > MAX_ENTRY_SIZE:
        raise MalformedInput(
            f"{what} is {size} bytes, more than {MAX_ENTRY_SIZE}: "
            "put large documents in the blob store and reference them by SHA-256",
            "",
        )


def _members(obj: dict[str, Any], required: set[str], optional: set[str], what: str) -> None:
    names = obj.keys()
    if names == required or required <= names <= required | optional:
        return
    missing, extra = required - set(obj), set(obj) - required - optional
    if missing or extra:
        raise MalformedInput(
            f"{what} members: missing {sorted(missing)}, unknown {sorted(extra)}",
            _pointer(sorted(missing or extra)[0]),
        )


def _seq(obj: dict[str, Any]) -> int:
    seq: int = _field(obj, "seq", int)
    if seq < 0 or isinstance(seq, bool):
        raise MalformedInput(f"entry seq must be a non-negative integer, got {seq!r}", "/seq")
    return seq


def _time(obj: dict[str, Any], name: str = "time") -> str:
    value = obj[name]
    if isinstance(value, str) and _valid_time(value):
        return value
    checked: str = _field(obj, name, str)
    try:
        parse_time(checked)
    except MalformedInput as exc:
        raise MalformedInput(str(exc), _pointer(name)) from None
    return checked


def _check_seen(seen: Any) -> None:
    """``seen``: ``{"size": n, "root": <base64 of 32 bytes>}``."""
    if not isinstance(seen, dict) or set(seen) != {"size", "root"}:
        raise MalformedInput('seen must be {"size": n, "root": base64}', "/seen")
    size, root = seen["size"], seen["root"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MalformedInput(
            f"seen size must be a non-negative integer, got {size!r}", "/seen/size"
        )
    try:
        ok = isinstance(root, str) and len(b64decode_strict(root)) == 32
    except binascii.Error:
        ok = False
    if not ok:
        raise MalformedInput("seen root must be the base64 of a 32-byte hash", "/seen/root")


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


def _matching(
    obj: dict[str, Any], name: str, pattern: re.Pattern[str], *, remember: bool = False
) -> str:
    """The member ``name``, a string ``pattern`` matches in full; ``remember`` for the
    members whose values repeat along a log (see :func:`_repeated`)."""
    value = obj[name]
    if isinstance(value, str) and (
        _repeated(value, pattern) if remember else pattern.fullmatch(value)
    ):
        return value
    _field(obj, name, str)
    raise MalformedInput(
        f"entry {name} {value!r:.70} does not match {pattern.pattern}", _pointer(name)
    )
