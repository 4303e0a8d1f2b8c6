"""Token lifecycle (issue 14 item 6): tokens expire; a token cannot mint one that outlives
it, by expiry or by revocation; an account's tokens are listed and revoked together; the
authority deactivates an account, after which none of its tokens or sessions work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from insutrace.api.accounts import (
    TOKEN_DAYS,
    format_utc,
    hash_token,
    parse_utc,
    token_table,
    utc_now,
)
from insutrace.api.deps import Services


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _expire(services: Services, token: str, when: str) -> None:
    """Move a token's expiry in the database (nothing in the product does: expiry is set
    when a token is issued), and drop the process's token cache, which holds the expiry
    it read (tests/api/test_token_cache.py checks a cached expiry on its own)."""
    with services.accounts.engine.begin() as conn:
        q = update(token_table).where(token_table.c.hash == hash_token(token))
        conn.execute(q.values(expires=when))
    services.accounts.tokens_cache.clear()


def test_a_token_expires(client: TestClient, world: Any, services: Services) -> None:
    maker = world["manufacturer"]
    listed = client.get("/v1/tokens", headers=maker.auth).json()
    assert len(listed) == 1 and listed[0]["live"]
    expires = parse_utc(listed[0]["expires"])
    assert abs(expires - (utc_now() + timedelta(days=TOKEN_DAYS))) < timedelta(minutes=5)
    _expire(services, maker.token, format_utc(utc_now() - timedelta(seconds=1)))
    r = client.get("/v1/me", headers=maker.auth)
    assert r.status_code == 401


def test_a_token_cannot_mint_one_that_outlives_it(
    client: TestClient, world: Any, services: Services
) -> None:
    maker = world["manufacturer"]
    soon = format_utc(utc_now() + timedelta(days=2))
    _expire(services, maker.token, soon)
    r = client.post("/v1/tokens", json={"label": "ci", "days": 300}, headers=maker.auth)
    assert r.status_code == 201
    child = r.json()
    assert child["expires"] == soon  # capped at its parent's expiry
    r = client.post("/v1/tokens", json={"label": "grandchild"}, headers=_auth(child["token"]))
    grandchild = r.json()["token"]
    assert r.json()["expires"] == soon
    # revoking the parent revokes what it minted, and what that minted
    assert client.delete("/v1/tokens/current", headers=maker.auth).status_code == 204
    for token in (maker.token, child["token"], grandchild):
        assert client.get("/v1/me", headers=_auth(token)).status_code == 401
    listed = services.accounts.tokens(services.accounts.authenticate(world["authority"].token).id)
    assert all(t.live for t in listed)  # another account's tokens are untouched


def test_days_out_of_range_are_refused_and_nothing_is_issued(
    client: TestClient, world: Any
) -> None:
    maker = world["manufacturer"]
    for days in (0, 367, -1):
        r = client.post("/v1/tokens", json={"days": days}, headers=maker.auth)
        assert r.status_code == 422
    assert len(client.get("/v1/tokens", headers=maker.auth).json()) == 1


def test_listing_and_revoking_an_accounts_tokens(
    client: TestClient, world: Any, services: Services
) -> None:
    maker, lab, authority = world["manufacturer"], world["testing_lab"], world["authority"]
    maker_id = client.get("/v1/me", headers=maker.auth).json()["id"]
    for label in ("printer", "erp"):
        assert (
            client.post("/v1/tokens", json={"label": label}, headers=maker.auth).status_code == 201
        )
    listed = client.get(f"/v1/accounts/{maker_id}/tokens", headers=authority.auth).json()
    first = next(t for t in listed if t["label"] == "first")
    assert {t["label"] for t in listed} == {"first", "printer", "erp"}
    assert {t["parent"] for t in listed if t["label"] != "first"} == {first["id"]}
    assert all(maker.token not in str(t) and t["live"] for t in listed)
    # another organisation may neither list nor revoke them
    assert client.get(f"/v1/accounts/{maker_id}/tokens", headers=lab.auth).status_code == 403
    assert client.delete(f"/v1/accounts/{maker_id}/tokens", headers=lab.auth).status_code == 403
    # one by id
    erp = next(t for t in listed if t["label"] == "erp")
    r = client.delete(f"/v1/tokens/{erp['id']}", headers=maker.auth)
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert client.delete(f"/v1/tokens/{erp['id']}", headers=lab.auth).status_code == 404
    # all of them at once, by the authority
    r = client.delete(f"/v1/accounts/{maker_id}/tokens", headers=authority.auth)
    assert r.status_code == 200 and r.json() == {"revoked": 2}
    assert client.get("/v1/me", headers=maker.auth).status_code == 401
    assert client.get("/v1/accounts/999999/tokens", headers=authority.auth).status_code == 404


def test_the_authority_deactivates_an_account(
    client: TestClient, world: Any, services: Services
) -> None:
    maker, authority = world["manufacturer"], world["authority"]
    maker_id = client.get("/v1/me", headers=maker.auth).json()["id"]
    r = client.post(f"/v1/accounts/{maker_id}/deactivate", headers=maker.auth)
    assert r.status_code == 403  # not the authority
    r = client.post(f"/v1/accounts/{maker_id}/deactivate", headers=authority.auth)
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/v1/me", headers=maker.auth).status_code == 401
    assert not any(t.live for t in services.accounts.tokens(maker_id))
    r = client.post(f"/v1/accounts/{maker_id}/activate", headers=authority.auth)
    assert r.json()["active"] is True
    assert client.get("/v1/me", headers=maker.auth).status_code == 401  # old tokens stay dead
    own = client.get("/v1/me", headers=authority.auth).json()["id"]
    r = client.post(f"/v1/accounts/{own}/deactivate", headers=authority.auth)
    assert r.status_code == 403
