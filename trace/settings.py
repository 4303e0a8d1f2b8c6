"""Settings read from ``INSUTRACE_*`` environment variables, built once and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MalformedInput

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "Settings"]

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TRUE = ("1", "true", "yes", "on")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"INSUTRACE_{name}", default)


def _quorum(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise MalformedInput(
            f"INSUTRACE_WITNESS_QUORUM must be a number; got {text!r:.40}"
        ) from None


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and how it names itself.

    ``home``          INSUTRACE_HOME, default ``./data``: keys, blobs, the SQLite file
    ``database_url``  INSUTRACE_DATABASE_URL, default ``sqlite:///<home>/ledger.db``
    ``origin``        INSUTRACE_ORIGIN, the log's checkpoint origin and key name
    ``resolver``      INSUTRACE_RESOLVER, the GS1 Digital Link domain on labels
    ``master_key``    INSUTRACE_MASTER_KEY, encrypts server-held organisation keys
    ``log_format``    INSUTRACE_LOG_FORMAT, server log lines: ``text`` (default) or ``json``
    ``log_level``     INSUTRACE_LOG_LEVEL, default ``INFO``
    ``access_log``    INSUTRACE_ACCESS_LOG, ``1`` adds uvicorn's access log (default off)
    ``witnesses``     INSUTRACE_WITNESSES, ``<witness vkey> <URL prefix>`` entries separated by
                      ``;``: the server sends each new checkpoint to them (``api/witnessing.py``)
    ``witness_quorum`` INSUTRACE_WITNESS_QUORUM, cosignatures a checkpoint needs to be served
                      as witnessed (default: every witness)
    """

    home: Path = field(default_factory=lambda: Path(_env("HOME", "data")))
    database_url: str = ""
    origin: str = field(default_factory=lambda: _env("ORIGIN", "ledger.insutrace.local/insulation"))
    resolver: str = field(default_factory=lambda: _env("RESOLVER", "id.insutrace.local"))
    master_key: str = field(default_factory=lambda: _env("MASTER_KEY", ""))
    sqlite_synchronous: str = field(default_factory=lambda: _env("SQLITE_SYNCHRONOUS", "NORMAL"))
    log_format: str = field(default_factory=lambda: _env("LOG_FORMAT", "text"))
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO"))
    access_log: bool = field(default_factory=lambda: _env("ACCESS_LOG", "0") in _TRUE)
    witnesses: str = field(default_factory=lambda: _env("WITNESSES", ""))
    witness_quorum: int = field(default_factory=lambda: _quorum(_env("WITNESS_QUORUM", "-1")))

    def __post_init__(self) -> None:
        if not self.database_url:
            url = _env("DATABASE_URL", f"sqlite:///{self.home / 'ledger.db'}")
            object.__setattr__(self, "database_url", url)
        if self.log_format not in LOG_FORMATS:
            raise MalformedInput(
                f"INSUTRACE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}; "
                f"got {self.log_format!r:.40}"
            )
        if self.log_level.upper() not in LOG_LEVELS:
            raise MalformedInput(
                f"INSUTRACE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}; "
                f"got {self.log_level!r:.40}"
            )

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
