"""Settings read from ``INSUTRACE_*`` environment variables, built once and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings"]


def _env(name: str, default: str) -> str:
    return os.environ.get(f"INSUTRACE_{name}", default)


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and how it names itself.

    ``home``          INSUTRACE_HOME, default ``./data``: keys, blobs, the SQLite file
    ``database_url``  INSUTRACE_DATABASE_URL, default ``sqlite:///<home>/ledger.db``
    ``origin``        INSUTRACE_ORIGIN, the log's checkpoint origin and key name
    ``resolver``      INSUTRACE_RESOLVER, the GS1 Digital Link domain on labels
    ``master_key``    INSUTRACE_MASTER_KEY, encrypts server-held organisation keys
    """

    home: Path = field(default_factory=lambda: Path(_env("HOME", "data")))
    database_url: str = ""
    origin: str = field(default_factory=lambda: _env("ORIGIN", "ledger.insutrace.local/insulation"))
    resolver: str = field(default_factory=lambda: _env("RESOLVER", "id.insutrace.local"))
    master_key: str = field(default_factory=lambda: _env("MASTER_KEY", ""))
    sqlite_synchronous: str = field(default_factory=lambda: _env("SQLITE_SYNCHRONOUS", "NORMAL"))

    def __post_init__(self) -> None:
        if not self.database_url:
            url = _env("DATABASE_URL", f"sqlite:///{self.home / 'ledger.db'}")
            object.__setattr__(self, "database_url", url)

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def log_key_path(self) -> Path:
        return self.keys_dir / "log.key"

    @property
    def root_key_path(self) -> Path:
        return self.keys_dir / "root.key"
