"""The ledger's list endpoints refuse what they do not understand: a query parameter no
route declares, one given twice, an entry type the ledger does not know — each a 400
problem naming it (issue: "unknown parameters are a 400 naming them"), never a silently
wider or empty answer."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _refused(r: Any, *names: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["rule"] == "input.malformed"
    for name in names:
        assert name in body["detail"], body["detail"]


def test_unknown_filter_is_400_naming_it(client: TestClient, world: Any) -> None:
    auth = world["regulator"].auth
    assert client.get("/v1/entries", params={"type": "product.register"}, headers=auth).is_success
    _refused(client.get("/v1/entries", params={"batchh": "x"}, headers=auth), "'batchh'", "batch")
    _refused(
        client.get("/v1/entries", params={"typ": "x", "zz": "1"}, headers=auth), "'typ'", "'zz'"
    )
    _refused(client.get("/v1/alerts", params={"kinds": "clone"}, headers=auth), "'kinds'")
    _refused(client.get("/v1/public/blacklist", params={"day": "2026-01-01"}), "'day'", "on")
    _refused(client.get("/v1/public/credit", params={"q": "x", "name": "y"}), "'name'")
    _refused(client.get("/v1/head", params={"x": "1"}), "'x'", "none")


def test_unknown_type_is_400_not_an_empty_page(client: TestClient, world: Any) -> None:
    auth = world["regulator"].auth
    _refused(client.get("/v1/entries", params={"type": "product.registr"}, headers=auth),
             "'product.registr'", "product.register")  # fmt: skip


def test_unknown_alert_kind_is_400(client: TestClient, world: Any) -> None:
    auth = world["regulator"].auth
    assert client.get("/v1/alerts", params={"kind": "clone"}, headers=auth).status_code == 200
    _refused(client.get("/v1/alerts", params={"kind": "clones"}, headers=auth), "'clones'", "clone")


def test_a_filter_given_twice_is_400(client: TestClient, world: Any) -> None:
    auth = world["regulator"].auth
    r = client.get("/v1/entries?type=product.register&type=batch.register", headers=auth)
    _refused(r, "'type'", "more than once")


def test_resolver_and_pages_pass_other_parameters_on(client: TestClient) -> None:
    """Outside /v1/ the rule does not apply: a Digital Link's query string is the
    resolver's to pass on (GS1-Conformant Resolver: query string forwarded)."""
    r = client.get("/01/09520123456788?foo=bar", follow_redirects=False)
    assert r.status_code == 404  # an unknown GTIN, not an unknown parameter
