"""What every request handler is given: the app's services and the calling account.

The dependencies are coroutines: a request's bearer token seen before is answered from the
account store's cache in the event loop (:class:`insutrace.api.accounts.TokenCache`), and
only a token not seen (or a cache due for its revocation check) goes to a worker thread
and the database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from insutrace.api.accounts import Account, AccountStore, KeyVault
from insutrace.api.problems import Unauthenticated
from insutrace.api.sessions import SessionStore
from insutrace.api.tilecache import AnswerCache, CheckpointCache, TileCache
from insutrace.api.witnessing import Witnessing
from insutrace.trace.blobs import BlobStore
from insutrace.trace.errors import Forbidden
from insutrace.trace.export import LiveExport
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.sequencer import Sequencer
from insutrace.trace.settings import Settings

__all__ = ["AccountDep", "OptionalAccountDep", "Services", "ServicesDep"]


@dataclass
class Services:
    """Built once by ``create_app``; nothing here is a module-level global."""

    settings: Settings
    ledger: Ledger
    accounts: AccountStore
    vault: KeyVault | None
    blobs: BlobStore
    witnessing: Witnessing | None = None  # the log's witnesses, when INSUTRACE_WITNESSES names any
    tiles: TileCache = field(default_factory=TileCache)  # full tiles, immutable bytes
    checkpoints: CheckpointCache = field(default_factory=CheckpointCache)  # the latest note
    export: LiveExport | None = None  # the static export kept current (--export-dir)
    labels: AnswerCache = field(default_factory=AnswerCache)  # label verdicts, per log head
    sessions: SessionStore = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = SessionStore(self.accounts)

    # organisations' unsealed server-held keys, by org (see entries.server_signer)
    unsealed: dict[str, Signer] = field(default_factory=dict, init=False, repr=False)
    _sequencer: Sequencer | None = field(default=None, init=False, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def sequencer(self) -> Sequencer:
        """The one sequencer every write of this process goes through (started on first use)."""
        with self._guard:
            if self._sequencer is None:
                self._sequencer = Sequencer(self.ledger)
            return self._sequencer

    def stop_writes(self) -> None:
        """Admit the writes already queued, then stop the sequencer (at shutdown)."""
        with self._guard:
            sequencer = self._sequencer
        if sequencer is not None:
            sequencer.close()

    def require_vault(self) -> KeyVault:
        if self.vault is None:
            raise Forbidden(
                "server-held keys are disabled on this server (no INSUTRACE_MASTER_KEY): "
                "sign locally and POST /v1/entries"
            )
        return self.vault


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer itk_…`")


async def optional_account(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Account | None:
    if credentials is None:
        return None
    token = credentials.credentials
    account = services.accounts.cached(token)
    if account is None:
        account = await run_in_threadpool(services.accounts.authenticate, token)
    if account is None:
        raise Unauthenticated("the bearer token is unknown or revoked")
    return account


async def current_account(account: Annotated[Account | None, Depends(optional_account)]) -> Account:
    if account is None:
        raise Unauthenticated("this endpoint needs an API token: Authorization: Bearer itk_…")
    return account


OptionalAccountDep = Annotated[Account | None, Depends(optional_account)]
AccountDep = Annotated[Account, Depends(current_account)]
