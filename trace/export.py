"""Write a ledger as a C2SP tlog-tiles static directory that any HTTP server can serve.

DIR/checkpoint              the latest signed checkpoint (signed-note text)
DIR/tile/<L>/<N>[.p/<W>]    hash tiles for the checkpoint's size
DIR/tile/entries/<N>[…]     entry bundles
DIR/log.vkey                the log's verifier key string (C2SP signed-note)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .ledger import Ledger
from .tiles import tiles_for_size

__all__ = ["export_static"]


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
