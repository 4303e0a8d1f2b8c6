"""Trust from the log alone: the genesis entry, actors and their keys.

Genesis (entry 0) names the root authority's key and the log's checkpoint key. The
root authority registers actors with their first key; an actor (or the root
authority on its behalf) rotates it; either revokes it. Which key may sign for
which actor at entry *n* follows only from entries 0 … n − 1, so a verifier needs
nothing but the log and the root key. A key is valid for the entries
``from <= seq < until``; entries signed before a rotation keep verifying.

Besides its own key, an organisation may add **device keys** (``key.add``): an extra
signing key held by one of its people on one device (a supervisor's phone), which signs
for the organisation and names its holder, so an entry signed by it says which person
signed it. A device key is ended by ``key.revoke`` (the API revokes a person's device keys
when the person is deactivated); ``key.rotate`` changes only the organisation's own key.

Projection rows (kind, key): ``actor``/<id>, ``key``/<key id> (a device key's row also
names its ``holder`` and ``device``) and ``device``/``<actor>|<holder>|<key id>``. The
core's entry types are declared at the end (:data:`TYPES`,
:mod:`insutrace.trace.entrytype`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .entry import Entry, check_actor_id
from .entrytype import AUTHORITY, ROLES, EntryType, Record, Registry, by_field
from .epcis_map import EventSpec, organisation, voc
from .errors import Forbidden, MalformedInput, RuleViolation, VerificationError
from .keys import decode_public, key_id_of
from .note import NoteVerifier
from .store.base import KV

__all__ = [
    "CORE_HANDLERS",
    "CORE_TYPES",
    "GENESIS",
    "ROOT",
    "TYPES",
    "Context",
    "Handler",
    "add_device_key",
    "check_device_key",
    "check_signer",
    "device_keys",
    "key_holder",
    "register_actor",
]

ROOT = "root"
GENESIS = "log.genesis"


@dataclass
class Context:
    """What a handler sees of one entry being admitted: state, the entry, its time."""

    kv: KV
    entry: Entry
    time: datetime
    refs: set[str] = field(default_factory=set)

    def ref(self, *refs: str) -> None:
        self.refs.update(refs)

    def payload_str(self, name: str, *, required: bool = True, max_len: int = 512) -> str:
        value = self.entry.payload.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            raise MalformedInput(
                f"{self.entry.type}: payload.{name} must be a non-empty string of at most "
                f"{max_len} characters, got {value!r:.40}",
                f"/payload/{name}",
            )
        return value


Handler = Callable[[Context], None]


@lru_cache(maxsize=4096)
def _public(b64: str) -> Ed25519PublicKey:
    return decode_public(b64)


def check_signer(kv: KV, entry: Entry, signed_by: Ed25519PublicKey | None = None) -> None:
    """Refuse an entry not signed by a key valid for its actor at its position.

    ``signed_by``: the public half of the key the caller itself just signed with;
    when it is the registered key, the signature need not be verified again.
    """
    if entry.seq == 0:
        _check_genesis_signature(entry)
        return
    record = kv.get("key", entry.key)
    if record is None:
        raise VerificationError(f"signed by unknown key {entry.key}", entry.seq)
    if record["actor"] != entry.actor:
        raise VerificationError(
            f"key {entry.key} belongs to {record['actor']}, not to actor {entry.actor}", entry.seq
        )
    until = record.get("until")
    if until is not None and entry.seq >= until:
        raise VerificationError(
            f"key {entry.key} of {entry.actor} is {record.get('ended', 'revoked')} "
            f"since entry {until - 1}",
            entry.seq,
        )
    registered = _public(record["public"])
    if signed_by is not None and _raw(signed_by) == _raw(registered):
        return
    if not entry.signature_valid(registered):
        raise VerificationError(
            f"signature by {entry.actor}/{entry.key} does not verify", entry.seq
        )


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_genesis_signature(entry: Entry) -> None:
    if entry.type != GENESIS or entry.actor != ROOT:
        raise VerificationError(f"entry 0 must be {GENESIS} by {ROOT}, got {entry.type}", 0)
    public = entry.payload.get("root_key")
    if not isinstance(public, str):
        raise VerificationError("genesis payload.root_key must be a base64 public key", 0)
    key = _public(public)
    if entry.key != _key_id(public) or not entry.signature_valid(key):
        raise VerificationError("genesis is not self-signed by its root key", 0)


def _key_id(public_b64: str) -> str:
    return key_id_of(base64.b64decode(public_b64))


def _new_key(
    ctx: Context, actor: str, public_b64: Any, extra: Mapping[str, Any] | None = None
) -> str:
    if not isinstance(public_b64, str):
        raise MalformedInput(f"{ctx.entry.type}: payload.public_key must be base64 text")
    _public(public_b64)
    kid = _key_id(public_b64)
    if ctx.kv.get("key", kid) is not None:
        raise RuleViolation("key.unique", f"key {kid} is already registered; use a fresh key")
    record = {"actor": actor, "public": public_b64, "from": ctx.entry.seq + 1, **(extra or {})}
    ctx.kv.put("key", kid, record)
    return kid


def _end_key(ctx: Context, kid: str, how: str) -> None:
    record = ctx.kv.get("key", kid)
    if record is None:
        raise RuleViolation("key.known", f"no key {kid} is registered")
    if record.get("until") is None:
        ctx.kv.put("key", kid, {**record, "until": ctx.entry.seq + 1, "ended": how})


def genesis(ctx: Context) -> None:
    """Entry 0: the root authority's key and the log's checkpoint key."""
    p = ctx.entry.payload
    origin = ctx.payload_str("origin")
    verifier = NoteVerifier.parse(ctx.payload_str("log_key"))
    if verifier.name != origin:
        raise MalformedInput(
            f"genesis: log key name {verifier.name!r} must equal origin {origin!r}"
        )
    kid = _key_id(p["root_key"])
    ctx.kv.put("key", kid, {"actor": ROOT, "public": p["root_key"], "from": 0})
    ctx.kv.put("actor", ROOT, {"id": ROOT, "key": kid, "name": ctx.payload_str("name"), "since": 0})
    ctx.kv.put("log", "genesis", {"origin": origin, "log_key": verifier.vkey(), "root_key": kid})


def register_actor(ctx: Context) -> dict[str, Any]:
    """actor.register, by the root authority: a new actor id with its first key."""
    if ctx.entry.actor != ROOT:
        raise Forbidden(f"only the root authority registers actors, not {ctx.entry.actor}")
    actor_id = ctx.payload_str("id", max_len=64)
    if ctx.kv.get("actor", actor_id) is not None:
        raise RuleViolation("actor.unique", f"actor {actor_id} is already registered")
    check_actor_id(actor_id)
    kid = _new_key(ctx, actor_id, ctx.entry.payload.get("public_key"))
    record = {"id": actor_id, "key": kid, "name": ctx.payload_str("name"), "since": ctx.entry.seq}
    ctx.kv.put("actor", actor_id, record)
    ctx.ref(f"actor:{actor_id}")
    return record


def _target(ctx: Context) -> tuple[str, dict[str, Any]]:
    signing = ctx.kv.get("key", ctx.entry.key)
    if signing is not None and signing.get("holder") is not None:
        raise RuleViolation(
            "key.device_scope",
            f"{ctx.entry.type} signed by device key {ctx.entry.key} of {signing['holder']}: "
            "a device key does not change keys; the organisation's own key does",
        )
    actor_id = ctx.entry.payload.get("actor", ctx.entry.actor)
    record = ctx.kv.get("actor", actor_id) if isinstance(actor_id, str) else None
    if record is None:
        raise RuleViolation("actor.known", f"no actor {actor_id!r} is registered")
    if ctx.entry.actor not in (actor_id, ROOT):
        raise Forbidden(f"{ctx.entry.actor} may not change the keys of {actor_id}")
    ctx.ref(f"actor:{actor_id}")
    return actor_id, record


def rotate_key(ctx: Context) -> None:
    """key.rotate: the actor's new key is valid from the next entry; the old one ends."""
    actor_id, record = _target(ctx)
    if record.get("key"):
        _end_key(ctx, record["key"], "rotated")
    kid = _new_key(ctx, actor_id, ctx.entry.payload.get("public_key"))
    ctx.kv.put("actor", actor_id, {**record, "key": kid})


def revoke_key(ctx: Context) -> None:
    """key.revoke: the key is invalid from the next entry on."""
    actor_id, record = _target(ctx)
    kid = ctx.payload_str("key", max_len=16)
    key = ctx.kv.get("key", kid)
    if key is None or key["actor"] != actor_id:
        raise RuleViolation("key.known", f"{actor_id} has no key {kid}")
    _end_key(ctx, kid, "revoked")
    if record.get("key") == kid:
        ctx.kv.put("actor", actor_id, {**record, "key": None})
    if key.get("holder") is not None:
        row = f"{actor_id}|{key['holder']}|{kid}"
        device = ctx.kv.get("device", row) or {}
        if device.get("until") is None:
            ctx.kv.put("device", row, {**device, "until": ctx.entry.seq + 1, "ended": "revoked"})


# -- device keys: an extra key held by one person of the organisation -------------------------

_HOLDER_MAX = 64
_HOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DEVICE_MAX = 100


def add_device_key(ctx: Context) -> None:
    """key.add: a device key of one of the organisation's people, valid from the next entry."""
    actor_id, _ = _target(ctx)
    holder = ctx.payload_str("holder", max_len=_HOLDER_MAX)
    if not _HOLDER.fullmatch(holder):
        raise RuleViolation(
            "key.holder", f"holder {holder!r:.70} must be a sign-in name ({_HOLDER.pattern})"
        )
    device = ctx.payload_str("device", max_len=_DEVICE_MAX)
    extra = {"holder": holder, "device": device.strip()}
    kid = _new_key(ctx, actor_id, ctx.entry.payload.get("public_key"), extra)
    row = {"id": kid, **extra, "from": ctx.entry.seq + 1}
    ctx.kv.put("device", f"{actor_id}|{holder}|{kid}", row)
    ctx.ref(f"key:{kid}")


def key_holder(kv: KV, kid: str) -> dict[str, Any] | None:
    """The person who holds device key ``kid`` — ``{actor, holder, device, from, until?}`` —
    or None for an organisation's own key (and an unknown one). The one answer to "which
    person signed an entry signed by this key"."""
    record = kv.get("key", kid)
    if record is None or record.get("holder") is None:
        return None
    return {k: record[k] for k in ("actor", "holder", "device", "from", "until") if k in record}


def device_keys(kv: KV, actor: str, holder: str) -> list[dict[str, Any]]:
    """The device keys ``holder`` of ``actor`` has held, in key-id order: each
    ``{id, holder, device, from, until?, ended?}`` (``until`` set once revoked)."""
    return [row for _, row in kv.scan("device", f"{actor}|{holder}|")]


def check_device_key(kv: KV, actor: str, kid: str, holder: str) -> None:
    """Refuse a statement from ``holder``'s device unless ``kid`` is a device key of
    ``actor`` held by ``holder`` and not revoked (rule ``key.device``)."""
    found = key_holder(kv, kid)
    if found is None or found["actor"] != actor:
        raise RuleViolation("key.device", f"{kid} is not a device key of {actor}")
    if found["holder"] != holder:
        raise RuleViolation(
            "key.device", f"device key {kid} is held by {found['holder']}, not by {holder}"
        )
    if found.get("until") is not None:
        raise RuleViolation(
            "key.device", f"device key {kid} of {holder} was revoked at entry {found['until'] - 1}"
        )


def _register(ctx: Context) -> None:
    register_actor(ctx)


def _own_keys(kv: KV, org: str, role: str, payload: Mapping[str, Any]) -> str | None:
    """Ownership of key.rotate / key.revoke: an organisation's own keys; root: anyone's."""
    target = payload.get("actor", org)
    if target != org and org != ROOT:
        return f"{org} may change only its own keys, not those of {target!r:.70}"
    return None


def _device(entry: Entry) -> list[str]:
    public = entry.payload.get("public_key")
    kid = _key_id(public) if isinstance(public, str) else ""
    return [f"{entry.payload.get('actor', entry.actor)}|{entry.payload.get('holder')}|{kid}"]


def _log(entry: Entry) -> list[str]:
    return ["genesis"]


def _key_holder(entry: Entry) -> list[str]:
    return [str(entry.payload.get("actor", entry.actor))]


_EVERY_ROLE = frozenset(ROLES)
_OWN_KEYS = "Only the organisation's own keys (the root authority: any actor's)."

TYPES: tuple[EntryType, ...] = (
    EntryType(
        GENESIS, "日志创世", "Log genesis", genesis, frozenset(),
        "Nobody through the API: `insutrace init` writes it as entry 0.",
        epcis=None, records=(Record("log", _log),), admitted=False,
        fields="origin, name, log_key (C2SP vkey), root_key",
    ),
    EntryType(
        "actor.register", "登记参与方", "Register an actor", _register, frozenset({AUTHORITY}),
        "The root authority registers an organisation.",
        epcis=EventSpec("ADD", voc("registering_organisation"), None, organisation),
        records=(Record("actor", by_field("id")),), admitted=False,
        fields="id, public_key, name",
    ),
    EntryType(
        "key.rotate", "轮换密钥", "Rotate a key", rotate_key, _EVERY_ROLE,
        "An organisation rotates its own key.", owner=_own_keys, owner_doc=_OWN_KEYS,
        epcis=None, records=(Record("actor", _key_holder),), admitted=False,
        fields="public_key, actor? (the root authority on an actor's behalf)",
    ),
    EntryType(
        "key.revoke", "吊销密钥", "Revoke a key", revoke_key, _EVERY_ROLE,
        "An organisation revokes its own key.", owner=_own_keys, owner_doc=_OWN_KEYS,
        epcis=None, records=(Record("actor", _key_holder),), admitted=False,
        fields="key (key id), actor?",
    ),
    EntryType(
        "key.add", "登记设备密钥", "Add a device key", add_device_key, _EVERY_ROLE,
        "An organisation adds a signing key held by one of its people on one device.",
        owner=_own_keys, owner_doc=_OWN_KEYS,
        epcis=None, records=(Record("actor", _key_holder), Record("device", _device)),
        admitted=False,
        fields="public_key, holder (the person's sign-in name), device (label), actor?",
    ),
)  # fmt: skip
"""The core's entry types: the log mechanics and the bare registration of an actor."""

CORE_TYPES = Registry(TYPES)

CORE_HANDLERS: Mapping[str, Handler] = MappingProxyType({t.name: t.handler for t in TYPES})
"""The core's handlers by type, for verifiers that replay only the log mechanics."""
