"""The static export kept current on each batch (``insutrace serve --export-dir``): after
appends the directory verifies with the project's own verifier and holds every file a
fresh ``insutrace export`` writes, byte for byte; what else it holds are the partial tiles
older checkpoints named, until their full tile is written."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from insutrace.api.app import create_app
from insutrace.api.deps import Services
from insutrace.trace.clock import FixedClock
from insutrace.trace.errors import StorageError
from insutrace.trace.export import LiveExport, export_static, tiles_added
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings
from insutrace.trace.tiles import parse_tile_path, tiles_for_size
from insutrace.trace.verify import verify_export

from .conftest import org_payload, uscc


@pytest.fixture
def live(
    settings: Settings, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner, tmp_path: Path
) -> Iterator[tuple[TestClient, Services, Path]]:
    directory = tmp_path / "static"
    app = create_app(settings, clock=clock, log_signer=log_signer, export_dir=directory)
    with TestClient(app) as client:  # the lifespan starts the export thread
        yield client, app.state.services, directory


def _register(services: Services, root: Signer, first: int, count: int) -> None:
    """``count`` organisations registered in one batch of this server's ledger."""
    items: list[Any] = []
    for i in range(first, first + count):
        org = uscc(2000 + i)
        key = Signer.from_seed(org, (b"test-only live export %d" % i).ljust(32, b"."))
        items.append(("actor.register", org_payload(org, "manufacturer", key.public_b64), root))
    services.ledger.append_batch(items)


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def test_the_directory_follows_each_batch_and_equals_a_fresh_export(
    live: tuple[TestClient, Services, Path], root: Signer, tmp_path: Path
) -> None:
    client, services, directory = live
    export = services.export
    assert export is not None
    ledger = services.ledger
    assert export.wait_for(ledger.size(), 5)  # the start-up pass exported genesis
    seen_partials: set[str] = set()
    made = 0
    for count in (3, 40, 250, 1, 30):  # crosses a full tile (256) in the middle
        _register(services, root, made, count)
        made += count
        size = ledger.size()
        assert export.wait_for(size, 10), f"export stuck at {export.size}, log at {size}"
        seen_partials |= {f for f in _files(directory) if ".p/" in f}
        assert (directory / "checkpoint").read_text() == ledger.latest_checkpoint().note
        assert verify_export(directory, root_key=root.public_b64).ok

    fresh = tmp_path / "fresh"
    export_static(ledger, fresh)
    live_files, fresh_files = _files(directory), _files(fresh)
    for name, body in fresh_files.items():
        assert live_files.get(name) == body, name
    extra = set(live_files) - set(fresh_files)
    assert extra, "older partial widths of the tiles still partial stay"
    for name in extra:  # a partial tile an older checkpoint named, of a tile still partial
        ref = parse_tile_path(name)
        assert ref.width < 256
        assert not (directory / name.split(".p/")[0]).exists()
        current = next(
            r for r in tiles_for_size(ledger.size()) if (r.level, r.index) == (ref.level, ref.index)
        )
        assert current.width > ref.width
        assert fresh_files[current.path()].startswith(live_files[name])
    # the partial tiles of tile 0 went once the full tile was written
    assert any(p.startswith("tile/0/000.p/") for p in seen_partials)
    assert not (directory / "tile/0/000.p").exists()
    assert not (directory / "tile/entries/000.p").exists()
    assert client.get("/log/tile/0/000").content == (directory / "tile/0/000").read_bytes()


def test_tiles_added_are_what_the_larger_tree_adds() -> None:
    sizes = [0, 1, 2, 255, 256, 257, 511, 512, 600, 65535, 65536, 65537, 70000]
    for old, new in itertools.combinations(sizes, 2):
        want = set(tiles_for_size(new)) - set(tiles_for_size(old))
        got = list(tiles_added(old, new))
        assert len(got) == len(set(got)) and set(got) == want, (old, new)


def test_a_directory_holding_another_log_is_refused(
    ledger: Ledger, world: Any, tmp_path: Path
) -> None:
    directory = tmp_path / "static"
    LiveExport(ledger, directory).sync()
    assert verify_export(directory).ok
    note = (directory / "checkpoint").read_text()
    lines = note.split("\n")
    lines[2] = "A" * 43 + "="  # another root at the same size: the signature fails too
    (directory / "checkpoint").write_text("\n".join(lines))
    with pytest.raises(StorageError, match="not a checkpoint of this log"):
        LiveExport(ledger, directory).sync()
    with pytest.raises(StorageError):
        LiveExport(ledger, directory).start()  # before serving, not in the thread
