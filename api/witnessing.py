"""The log calls its witnesses (C2SP tlog-witness v1.0.0) and keeps their cosignatures.

For each new checkpoint, each configured witness gets ``add-checkpoint`` with the size it
last cosigned and a consistency proof from there. A 409 carrying ``text/x.tlog.size``
tells the witness's size: the request is sent again once, from that size. Any other 409,
a 422, or a witness holding a size larger than the log's means the witness has seen a
history this log does not extend — a fork or a rollback — and is reported as such, never
retried blindly. Verified cosignature lines are added to the stored checkpoint note after
the log's own signature, so ``/log/checkpoint`` serves them and every client that does not
know the witness keys ignores them.

Configuration: ``INSUTRACE_WITNESSES`` — ``<witness vkey> <add-checkpoint URL prefix>``
entries separated by ``;`` — and ``INSUTRACE_WITNESS_QUORUM`` (default: all of them), the
number of cosignatures a checkpoint needs to be served at ``/log/checkpoint/witnessed``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from insutrace.trace.errors import LedgerError, MalformedInput, NotFound
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import parse_note
from insutrace.trace.witness import (
    SIZE_TYPE,
    AddCheckpoint,
    CosignatureVerifier,
    attach,
    require_quorum,
)

__all__ = ["Outcome", "WitnessEndpoint", "Witnessing", "parse_witnesses"]

log = logging.getLogger("insutrace.witness")


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness: its cosignature key and the URL prefix of its ``add-checkpoint``."""

    verifier: CosignatureVerifier
    url: str

    @property
    def name(self) -> str:
        return self.verifier.name


def parse_witnesses(text: str) -> list[WitnessEndpoint]:
    """``<vkey> <url>`` entries separated by ``;`` (INSUTRACE_WITNESSES)."""
    out: list[WitnessEndpoint] = []
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        parts = item.split()
        if len(parts) != 2 or not parts[1].startswith(("http://", "https://")):
            raise MalformedInput(
                f"witness {item!r:.80} must be '<witness vkey> <http(s) URL prefix>'"
            )
        out.append(WitnessEndpoint(CosignatureVerifier.parse(parts[0]), parts[1].rstrip("/")))
    names = [w.name for w in out]
    if len(set(names)) != len(names):
        raise MalformedInput("each witness must have its own name")
    return out


@dataclass(frozen=True)
class Outcome:
    """What one witness answered for one checkpoint."""

    witness: str
    size: int
    cosigned: bool
    status: int | None  # the HTTP status, None when the witness could not be reached
    detail: str
    inconsistent: bool = False  # the witness holds a history this log does not extend


@dataclass
class Witnessing:
    """Sends the ledger's checkpoints to its witnesses and stores their cosignatures."""

    ledger: Ledger
    witnesses: Sequence[WitnessEndpoint]
    quorum: int = -1
    timeout: float = 5.0
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.time
    sizes: dict[str, int] = field(default_factory=dict)  # what each witness last cosigned
    witnessed: int = -1  # the largest checkpoint every witness has answered for

    def __post_init__(self) -> None:
        if self.quorum < 0:
            self.quorum = len(self.witnesses)
        if self.quorum > len(self.witnesses):
            raise MalformedInput(
                f"a witness quorum of {self.quorum} needs {self.quorum} witnesses; "
                f"{len(self.witnesses)} configured"
            )
        self._client = httpx.Client(timeout=self.timeout, transport=self.transport)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def cosign_latest(self) -> list[Outcome]:
        """Send the latest checkpoint to every witness; store the cosignatures it gets."""
        with self._lock:
            signed = self.ledger.latest_checkpoint()
            size = signed.checkpoint.size
            outcomes = [self._submit(w, signed.note, size) for w in self.witnesses]
            lines = [o.detail for o in outcomes if o.cosigned]
            if lines:
                with self.ledger.store.write() as tx:
                    stored = tx.checkpoint_at(size)
                    if stored is not None:
                        tx.cosign_checkpoint(size, attach(stored, lines))
            if all(o.cosigned or o.inconsistent for o in outcomes):
                self.witnessed = max(self.witnessed, size)
            return outcomes

    def _submit(self, witness: WitnessEndpoint, note: str, size: int) -> Outcome:
        old = self.sizes.get(witness.name, 0)
        for _attempt in range(2):
            if old > size:
                return self._inconsistent(
                    witness, size, None, f"the witness holds size {old}, beyond this log's {size}"
                )
            proof = self.ledger.consistency_proof(old, size) if 0 < old < size else []
            body = AddCheckpoint(old, tuple(proof), note).body()
            try:
                response = self._client.post(f"{witness.url}/add-checkpoint", content=body)
            except httpx.HTTPError as exc:
                log.warning("witness %s unreachable: %s", witness.name, exc)
                return Outcome(witness.name, size, False, None, f"unreachable: {exc}")
            if response.status_code == 200:
                return self._cosigned(witness, size, note, response.text)
            is_size = response.headers.get("content-type", "").startswith(SIZE_TYPE)
            if response.status_code == 409 and is_size:
                try:
                    old = int(response.text.strip())
                except ValueError:
                    break
                continue
            if response.status_code in (409, 422):
                return self._inconsistent(witness, size, response.status_code, response.text)
            return Outcome(
                witness.name, size, False, response.status_code, response.text.strip()[:200]
            )
        return self._inconsistent(witness, size, 409, "the witness's size changed twice")

    def _cosigned(self, witness: WitnessEndpoint, size: int, note: str, body: str) -> Outcome:
        text, _ = parse_note(note)
        for line in body.splitlines():
            try:
                _, sigs = parse_note(f"{text}\n{line}\n")
            except LedgerError:
                continue
            if witness.verifier.timestamp(text, sigs[0]) is not None:
                self.sizes[witness.name] = size
                return Outcome(witness.name, size, True, 200, line)
        return Outcome(witness.name, size, False, 200, "no valid cosignature in the answer")

    def _inconsistent(
        self, witness: WitnessEndpoint, size: int, status: int | None, detail: str
    ) -> Outcome:
        log.error(
            "witness %s refuses checkpoint %d as inconsistent with what it cosigned: %s",
            witness.name,
            size,
            detail.strip()[:200],
        )
        return Outcome(witness.name, size, False, status, detail.strip()[:200], inconsistent=True)

    def witnessed_checkpoint(self) -> str:
        """The newest stored checkpoint note with the quorum of cosignatures."""
        verifiers = [w.verifier for w in self.witnesses]
        with self.ledger.store.read() as tx:
            notes = [note for _, note in reversed(tx.checkpoints()[-256:])]
        for note in notes:
            try:
                require_quorum(note, verifiers, self.quorum)
            except LedgerError:
                continue
            return note
        raise NotFound(f"no recent checkpoint carries {self.quorum} witness cosignatures")

    def run(self, stop: threading.Event, interval: float = 0.25) -> None:
        """Until ``stop``: send each new checkpoint to the witnesses; after a witness
        could not be reached, try again with a back-off of up to 30 s."""
        wait = interval
        while not stop.wait(wait):
            try:
                latest = self.ledger.latest_checkpoint().checkpoint.size
                if latest > self.witnessed:
                    self.cosign_latest()
                wait = interval if self.witnessed >= latest else min(wait * 2, 30.0)
            except NotFound:
                wait = interval
            except Exception:  # keep witnessing through a transient fault; it is logged
                log.exception("witnessing failed; retrying")
                wait = min(wait * 2, 30.0)
