"""A batching sequencer: concurrent writes pooled and admitted in one transaction each.

Requests from any number of threads (the server's request handlers) are queued; one
thread takes whatever is waiting — up to ``max_batch`` writes, waiting at most
``linger`` seconds for more once the first has arrived — and hands the batch to
:meth:`insutrace.trace.ledger.Ledger.admit`: one write transaction, every write on its
own savepoint, one checkpoint for the batch, one commit. What arrives while that
transaction waits for the log's writer lock joins the batch once the lock is held. Each
request's future is resolved only after that commit, with its receipt (seq, leaf, the
checkpoint that proves it) or its own error. A batch from another process sharing the
database waits for the store's writer lock like any writer, so batches of all processes
are admitted one after another.

Durability is the store's: nothing is acknowledged before its commit returns.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

from . import ledger as _ledger
from .errors import LedgerError, Unavailable
from .ledger import Ledger, Receipt, Write

__all__ = ["Sequencer"]

_log = logging.getLogger(__name__)

_Item = tuple[Write, "Future[Receipt]", contextvars.Context]


class Sequencer:
    """``Sequencer(ledger).write(ServerWrite(...))`` — or :meth:`submit` for a future."""

    def __init__(self, ledger: Ledger, *, max_batch: int = 256, linger: float = 0.002) -> None:
        if max_batch < 1 or linger < 0:
            raise ValueError("max_batch must be at least 1 and linger not negative")
        self.ledger = ledger
        self.max_batch = max_batch
        self.linger = linger
        self.batches = 0  # batches admitted (for benchmarks and tests)
        self.admitted = 0
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, write: Write) -> Future[Receipt]:
        """Queue one write; the future holds its receipt once its batch has committed.
        What of it needs no log state is done first, in the caller's thread
        (:meth:`Ledger.prepare`: a server-built statement is signed), not in the batch."""
        write = self.ledger.prepare(write)
        future: Future[Receipt] = Future()
        with self._guard:
            if self._closed:
                raise Unavailable("the ledger's sequencer is shut down")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="insutrace-sequencer", daemon=True
                )
                self._thread.start()
            self._queue.put((write, future, contextvars.copy_context()))
        return future

    def write(self, write: Write) -> Receipt:
        """Queue one write and wait for its receipt (or raise its error)."""
        return self.submit(write).result()

    def close(self) -> None:
        """Admit what is queued, then stop the thread."""
        with self._guard:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._gather(first)
            stop = self._admit(batch, drain=not stop) or stop
            if stop:
                return

    def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        """``first`` and what else arrives within ``linger``, up to ``max_batch``; and
        whether the close sentinel came."""
        more, stop = self._take(self.max_batch - 1, time.monotonic() + self.linger)
        return [first, *more], stop

    def _take(self, room: int, deadline: float | None = None) -> tuple[list[_Item], bool]:
        """At most ``room`` queued items: those there now, and with a ``deadline``, those
        arriving before it; and whether the close sentinel was among them."""
        taken: list[_Item] = []
        while len(taken) < room:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = -1.0 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                return taken, True
            taken.append(item)
        return taken, False

    def _admit(self, batch: Sequence[_Item], *, drain: bool = True) -> bool:
        """Admit ``batch`` and, once its transaction holds the log, whatever was queued
        while it waited for the log's writer lock (another process's batch holding it):
        those join this batch rather than wait for the next turn. True when the close
        sentinel was drained (the thread stops after this batch)."""
        live = [item for item in batch if item[1].set_running_or_notify_cancel()]
        if not live:
            return False
        stopped = False

        def more() -> list[Write]:
            nonlocal stopped
            drained, stopped = self._take(self.max_batch - len(live))
            joined = [item for item in drained if item[1].set_running_or_notify_cancel()]
            live.extend(joined)
            return [w for w, _, _ in joined]

        def log(results: list[Receipt | LedgerError], started: float) -> None:
            # each entry's line in the context of the request that sent it (its request id)
            for (_, _, context), result in zip(live, results, strict=True):
                if isinstance(result, Receipt):
                    context.run(_ledger.log_appended, [result], started)

        try:
            results = self.ledger.admit(
                [w for w, _, _ in live], log=log, more=more if drain else None
            )
        except BaseException as exc:  # the whole batch failed: nothing of it was written
            if not isinstance(exc, LedgerError):
                _log.exception("a batch of %d writes failed", len(live))
            for _, future, _ in live:
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return stopped
        self.batches += 1
        self.admitted += sum(isinstance(r, Receipt) and not r.duplicate for r in results)
        for (_, future, _), result in zip(live, results, strict=True):
            if isinstance(result, Receipt):
                future.set_result(result)
            else:
                future.set_exception(result)
        return stopped
