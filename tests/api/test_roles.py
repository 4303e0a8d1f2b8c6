"""Every role against every write endpoint, on both signing paths; ownership; read scopes.

A role the authorization table does not list for a type is refused with 403 before the
ledger is touched; a listed role gets through to the domain (which then judges the
deliberately incomplete payload: 400 or 422); the public (no token) gets 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from insutrace.api.accounts import ROLES
from insutrace.api.authz import WRITE_RULES
from insutrace.trace.domain import HANDLERS
from insutrace.trace.domain.orgs import Role
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

from .conftest import Party, World, org_payload, uscc

WRITE_TYPES = sorted(t for t in HANDLERS if t != "log.genesis")
INCOMPLETE: dict[str, Any] = {"schema": 1}


def test_every_entry_type_has_a_write_rule() -> None:
    assert set(WRITE_TYPES) == set(WRITE_RULES)


def test_account_roles_are_the_domain_roles_and_authority() -> None:
    assert set(ROLES) == {r.value for r in Role} | {"authority"}


def test_every_write_type_is_an_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {f"/v1/{t}" for t in WRITE_TYPES} <= set(paths)


def _expected(role: str, type: str) -> set[int]:
    if role == "public":
        return {401}
    return {400, 422} if role in WRITE_RULES[type].roles else {403}


@pytest.mark.parametrize("role", [*ROLES, "public"])
def test_role_against_every_write_endpoint(
    role: str, client: TestClient, world: World, ledger: Ledger
) -> None:
    acting = world["manufacturer" if role == "public" else role]
    if role != "authority":
        world.hold_key(acting)
    auth = {} if role == "public" else acting.auth
    size = ledger.size()
    wrong: list[str] = []
    for type in WRITE_TYPES:
        want = _expected(role, type)
        server = client.post(f"/v1/{type}", json=INCOMPLETE, headers=auth)
        signed = world.sign(acting.signer, type, INCOMPLETE)
        client_signed = client.post("/v1/entries", content=signed, headers=auth)
        for path, r in (("server", server), ("client", client_signed)):
            if r.status_code not in want:
                wrong.append(f"{type} ({path}): {r.status_code} {r.json().get('detail')}")
            elif r.status_code == 403:
                assert "may not write" in r.json()["detail"]
    assert not wrong, f"role {role}:\n" + "\n".join(wrong)
    assert ledger.size() == size


# -- ownership ----------------------------------------------------------------------------

GTIN = "06901234000016"


def product_payload(gtin: str = GTIN) -> dict[str, Any]:
    return {
        "schema": 1,
        "gtin": gtin,
        "name": "挤塑聚苯板 XPS-30",
        "type": "xps",
        "polymer": "polystyrene",
        "thermosetting": False,
        "standard": "GB/T 10801.2-2018",
    }


def batch_payload(lot: str = "L2026-001", gtin: str = GTIN) -> dict[str, Any]:
    return {
        "schema": 1,
        "product": gtin,
        "lot": lot,
        "quantity": "1200",
        "unit": "m2",
        "production_date": "2026-11-20",
        "declared_class": "B1(B-s1,d0,t1)",
        "conductivity": "0.030",
        "density": "32",
    }


@pytest.fixture
def rival(world: World, ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> Party:
    """A second manufacturer, with its own account and a key the server holds."""
    org = uscc(77)
    signer = signer_for(org)
    ledger.append("actor.register", org_payload(org, "manufacturer", signer.public_b64), root)
    _, token = world.services.accounts.create_account(org, "manufacturer", "rival staff")
    party = Party(org, "manufacturer", signer, token)
    world.hold_key(party)
    world.hold_key(world["manufacturer"])
    return party


def test_a_manufacturer_writes_only_its_own_products_batches(
    client: TestClient, world: World, rival: Party
) -> None:
    maker = world["manufacturer"]
    assert client.post(
        "/v1/product.register", json=product_payload(), headers=maker.auth
    ).is_success
    r = client.post("/v1/batch.register", json=batch_payload(), headers=rival.auth)
    assert r.status_code == 403
    assert f"made by {maker.org}" in r.json()["detail"]
    r = client.post("/v1/batch.register", json=batch_payload(), headers=maker.auth)
    assert r.status_code == 201, r.text
    recall = {"schema": 1, "batch": f"{GTIN}.L2026-001", "reason": "fraud"}
    r = client.post("/v1/batch.recall", json=recall, headers=rival.auth)
    assert r.status_code == 403
    assert "not the manufacturer" in r.json()["detail"]


def test_reads_are_scoped_to_what_the_organisation_is_party_to(
    client: TestClient, world: World, rival: Party
) -> None:
    maker = world["manufacturer"]
    client.post("/v1/product.register", json=product_payload(), headers=maker.auth)
    client.post("/v1/batch.register", json=batch_payload(), headers=maker.auth)
    batch = f"{GTIN}.L2026-001"
    mine = client.get("/v1/entries", params={"batch": batch}, headers=maker.auth)
    assert mine.status_code == 200
    assert [i["entry"]["type"] for i in mine.json()["items"]] == ["batch.register"]
    assert client.get("/v1/entries", params={"batch": batch}, headers=rival.auth).status_code == 403
    assert (
        client.get("/v1/entries", params={"org": maker.org}, headers=rival.auth).status_code == 403
    )
    for reader in ("regulator", "investigator", "authority"):
        r = client.get("/v1/entries", params={"batch": batch}, headers=world[reader].auth)
        assert r.status_code == 200
    assert client.get("/v1/entries", params={"batch": batch}).status_code == 401
    own = client.get("/v1/entries", headers=maker.auth).json()["items"]
    assert {i["entry"]["type"] for i in own} == {
        "actor.register",
        "product.register",
        "batch.register",
    }
