"""The latest published checkpoint, kept outside the database, beside the keys.

A database restored from an old backup, or truncated with its head and checkpoints
adjusted to match, verifies on its own: it is a consistent, shorter log. What gives it
away is a checkpoint the log already published for a larger size. The server writes each
checkpoint it signs to ``<home>/keys/checkpoint`` (atomically: a new file renamed over
the old), and refuses to start on a database that does not hold that checkpoint — fewer
entries than it covers, or another root at its size — rather than reissue positions it
has already given out.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from insutrace.trace.checkpoint import Checkpoint, SignedCheckpoint
from insutrace.trace.errors import LedgerError, StorageError
from insutrace.trace.ledger import Ledger
from insutrace.trace.merkle import frontier_nodes, root_from_frontier
from insutrace.trace.note import parse_note

__all__ = ["chain", "check_anchor", "publish_to"]

Hook = Callable[[SignedCheckpoint], None]


def _text(note: str) -> str:
    return parse_note(note)[0]


def publish_to(path: Path) -> Callable[[SignedCheckpoint], None]:
    """A ``Ledger.published`` hook writing each signed checkpoint to ``path``: a new file
    renamed over the old, never a read on the write path. The largest size this process
    published is kept in memory, so a checkpoint signed out of order never replaces a larger
    one; another process may briefly leave a smaller one there, which stays a valid lower
    bound for the start-up check."""
    largest = [-1]
    lock = threading.Lock()

    def publish(signed: SignedCheckpoint) -> None:
        with lock:
            if signed.checkpoint.size <= largest[0]:
                return
            largest[0] = signed.checkpoint.size
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(signed.note, encoding="utf-8")
            os.replace(tmp, path)

    return publish


def chain(*hooks: Hook | None) -> Hook:
    """One ``Ledger.published`` hook calling ``hooks`` in order (None ones skipped): the
    published-checkpoint file first, then whatever reads it or follows it."""
    called = tuple(h for h in hooks if h is not None)

    def published(signed: SignedCheckpoint) -> None:
        for hook in called:
            hook(signed)

    return published


def check_anchor(ledger: Ledger, path: Path) -> None:
    """StorageError unless the ledger's database holds the checkpoint at ``path``."""
    if not path.exists():
        return
    note = path.read_text(encoding="utf-8")
    try:
        held = Checkpoint.parse(_text(note))
    except LedgerError as exc:
        raise StorageError(f"{path}: not a checkpoint note ({exc})") from None
    with ledger.store.read() as tx:
        size, _ = tx.head()
        if size < held.size:
            raise StorageError(
                f"the database holds {size} entries but this log published a checkpoint of "
                f"size {held.size} ({path}): it was restored from an older copy or truncated; "
                "refusing to start rather than reissue entry positions"
            )
        root = root_from_frontier(held.size, tx.nodes(frontier_nodes(held.size)))
    if root != held.root:
        raise StorageError(
            f"the database's tree at size {held.size} does not have the root of the checkpoint "
            f"this log published ({path}): refusing to start on a different history"
        )
