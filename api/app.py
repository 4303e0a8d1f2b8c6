"""The HTTP application: ``create_app(settings)`` builds everything, imports build nothing.

Served by ``insutrace serve`` (uvicorn, ``--factory insutrace.api.app:app_from_env``);
OpenAPI at ``/openapi.json``, interactive docs at ``/docs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI

from insutrace.api import (
    account_routes,
    document_routes,
    entries,
    label_routes,
    log_routes,
    rule_routes,
    state_routes,
    web,
)
from insutrace.api.accounts import AccountStore, KeyVault
from insutrace.api.bodies import RefuseDuplicateKeys
from insutrace.api.deps import Services
from insutrace.api.logs import (
    RequestIdMiddleware,
    configure_logging,
    install_refusal_log,
    log_startup,
)
from insutrace.api.migrate import upgrade
from insutrace.api.problems import install_problem_handlers
from insutrace.trace.blobs import BlobStore
from insutrace.trace.clock import Clock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.entrytype import EntryType
from insutrace.trace.keys import load_signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings
from insutrace.trace.store import open_store
from insutrace.trace.store.engine import database_kind

__all__ = ["app_from_env", "create_app"]

DESCRIPTION = """\
A tamper-evident traceability ledger for building insulation materials.

* **Public**: the log per C2SP tlog-tiles under `/log/` (checkpoint, tiles, proofs,
  verifier key) and `/v1/head`.
* **Accounts** authenticate with `Authorization: Bearer <token>`; what an account may
  write follows its role and what its organisation owns.
* **Two ways to sign**: `POST /v1/entries` takes an entry signed with a client-held key;
  `POST /v1/<type>` signs with the organisation's server-held key.
* **Labels**: `GET /01/{gtin}/10/{lot}/21/{serial}?k=&s=` resolves a label's GS1 Digital
  Link to its verdict (JSON for `Accept: application/json`, else a phone page); web pages at
  `/`, `/check`, `/blacklist`, `/buildings/{id}`.
* **Errors** are RFC 9457 problem details (`application/problem+json`) with the rule id
  and clause of a refused entry.
"""


def _version() -> str:
    try:
        return version("insutrace")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def _log_signer(settings: Settings) -> NoteSigner | None:
    path = settings.log_key_path
    if not path.exists():
        return None
    signer = load_signer(path)
    return NoteSigner(signer.actor, signer.private_key)


def _prepare_sqlite(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    log_signer: NoteSigner | None = None,
    migrate: bool = True,
    types: Mapping[str, EntryType] = REGISTRY,
) -> Services:
    """Open the store, bring the schema to the latest migration, build the ledger over the
    entry ``types`` (default: the domain's registry) with the domain's admission checks."""
    _prepare_sqlite(settings.database_url)
    if migrate:
        upgrade(settings.database_url)
    store = open_store(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    ledger = Ledger(
        store,
        log_signer=log_signer or _log_signer(settings),
        types=types,
        admission=ADMISSION,
        clock=clock,
        checkpoint_writes=True,  # each acknowledged entry is provable at once
    )
    vault = KeyVault(settings.master_key) if settings.master_key else None
    blobs = BlobStore(settings.blob_dir)
    accounts = AccountStore(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    return Services(settings, ledger, accounts, vault, blobs)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    log_signer: NoteSigner | None = None,
    migrate: bool = True,
    types: Mapping[str, EntryType] = REGISTRY,
) -> FastAPI:
    """The FastAPI app over the ledger that ``settings`` names (default: the environment),
    admitting and serving the entry ``types`` (default: the domain's registry)."""
    services = build_services(
        settings or Settings(), clock=clock, log_signer=log_signer, migrate=migrate, types=types
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _log_startup(services)
        yield
        services.stop_writes()
        services.accounts.close()
        services.ledger.store.close()

    app = FastAPI(
        title="InsuTrace",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = services
    install_problem_handlers(app)
    app.add_middleware(RefuseDuplicateKeys)  # before any route parses a write body
    install_refusal_log(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(log_routes.router)
    app.include_router(entries.router)
    app.include_router(account_routes.router)
    app.include_router(state_routes.router)
    app.include_router(document_routes.router)
    entries.add_write_routes(app, services.ledger.types)
    app.include_router(label_routes.router)
    app.include_router(rule_routes.router)
    app.include_router(web.router)
    return app


def _log_startup(services: Services) -> None:
    ledger, settings = services.ledger, services.settings
    with ledger.store.read() as tx:
        size = tx.head()[0]
        origin = ledger.origin_of(tx) if size else settings.origin
    log_startup(_version(), database_kind(settings.database_url), size, origin)


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from ``INSUTRACE_*`` environment variables; the
    server's log lines go to stderr in the configured format."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)
