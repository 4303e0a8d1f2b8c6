"""Accounts, tokens and server-held keys over HTTP.

GET    /v1/me                the calling account
POST   /v1/accounts          the root authority opens an account (and its first token)
GET    /v1/accounts          the root authority lists accounts
POST   /v1/accounts/{id}/deactivate
                             the root authority deactivates an account: its tokens are
                             revoked and its sessions end; it authenticates nobody again
POST   /v1/accounts/{id}/activate
                             the root authority lets it sign in again (with new tokens)
GET    /v1/accounts/{id}/tokens
                             the account's tokens (never the tokens themselves): the
                             authority, or the account itself
DELETE /v1/accounts/{id}/tokens
                             revoke every token of the account (the authority, or itself)
POST   /v1/tokens            a further token for the calling account, expiring no later
                             than the token asking, and revoked with it
GET    /v1/tokens            the calling account's tokens
DELETE /v1/tokens/current    revoke the token of this request (and those minted from it)
DELETE /v1/tokens/{id}       revoke one of the calling account's tokens by its id
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
from pydantic import BaseModel, Field

from insutrace.api.accounts import Account, TokenInfo, hash_token
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
AccountId = Annotated[int, Path(ge=1, le=2**31 - 1)]
TokenId = Annotated[str, Path(pattern="^[0-9a-f]{12}$", description="First 12 hex of its hash.")]


class TokenPublic(BaseModel):
    """One token as its account may see it: never the token, only the start of its hash."""

    id: str = Field(description="The first 12 hex digits of the token's SHA-256.")
    label: str
    created: str
    expires: str | None
    revoked: str | None
    parent: str | None = Field(description="The id of the token that minted it, if any.")
    live: bool


class Revoked(BaseModel):
    revoked: int = Field(description="How many live tokens were revoked.")


class AccountState(BaseModel):
    account: AccountPublic
    active: bool


def _token(info: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=info.id,
        label=info.label,
        created=info.created,
        expires=info.expires,
        revoked=info.revoked,
        parent=info.parent,
        live=info.live,
    )


def _public(account: Account) -> AccountPublic:
    return AccountPublic(id=account.id, org=account.org, name=account.name, role=account.role)


def _self_or_authority(account: Account, account_id: int) -> None:
    if account.role != "authority" and account.id != account_id:
        raise Forbidden(
            f"only the root authority manages another account's tokens ({account.role})"
        )


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


_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@router.post("/accounts/{account_id}/deactivate", response_model=AccountState)
async def deactivate_account(
    services: ServicesDep, account: AccountDep, account_id: AccountId
) -> AccountState:
    """Deactivate an account: every token is revoked, every session ends (the authority)."""
    _require_authority(account)
    if account_id == account.id:
        raise Forbidden("the authority cannot deactivate the account it is using")
    done = await run_in_threadpool(services.accounts.set_active, account_id, False)
    return AccountState(account=_public(done), active=done.active)


@router.post("/accounts/{account_id}/activate", response_model=AccountState)
async def activate_account(
    services: ServicesDep, account: AccountDep, account_id: AccountId
) -> AccountState:
    """Let a deactivated account authenticate again; its old tokens stay revoked."""
    _require_authority(account)
    done = await run_in_threadpool(services.accounts.set_active, account_id, True)
    return AccountState(account=_public(done), active=done.active)


@router.get("/accounts/{account_id}/tokens", response_model=list[TokenPublic])
async def account_tokens(
    services: ServicesDep, account: AccountDep, account_id: AccountId
) -> list[TokenPublic]:
    _self_or_authority(account, account_id)
    await run_in_threadpool(services.accounts.account, account_id)  # 404 for no account
    found = await run_in_threadpool(services.accounts.tokens, account_id)
    return [_token(t) for t in found]


@router.delete("/accounts/{account_id}/tokens", response_model=Revoked)
async def revoke_account_tokens(
    services: ServicesDep, account: AccountDep, account_id: AccountId
) -> Revoked:
    """Revoke every token of the account (a leak: the authority, or the account itself)."""
    _self_or_authority(account, account_id)
    await run_in_threadpool(services.accounts.account, account_id)
    return Revoked(revoked=await run_in_threadpool(services.accounts.revoke_all_tokens, account_id))


@router.post("/tokens", response_model=TokenIssued, status_code=201)
async def issue_token(
    services: ServicesDep, account: AccountDep, body: TokenCreate, credentials: Credentials
) -> TokenIssued:
    """A further token, minted by the token of this request: it expires no later than that
    token and is revoked with it."""
    assert credentials is not None  # AccountDep has authenticated it

    def issue() -> TokenIssued:
        token = services.accounts.issue_token(
            account.id, body.label, days=body.days, parent=credentials.credentials
        )
        mine = [t for t in services.accounts.tokens(account.id) if t.id == _id_of(token)]
        return TokenIssued(token=token, expires=mine[0].expires if mine else None)

    return await run_in_threadpool(issue)


def _id_of(token: str) -> str:
    return hash_token(token)[:12]


@router.get("/tokens", response_model=list[TokenPublic])
async def list_tokens(services: ServicesDep, account: AccountDep) -> list[TokenPublic]:
    """The calling account's tokens, newest first, live or not."""
    return [_token(t) for t in await run_in_threadpool(services.accounts.tokens, account.id)]


@router.delete("/tokens/current", status_code=204, response_class=Response)
async def revoke_token(
    services: ServicesDep, account: AccountDep, credentials: Credentials
) -> Response:
    """Revoke the token this request carries, and every token minted from it."""
    assert credentials is not None  # AccountDep has authenticated it
    await run_in_threadpool(services.accounts.revoke_token, credentials.credentials)
    return Response(status_code=204)


@router.delete("/tokens/{token_id}", response_model=Revoked)
async def revoke_token_by_id(
    services: ServicesDep, account: AccountDep, token_id: TokenId
) -> Revoked:
    """Revoke one of the calling account's tokens (and those minted from it)."""
    done = await run_in_threadpool(services.accounts.revoke_token_id, account.id, token_id)
    return Revoked(revoked=done)


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
