"""Investigation dossiers: a back-trace re-derivable from entries proven against one checkpoint.

A dossier is one JSON document (``format: insutrace-dossier/v1``)::

    {format, title {zh, en}, subject, created,
     query {kind, id, downstream},           the back-trace asked for (section, building,
                                             batch, label, incident)
     log {origin, vkey, checkpoint},         the log's verifier key and one signed
                                             checkpoint note (C2SP signed-note/checkpoint)
     trace {subject, nodes, edges, recall, entries},   see insutrace.trace.backtrace
     entries [{seq, entry, proof[]}]}        each entry's exact bytes (base64) and its
                                             RFC 9162 §2.1.3 inclusion path at the
                                             checkpoint's size (base64, leaf sibling first)

The entries are the *support* of the trace: every entry the trace cites, and every entry
whose projection rows the trace, or the handler of an entry already in the support, read
(found by replaying the log up to the checkpoint into a memory store that records, per
entry, the rows it reads and writes). Replaying the support alone, in order, through the
domain's own handlers therefore gives every entry the rows it saw in the ledger, and the
back-trace read from that replay is the ledger's back-trace at the checkpoint.

:func:`verify_dossier` checks, with no network and no database: the checkpoint's signature
by the log key (pinned by the caller, or the one in the file, reported as unpinned); every
entry's inclusion; every entry's form and signature against the key its log registered
before it; then it replays the entries through the same handlers the ledger runs (entry
types and admission checks of :mod:`insutrace.trace.domain`), runs the same back-trace
function on the result, and refuses any difference from the trace the file prints, naming
the node, edge or recall list and the field. Key revocations cannot be seen without the
whole log and are reported as a note.

This module holds data only; the bilingual HTML page, the SVG and PDF drawings of the
chain are presentation and live in :mod:`insutrace.render`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from .b64 import b64decode_strict
from .backtrace import (
    Trace,
    trace_batch,
    trace_building,
    trace_incident,
    trace_label,
    trace_section,
)
from .checkpoint import SignedCheckpoint
from .clock import format_time
from .domain import ADMISSION, REGISTRY
from .entry import Entry
from .entrytype import AdmissionCheck, EntryType, Registry
from .errors import LedgerError, MalformedInput, NotFound, VerificationError
from .keys import decode_public, key_id_of
from .ledger import Ledger
from .merkle import Node, frontier_nodes, inclusion_proof, inclusion_proof_nodes, leaf_hash
from .merkle import verify_inclusion as merkle_verify_inclusion
from .note import NoteVerifier
from .store.base import Store, Tx

__all__ = [
    "FORMAT",
    "QUERY_KINDS",
    "DossierCheck",
    "build_dossier",
    "derive_trace",
    "load_dossier",
    "verify_dossier",
]

FORMAT = "insutrace-dossier/v1"
KEY_TYPES = ("actor.register", "key.rotate", "key.add")
QUERY_KINDS = ("section", "building", "batch", "label", "incident")

# -- a memory store that replays entries through the domain's handlers --------------------

_Row = tuple[str, str]  # (kind, key); refs are ("ref", name), entries ("entry", seq)


class _ReplayTx:
    """The projection side of a store in memory (rows kept as JSON text, as the SQL store
    does, so a handler never shares a dict with the store), with optional recording of
    the rows each entry reads and writes."""

    def __init__(self, record: bool = False) -> None:
        self.rows: dict[str, dict[str, str]] = {}
        self.ref_index: dict[str, list[int]] = {}
        self.bodies: dict[int, bytes] = {}
        self.record = record
        self.reads: set[_Row] = set()
        self.scans: set[tuple[str, str]] = set()
        self.writers: dict[_Row, list[int]] = {}
        self.current = -1

    # reading
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        if self.record:
            self.reads.add((kind, key))
        text = self.rows.get(kind, {}).get(key)
        return None if text is None else cast(dict[str, Any], json.loads(text))

    def scan(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        if self.record:
            self.scans.add((kind, prefix))
        rows = self.rows.get(kind, {})
        return [(k, json.loads(rows[k])) for k in sorted(rows) if k.startswith(prefix)]

    def refs(
        self, ref: str, after: int = -1, limit: int = 100, descending: bool = False
    ) -> list[int]:
        if self.record:
            self.reads.add(("ref", ref))
        seqs = self.ref_index.get(ref, [])
        if descending:
            before = after if after >= 0 else 2**62
            return [s for s in reversed(seqs) if s < before][:limit]
        return [s for s in seqs if s > after][:limit]

    def entries(self, start: int, stop: int) -> list[bytes]:
        if self.record:
            self.reads.update(("entry", str(s)) for s in range(start, stop))
        return [self.bodies[s] for s in range(start, stop) if s in self.bodies]

    # writing
    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        self.rows.setdefault(kind, {})[key] = json.dumps(data, sort_keys=True)
        if self.record:
            self.writers.setdefault((kind, key), []).append(self.current)

    def add_refs(self, seq: int, refs: Iterable[str]) -> None:
        for ref in sorted(set(refs)):
            self.ref_index.setdefault(ref, []).append(seq)
            if self.record:
                self.writers.setdefault(("ref", ref), []).append(seq)


class _ReplayStore:
    """What :meth:`Ledger.run_handlers` needs of a store: nothing but the transaction it
    is handed; a ledger over this object is only ever asked to run handlers."""

    def __init__(self, tx: _ReplayTx) -> None:
        self.tx = tx

    @contextmanager
    def read(self) -> Iterator[_ReplayTx]:
        yield self.tx


def _replayer(
    tx: _ReplayTx, types: Mapping[str, EntryType], admission: Iterable[AdmissionCheck]
) -> Callable[[Entry], None]:
    ledger = Ledger(cast(Store, _ReplayStore(tx)), types=types, admission=tuple(admission))

    def apply(entry: Entry) -> None:
        tx.current = entry.seq
        tx.bodies[entry.seq] = entry.to_bytes()
        if tx.record:
            tx.writers.setdefault(("entry", str(entry.seq)), []).append(entry.seq)
        ctx = ledger.run_handlers(cast(Tx, tx), entry)
        tx.add_refs(entry.seq, ctx.refs)

    return apply


# -- the back-trace a dossier answers ---------------------------------------------------------


def derive_trace(tx: Tx, query: Mapping[str, Any]) -> Trace:
    """The back-trace ``query`` (``{kind, id, downstream}``) asks for, read from ``tx``:
    the one function both :func:`build_dossier` and :func:`verify_dossier` call."""
    kind, ident = query.get("kind"), query.get("id")
    down = query.get("downstream", True)
    if kind not in QUERY_KINDS or not isinstance(ident, str) or not isinstance(down, bool):
        raise MalformedInput(
            f"dossier: query must be {{kind: {' | '.join(QUERY_KINDS)}, id, downstream}}, "
            f"got {dict(query)!r:.120}"
        )
    if kind == "section":
        project, _, section = ident.partition("/")
        if not section:
            raise MalformedInput(f"section: expected PROJECT/SECTION, got {ident!r}")
        return trace_section(tx, project, section, downstream=down)
    if kind == "building":
        return trace_building(tx, ident, downstream=down)
    if kind == "label":
        return trace_label(tx, ident)
    if kind == "batch":
        return trace_batch(tx, ident)
    return trace_incident(tx, ident, downstream=down)


# -- building ---------------------------------------------------------------------------------


def _support(tx: _ReplayTx, first: set[_Row], scans: set[tuple[str, str]], reads: dict[int, tuple[set[_Row], set[tuple[str, str]]]]) -> set[int]:  # fmt: skip
    """The entries that wrote any row in ``first``/``scans``, closed under the rows those
    entries' handlers read."""
    support: set[int] = set()
    done_rows: set[_Row] = set()
    done_scans: set[tuple[str, str]] = set()
    rows, prefixes = set(first), set(scans)
    while rows or prefixes:
        for kind, prefix in prefixes - done_scans:
            done_scans.add((kind, prefix))
            # every row ever written under the prefix (rows are never deleted), so a row
            # created after the scan is one the replay creates too
            rows.update((kind, k) for k in tx.rows.get(kind, {}) if k.startswith(prefix))
        prefixes = set()
        todo, rows = rows - done_rows, set()
        done_rows |= todo
        for row in todo:
            for seq in tx.writers.get(row, []):
                if seq not in support:
                    support.add(seq)
                    seen, scanned = reads.get(seq, (set(), set()))
                    rows |= seen
                    prefixes |= scanned - done_scans
    return support


def _recorded_replay(
    ledger: Ledger, size: int
) -> tuple[_ReplayTx, dict[int, tuple[set[_Row], set[tuple[str, str]]]]]:
    tx = _ReplayTx(record=True)
    apply = _replayer(tx, ledger.types, ledger.admission)
    reads: dict[int, tuple[set[_Row], set[tuple[str, str]]]] = {}
    for seq, body in ledger.store.iter_entries():
        if seq >= size:
            break
        tx.reads, tx.scans = set(), set()
        apply(Entry.from_bytes(body))
        reads[seq] = (tx.reads, tx.scans)
    tx.reads, tx.scans = set(), set()
    return tx, reads


def _checkpoint(ledger: Ledger) -> SignedCheckpoint:
    """A checkpoint covering the head when the ledger holds the log key, else the latest."""
    if ledger.log_signer is not None:
        return ledger.checkpoint()
    return ledger.latest_checkpoint()


def build_dossier(
    ledger: Ledger,
    query: Mapping[str, Any],
    *,
    title: tuple[str, str] = ("保温材料追溯调查卷宗", "Insulation back-trace dossier"),
    created: datetime | None = None,
) -> dict[str, Any]:
    """A dossier answering ``query`` (``{kind, id, downstream}``, see :func:`derive_trace`)
    at one signed checkpoint (a new one covering the head when the ledger holds the log
    key, else the latest): the back-trace as of that checkpoint, and its support entries
    with their inclusion proofs."""
    query = {"kind": query.get("kind"), "id": query.get("id"),
             "downstream": query.get("downstream", True)}  # fmt: skip
    signed = _checkpoint(ledger)
    size = signed.checkpoint.size
    replay, reads = _recorded_replay(ledger, size)
    try:
        trace = json.loads(json.dumps(derive_trace(cast(Tx, replay), query).to_json()))
    except NotFound as exc:
        if size < ledger.size():
            raise NotFound(
                f"{exc} at checkpoint size {size}, the latest signed (the log has "
                f"{ledger.size()} entries: sign a newer checkpoint, insutrace checkpoint)"
            ) from None
        raise
    support = _support(replay, replay.reads, replay.scans, reads) | set(trace["entries"])
    with ledger.store.read() as tx:
        genesis = tx.get("log", "genesis")
        support |= _key_entries(tx, _entries(tx, support)) | {0}
        entries = _entries(tx, support)
        wanted: set[Node] = {n for seq in entries for n in inclusion_proof_nodes(seq, size)}
        nodes = tx.nodes(wanted)
        nodes.update(tx.nodes(frontier_nodes(size)))
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
        "query": query,
        "created": format_time(created or ledger.clock.now()),
        "log": {"origin": genesis["origin"], "vkey": genesis["log_key"], "checkpoint": signed.note},
        "trace": trace,
        "entries": items,
    }


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
        return b64decode_strict(text)
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
            kid = key_id_of(_b64(p["public_key"], f"entry {seq}'s public key"))
            keys[kid] = _Key(actor, p["public_key"], seq + 1)
    return keys


def _check_signatures(entries: dict[int, Entry]) -> None:
    if 0 not in entries:
        raise VerificationError("the dossier lacks the genesis entry (entry 0)")
    keys = _registered_keys(entries)
    root = keys.get(entries[0].key)
    if root is None or key_id_of(_b64(root.public, "the root key genesis names")) != entries[0].key:
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


def _label(item: Mapping[str, Any], what: str) -> str:
    if what == "edge":
        return f"edge {item.get('from')} -[{item.get('kind')}]-> {item.get('to')}"
    if what == "recall":
        return f"the recall list of batch {item.get('batch')}"
    return f"node {item.get('id')}"


def _first_difference(printed: Any, derived: Any, path: str = "") -> str | None:
    """The path of the first field where ``printed`` and ``derived`` differ, with both."""
    if isinstance(printed, dict) and isinstance(derived, dict):
        for name in sorted({*printed, *derived}, key=str):
            if name not in derived:
                return f"field {path}{name}: printed {printed[name]!r:.60} is not derived"
            if name not in printed:
                return f"field {path}{name}: missing (the entries give {derived[name]!r:.60})"
            found = _first_difference(printed[name], derived[name], f"{path}{name}.")
            if found:
                return found
        return None
    if isinstance(printed, list) and isinstance(derived, list) and len(printed) == len(derived):
        for i, (p, d) in enumerate(zip(printed, derived, strict=True)):
            found = _first_difference(p, d, f"{path.rstrip('.')}[{i}].")
            if found:
                return found
        return None
    if printed != derived or type(printed) is not type(derived):
        return (
            f"field {path.rstrip('.')}: the dossier says {printed!r:.60}, "
            f"the proven entries give {derived!r:.60}"
        )
    return None


def _keyed(items: Any, what: str) -> dict[Any, dict[str, Any]]:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MalformedInput(f"dossier: trace {what}s must be a list of objects")
    if what == "edge":
        return {(i.get("from"), i.get("to"), i.get("kind")): i for i in items}
    return {i.get("batch" if what == "recall" else "id"): i for i in items}


def _compare(printed: dict[str, Any], derived: dict[str, Any]) -> None:
    """Refuse the first difference between the printed trace and the derived one."""
    found = _first_difference(printed.get("subject"), derived["subject"])
    if found:
        raise VerificationError(f"the subject: {found}")
    for what, name in (("node", "nodes"), ("edge", "edges"), ("recall", "recall")):
        mine, theirs = _keyed(printed.get(name), what), _keyed(derived[name], what)
        for key, item in mine.items():
            if key in theirs:
                found = _first_difference(item, theirs[key])
                if found:
                    raise VerificationError(f"{_label(item, what)}: {found}")
                continue
            if what == "edge":  # an endpoint changed: name the endpoint
                for end, other in (("from", "to"), ("to", "from")):
                    twin = next((e for k, e in theirs.items() if k not in mine and
                                 e["kind"] == item.get("kind") and e[other] == item.get(other)), None)  # fmt: skip
                    if twin is not None:
                        raise VerificationError(
                            f"{_label(item, what)}: field {end}: the dossier says "
                            f"{item.get(end)!r:.60}, the proven entries give {twin[end]!r:.60}"
                        )
            raise VerificationError(f"{_label(item, what)}: not derived from the proven entries")
        for key, item in theirs.items():
            if key not in mine:
                raise VerificationError(
                    f"{_label(item, what)}: derived from the proven entries but missing "
                    "from the dossier"
                )
    found = _first_difference(printed.get("entries"), derived["entries"])
    if found:
        raise VerificationError(f"the cited entries: {found}")


def _rederive(
    dossier: dict[str, Any],
    entries: dict[int, Entry],
    types: Mapping[str, EntryType],
    admission: Iterable[AdmissionCheck],
) -> dict[str, Any]:
    """Replay the proven entries through the handlers; the back-trace read from them."""
    trace = dossier.get("trace")
    if not isinstance(trace, dict):
        raise MalformedInput("dossier: no trace")
    query = dossier.get("query")
    if not isinstance(query, dict):
        raise MalformedInput("dossier: no query (the back-trace it answers)")
    tx = _ReplayTx()
    apply = _replayer(tx, types, admission)
    for seq, entry in sorted(entries.items()):
        try:
            apply(entry)
        except LedgerError as exc:
            raise VerificationError(
                f"the proven entries do not replay: {type(exc).__name__}: {exc}", seq
            ) from None
    try:
        derived: dict[str, Any] = json.loads(
            json.dumps(derive_trace(cast(Tx, tx), query).to_json())
        )
    except NotFound as exc:
        raise VerificationError(f"the proven entries do not give the subject: {exc}") from None
    _compare(trace, derived)
    return derived


def _check_nodes(trace: dict[str, Any], entries: dict[int, Entry], types: Registry) -> None:
    """Every node is of a record kind some entry type creates, and one of its cited entries
    created or changed it (:attr:`EntryType.records`)."""
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


def _records(types: Registry, kind: str, key: str, entry: Entry) -> bool:
    """True when ``entry`` is one that creates or changes the record ``kind``/``key``, as
    its type's declaration says (:attr:`EntryType.records`)."""
    declared = types.get(entry.type)
    return declared is not None and key in declared.record_keys(entry, kind)


def verify_dossier(
    dossier: dict[str, Any],
    *,
    vkey: str | None = None,
    types: Registry = REGISTRY,
    admission: Iterable[AdmissionCheck] = ADMISSION,
) -> DossierCheck:
    """Check a dossier offline; raise VerificationError or MalformedInput at the first failure.

    ``vkey`` pins the log's verifier key (C2SP signed-note), as the key string or the
    ``log.vkey`` line; without it the key inside the file is used and
    :attr:`DossierCheck.pinned` is False: compare it with the published one.
    ``types``/``admission``: the entry types and admission checks the entries are replayed
    through (the domain's, as the ledger runs them).
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
    derived = _rederive(dossier, entries, types, admission)
    _check_nodes(derived, entries, types)
    notes = ["key revocations are not visible offline: verify the whole log to rule them out"]
    if vkey is None:
        notes.insert(0, f"log key not pinned: compare {inside} with the published one")
    cp = signed.checkpoint
    return DossierCheck(
        dossier.get("subject", {}), cp.origin, inside, vkey is not None, cp.size, cp.root,
        len(entries), len(derived["entries"]), notes,
    )  # fmt: skip
