"""A C2SP tlog-witness v1.0.0, and the cosignatures (tlog-cosignature v1.0.1) it signs.

A witness keeps, per log origin, the latest checkpoint it cosigned, and cosigns a new
one only if it is consistent with that one: so two parties shown different histories
(a fork) or a shorter one (a rollback) can tell, because no witness cosigns both.

``add-checkpoint`` request body (every line ends in ``\\n``)::

    old <size>
    <base64 consistency-proof hash>        0-63 lines, RFC 6962 from <size> to the new size
                                           (empty line)
    <the checkpoint note, verbatim, with its signatures>

Answers, as tlog-witness v1.0.0 gives them (the pinned version): 404 origin not
configured; 403 no trusted log signature verifies; 400 malformed or old > size;
409 with body ``<size>\\n`` (``text/x.tlog.size``) when ``old`` is not the size of the
latest cosigned checkpoint; 422 a consistency proof that does not verify (or any proof
with old = 0); 409 for the same size with a different root. On success, the cosignature
line(s) only.

The state is a SQLite file of the witness's own (stdlib ``sqlite3``), one row per
origin, updated by compare-and-swap inside ``BEGIN IMMEDIATE`` before the answer is sent,
so two concurrent requests can never roll the stored size back, and a restart keeps
refusing what the witness refused before.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .b64 import b64decode_strict
from .checkpoint import Checkpoint
from .errors import MalformedInput, VerificationError
from .merkle import verify_consistency
from .note import (
    ALG_COSIGNATURE_V1,
    NoteVerifier,
    Signature,
    cosignature_key_id,
    cosignature_message,
    open_note,
    parse_note,
)

__all__ = [
    "MAX_PROOF",
    "SIZE_TYPE",
    "AddCheckpoint",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Witness",
    "WitnessRefusal",
    "attach",
    "require_quorum",
]

MAX_PROOF = 63  # tlog-witness: at most 63 consistency-proof lines
SIZE_TYPE = "text/x.tlog.size"
_MAX_BODY = 1 << 20


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's public key: ``<name>+<hex key id>+<base64(0x04 || key)>``."""

    name: str
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> CosignatureVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not parts[0]:
            raise MalformedInput(f"witness key {vkey!r:.60} is not <name>+<id>+<base64 key>")
        name, hex_id, b64 = parts
        try:
            blob = b64decode_strict(b64)
            key_id = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise MalformedInput(f"witness key {vkey!r:.60}: bad key id or base64") from None
        if len(blob) != 33 or blob[0] != ALG_COSIGNATURE_V1:
            raise MalformedInput(
                f"witness key {vkey!r:.60} is not a tlog-cosignature v1 (0x04) Ed25519 key"
            )
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(blob[1:]))
        if verifier.key_id != key_id:
            raise MalformedInput(f"witness key {vkey!r:.60}: key id does not match the key")
        return verifier

    @property
    def key_id(self) -> bytes:
        return cosignature_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        blob = bytes([ALG_COSIGNATURE_V1]) + _raw(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(blob).decode()}"

    def timestamp(self, checkpoint_text: str, sig: Signature) -> int | None:
        """The time of ``sig`` if it is this witness's valid cosignature, else None."""
        if sig.name != self.name or sig.key_id != self.key_id or len(sig.sig) != 72:
            return None
        (timestamp,) = struct.unpack(">Q", sig.sig[:8])
        try:
            self.public_key.verify(sig.sig[8:], cosignature_message(checkpoint_text, timestamp))
        except InvalidSignature:
            return None
        return int(timestamp)


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's signing key (name SHOULD be a scheme-less URL)."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.private_key.public_key())

    def cosign(self, checkpoint_text: str, timestamp: int) -> Signature:
        if not 0 < timestamp < 2**63:
            raise MalformedInput(f"cosignature time {timestamp} out of range")
        message = cosignature_message(checkpoint_text, timestamp)
        sig = struct.pack(">Q", timestamp) + self.private_key.sign(message)
        return Signature(self.name, self.verifier.key_id, sig)


def attach(note: str, lines: Iterable[str]) -> str:
    """``note`` with cosignature lines added after its own, text and signatures untouched.
    A line already on the note is not added twice."""
    have = set(note.split("\n"))
    extra = []
    for line in (raw.rstrip("\n") for raw in lines):
        if line and line not in have:
            have.add(line)
            extra.append(line)
    return note + "".join(f"{line}\n" for line in extra)


def require_quorum(note: str, witnesses: Sequence[CosignatureVerifier], quorum: int) -> list[str]:
    """The names of ``witnesses`` whose cosignature on ``note`` verifies; raises
    :class:`VerificationError` naming those missing when fewer than ``quorum`` do."""
    if quorum > len(witnesses):
        raise MalformedInput(f"a quorum of {quorum} needs at least {quorum} witness keys")
    text, sigs = parse_note(note)
    good = [w.name for w in witnesses if any(w.timestamp(text, s) is not None for s in sigs)]
    if len(good) < quorum:
        missing = [w.name for w in witnesses if w.name not in good]
        raise VerificationError(
            f"checkpoint has {len(good)} of the {quorum} witness cosignatures required; "
            f"missing: {', '.join(missing)}"
        )
    return good


class WitnessRefusal(Exception):
    """An ``add-checkpoint`` the witness does not cosign: HTTP ``status`` and why."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size  # for 409 "your old size is stale": the size the witness holds


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed ``add-checkpoint`` request."""

    old: int
    proof: tuple[bytes, ...]
    note: str

    def body(self) -> bytes:
        lines = [f"old {self.old}"] + [base64.b64encode(h).decode() for h in self.proof]
        return ("\n".join(lines) + "\n\n" + self.note).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        if len(body) > _MAX_BODY:
            raise WitnessRefusal(400, "request body larger than 1 MiB")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessRefusal(400, "request body is not UTF-8") from None
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise WitnessRefusal(400, "no empty line between the proof and the checkpoint")
        lines = head.split("\n")
        first = lines[0]
        if not first.startswith("old ") or not _decimal(first[4:]):
            raise WitnessRefusal(400, f"first line must be 'old <size>', got {first[:40]!r}")
        proof: list[bytes] = []
        for line in lines[1:]:
            try:
                digest = b64decode_strict(line)
            except binascii.Error:
                raise WitnessRefusal(400, f"proof line {line[:50]!r} is not base64") from None
            if len(digest) != 32:
                raise WitnessRefusal(400, "a proof line must be one 32-byte hash")
            proof.append(digest)
        if len(proof) > MAX_PROOF:
            raise WitnessRefusal(400, f"more than {MAX_PROOF} consistency-proof lines")
        return cls(int(first[4:]), tuple(proof), note)


def _decimal(text: str) -> bool:
    return text == "0" or (text.isascii() and text.isdigit() and text[0] != "0" and len(text) < 20)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS witness_checkpoint (
    origin TEXT PRIMARY KEY,
    size   INTEGER NOT NULL,
    root   BLOB NOT NULL,
    note   TEXT NOT NULL
)
"""


class Witness:
    """A witness for the logs in ``logs`` (origin -> the log's checkpoint key), cosigning
    with ``signer``; its state in the SQLite file ``state``."""

    def __init__(
        self, state: Path, signer: CosignatureSigner, logs: Iterable[NoteVerifier]
    ) -> None:
        self.signer = signer
        self.logs = {v.name: v for v in logs}
        self.state = state
        self._lock = threading.Lock()
        state.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(state, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # persisted before the answer
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def latest(self, origin: str) -> tuple[int, bytes, str] | None:
        """The latest checkpoint cosigned for ``origin``: size, root, and its note with the
        log's signature and this witness's cosignature."""
        row = self._db.execute(
            "SELECT size, root, note FROM witness_checkpoint WHERE origin = ?", (origin,)
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))

    def add_checkpoint(self, body: bytes, now: int) -> list[str]:
        """Check one ``add-checkpoint`` request; store and cosign it, or refuse."""
        request = AddCheckpoint.parse(body)
        origin = request.note.split("\n", 1)[0]
        log = self.logs.get(origin)
        if log is None:
            raise WitnessRefusal(404, f"unknown log origin {origin[:80]!r}")
        try:
            text, _ = open_note(request.note, log)
        except MalformedInput as exc:
            raise WitnessRefusal(400, f"malformed checkpoint note: {exc}") from None
        except VerificationError:
            raise WitnessRefusal(403, f"no trusted signature of {origin} verifies") from None
        try:
            checkpoint = Checkpoint.parse(text)
        except MalformedInput as exc:
            raise WitnessRefusal(400, f"malformed checkpoint: {exc}") from None
        if request.old > checkpoint.size:
            raise WitnessRefusal(
                400, f"old size {request.old} is larger than the checkpoint's {checkpoint.size}"
            )
        line = self.signer.cosign(text, now).line().rstrip("\n")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._check_and_store(request, checkpoint, attach(request.note, [line]))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [line]

    def _check_and_store(self, request: AddCheckpoint, checkpoint: Checkpoint, note: str) -> None:
        """Compare with the stored checkpoint and swap in ``note`` (the request's note with
        this witness's cosignature), inside the caller's write transaction."""
        latest = self.latest(checkpoint.origin)
        size, root = (0, b"") if latest is None else latest[:2]
        if request.old != size:
            raise WitnessRefusal(
                409, f"old size {request.old} is not the latest cosigned size {size}", size=size
            )
        if request.old == 0:
            if request.proof:
                raise WitnessRefusal(422, "a consistency proof from size 0 must be empty")
        elif checkpoint.size == size:
            if checkpoint.root != root:
                # v1.0.0 answers 409 here (HEAD: 422): a split view, never cosigned
                raise WitnessRefusal(
                    409, f"a different root hash for size {size}: this log has forked"
                )
        else:
            try:
                verify_consistency(size, checkpoint.size, root, checkpoint.root, request.proof)
            except VerificationError:
                raise WitnessRefusal(
                    422,
                    f"the consistency proof from size {size} to {checkpoint.size} does not verify",
                ) from None
        self._db.execute(
            "INSERT INTO witness_checkpoint (origin, size, root, note) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "note = excluded.note",
            (checkpoint.origin, checkpoint.size, checkpoint.root, note),
        )
