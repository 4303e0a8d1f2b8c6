"""Investigation dossiers: a back-trace whose every cited entry is proven against one checkpoint.

A dossier is one JSON document (``format: insutrace-dossier/v1``)::

    {format, title {zh, en}, subject, created,
     log {origin, vkey, checkpoint},         the log's verifier key and one signed
                                             checkpoint note (C2SP signed-note/checkpoint)
     trace {subject, nodes, edges, recall, entries},   see insutrace.trace.backtrace
     entries [{seq, entry, proof[]}]}        each cited entry's exact bytes (base64) and its
                                             RFC 9162 §2.1.3 inclusion path at the
                                             checkpoint's size (base64, leaf sibling first)

Besides the cited entries it carries the genesis entry and the entries that registered
the key of every signer (``actor.register`` / ``key.rotate``), so that
:func:`verify_dossier` checks, with no network and no database and only the core's note,
checkpoint, Merkle and entry modules: the checkpoint's signature by the log key (pinned by
the caller, or the one in the file, reported as unpinned); every entry's inclusion; every
entry's form and signature against the key its log registered before it; that every entry
the trace cites is present; and that the records the trace names (organisations, batches,
reports, projects, samples, permits, listings, incidents …) are the ones their cited entries
created or changed, as those entries' types declare (``EntryType.records``, read from the
entry-type registry); a node of a kind no type records fails verification. Key
revocations cannot be seen without the whole log and are reported as a note.

This module holds data only; the bilingual HTML page, the SVG and PDF drawings of the
chain are presentation and live in :mod:`insutrace.render`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .checkpoint import SignedCheckpoint
from .clock import format_time
from .domain import REGISTRY
from .entry import Entry
from .entrytype import Registry
from .errors import MalformedInput, NotFound, Unavailable, VerificationError
from .keys import decode_public, key_id_of
from .ledger import Ledger
from .merkle import frontier_nodes, inclusion_proof, inclusion_proof_nodes, leaf_hash
from .merkle import verify_inclusion as merkle_verify_inclusion
from .note import NoteVerifier
from .store.base import Tx

__all__ = ["FORMAT", "DossierCheck", "build_dossier", "load_dossier", "verify_dossier"]

FORMAT = "insutrace-dossier/v1"
KEY_TYPES = ("actor.register", "key.rotate")

# -- building ---------------------------------------------------------------------------


def _key_entries(tx: Tx, entries: dict[int, Entry]) -> set[int]:
    """Sequence numbers of the entries that registered the signers' keys (and theirs)."""
    wanted, todo = {0}, list(entries.values())
    while todo:
        entry = todo.pop()
        record = tx.get("key", entry.key)
        if record is None or entry.seq == 0:
            continue
        seq = max(int(record["from"]) - 1, 0)
        if seq not in wanted and seq not in entries:
            wanted.add(seq)
            todo.append(Entry.from_bytes(tx.entries(seq, seq + 1)[0]))
        wanted.add(seq)
    return wanted


def _entries(tx: Tx, seqs: set[int]) -> dict[int, Entry]:
    return {seq: Entry.from_bytes(tx.entries(seq, seq + 1)[0]) for seq in sorted(seqs)}


def _checkpoint(ledger: Ledger, needed: int) -> SignedCheckpoint:
    latest = ledger.latest_checkpoint()
    if latest.checkpoint.size > needed:
        return latest
    if ledger.log_signer is None:
        raise Unavailable(
            f"the latest checkpoint (size {latest.checkpoint.size}) does not cover entry "
            f"{needed}; sign a checkpoint first (insutrace checkpoint)"
        )
    return ledger.checkpoint()


def build_dossier(
    ledger: Ledger,
    trace: dict[str, Any],
    *,
    title: tuple[str, str] = ("保温材料追溯调查卷宗", "Insulation back-trace dossier"),
    created: datetime | None = None,
) -> dict[str, Any]:
    """A dossier for ``trace`` (a back-trace's JSON): every cited entry with its inclusion
    proof against one signed checkpoint (the latest, or a new one when it does not cover
    them and the ledger holds the log key)."""
    cited = set(trace["entries"])
    with ledger.store.read() as tx:
        entries = _entries(tx, cited)
        entries.update(_entries(tx, _key_entries(tx, entries) - set(entries)))
    signed = _checkpoint(ledger, max(entries))
    size = signed.checkpoint.size
    with ledger.store.read() as tx:
        nodes = tx.nodes({n for seq in entries for n in inclusion_proof_nodes(seq, size)})
        nodes.update(tx.nodes(frontier_nodes(size)))
        genesis = tx.get("log", "genesis")
    if genesis is None:  # pragma: no cover - a checkpoint exists, so genesis does
        raise NotFound("the log has no genesis entry")
    items = [
        {
            "seq": seq,
            "entry": base64.b64encode(entry.to_bytes()).decode(),
            "proof": [base64.b64encode(h).decode() for h in inclusion_proof(seq, size, nodes)],
        }
        for seq, entry in sorted(entries.items())
    ]
    return {
        "format": FORMAT,
        "title": {"zh": title[0], "en": title[1]},
        "subject": trace["subject"],
        "created": format_time(created or ledger.clock.now()),
        "log": {"origin": genesis["origin"], "vkey": genesis["log_key"], "checkpoint": signed.note},
        "trace": trace,
        "entries": items,
    }


def load_dossier(data: str | bytes) -> dict[str, Any]:
    """Parse a dossier file's text; MalformedInput when it is not a dossier."""
    try:
        dossier = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedInput(f"dossier: not JSON: {exc}") from None
    if not isinstance(dossier, dict) or dossier.get("format") != FORMAT:
        raise MalformedInput(f"dossier: expected format {FORMAT!r}")
    return dossier


# -- verifying ----------------------------------------------------------------------------


@dataclass
class DossierCheck:
    """What :func:`verify_dossier` established."""

    subject: dict[str, Any]
    origin: str
    vkey: str
    pinned: bool
    checkpoint_size: int
    root: bytes
    entries: int
    cited: int
    notes: list[str] = field(default_factory=list)


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise MalformedInput(f"dossier: {what} must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise MalformedInput(f"dossier: {what} is not base64") from None


def _proven_entries(dossier: dict[str, Any], signed: SignedCheckpoint) -> dict[int, Entry]:
    cp = signed.checkpoint
    entries: dict[int, Entry] = {}
    for item in dossier.get("entries", []):
        seq = item.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq in entries:
            raise MalformedInput(f"dossier: entry seq {seq!r} is not a distinct integer")
        data = _b64(item.get("entry"), f"entry {seq}")
        path = [_b64(h, f"proof of entry {seq}") for h in item.get("proof", [])]
        try:
            merkle_verify_inclusion(leaf_hash(data), seq, cp.size, path, cp.root)
        except VerificationError as exc:
            raise VerificationError(
                f"not in the log at checkpoint size {cp.size}: {exc}", seq
            ) from None
        entry = Entry.from_bytes(data)
        if entry.seq != seq:
            raise VerificationError(f"the entry's own seq is {entry.seq}", seq)
        entries[seq] = entry
    return entries


@dataclass(frozen=True)
class _Key:
    actor: str
    public: str
    since: int


def _registered_keys(entries: dict[int, Entry]) -> dict[str, _Key]:
    """Keys the included genesis and key entries register: key id -> (actor, key, from)."""
    keys: dict[str, _Key] = {}
    for seq, entry in sorted(entries.items()):
        p = entry.payload
        if seq == 0:
            keys[entry.key] = _Key(entry.actor, str(p.get("root_key")), 0)
        elif entry.type in KEY_TYPES and isinstance(p.get("public_key"), str):
            actor = str(
                p.get("id") if entry.type == "actor.register" else p.get("actor", entry.actor)
            )
            kid = key_id_of(base64.b64decode(p["public_key"]))
            keys[kid] = _Key(actor, p["public_key"], seq + 1)
    return keys


def _check_signatures(entries: dict[int, Entry]) -> None:
    if 0 not in entries:
        raise VerificationError("the dossier lacks the genesis entry (entry 0)")
    keys = _registered_keys(entries)
    root = keys.get(entries[0].key)
    if root is None or key_id_of(base64.b64decode(root.public)) != entries[0].key:
        raise VerificationError("genesis is not signed by the root key it names", 0)
    for seq, entry in sorted(entries.items()):
        key = keys.get(entry.key)
        if key is None:
            raise VerificationError(f"the entry registering key {entry.key} is missing", seq)
        if key.actor != entry.actor or seq < key.since:
            raise VerificationError(
                f"key {entry.key} belongs to {key.actor} from entry {key.since}, "
                f"not to {entry.actor} at entry {seq}",
                seq,
            )
        if not entry.signature_valid(decode_public(key.public)):
            raise VerificationError(f"signature by {entry.actor}/{entry.key} does not verify", seq)


def _records(types: Registry, kind: str, key: str, entry: Entry) -> bool:
    """True when ``entry`` is one that creates or changes the record ``kind``/``key``, as
    its type's declaration says (:attr:`EntryType.records`)."""
    declared = types.get(entry.type)
    return declared is not None and key in declared.record_keys(entry, kind)


def _check_nodes(trace: dict[str, Any], entries: dict[int, Entry], types: Registry) -> None:
    """Every node is of a record kind some entry type creates, and one of its cited entries
    created or changed it."""
    known = types.record_kinds()
    for node in trace.get("nodes", []):
        seqs = node.get("entries", [])
        if node.get("kind") not in known:
            raise VerificationError(
                f"node {node.get('id')!r:.80} is of kind {node.get('kind')!r:.40}, which no "
                f"entry type records (known: {', '.join(sorted(known))})",
                seqs[0] if seqs else None,
            )
        if seqs and not any(_records(types, node["kind"], node["key"], entries[s]) for s in seqs):
            raise VerificationError(
                f"none of the entries {seqs[:6]} cited for {node['id']} records it", seqs[0]
            )


def _check_trace(dossier: dict[str, Any], entries: dict[int, Entry], types: Registry) -> int:
    trace = dossier.get("trace")
    if not isinstance(trace, dict):
        raise MalformedInput("dossier: no trace")
    cited: set[int] = set()
    items = [*trace.get("nodes", []), *trace.get("edges", []), *trace.get("recall", [])]
    for item in items:
        cited.update(item.get("entries", []))
    missing = sorted(cited - set(entries))
    if missing or set(trace.get("entries", [])) != cited:
        raise VerificationError(
            f"the trace cites entries the dossier does not prove: {missing[:8]}"
        )
    _check_nodes(trace, entries, types)
    return len(cited)


def verify_dossier(
    dossier: dict[str, Any], *, vkey: str | None = None, types: Registry = REGISTRY
) -> DossierCheck:
    """Check a dossier offline; raise VerificationError or MalformedInput at the first failure.

    ``vkey`` pins the log's verifier key (C2SP signed-note); without it the key inside the
    file is used and :attr:`DossierCheck.pinned` is False: compare it with the published one.
    ``types``: the entry types whose declared records the trace's nodes are checked against.
    """
    if dossier.get("format") != FORMAT:
        raise MalformedInput(f"dossier: expected format {FORMAT!r}")
    log = dossier.get("log") or {}
    inside = str(log.get("vkey", ""))
    if vkey is not None and vkey.strip() != inside:
        raise VerificationError(f"the dossier's log key {inside!r:.60} is not the pinned key")
    verifier = NoteVerifier.parse(vkey.strip() if vkey else inside)
    signed = SignedCheckpoint.open(str(log.get("checkpoint", "")), verifier)
    entries = _proven_entries(dossier, signed)
    _check_signatures(entries)
    cited = _check_trace(dossier, entries, types)
    notes = ["key revocations are not visible offline: verify the whole log to rule them out"]
    if vkey is None:
        notes.insert(0, f"log key not pinned: compare {inside} with the published one")
    cp = signed.checkpoint
    return DossierCheck(
        dossier.get("subject", {}), cp.origin, inside, vkey is not None, cp.size, cp.root,
        len(entries), cited, notes,
    )  # fmt: skip
