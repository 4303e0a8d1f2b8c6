"""A Python client of the InsuTrace HTTP API (httpx, synchronous).

It signs statements locally with the organisation's own key (the server only verifies
and places them in the log), and resends the *same* bytes after a network failure (the
server answers a statement it already holds with its original receipt): nothing is
ever re-signed because another writer got there first. It checks
what the server says against the log's key: checkpoints by their signature, entries by
their inclusion proof, a newer checkpoint by its consistency with an older one.

Problems (RFC 9457) come back as the core's own errors: ``conflict`` → Conflict,
``rule-violation`` → RuleViolation (with ``rule`` and ``clause``), and so on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import httpx

from insutrace.trace.canonical import canonical
from insutrace.trace.checkpoint import SignedCheckpoint
from insutrace.trace.clock import Clock, SystemClock, format_time
from insutrace.trace.entry import Statement, new_statement_id
from insutrace.trace.errors import (
    Conflict,
    Forbidden,
    LedgerError,
    MalformedInput,
    NotFound,
    RuleViolation,
    StorageError,
    Unavailable,
    VerificationError,
)
from insutrace.trace.keys import Signer
from insutrace.trace.merkle import leaf_hash, verify_consistency
from insutrace.trace.note import NoteVerifier
from insutrace.trace.proof import TlogProof
from insutrace.trace.witness import CosignatureVerifier, require_quorum

__all__ = [
    "Client",
    "Outbox",
    "Outcome",
    "Queued",
    "Session",
    "dumps",
    "leaf_of",
    "placed",
    "problem_error",
    "sign_statement",
    "submit_queued",
]


class Session(Protocol):
    """What the client needs of an HTTP session (``httpx.Client`` or a test client)."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


_ERRORS: dict[str, type[LedgerError]] = {
    "conflict": Conflict,
    "not-found": NotFound,
    "forbidden": Forbidden,
    "unauthenticated": Forbidden,
    "malformed-input": MalformedInput,
    "invalid-request": MalformedInput,
    "verification-failed": VerificationError,
    "unavailable": Unavailable,
    "storage-unavailable": StorageError,
}


def problem_error(status: int, body: Any) -> LedgerError:
    """The core error an RFC 9457 problem body stands for."""
    if not isinstance(body, dict):
        return Unavailable(f"HTTP {status}: {str(body)[:200]}")
    slug = str(body.get("type", "")).rsplit(":", 1)[-1]
    detail = str(body.get("detail", f"HTTP {status}"))
    if slug == "rule-violation":
        return RuleViolation(str(body.get("rule", "")), detail, str(body.get("clause") or ""))
    if slug == "verification-failed":
        return VerificationError(detail, body.get("index"))
    return _ERRORS.get(slug, Unavailable)(f"{detail} (HTTP {status})")


class Client:
    """``Client("https://ledger.example", token=…, signer=load_signer(path))``."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        signer: Signer | None = None,
        session: Session | None = None,
        clock: Clock | None = None,
        retries: int = 8,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.signer = signer
        self.clock: Clock = clock or SystemClock()
        self.retries = retries
        self._http = httpx.Client(timeout=timeout) if session is None else None
        self.session: Session = session if session is not None else self._http  # type: ignore[assignment]

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        r = self.session.request(method, self.base_url + path, headers=headers, **kwargs)
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = r.text
            raise problem_error(r.status_code, body)
        return r

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    def require_signer(self) -> Signer:
        if self.signer is None:
            raise MalformedInput("this client has no signing key (pass signer=…, or --key FILE)")
        return self.signer

    # -- writing -------------------------------------------------------------------

    def head(self) -> dict[str, Any]:
        head: dict[str, Any] = self._json("GET", "/v1/head")
        return head

    def sign(
        self,
        type: str,
        payload: dict[str, Any],
        head: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        seen: SignedCheckpoint | None = None,
    ) -> bytes:
        """The canonical bytes of a statement signed locally. It names no log position,
        so it can be signed offline and sent later; ``id`` (fresh by default) makes it
        unique, ``seen`` attests the checkpoint this client last verified. ``head`` is
        accepted for older callers and not used: the log places the statement."""
        del head
        return sign_statement(
            self.require_signer(), type, payload, id=id, seen=seen, clock=self.clock
        )

    def submit(self, data: bytes) -> dict[str, Any]:
        """POST a signed statement; after a network failure or a 503 the same bytes are
        sent again (the log answers a statement it already holds with its receipt)."""
        for attempt in range(self.retries):
            try:
                receipt: dict[str, Any] = self._json(
                    "POST",
                    "/v1/entries",
                    content=data,
                    headers={"Content-Type": "application/json"},
                )
                return receipt
            except (httpx.TransportError, Unavailable):
                if attempt + 1 == self.retries:
                    raise
                time.sleep(min(2.0, 0.1 * 2**attempt))
        raise AssertionError("unreachable")

    def append(
        self, type: str, payload: dict[str, Any], *, seen: SignedCheckpoint | None = None
    ) -> dict[str, Any]:
        """Sign a statement once and submit it; retries resend the same bytes, never a
        re-signed statement."""
        data = self.sign(type, payload, seen=seen)
        return placed(self.submit(data), data)

    def submit_queued(self, outbox: Outbox, *, again: bool = False) -> list[Outcome]:
        """Send what ``outbox`` keeps (:func:`submit_queued`): one outcome per item sent."""
        return submit_queued(self, outbox, again=again)

    def write(
        self, type: str, payload: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Have the server sign with the organisation's server-held key."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        receipt: dict[str, Any] = self._json("POST", f"/v1/{type}", json=payload, headers=headers)
        return receipt

    def upload_document(self, data: bytes) -> str:
        """Store a document (a report's PDF …) on the server; return the SHA-256 to cite."""
        headers = {"Content-Type": "application/octet-stream"}
        answer: dict[str, Any] = self._json("POST", "/v1/documents", content=data, headers=headers)
        digest = str(answer["sha256"])
        if digest != hashlib.sha256(data).hexdigest():
            raise VerificationError(f"server stored the document as {digest}, not its SHA-256")
        return digest

    def document(self, sha256: str) -> bytes:
        """A document's bytes, checked against the SHA-256 they were asked by."""
        data: bytes = self._call("GET", f"/v1/documents/{sha256}").content
        if hashlib.sha256(data).hexdigest() != sha256:
            raise VerificationError(f"document {sha256}: the server sent other bytes")
        return data

    # -- reading -------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON resource of the API, e.g. ``get("/v1/batches/" + batch_id)``."""
        return self._json("GET", path, params=params)

    def entry(self, seq: int) -> dict[str, Any]:
        found: dict[str, Any] = self._json("GET", f"/v1/entries/{seq}")
        return found

    def entries(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every entry matching ``filters`` (batch, org, project, building, type, since …)."""
        params = {k: v for k, v in filters.items() if v is not None}
        while True:
            page = self._json("GET", "/v1/entries", params=params)
            yield from page["items"]
            if page["next"] is None:
                return
            params["after"] = page["next"]

    def log_key(self) -> NoteVerifier:
        """The server's log key. Pin it: pass a known vkey to the checks below instead."""
        return NoteVerifier.parse(self._call("GET", "/log/log.vkey").text.strip())

    def checkpoint(
        self,
        log_key: NoteVerifier,
        *,
        witnesses: Sequence[CosignatureVerifier] = (),
        quorum: int | None = None,
    ) -> SignedCheckpoint:
        """The latest checkpoint, its signature checked with ``log_key``. With
        ``witnesses``: the newest checkpoint carrying ``quorum`` (default: all) of their
        valid cosignatures (``/log/checkpoint/witnessed``), checked here, so a log showing
        this client a history the witnesses have not cosigned is refused."""
        if not witnesses:
            return SignedCheckpoint.open(self._call("GET", "/log/checkpoint").text, log_key)
        note = self._call("GET", "/log/checkpoint/witnessed").text
        signed = SignedCheckpoint.open(note, log_key)
        require_quorum(note, witnesses, len(witnesses) if quorum is None else quorum)
        return signed

    def prove(self, seq: int, log_key: NoteVerifier, data: bytes | None = None) -> TlogProof:
        """Fetch the entry's tlog-proof and verify it locally (signature and inclusion)."""
        proof = TlogProof.parse(self._call("GET", f"/log/entries/{seq}.tlog-proof").text)
        if proof.index != seq:
            raise VerificationError(f"asked for a proof of {seq}, got one of {proof.index}")
        if data is None:
            data = canonical(self.entry(seq)["entry"])
        proof.verify(data, log_key)
        return proof

    def check_consistency(self, old: SignedCheckpoint, log_key: NoteVerifier) -> SignedCheckpoint:
        """The latest checkpoint, verified to extend ``old`` (RFC 9162 §2.1.4.2)."""
        new = self.checkpoint(log_key)
        a, b = old.checkpoint, new.checkpoint
        if b.size < a.size:
            raise VerificationError(f"the log shrank from {a.size} to {b.size}")
        body = self._json("GET", "/log/proof/consistency", params={"old": a.size, "new": b.size})
        proof = [base64.b64decode(h) for h in body["hashes"]]
        verify_consistency(a.size, b.size, a.root, b.root, proof)
        return new


def sign_statement(
    signer: Signer,
    type: str,
    payload: dict[str, Any],
    *,
    id: str | None = None,
    seen: SignedCheckpoint | None = None,
    clock: Clock | None = None,
) -> bytes:
    """A statement signed with ``signer`` now (``clock``'s reading): its canonical bytes.
    Needs no network: it names no log position, so it can be kept (:class:`Outbox`) and
    sent later; the ledger judges it at its signed time within the policy's offline
    window (docs/offline.md). ``id`` (fresh by default) makes it unique, ``seen`` attests
    the checkpoint the signer last verified."""
    attested = None
    if seen is not None:
        root = base64.b64encode(seen.checkpoint.root).decode()
        attested = {"size": seen.checkpoint.size, "root": root}
    statement = Statement(
        type=type,
        actor=signer.actor,
        key=signer.key_id,
        time=format_time((clock or SystemClock()).now()),
        payload=payload,
        id=id or new_statement_id(),
        seen=attested,
    )
    return statement.signed(signer).to_bytes()


def placed(receipt: dict[str, Any], statement: bytes) -> dict[str, Any]:
    """The receipt with ``entry``: the leaf the log says it built from ``statement`` at
    ``seq`` after ``prev`` at time ``logged`` — checked against the receipt's leaf hash, so
    the log has acknowledged exactly the statement that was signed."""
    stmt = Statement.from_bytes(statement)
    try:
        entry = stmt.place(int(receipt["seq"]), str(receipt["prev"]), str(receipt["logged"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(
            f"the receipt does not say where the log placed it: {exc}"
        ) from None
    data = entry.to_bytes()
    if leaf_hash(data).hex() != receipt.get("leaf"):
        raise VerificationError(
            f"receipt leaf {str(receipt.get('leaf'))[:16]}… is not the submitted statement "
            f"placed at {receipt['seq']}"
        )
    return {**receipt, "entry": data}


def leaf_of(receipt: Mapping[str, Any]) -> bytes:
    """The leaf hash a receipt acknowledges, checked against the entry it carries."""
    leaf = bytes.fromhex(str(receipt["leaf"]))
    data = receipt.get("entry")
    if isinstance(data, bytes) and leaf_hash(data) != leaf:
        raise VerificationError(f"receipt leaf {leaf.hex()[:16]}… is not the submitted entry")
    return leaf


def dumps(receipt: Mapping[str, Any]) -> str:
    """A receipt as JSON text (the entry bytes, if any, as text)."""
    shown = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in receipt.items()}
    return json.dumps(shown, ensure_ascii=False, indent=2)


# -- offline: statements kept to be sent later ------------------------------------------------

PENDING, SENT, REFUSED = "pending", "sent", "refused"
_ITEM = re.compile(r"(\d{6})-([0-9a-f]{16})\.json")
_PERMANENT = (RuleViolation, Conflict, Forbidden, MalformedInput, NotFound)


@dataclass(frozen=True)
class Queued:
    """One statement in an :class:`Outbox`: its exact bytes, its state (``pending``, ``sent``
    or ``refused``) and, once answered, the receipt or the problem (``rule``, ``clause``,
    ``detail``)."""

    path: Path
    data: bytes
    state: str
    receipt: dict[str, Any] | None = None
    problem: dict[str, str] | None = None

    @property
    def statement(self) -> Statement:
        return Statement.from_bytes(self.data)


@dataclass(frozen=True)
class Outcome:
    """What sending one queued statement gave: the receipt (with ``entry``, the leaf) or
    the error; ``item`` as the outbox now records it."""

    item: Queued
    receipt: dict[str, Any] | None = None
    error: LedgerError | None = None


class Outbox:
    """A directory of signed statements waiting to be sent, in the order they were put:
    one JSON file per statement (``NNNNNN-<digest of actor and id>.json``) holding its
    exact bytes, its state and the answer it got. Each write replaces the file whole."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def put(self, data: bytes) -> Queued:
        """Keep a signed statement. The same statement put again is the item it already
        is; another statement with its actor's used id is a Conflict."""
        statement = Statement.from_bytes(data)
        digest = _digest(statement.actor, statement.id)
        items = self.items()
        for item in items:
            if item.path.name.endswith(f"-{digest}.json"):
                if item.data != data:
                    raise Conflict(
                        f"statement id {statement.id!r:.60} of {statement.actor} is already "
                        f"queued in {item.path.name} with other content: choose a new id"
                    )
                return item
        number = 1 + max((int(i.path.name[:6]) for i in items), default=0)
        self.directory.mkdir(parents=True, exist_ok=True)
        return self._save(Queued(self.directory / f"{number:06d}-{digest}.json", data, PENDING))

    def items(self) -> list[Queued]:
        """Every queued statement, in the order it was put."""
        if not self.directory.is_dir():
            return []
        names = sorted(p.name for p in self.directory.iterdir() if _ITEM.fullmatch(p.name))
        return [self._load(self.directory / name) for name in names]

    def record(self, item: Queued, state: str, **answer: Any) -> Queued:
        return self._save(replace(item, state=state, **answer))

    def _load(self, path: Path) -> Queued:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            data = str(raw["statement"]).encode()
            state = str(raw["state"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MalformedInput(f"outbox item {path}: unreadable ({exc})") from None
        if state not in (PENDING, SENT, REFUSED):
            raise MalformedInput(f"outbox item {path}: unknown state {state!r}")
        return Queued(path, data, state, raw.get("receipt"), raw.get("problem"))

    def _save(self, item: Queued) -> Queued:
        body = {
            "statement": item.data.decode(),
            "state": item.state,
            "receipt": item.receipt,
            "problem": item.problem,
        }
        temporary = item.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", "utf-8")
        os.replace(temporary, item.path)
        return item


def _digest(actor: str, id: str) -> str:
    return hashlib.sha256(f"{actor}\n{id}".encode()).hexdigest()[:16]


def _problem(exc: LedgerError) -> dict[str, str]:
    if isinstance(exc, RuleViolation):
        return {"rule": exc.rule, "clause": exc.clause, "detail": exc.reason}
    return {"rule": "", "clause": "", "detail": str(exc)}


def submit_queued(client: Client, outbox: Outbox, *, again: bool = False) -> list[Outcome]:
    """Send the outbox's pending statements in order (``again``: the sent and refused ones
    too), each as the same bytes it was signed as: a statement the log already holds is
    answered with its original receipt (``duplicate``), so sending again never logs
    twice. A refusal is recorded with the item and the next one is sent; when the server
    cannot be reached the sending stops and the rest stay pending."""
    outcomes: list[Outcome] = []
    for item in outbox.items():
        if item.state != PENDING and not again:
            continue
        try:
            receipt = placed(client.submit(item.data), item.data)
        except _PERMANENT as exc:
            outcomes.append(Outcome(outbox.record(item, REFUSED, problem=_problem(exc)), error=exc))
            continue
        except (httpx.TransportError, Unavailable, StorageError) as exc:
            error = exc if isinstance(exc, LedgerError) else Unavailable(f"unreachable: {exc}")
            outcomes.append(Outcome(item, error=error))
            break
        kept = {k: v for k, v in receipt.items() if k != "entry"}
        outcomes.append(Outcome(outbox.record(item, SENT, receipt=kept, problem=None), receipt))
    return outcomes
