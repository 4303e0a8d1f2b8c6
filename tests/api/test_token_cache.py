"""The bearer-token cache (api/accounts.py ``TokenCache``) and the write fast path
(api/entries.py ``FastWrites``): a cached token costs no database work, and a revocation
or deactivation takes effect at once in the process that made it and within twice
``TOKEN_REFRESH`` in any other; a write answered on the fast path is answered as the
declared route answers it, and anything else goes to that route."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import support
from fastapi.testclient import TestClient
from sqlalchemy import event

from insutrace.api import accounts as accounts_module
from insutrace.api.accounts import TOKEN_REFRESH, AccountStore
from insutrace.api.deps import Services
from insutrace.api.entries import FastWrites
from insutrace.trace.identifiers import gtin_check_digit
from insutrace.trace.ledger import Ledger

from .conftest import World
from .test_writes import PRODUCT, assert_problem, pointers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stores(
    store_url: str, services: Services
) -> Iterator[tuple[AccountStore, AccountStore, Clock]]:
    """Two account stores on one database, as two server processes have (``services``
    brought the schema up); one clock for both."""
    clock = Clock()
    here = AccountStore(store_url, clock=clock)
    there = AccountStore(store_url, clock=clock)
    yield here, there, clock
    here.close()
    there.close()


def _statements(store: AccountStore) -> list[str]:
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: seen.append(str(a[2])))
    return seen


def _wait_for_refresh() -> None:
    for thread in threading.enumerate():
        if thread.name == "insutrace-tokens":
            thread.join(timeout=10)


def test_a_seen_token_is_answered_without_the_database(
    stores: tuple[AccountStore, AccountStore, Clock],
) -> None:
    here, _, _ = stores
    account, token = here.create_account("91350100M000100Y43", "manufacturer", "line 1")
    assert here.cached(token) is None  # never seen: look it up
    assert here.authenticate(token) == account
    seen = _statements(here)
    for _ in range(5):
        assert here.cached(token) == account
        assert here.authenticate(token) == account
    assert seen == []
    assert here.cached("itk_" + "x" * 43) is None
    assert here.authenticate("itk_" + "x" * 43) is None
    assert len(here.tokens_cache) == 1  # unknown tokens are not kept


def test_revocation_here_takes_effect_at_once(
    stores: tuple[AccountStore, AccountStore, Clock],
) -> None:
    here, _, _ = stores
    account, token = here.create_account("91350100M000100Y43", "manufacturer", "line 1")
    child = here.issue_token(account.id, "child", parent=token)
    other, other_token = here.create_account("91350100M000100Y43", "manufacturer", "line 2")
    for t in (token, child, other_token):
        assert here.authenticate(t) is not None
    here.revoke_token(token)
    assert here.cached(token) is None and here.authenticate(token) is None
    assert here.cached(child) is None and here.authenticate(child) is None
    assert here.authenticate(other_token) == other  # looked up again, still live
    here.set_active(other.id, False)
    assert here.cached(other_token) is None and here.authenticate(other_token) is None


@pytest.mark.parametrize("how", ["revoke", "deactivate"])
def test_revocation_by_another_process_takes_effect_within_twice_the_refresh(
    stores: tuple[AccountStore, AccountStore, Clock], how: str
) -> None:
    here, there, clock = stores
    account, token = there.create_account("91350100M000100Y43", "manufacturer", "line 1")
    assert here.authenticate(token) == account
    if how == "revoke":
        there.revoke_token(token)
    else:
        there.set_active(account.id, False)
    assert there.authenticate(token) is None
    # the bound, said honestly: the other process still answers from its cache for now
    clock.now += TOKEN_REFRESH / 2
    assert here.cached(token) == account
    # the watermark is due: the next hit is still answered, and starts its background read
    clock.now += TOKEN_REFRESH / 2
    assert here.cached(token) == account
    _wait_for_refresh()
    assert here.cached(token) is None  # the watermark moved: the cache was cleared
    assert here.authenticate(token) is None


def test_without_a_refresh_no_hit_outlives_twice_the_refresh(
    stores: tuple[AccountStore, AccountStore, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, there, clock = stores
    account, token = there.create_account("91350100M000100Y43", "manufacturer", "line 1")
    assert here.authenticate(token) == account
    monkeypatch.setattr(here, "refresh_tokens", lambda: None)  # the background read never lands
    there.revoke_token(token)
    clock.now += TOKEN_REFRESH * 1.5
    assert here.cached(token) == account
    clock.now += TOKEN_REFRESH * 0.5
    assert here.cached(token) is None
    assert here.authenticate(token) is None  # the lookup reads the watermark, then the token


def test_a_cached_token_still_expires(
    stores: tuple[AccountStore, AccountStore, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, _, _ = stores
    account, token = here.create_account("91350100M000100Y43", "manufacturer", "line 1")
    assert here.authenticate(token) == account
    expires = accounts_module.parse_utc(here.tokens(account.id)[0].expires or "").timestamp()
    monkeypatch.setattr(accounts_module.time, "time", lambda: expires + 1)
    assert here.cached(token) is None


def test_a_lookup_that_began_before_a_clear_is_not_kept(
    stores: tuple[AccountStore, AccountStore, Clock],
) -> None:
    here, _, _ = stores
    account, token = here.create_account("91350100M000100Y43", "manufacturer", "line 1")
    cache = here.tokens_cache
    here.authenticate(token)
    epoch = cache.epoch
    cache.clear()  # e.g. a revocation between the lookup's read and its put
    cache.put(accounts_module.hash_token(token), account, None, epoch)
    assert here.cached(token) is None


def test_start_up_caches_the_newest_live_tokens_and_no_other(
    stores: tuple[AccountStore, AccountStore, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server process's start-up puts live tokens of active accounts in its cache, the
    newest first up to its limit, so their first requests need no lookup; revoked and
    expired tokens and deactivated accounts' tokens are not put, and a revocation after
    it still takes effect as for any cached token."""
    here, there, clock = stores
    live, live_token = there.create_account("91350100M000100Y43", "manufacturer", "line 1")
    older, older_token = there.create_account("91350100M000100Y43", "manufacturer", "line 0")
    _, revoked_token = there.create_account("91350100M000100Y43", "manufacturer", "r")
    there.revoke_token(revoked_token)
    gone, gone_token = there.create_account("91350100M000100Y43", "manufacturer", "gone")
    there.set_active(gone.id, False)
    stale, stale_token = there.create_account("91350100M000100Y43", "manufacturer", "stale")
    with there.engine.begin() as conn:  # the newest, but expired
        conn.execute(
            accounts_module.token_table.update()
            .where(accounts_module.token_table.c.account_id == stale.id)
            .values(expires="2020-01-01T00:00:00Z", created="2999-01-01T00:00:00Z")
        )
        conn.execute(
            accounts_module.token_table.update()
            .where(accounts_module.token_table.c.account_id == older.id)
            .values(created="2000-01-01T00:00:00Z")
        )
    assert here.preload_tokens(limit=2) == 1  # the two newest: the expired one, then live
    seen = _statements(here)
    assert here.cached(live_token) == live
    assert here.cached(older_token) is None  # beyond the limit: looked up on first use
    assert seen == []
    assert here.preload_tokens() == 2
    assert here.cached(older_token) == older
    for token in (revoked_token, gone_token, stale_token):
        assert here.cached(token) is None
        assert here.authenticate(token) is None
    there.revoke_token(live_token)
    clock.now += TOKEN_REFRESH
    here.cached(live_token)  # the watermark is due: read in the background
    _wait_for_refresh()
    assert here.cached(live_token) is None


# -- the write fast path ------------------------------------------------------------------


def _fast(services: Services, client: TestClient) -> FastWrites:
    routes = [r for r in client.app.router.routes if isinstance(r, FastWrites)]  # type: ignore[attr-defined]
    assert len(routes) == 1
    return routes[0]


def _product(n: int) -> dict[str, Any]:
    body = f"0690123420{n:03d}"
    return {**PRODUCT, "gtin": body + gtin_check_digit(body), "name": f"fast product {n}"}


def test_writes_take_the_fast_path_once_the_token_is_seen(
    client: TestClient, world: World, ledger: Ledger, services: Services
) -> None:
    party = world["manufacturer"]
    world.hold_key(party)
    fast = _fast(services, client)
    services.accounts.tokens_cache.clear()
    r = client.post("/v1/product.register", json=_product(1), headers=party.auth)
    assert r.status_code == 201, r.text
    assert fast.taken == 0  # a token not seen: the declared route looked it up
    r = client.post("/v1/product.register", json=_product(2), headers=party.auth)
    assert r.status_code == 201, r.text
    assert fast.taken == 1
    body = r.json()
    assert ledger.entry(body["seq"]).payload["gtin"] == _product(2)["gtin"]
    assert body["checkpoint_size"] == ledger.size()
    # the same request again, with an Idempotency-Key: appended once, then the receipt
    headers = {**party.auth, "Idempotency-Key": "fast-1"}
    first = client.post("/v1/product.register", json=_product(3), headers=headers)
    again = client.post("/v1/product.register", json=_product(3), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "duplicate": True}
    other = client.post("/v1/product.register", json=_product(4), headers=headers)
    assert "Idempotency-Key" in str(assert_problem(other, 409, "conflict")["detail"])
    assert fast.taken == 4  # the refusal too: the problem handlers answered it


def test_what_the_fast_path_is_not_sure_of_the_declared_route_answers(
    client: TestClient, world: World, ledger: Ledger, services: Services
) -> None:
    party = world["manufacturer"]
    world.hold_key(party)
    fast = _fast(services, client)
    assert client.post("/v1/product.register", json=_product(5), headers=party.auth).is_success
    taken, size = fast.taken, ledger.size()
    url = "/v1/product.register"
    r = client.post(url + "?x=1", json=_product(6), headers=party.auth)
    assert "unknown query parameter" in str(assert_problem(r, 400, "malformed-input")["detail"])
    r = client.post(url, json={**_product(6), "type": "straw"}, headers=party.auth)
    assert pointers(assert_problem(r, 422, "invalid-request")) == ["/payload/type"]
    r = client.post(url, json=_product(6), headers={**party.auth, "Idempotency-Key": "k" * 201})
    assert r.status_code == 422, r.text
    r = client.post(url, json=_product(6), headers={"Authorization": "Bearer itk_unknown"})
    assert_problem(r, 401, "unauthenticated")
    r = client.post(url, json=_product(6), headers=world["distributor"].auth)
    assert "may not write" in str(assert_problem(r, 403, "forbidden")["detail"])
    assert ledger.size() == size
    assert fast.taken == taken  # every one of them went the declared way


def test_sql_round_trips_per_entry_of_concurrent_served_writes(
    client: TestClient,
    world: World,
    ledger: Ledger,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Concurrent server-signed writes through the whole ASGI app: the account store sends
    nothing, the ledger's store a constant handful of statements per entry, one commit
    per batch."""
    import asyncio

    import httpx

    from insutrace.trace.store.sql import counted_statements

    party = world["manufacturer"]
    world.hold_key(party)
    warm = client.post("/v1/product.register", json=_product(100), headers=party.auth)
    assert warm.status_code == 201, warm.text
    cache = services.accounts.tokens_cache
    frozen = cache.clock()
    monkeypatch.setattr(cache, "clock", lambda: frozen)
    _wait_for_refresh()  # one the warm-up may have started
    services.accounts.refresh_tokens()  # read at the frozen time: fresh from now on
    n, size, batches = 32, ledger.size(), services.sequencer.batches

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await asyncio.gather(
                *(
                    http.post("/v1/product.register", json=_product(101 + i), headers=party.auth)
                    for i in range(n)
                )
            )

    with counted_statements() as sent, support.account_statements(services.accounts.engine) as seen:
        answers = asyncio.run(send())
    assert [r.status_code for r in answers] == [201] * n
    assert ledger.size() == size + n
    commits = services.sequencer.batches - batches
    per_entry = sent.statements / n
    with capsys.disabled():
        print(
            f"\n{n} concurrent server-signed HTTP writes: {commits} batch(es), one commit each; "
            f"SQL statements per entry: ledger store {per_entry:.2f}, accounts "
            f"{seen.count / n:.2f}"
        )
    assert seen.count == 0
    assert commits < n  # batched: fewer commits than entries
    assert per_entry <= 12
