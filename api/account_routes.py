"""Accounts, tokens and server-held keys over HTTP.

GET    /v1/me                the calling account
POST   /v1/accounts          the root authority opens an account (and its first token)
GET    /v1/accounts          the root authority lists accounts
POST   /v1/tokens            a further token for the calling account
DELETE /v1/tokens/current    revoke the token of this request
POST   /v1/orgs/{org}/server-key
                             generate a key the server holds for the organisation (the
                             authority, or the organisation itself); register it with
                             actor.register, or move to it with key.rotate
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from insutrace.api.accounts import Account
from insutrace.api.deps import AccountDep, Services, ServicesDep
from insutrace.api.problems import PROBLEM_RESPONSES
from insutrace.api.schemas import (
    ORG_PATTERN,
    AccountCreate,
    AccountCreated,
    AccountPublic,
    ServerKey,
    TokenCreate,
    TokenIssued,
)
from insutrace.trace.actors import ROOT
from insutrace.trace.errors import Forbidden, RuleViolation
from insutrace.trace.keys import Signer

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["accounts"], responses=PROBLEM_RESPONSES)
READERS = ("regulator", "investigator")


def _public(account: Account) -> AccountPublic:
    return AccountPublic(id=account.id, org=account.org, name=account.name, role=account.role)


def _require_authority(account: Account) -> None:
    if account.role != "authority":
        raise Forbidden(f"only the root authority manages accounts, not {account.role}")


@router.get("/me", response_model=AccountPublic)
async def me(account: AccountDep) -> AccountPublic:
    return _public(account)


def check_account_org(services: Services, body: AccountCreate) -> None:
    """An account's organisation is in the log with that role (authority: ``root``)."""
    if (body.role == "authority") != (body.org == ROOT):
        raise RuleViolation("account.authority", "authority accounts belong to org root only")
    with services.ledger.store.read() as tx:
        actor = tx.get("actor", body.org)
        org = tx.get("org", body.org)
    if actor is None and body.role not in READERS:
        raise RuleViolation(
            "account.org", f"organisation {body.org} is not registered in the log (actor.register)"
        )
    roles = (org or actor or {}).get("roles")
    if isinstance(roles, list) and body.role not in roles and body.org != ROOT:
        raise RuleViolation(
            "account.role",
            f"{body.org} is registered as {', '.join(map(str, roles))}, not as {body.role}",
        )


def _create(services: Services, body: AccountCreate) -> AccountCreated:
    check_account_org(services, body)
    account, token = services.accounts.create_account(body.org, body.role, body.name)
    return AccountCreated(account=_public(account), token=token)


@router.post("/accounts", response_model=AccountCreated, status_code=201)
async def create_account(
    services: ServicesDep, account: AccountDep, body: AccountCreate
) -> AccountCreated:
    """Open an account for an organisation; the token in the answer is shown once."""
    _require_authority(account)
    return await run_in_threadpool(_create, services, body)


@router.get("/accounts", response_model=list[AccountPublic])
async def list_accounts(
    services: ServicesDep,
    account: AccountDep,
    org: Annotated[str | None, Query(pattern=ORG_PATTERN)] = None,
) -> list[AccountPublic]:
    _require_authority(account)
    found = await run_in_threadpool(services.accounts.accounts, org)
    return [_public(a) for a in found]


@router.post("/tokens", response_model=TokenIssued, status_code=201)
async def issue_token(services: ServicesDep, account: AccountDep, body: TokenCreate) -> TokenIssued:
    token = await run_in_threadpool(services.accounts.issue_token, account.id, body.label)
    return TokenIssued(token=token)


_bearer = HTTPBearer(auto_error=False)


@router.delete("/tokens/current", status_code=204, response_class=Response)
async def revoke_token(
    services: ServicesDep,
    account: AccountDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """Revoke the token this request carries."""
    assert credentials is not None  # AccountDep has authenticated it
    await run_in_threadpool(services.accounts.revoke_token, credentials.credentials)
    return Response(status_code=204)


def _new_server_key(services: Services, org: str) -> ServerKey:
    vault = services.require_vault()
    signer = Signer.generate(org)
    services.accounts.store_key(vault, signer)
    return ServerKey(org=org, key_id=signer.key_id, public_key=signer.public_b64)


@router.post("/orgs/{org}/server-key", response_model=ServerKey, status_code=201)
async def new_server_key(
    services: ServicesDep,
    account: AccountDep,
    org: Annotated[str, Path(pattern=ORG_PATTERN)],
) -> ServerKey:
    """A fresh Ed25519 key, sealed under the master key; only its public half leaves."""
    if account.role != "authority" and account.org != org:
        raise Forbidden(f"{account.org} may not create keys for {org}")
    return await run_in_threadpool(_new_server_key, services, org)
