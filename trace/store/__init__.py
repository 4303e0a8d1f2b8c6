"""Storage: the only package that touches the ORM. See :mod:`.base` for the contracts."""

from __future__ import annotations

from .base import KV, MemoryKV, Store, Tx

__all__ = ["KV", "MemoryKV", "Store", "Tx", "open_store"]


def open_store(url: str, *, sqlite_synchronous: str = "NORMAL") -> Store:
    """Open the store of a migrated database, ``sqlite:///file.db`` or ``postgresql://…``.

    Creates nothing: ``insutrace db upgrade`` makes the tables. StorageError if the
    database cannot be reached or is not at this release's schema.
    """
    from .sql import SQLStore

    return SQLStore(url, sqlite_synchronous=sqlite_synchronous)
