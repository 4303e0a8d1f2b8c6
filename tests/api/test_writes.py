"""Writing through the API: client-signed statements (and v 1 entries that name their own
place), server-signed entries, retries, problems."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from unittest.mock import patch

import fastapi.routing
import pytest
import support
from fastapi import FastAPI
from fastapi.testclient import TestClient

from insutrace.api.app import create_app, prepare_routes
from insutrace.api.deps import Services
from insutrace.api.entries import unseal_current_keys
from insutrace.trace.clock import FixedClock, format_time
from insutrace.trace.entry import Statement, new_statement_id
from insutrace.trace.identifiers import gtin_check_digit
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.merkle import leaf_hash
from insutrace.trace.store.sql import counted_statements

from .conftest import World, org_payload, uscc

PROBLEM = "application/problem+json"


def assert_problem(r: object, status: int, slug: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, object] = r.json()
    assert body["type"] == f"urn:insutrace:problem:{slug}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    return body


def rotate(world: World, role: str, signer_for: Callable[[str], Signer]) -> bytes:
    party = world[role]
    fresh = signer_for(party.org + "/2")
    return world.sign(party.signer, "key.rotate", {"public_key": fresh.public_b64})


def test_client_signed_entry_is_logged_and_provable(
    client: TestClient, world: World, ledger: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    data = rotate(world, "manufacturer", signer_for)
    r = client.post("/v1/entries", content=data, headers=world["manufacturer"].auth)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["seq"] == ledger.size() - 1
    assert body["leaf"] == leaf_hash(data).hex()
    assert body["duplicate"] is False
    assert body["checkpoint_size"] == ledger.size()
    assert ledger.entry_bytes(body["seq"]) == data
    proof = client.get(f"/log/entries/{body['seq']}.tlog-proof")
    assert proof.status_code == 200


def test_resubmission_returns_the_original_result(
    client: TestClient, world: World, ledger: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    data = rotate(world, "contractor", signer_for)
    auth = world["contractor"].auth
    first = client.post("/v1/entries", content=data, headers=auth).json()
    size = ledger.size()
    again = client.post("/v1/entries", content=data, headers=auth)
    assert again.status_code == 200
    assert again.json() == {**first, "duplicate": True}
    assert ledger.size() == size


def statement(
    world: World, signer: Signer, type: str, payload: dict[str, object], **extra: object
) -> bytes:
    """A v 2 statement signed by ``signer``: no seq, no prev (the log places it)."""
    fields: dict[str, object] = {"id": new_statement_id(), **extra}
    return (
        Statement(
            type=type,
            actor=signer.actor,
            key=signer.key_id,
            time=format_time(world.clock.now()),
            payload=payload,
            **fields,  # type: ignore[arg-type]
        )
        .signed(signer)
        .to_bytes()
    )


def test_statements_signed_on_one_view_are_all_logged_in_arrival_order(
    client: TestClient, world: World, ledger: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    maker, lab = world["manufacturer"], world["testing_lab"]
    first = statement(
        world, maker.signer, "key.rotate", {"public_key": signer_for("m2").public_b64}
    )
    second = statement(world, lab.signer, "key.rotate", {"public_key": signer_for("l2").public_b64})
    size = ledger.size()
    b = client.post("/v1/entries", content=second, headers=lab.auth)
    a = client.post("/v1/entries", content=first, headers=maker.auth)
    assert (b.status_code, a.status_code) == (201, 201), (b.text, a.text)
    assert (b.json()["seq"], a.json()["seq"]) == (size, size + 1)
    assert a.json()["prev"] == b.json()["leaf"]
    logged = ledger.entry(size + 1)
    assert logged.statement_bytes() == first and logged.prev == b.json()["leaf"]
    assert a.json()["checkpoint"].startswith(f"{ledger.log_verifier().name}\n{size + 2}\n")


def test_a_statement_id_is_logged_once(
    client: TestClient, world: World, ledger: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    party = world["contractor"]
    data = statement(
        world,
        party.signer,
        "key.rotate",
        {"public_key": signer_for("c2").public_b64},
        id="contractor-rotation-1",
    )
    first = client.post("/v1/entries", content=data, headers=party.auth)
    assert first.status_code == 201, first.text
    size = ledger.size()
    again = client.post("/v1/entries", content=data, headers=party.auth)
    assert again.status_code == 200 and again.json() == {**first.json(), "duplicate": True}
    other = statement(
        world,
        party.signer,
        "key.rotate",
        {"public_key": signer_for("c3").public_b64},
        id="contractor-rotation-1",
    )
    body = assert_problem(
        client.post("/v1/entries", content=other, headers=party.auth), 409, "conflict"
    )
    assert "contractor-rotation-1" in str(body["detail"]) and f"entry {size - 1}" in str(
        body["detail"]
    )
    assert ledger.size() == size


def test_a_statement_attests_the_checkpoint_its_signer_saw(
    client: TestClient, world: World, ledger: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    party = world["distributor"]
    cp = ledger.latest_checkpoint().checkpoint
    seen = {"size": cp.size, "root": base64.b64encode(cp.root).decode()}
    payload = {"public_key": signer_for("d2").public_b64}
    forked = {**seen, "root": base64.b64encode(bytes(32)).decode()}
    bad = statement(world, party.signer, "key.rotate", payload, seen=forked)
    body = assert_problem(
        client.post("/v1/entries", content=bad, headers=party.auth), 422, "rule-violation"
    )
    assert body["rule"] == "log.seen" and "forked" in str(body["detail"])
    ahead = statement(
        world, party.signer, "key.rotate", payload, seen={**seen, "size": cp.size + 5}
    )
    assert_problem(
        client.post("/v1/entries", content=ahead, headers=party.auth), 422, "rule-violation"
    )
    good = statement(world, party.signer, "key.rotate", payload, seen=seen)
    r = client.post("/v1/entries", content=good, headers=party.auth)
    assert r.status_code == 201, r.text
    assert ledger.entry(r.json()["seq"]).seen == seen


def test_a_placed_leaf_is_not_a_statement(client: TestClient, world: World, ledger: Ledger) -> None:
    party = world["manufacturer"]
    size = ledger.size()
    leaf = ledger.entry_bytes(size - 1)
    body = assert_problem(
        client.post("/v1/entries", content=leaf, headers=party.auth), 400, "malformed-input"
    )
    assert "without the log's member" in str(body["detail"])
    assert ledger.size() == size


def test_stale_head_is_409_and_a_re_signed_entry_succeeds(
    client: TestClient, world: World, signer_for: Callable[[str], Signer]
) -> None:
    party = world["supervisor"]
    fresh = signer_for("fresh-key")
    stale = world.sign(party.signer, "key.rotate", {"public_key": fresh.public_b64})
    other = rotate(world, "manufacturer", signer_for)
    assert client.post("/v1/entries", content=other, headers=world["manufacturer"].auth).is_success
    r = client.post("/v1/entries", content=stale, headers=party.auth)
    body = assert_problem(r, 409, "conflict")
    assert "re-sign" in str(body["detail"])
    resigned = world.sign(party.signer, "key.rotate", {"public_key": fresh.public_b64})
    assert client.post("/v1/entries", content=resigned, headers=party.auth).status_code == 201


def test_head_names_the_next_seq_and_prev(client: TestClient, ledger: Ledger) -> None:
    head = client.get("/v1/head").json()
    assert head["size"] == ledger.size()
    assert head["head"] == leaf_hash(ledger.entry_bytes(ledger.size() - 1)).hex()
    assert head["origin"] == ledger.log_verifier().name


def test_forged_signature_is_422_with_the_entry_index(
    client: TestClient, world: World, signer_for: Callable[[str], Signer]
) -> None:
    party = world["distributor"]
    entry = json.loads(rotate(world, "distributor", signer_for))
    entry["payload"]["public_key"] = signer_for("other").public_b64
    data = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    body = assert_problem(
        client.post("/v1/entries", content=data, headers=party.auth), 422, "verification-failed"
    )
    assert body["index"] == entry["seq"]


def test_a_signature_not_in_base64_is_422_and_nothing_is_written(
    client: TestClient, world: World, ledger: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    party = world["distributor"]
    entry = json.loads(rotate(world, "distributor", signer_for))
    size = ledger.size()
    for sig in ("签名", "not base64!", ""):  # not ASCII, not the base64 alphabet, empty
        entry["sig"] = sig
        data = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        r = client.post("/v1/entries", content=data.encode(), headers=party.auth)
        body = assert_problem(r, 422, "verification-failed")
        assert "does not verify" in str(body["detail"])
    assert ledger.size() == size


def test_entry_far_from_the_server_clock_is_a_rule_violation(
    client: TestClient, world: World, clock: FixedClock, signer_for: Callable[[str], Signer]
) -> None:
    clock.tick(timedelta(hours=-1))
    data = rotate(world, "manufacturer", signer_for)
    clock.tick(timedelta(hours=1))
    r = client.post("/v1/entries", content=data, headers=world["manufacturer"].auth)
    body = assert_problem(r, 422, "rule-violation")
    assert body["rule"] == "entry.time"
    assert "clause" in body


def test_malformed_entries_are_400(client: TestClient, world: World) -> None:
    auth = world["manufacturer"].auth
    for data in (b"", b"not json", b"[]", b'{"v":1}', b'{"b":1, "a":2}', b"\xff" * 10):
        assert_problem(
            client.post("/v1/entries", content=data, headers=auth), 400, "malformed-input"
        )


def test_a_token_signs_only_for_its_own_organisation(
    client: TestClient, world: World, signer_for: Callable[[str], Signer]
) -> None:
    data = rotate(world, "manufacturer", signer_for)
    r = client.post("/v1/entries", content=data, headers=world["contractor"].auth)
    assert "cannot write an entry whose actor is" in str(
        assert_problem(r, 403, "forbidden")["detail"]
    )


def test_writes_need_a_valid_token(
    client: TestClient, world: World, services: Services, signer_for: Callable[[str], Signer]
) -> None:
    data = rotate(world, "manufacturer", signer_for)
    r = client.post("/v1/entries", content=data)
    assert_problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"].startswith("Bearer")
    bad = {"Authorization": "Bearer itk_not-a-token"}
    assert_problem(client.post("/v1/entries", content=data, headers=bad), 401, "unauthenticated")
    token = world["manufacturer"].token
    services.accounts.revoke_token(token)
    r = client.post("/v1/entries", content=data, headers=world["manufacturer"].auth)
    assert_problem(r, 401, "unauthenticated")


def test_server_signed_write_with_idempotency_key(
    client: TestClient, world: World, ledger: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    org = uscc(900)
    payload = org_payload(org, "manufacturer", signer_for(org).public_b64)
    auth = {**world["authority"].auth, "Idempotency-Key": "register-900"}
    first = client.post("/v1/actor.register", json=payload, headers=auth)
    assert first.status_code == 201, first.text
    entry = ledger.entry(first.json()["seq"])
    assert (entry.actor, entry.type, entry.payload) == ("root", "actor.register", payload)
    size = ledger.size()
    again = client.post("/v1/actor.register", json=payload, headers=auth)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert ledger.size() == size
    other = {**payload, "name": "another name"}
    assert_problem(client.post("/v1/actor.register", json=other, headers=auth), 409, "conflict")


def test_refused_server_write_releases_its_idempotency_key(
    client: TestClient, world: World, signer_for: Callable[[str], Signer]
) -> None:
    party = world["manufacturer"]
    payload = org_payload(party.org, "manufacturer", signer_for("x").public_b64)
    auth = {**world["authority"].auth, "Idempotency-Key": "dup"}
    r = client.post("/v1/actor.register", json=payload, headers=auth)
    assert_problem(r, 422, "rule-violation")
    assert_problem(
        client.post("/v1/actor.register", json=payload, headers=auth), 422, "rule-violation"
    )


def test_server_signs_only_with_keys_it_holds(
    client: TestClient, world: World, signer_for: Callable[[str], Signer]
) -> None:
    party = world["testing_lab"]
    payload = {"public_key": signer_for("lab-2").public_b64}
    r = client.post("/v1/key.rotate", json=payload, headers=party.auth)
    assert "does not hold" in str(assert_problem(r, 403, "forbidden")["detail"])
    world.hold_key(party)
    assert client.post("/v1/key.rotate", json=payload, headers=party.auth).status_code == 201


def test_server_key_endpoint_then_register(
    client: TestClient, world: World, ledger: Ledger
) -> None:
    org = uscc(901)
    auth = world["authority"].auth
    key = client.post(f"/v1/orgs/{org}/server-key", headers=auth).json()
    payload = org_payload(org, "manufacturer", key["public_key"])
    assert client.post("/v1/actor.register", json=payload, headers=auth).status_code == 201
    created = client.post(
        "/v1/accounts", json={"org": org, "role": "manufacturer", "name": "web"}, headers=auth
    ).json()
    mine = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/v1/me", headers=mine).json()["org"] == org
    other = world["contractor"].org
    r = client.post(f"/v1/orgs/{other}/server-key", headers=mine)
    assert_problem(r, 403, "forbidden")


def test_validation_errors_are_problem_json(client: TestClient, world: World) -> None:
    r = client.get("/v1/entries", params={"limit": 0}, headers=world["regulator"].auth)
    body = assert_problem(r, 422, "invalid-request")
    assert isinstance(body["errors"], list)
    r = client.post("/v1/actor.register", content=b"[1]", headers=world["authority"].auth)
    assert_problem(r, 422, "invalid-request")


def test_unknown_routes_are_problem_json(client: TestClient) -> None:
    assert_problem(client.get("/nope"), 404, "not-found")
    assert_problem(client.put("/log/checkpoint"), 405, "method-not-allowed")


# -- typed payloads (trace/domain/payloads.py) ------------------------------------------------

PRODUCT = {
    "schema": 1,
    "gtin": "06901234000016",
    "name": "挤塑聚苯板 XPS-30",
    "name_en": None,
    "type": "xps",
    "polymer": "polystyrene",
    "thermosetting": False,
    "standard": "GB/T 10801.2-2018",
}


def pointers(body: dict[str, object]) -> list[str]:
    errors = body["errors"]
    assert isinstance(errors, list) and errors
    assert all(set(e) == {"pointer", "detail"} and e["detail"] for e in errors)
    return [str(e["pointer"]) for e in errors]


def test_server_signed_body_refused_by_its_model_points_at_the_member(
    client: TestClient, world: World, ledger: Ledger
) -> None:
    party = world["manufacturer"]
    world.hold_key(party)
    size = ledger.size()
    wrong = {**PRODUCT, "thermosetting": "false", "colour": "pink"}
    del wrong["gtin"]
    r = client.post("/v1/product.register", json=wrong, headers=party.auth)
    body = assert_problem(r, 422, "invalid-request")
    assert set(pointers(body)) == {"/payload/gtin", "/payload/thermosetting", "/payload/colour"}
    assert "product.register: /payload/" in str(body["detail"])
    lines = {"schema": 1, "number": "D1", "to": world["distributor"].org, "date": "2026-11-22",
             "lines": [{"batch": "06901234000016.L1", "unit": "kg", "quantity": 5}]}  # fmt: skip
    r = client.post("/v1/custody.ship", json=lines, headers=party.auth)
    found = pointers(assert_problem(r, 422, "invalid-request"))
    assert found == ["/payload/lines/0/unit", "/payload/lines/0/quantity"]
    assert ledger.size() == size


def test_server_signed_entry_carries_exactly_the_payload_sent(
    client: TestClient, world: World
) -> None:
    party = world["manufacturer"]
    world.hold_key(party)
    r = client.post("/v1/product.register", json=PRODUCT, headers=party.auth)
    assert r.status_code == 201, r.text
    entry = client.get(f"/v1/entries/{r.json()['seq']}", headers=party.auth).json()["entry"]
    assert entry["payload"] == PRODUCT


def test_client_signed_payload_refused_by_its_model_points_at_the_member(
    client: TestClient, world: World, ledger: Ledger
) -> None:
    party = world["manufacturer"]
    size = ledger.size()
    signed = world.sign(party.signer, "product.register", {**PRODUCT, "type": "straw"})
    r = client.post("/v1/entries", content=signed, headers=party.auth)
    assert pointers(assert_problem(r, 422, "invalid-request")) == ["/payload/type"]
    signed = world.sign(party.signer, "product.register", {**PRODUCT, "extra": 1})
    r = client.post("/v1/entries", content=signed, headers=party.auth)
    assert pointers(assert_problem(r, 422, "invalid-request")) == ["/payload/extra"]
    twice = signed.replace(b'"extra":1,', b'"extra":1,"extra":1,')
    assert_problem(client.post("/v1/entries", content=twice, headers=party.auth), 400,
                   "malformed-input")  # fmt: skip
    floated = world.sign(party.signer, "product.register", {**PRODUCT, "name": 1.5})
    r = client.post("/v1/entries", content=floated, headers=party.auth)
    assert pointers(assert_problem(r, 422, "invalid-request")) == ["/payload/name"]
    assert ledger.size() == size
    good = world.sign(party.signer, "product.register", PRODUCT)
    assert client.post("/v1/entries", content=good, headers=party.auth).status_code == 201


def test_the_unsealed_key_in_memory_follows_rotation_and_revocation(
    client: TestClient,
    world: World,
    ledger: Ledger,
    services: Services,
    signer_for: Callable[[str], Signer],
) -> None:
    party = world["manufacturer"]
    world.hold_key(party)
    fresh = Signer(party.org, signer_for("maker-second-key").private_key)
    services.accounts.store_key(services.require_vault(), fresh)
    r = client.post("/v1/key.rotate", json={"public_key": fresh.public_b64}, headers=party.auth)
    assert r.status_code == 201, r.text
    assert ledger.entry(r.json()["seq"]).key == party.signer.key_id  # the unsealed old key
    assert services.unsealed[party.org].key_id == party.signer.key_id
    r = client.post("/v1/product.register", json=PRODUCT, headers=party.auth)
    assert r.status_code == 201, r.text
    assert ledger.entry(r.json()["seq"]).key == fresh.key_id  # the log's current key now
    assert services.unsealed[party.org].key_id == fresh.key_id
    r = client.post("/v1/key.revoke", json={"key": fresh.key_id}, headers=party.auth)
    assert r.status_code == 201, r.text
    size = ledger.size()
    again = {**PRODUCT, "gtin": "06901234000023"}
    r = client.post("/v1/product.register", json=again, headers=party.auth)
    assert "revoked" in str(assert_problem(r, 403, "forbidden")["detail"])
    assert ledger.size() == size


def test_start_up_unseals_the_current_server_held_keys(
    client: TestClient,
    world: World,
    services: Services,
    signer_for: Callable[[str], Signer],
) -> None:
    """A server process unseals, at start-up, each held key the log names as its
    organisation's current key, and no other (an old key after a rotation, a key of an
    organisation the log does not know)."""
    party = world["manufacturer"]
    world.hold_key(party)
    vault = services.require_vault()
    fresh = Signer(party.org, signer_for("maker-next-key").private_key)
    services.accounts.store_key(vault, fresh)  # held, but not (yet) the log's current key
    stranger = Signer("91110000MA00000000", signer_for("unregistered").private_key)
    services.accounts.store_key(vault, stranger)
    services.unsealed.clear()
    assert unseal_current_keys(services) == len(services.unsealed)
    assert services.unsealed[party.org].key_id == party.signer.key_id
    assert stranger.actor not in services.unsealed
    r = client.post("/v1/key.rotate", json={"public_key": fresh.public_b64}, headers=party.auth)
    assert r.status_code == 201, r.text
    services.unsealed.clear()
    assert unseal_current_keys(services) == len(services.unsealed)
    assert services.unsealed[party.org].key_id == fresh.key_id


def test_sql_statements_per_server_signed_write(
    client: TestClient,
    world: World,
    ledger: Ledger,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    party = world["manufacturer"]
    world.hold_key(party)
    warm = client.post("/v1/product.register", json=PRODUCT, headers=party.auth)
    assert warm.status_code == 201, warm.text  # the key is unsealed, the head in memory
    cache = services.accounts.tokens_cache
    frozen = cache.clock()
    monkeypatch.setattr(cache, "clock", lambda: frozen)  # no revocation look-up falls due
    for thread in threading.enumerate():  # one the warm-up may have started
        if thread.name == "insutrace-tokens":
            thread.join(timeout=10)
    services.accounts.refresh_tokens()  # read at the frozen time: fresh from now on
    n = 5
    with counted_statements() as sent, support.account_statements(services.accounts.engine) as seen:
        for i in range(n):
            data = f"0690123410{i:03d}"
            payload = {**PRODUCT, "gtin": data + gtin_check_digit(data), "name": f"product {i}"}
            r = client.post("/v1/product.register", json=payload, headers=party.auth)
            assert r.status_code == 201, r.text
    accounts, store = seen.count / n, sent.statements / n
    with capsys.disabled():
        print(
            f"\nSQL statements per server-signed HTTP write (one per batch here): "
            f"accounts {accounts:.1f}, ledger store {store:.1f} (+ commits)"
        )
    assert accounts == 0  # the token from the cache, the key unsealed in memory
    assert store <= 25


def test_a_device_key_is_held_by_one_of_the_organisations_own_people(
    client: TestClient, world: World, ledger: Ledger, services: Services
) -> None:
    """``key.add`` from a machine token names a holder: someone unknown, or a person of
    another organisation, is refused by rule ``key.holder`` and nothing is written."""
    maker, dist = world["manufacturer"], world["distributor"]
    world.hold_key(maker)
    services.accounts.create_person(dist.org, "distributor", "王五", "wang.dist", "pw-0123456789")
    services.accounts.create_person(maker.org, "manufacturer", "李四", "li.maker", "pw-0123456789")
    public = base64.b64encode(bytes(range(32))).decode()
    size = ledger.size()
    for holder in ("nobody.here", "wang.dist"):
        body = {"public_key": public, "holder": holder, "device": "平板 tablet"}
        r = client.post("/v1/key.add", json=body, headers=maker.auth)
        problem = assert_problem(r, 422, "rule-violation")
        assert problem["rule"] == "key.holder", problem
        assert ledger.size() == size
    body = {"public_key": public, "holder": "li.maker", "device": "平板 tablet"}
    r = client.post("/v1/key.add", json=body, headers=maker.auth)
    assert r.status_code == 201, r.text
    assert ledger.size() == size + 1


def test_start_up_builds_the_routes_before_the_first_request(app: FastAPI) -> None:
    """FastAPI builds an included router's routes when a request first reaches it; a
    server process builds them all at start-up (prepare_routes), so that no request
    waits for it: once prepared, requests to routes of every router build nothing."""
    plain = TestClient(app)
    prepare_routes(app)

    def built_late(*args: object, **kwargs: object) -> None:
        raise AssertionError("a route was built on a request's path")

    with patch.object(fastapi.routing._EffectiveRouteContext, "from_api_route", built_late):
        for path in ("/v1/rules", "/rules", "/blacklist", "/signin"):
            assert plain.get(path).status_code == 200, path
        assert plain.get("/nowhere").status_code == 404
    with (
        TestClient(create_app(app.state.services.settings)) as fresh,  # closed on leaving
        patch.object(fastapi.routing._EffectiveRouteContext, "from_api_route", built_late),
        pytest.raises(AssertionError, match="built on a request's path"),
    ):
        fresh.get("/v1/rules")


def test_a_seen_root_not_in_base64_is_400_and_nothing_is_written(
    client: TestClient, world: World, ledger: Ledger, clock: FixedClock
) -> None:
    """The checkpoint a statement says it saw: its root is base64 text, and text that is not
    (not even ASCII) is the statement's malformed member, not a server error."""
    party = world["distributor"]
    placeholder = "A" * 43 + "="
    seen = {"size": 1, "root": placeholder}
    statement = Statement(
        "key.rotate", party.signer.actor, party.signer.key_id, format_time(clock.now()),
        {"public_key": placeholder}, new_statement_id(), seen=seen,
    ).signed(party.signer)  # fmt: skip
    size = ledger.size()
    for root in ("签名", "not base64!"):
        data = statement.to_bytes().replace(
            f'"root":"{placeholder}"'.encode(), f'"root":"{root}"'.encode()
        )
        r = client.post("/v1/entries", content=data, headers=party.auth)
        body = assert_problem(r, 400, "malformed-input")
        assert "seen root must be the base64 of a 32-byte hash" in str(body["detail"])
    assert ledger.size() == size
