"""The HTTP application: ``create_app(settings)`` builds everything, imports build nothing.

Served by ``insutrace serve`` (uvicorn, ``--factory insutrace.api.app:app_from_env``);
OpenAPI at ``/openapi.json``, interactive docs at ``/docs`` and ``/redoc`` (their assets
served by the app: :mod:`insutrace.api.docs`).
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from insutrace.api import (
    account_routes,
    document_routes,
    entries,
    epcis_routes,
    label_routes,
    ledger_views,
    log_routes,
    pages,
    pages_admin,
    pages_investigator,
    pages_lab,
    pages_manufacturer,
    pages_regulator,
    pages_site,
    resolver,
    rule_routes,
    state_routes,
    web,
    webhooks,
)
from insutrace.api.accounts import AccountStore, KeyVault
from insutrace.api.anchor import chain, check_anchor, publish_to
from insutrace.api.bodies import BodyLimit, BodyTooLarge, RefuseDuplicateKeys, too_large_handler
from insutrace.api.csrf import install_csrf_handler
from insutrace.api.deps import Services
from insutrace.api.docs import install_docs
from insutrace.api.limits import MAX_REQUESTS, MAX_WRITES, InFlightLimit
from insutrace.api.log_routes import LogReads
from insutrace.api.logs import (
    RequestIdMiddleware,
    configure_logging,
    install_refusal_log,
    log_startup,
)
from insutrace.api.migrate import upgrade
from insutrace.api.problems import install_problem_handlers
from insutrace.api.queries import refuse_unknown_query
from insutrace.api.tilecache import CheckpointCache
from insutrace.api.urls import RefuseNulInUrls
from insutrace.api.web import CompressPublicPages
from insutrace.api.witnessing import Witnessing, parse_witnesses
from insutrace.trace.blobs import BlobStore
from insutrace.trace.clock import Clock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.entrytype import EntryType
from insutrace.trace.errors import MalformedInput
from insutrace.trace.export import LiveExport
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
* **Resolver**: GS1 Digital Links `/01/{gtin}[/10/{lot}[/21/{serial}]]` redirect to their
  pages or answer a linkset (`?linkType=linkset`); `/.well-known/gs1resolver`.
* **Labels**: `GET /pages/01/{gtin}/10/{lot}/21/{serial}?k=&s=` is the page a label's GS1 Digital
  Link leads to: its verdict (JSON for `Accept: application/json`, else a phone page); web pages at
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
    export_dir: Path | None = None,
) -> Services:
    """Open the store, bring the schema to the latest migration, build the ledger over the
    entry ``types`` (default: the domain's registry) with the domain's admission checks;
    with ``export_dir``, a static export there kept current after each batch."""
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
    anchor = settings.keys_dir / "checkpoint"  # the latest published checkpoint
    check_anchor(ledger, anchor)  # a database behind it (an old copy, truncated): no start
    checkpoints = CheckpointCache(watch=anchor)  # every process rewrites it after a batch
    export = LiveExport(ledger, export_dir) if export_dir is not None else None
    ledger.published = chain(
        ledger.published,
        publish_to(anchor),
        checkpoints.publish,
        export.published if export else None,
    )
    vault = KeyVault(settings.master_key) if settings.master_key else None
    blobs = BlobStore(settings.blob_dir)
    accounts = AccountStore(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    witnesses = parse_witnesses(settings.witnesses)
    witnessing = (
        Witnessing(ledger, witnesses, quorum=settings.witness_quorum) if witnesses else None
    )
    return Services(
        settings, ledger, accounts, vault, blobs, witnessing, checkpoints=checkpoints, export=export
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    log_signer: NoteSigner | None = None,
    migrate: bool = True,
    types: Mapping[str, EntryType] = REGISTRY,
    max_requests: int = MAX_REQUESTS,
    max_writes: int = MAX_WRITES,
    export_dir: Path | None = None,
    freeze: bool = False,
) -> FastAPI:
    """The FastAPI app over the ledger that ``settings`` names (default: the environment),
    admitting and serving the entry ``types`` (default: the domain's registry); at most
    ``max_requests`` requests and ``max_writes`` writes at once (:mod:`insutrace.api.limits`);
    with ``export_dir``, a C2SP static export there kept current (:class:`LiveExport`).
    ``freeze`` (a server process of its own): once started, what start-up built is kept out
    of the cyclic garbage collector's passes (:func:`gc.freeze`), and the server-held keys
    unsealed and the newest tokens cached in the background (:func:`_warm`)."""
    services = build_services(
        settings or Settings(),
        clock=clock,
        log_signer=log_signer,
        migrate=migrate,
        types=types,
        export_dir=export_dir,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _log_startup(services)
        stop = threading.Event()
        witnessing = services.witnessing
        witness_thread = None
        if witnessing is not None:
            lock = services.settings.home / "witnessing.lock"
            witness_thread = threading.Thread(
                target=_witness_loop, args=(witnessing, lock, stop), daemon=True
            )
            witness_thread.start()
        worker = webhooks.Worker(
            services, interval=float(os.environ.get("INSUTRACE_WEBHOOK_INTERVAL", "1"))
        )
        worker.start()  # webhook deliveries, in this process
        if services.export is not None:
            services.export.start()  # the static export, kept current by its own thread
        if freeze:
            # a server process of its own: the keys it signs with unsealed and the tokens it
            # will be shown cached before the first requests ask, in the background; the
            # routes built before the first request reaches them
            threading.Thread(target=_warm, args=(services,), daemon=True).start()
            prepare_routes(_app)
            # what start-up built (modules, routes, templates, caches) lives as long as the
            # process: kept out of the cyclic collector's full passes, which otherwise walk
            # it all and stall every request in flight (the p99 tail)
            gc.collect()
            gc.freeze()
        yield
        if services.export is not None:
            services.export.stop()
        worker.stop()
        stop.set()
        if witness_thread is not None and witnessing is not None:
            witness_thread.join(timeout=10)
            witnessing.close()
        services.stop_writes()
        services.accounts.close()
        services.ledger.store.close()

    app = FastAPI(
        title="InsuTrace",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unknown_query)],
        docs_url=None,  # served with local assets by install_docs
        redoc_url=None,
    )
    app.state.services = services
    install_problem_handlers(app)
    app.add_exception_handler(BodyTooLarge, too_large_handler)
    install_csrf_handler(app)
    pages.install_refusals(app)  # a page refused: the sign-in redirect or a 403 page
    install_docs(app)
    app.add_middleware(CompressPublicPages)  # a page for someone not signed in: gzip
    app.add_middleware(LogReads, services=services)  # tiles, checkpoint: from memory
    app.add_middleware(RefuseDuplicateKeys)  # before any route parses a write body
    # bodies bounded before anything reads them; documents up to the blob store's limit
    app.add_middleware(BodyLimit, limits={"/v1/documents": services.blobs.max_bytes})
    app.add_middleware(InFlightLimit, max_requests=max_requests, max_writes=max_writes)
    install_refusal_log(app)
    app.add_middleware(RefuseNulInUrls)  # before routing: no route sees a NUL in its URL
    app.add_middleware(RequestIdMiddleware)
    app.include_router(log_routes.router)
    app.include_router(entries.router)
    app.include_router(epcis_routes.router)
    app.include_router(webhooks.router)
    app.include_router(account_routes.router)
    app.include_router(state_routes.router)
    app.include_router(document_routes.router)
    entries.add_write_routes(app, services.ledger.types)
    app.include_router(label_routes.router)
    app.include_router(resolver.router)  # after the label routes: their POST comes first
    app.include_router(rule_routes.router)
    app.include_router(ledger_views.router)
    app.include_router(web.router)
    app.include_router(pages_admin.router)
    app.include_router(pages_manufacturer.router)
    app.include_router(pages_lab.router)
    app.include_router(pages_site.router)
    app.include_router(pages_regulator.router)
    app.include_router(pages_investigator.router)
    return app


def _witness_loop(witnessing: Witnessing, lock: Path, stop: threading.Event) -> None:
    """Call the witnesses from one process of the server at a time (a file lock in the
    home directory; another worker takes over if this one exits)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        while not stop.is_set():
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                stop.wait(2.0)
                continue
            try:
                witnessing.run(stop)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# a request that no route matches: matching it walks every route
_NO_ROUTE: dict[str, Any] = {
    "type": "http",
    "method": "GET",
    "path": "/.well-known/insutrace/start-up",
    "root_path": "",
    "headers": [],
    "query_string": b"",
}


def prepare_routes(app: FastAPI) -> None:
    """Start-up: build what matching a request needs. FastAPI builds an included
    router's routes (their models' validators) when a request first reaches the router:
    about 0.3 s for this app's, on the event loop of a worker's first requests, which
    all wait for it (the newly started server's p99 tail). Matching a request that no
    route takes walks them all now."""
    for route in app.router.routes:
        route.matches(_NO_ROUTE)


def _warm(services: Services) -> None:
    """Start-up, in the background: the server-held current keys unsealed
    (:func:`insutrace.api.entries.unseal_current_keys`) and the newest live tokens put in
    the token cache (:meth:`AccountStore.preload_tokens`). A failure is logged; each
    organisation's first write then unseals its key, and each token's first request
    looks it up, as they would have."""
    log = logging.getLogger(__name__)
    steps: list[tuple[str, str, Callable[[], int]]] = [
        ("unsealed %d server-held keys", "unsealing the server-held keys failed",
         lambda: entries.unseal_current_keys(services)),
        ("cached %d live tokens", "loading the token cache failed",
         services.accounts.preload_tokens),
    ]  # fmt: skip
    for done, failed, step in steps:
        try:
            count = step()
        except Exception:
            log.exception(failed)
            continue
        if count:
            log.info(done, count)


def _log_startup(services: Services) -> None:
    ledger, settings = services.ledger, services.settings
    with ledger.store.read() as tx:
        size = tx.head()[0]
        origin = ledger.origin_of(tx) if size else settings.origin
    log_startup(_version(), database_kind(settings.database_url), size, origin)


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from ``INSUTRACE_*`` environment variables (and the
    request limits ``INSUTRACE_MAX_REQUESTS``, ``INSUTRACE_MAX_WRITES``, the static export
    directory ``INSUTRACE_EXPORT_DIR``); the server's log lines go to stderr in the
    configured format."""
    settings = Settings()
    configure_logging(settings)
    export_dir = os.environ.get("INSUTRACE_EXPORT_DIR", "")
    return create_app(
        settings,
        max_requests=_env_int("INSUTRACE_MAX_REQUESTS", MAX_REQUESTS),
        max_writes=_env_int("INSUTRACE_MAX_WRITES", MAX_WRITES),
        export_dir=Path(export_dir) if export_dir else None,
        freeze=True,  # the server's own process
    )


def _env_int(name: str, default: int) -> int:
    """A positive integer from the environment (set by ``insutrace serve`` for its workers)."""
    text = os.environ.get(name, "")
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise MalformedInput(f"{name} must be a positive integer, got {text!r:.20}")
    return int(text)
