"""Write a ledger as a C2SP tlog-tiles static directory that any HTTP server can serve.

DIR/checkpoint              the latest signed checkpoint (signed-note text)
DIR/tile/<L>/<N>[.p/<W>]    hash tiles for the checkpoint's size
DIR/tile/entries/<N>[…]     entry bundles
DIR/log.vkey                the log's verifier key string (C2SP signed-note)

:func:`export_static` writes the whole layout once (``insutrace export``).
:class:`LiveExport` keeps such a directory current while the server runs: after each
committed batch it writes the tiles and bundles the new checkpoint adds, then the
checkpoint, each file complete before it is renamed into place — so a static web server
(or CDN) in front of the directory only ever serves a checkpoint whose tiles are all there.
A partial tile is removed once its full tile is written (C2SP tlog-tiles clients fall back
to the full tile); until then every partial width a checkpoint named stays, so a client
that read an older checkpoint still finds its tiles.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .checkpoint import SignedCheckpoint
from .errors import LedgerError, StorageError
from .ledger import Ledger
from .note import NoteVerifier
from .tiles import HEIGHT, WIDTH, TileRef, tiles_for_size

__all__ = ["LiveExport", "export_static", "tiles_added"]

_log = logging.getLogger("insutrace.trace.export")


def export_static(
    ledger: Ledger, directory: Path, progress: Callable[[int], None] | None = None
) -> int:
    """Export the log as of its latest checkpoint; return that checkpoint's size."""
    signed = ledger.latest_checkpoint()
    size = signed.checkpoint.size
    for ref in tiles_for_size(size):
        path = directory / ref.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ledger.tile(ref))
        if progress and ref.is_entries:
            progress(ref.width)
    (directory / "checkpoint").write_text(signed.note, encoding="utf-8")
    (directory / "log.vkey").write_text(ledger.log_verifier().vkey() + "\n", encoding="utf-8")
    return size


def tiles_added(old: int, new: int) -> Iterator[TileRef]:
    """The tiles (hash tiles and entry bundles) a tree of ``new`` leaves publishes that one
    of ``old`` leaves does not: the tiles completed in between, and the new partial ones.
    O(tiles added), whatever the log's size."""
    level = 0
    while new >> (HEIGHT * level):
        full_old, part_old = divmod(old >> (HEIGHT * level), WIDTH)
        full_new, part_new = divmod(new >> (HEIGHT * level), WIDTH)
        for n in range(full_old, full_new):
            yield TileRef(level, n)
            if level == 0:
                yield TileRef(-1, n)
        if part_new and (full_new, part_new) != (full_old, part_old):
            yield TileRef(level, full_new, part_new)
            if level == 0:
                yield TileRef(-1, full_new, part_new)
        level += 1


def _write(path: Path, data: bytes) -> None:
    """``data`` at ``path``, whole or not at all: written beside it, flushed, renamed over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class LiveExport:
    """A static export of ``ledger`` in ``directory`` brought up to date after each batch.

    :meth:`published` is a ``Ledger.published`` hook: it only wakes the export thread
    (:meth:`start`), so the write path never waits for the files. :meth:`sync` does the
    work: under a lock file in the directory (every process of a server may export to the
    same one), it reads the size the directory's checkpoint names, writes the tiles added
    since (:func:`tiles_added`) and then the latest checkpoint, and removes the partial
    tiles made redundant by full ones. Batches that commit while it works are covered by
    the next pass, which starts from whatever checkpoint is latest then."""

    def __init__(self, ledger: Ledger, directory: Path, *, poll: float = 5.0) -> None:
        self.ledger = ledger
        self.directory = directory
        self.poll = poll  # also look this often (a writer elsewhere, e.g. the command line)
        self.size = -1  # the size the directory's checkpoint names, after the last pass
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._passes = threading.Condition()

    # -- the hook and the thread ------------------------------------------------------

    def published(self, signed: SignedCheckpoint) -> None:
        """A ``Ledger.published`` hook: a batch committed; export it soon."""
        self._wake.set()

    def start(self) -> None:
        """Export from the thread at once (the directory may be behind, or new: a first
        export of a large log takes a while, and serving does not wait for it), then after
        every batch. A directory holding another log is refused here (StorageError),
        before serving."""
        try:
            self._exported(self.ledger.log_verifier())
        except StorageError:
            raise
        except LedgerError as exc:  # an empty log: nothing to export until its first batch
            _log.info("static export to %s waits: %s", self.directory, exc)
        self._wake.set()
        self._thread = threading.Thread(target=self._run, name="insutrace-export", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wait_for(self, size: int, timeout: float) -> bool:
        """Whether the directory covers ``size`` entries within ``timeout`` seconds."""
        with self._passes:
            return self._passes.wait_for(lambda: self.size >= size, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.sync()
            except (OSError, LedgerError) as exc:  # the next batch (or poll) tries again
                _log.error("static export to %s failed: %s", self.directory, exc)

    # -- one pass ----------------------------------------------------------------------

    def sync(self) -> int:
        """Bring the directory up to the ledger's latest checkpoint; return its size."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                size = self._sync()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        with self._passes:
            self.size = size
            self._passes.notify_all()
        return size

    def _sync(self) -> int:
        ledger, directory = self.ledger, self.directory
        verifier = ledger.log_verifier()
        vkey = directory / "log.vkey"
        if not vkey.exists():
            _write(vkey, (verifier.vkey() + "\n").encode())
        old = self._exported(verifier)
        signed = ledger.latest_checkpoint()
        new = signed.checkpoint.size
        if new <= old:
            return old
        completed = []
        for ref in tiles_added(old, new):
            _write(directory / ref.path(), ledger.tile(ref))
            if ref.width == WIDTH:
                completed.append(ref)
        _write(directory / "checkpoint", signed.note.encode())  # last: its tiles are there
        for ref in completed:  # their partial tiles are redundant now
            shutil.rmtree(directory / (ref.path() + ".p"), ignore_errors=True)
        return new

    def _exported(self, verifier: NoteVerifier) -> int:
        """The size of the directory's checkpoint (0 if none); StorageError if it is not
        a checkpoint of this ledger's tree (the directory holds another log)."""
        path = self.directory / "checkpoint"
        if not path.exists():
            return 0
        note = path.read_text(encoding="utf-8")
        try:
            held = SignedCheckpoint.open(note, verifier).checkpoint
            ours = self.ledger.root(held.size)
        except LedgerError as exc:
            raise StorageError(f"{path} is not a checkpoint of this log ({exc})") from None
        if ours != held.root:
            raise StorageError(
                f"{path} names another tree at size {held.size}: export to an empty directory"
            )
        return held.size
