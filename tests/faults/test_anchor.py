"""The latest published checkpoint is kept beside the keys, and a server refuses to start
on a database that does not hold it: one restored from an older copy (a consistent but
shorter log, which verifies on its own), or another history of the same size."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from databases import migrated_sqlite

from insutrace.api.app import build_services
from insutrace.trace.actors import CORE_TYPES
from insutrace.trace.checkpoint import Checkpoint
from insutrace.trace.errors import StorageError
from insutrace.trace.keys import Signer, save_signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner, parse_note
from insutrace.trace.settings import Settings
from insutrace.trace.store import open_store


def _grow(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer], tag: str, n: int
) -> None:
    for _ in range(n):
        org = f"{tag}-{ledger.size()}"
        payload = {"id": org, "public_key": signer_for(org).public_b64, "name": f"Org {org}"}
        ledger.append("actor.register", payload, root)
    ledger.checkpoint()


def test_a_server_behind_its_published_checkpoint_refuses_to_start(
    tmp_path: Path, root: Signer, log_signer: NoteSigner, signer_for: Callable[[str], Signer]
) -> None:
    home = tmp_path / "home"
    save_signer(Signer(log_signer.name, log_signer.private_key), home / "keys" / "log.key")
    url = migrated_sqlite(home / "ledger.db")
    seed = Ledger(open_store(url), log_signer=log_signer, types=CORE_TYPES)
    seed.initialize(root, origin=log_signer.name)
    seed.store.close()
    settings = Settings(home=home, database_url=url, origin=log_signer.name)

    services = build_services(settings, types=CORE_TYPES, migrate=False)
    _grow(services.ledger, root, signer_for, "a", 2)
    services.ledger.store.close()
    services.accounts.close()
    shutil.copyfile(home / "ledger.db", tmp_path / "old.db")  # a backup at 3 entries

    services = build_services(settings, types=CORE_TYPES, migrate=False)
    _grow(services.ledger, root, signer_for, "a", 3)
    published = (home / "keys" / "checkpoint").read_text()
    assert Checkpoint.parse(parse_note(published)[0]).size == services.ledger.size() == 6
    services.ledger.store.close()
    services.accounts.close()

    # the old copy put back: a whole, verifying, shorter log
    for suffix in ("", "-wal", "-shm"):
        (home / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "old.db", home / "ledger.db")
    with pytest.raises(
        StorageError, match="holds 3 entries but this log published a checkpoint of size 6"
    ):
        build_services(settings, types=CORE_TYPES, migrate=False)

    # another history grown to the same size
    other = Ledger(open_store(url), log_signer=log_signer, types=CORE_TYPES)
    _grow(other, root, signer_for, "b", 3)
    other.store.close()
    with pytest.raises(StorageError, match="refusing to start on a different history"):
        build_services(settings, types=CORE_TYPES, migrate=False)
