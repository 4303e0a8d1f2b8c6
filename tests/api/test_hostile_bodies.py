"""Hostile request bodies on both write paths: a 4xx problem, never a 500, nothing written.

Deep nesting, lone surrogates and duplicate member names (RFC 7493 §2.3) on
``POST /v1/entries`` (client-signed bytes) and ``POST /v1/<type>`` (server-signed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from insutrace.trace.canonical import MAX_DEPTH
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

from .conftest import World, org_payload, uscc
from .test_writes import assert_problem

DEEP = "[" * 300 + "]" * 300


def register_body(
    signer_for: Callable[[str], Signer], *, replacing: bool = False, **extra: str
) -> str:
    """An actor.register payload as JSON text, with raw JSON spliced in as members (in
    place of the members of the same name when ``replacing``, else beside them)."""
    org = uscc(950)
    payload = org_payload(org, "manufacturer", signer_for(org).public_b64)
    text = json.dumps({k: v for k, v in payload.items() if not (replacing and k in extra)})
    return text[:-1] + "".join(f", {json.dumps(k)}: {v}" for k, v in extra.items()) + "}"


def entry_text(world: World, signer: Signer, **extra: str) -> str:
    """A correctly signed entry's text with raw JSON spliced into its payload."""
    data = world.sign(signer, "key.rotate", {"public_key": signer.public_b64})
    head, _, tail = data.decode().partition('"payload":{')
    return head + '"payload":{' + "".join(f"{json.dumps(k)}:{v}," for k, v in extra.items()) + tail


def post(client: TestClient, path: str, body: str, headers: dict[str, str]) -> Any:
    return client.post(path, content=body.encode(), headers=headers)


@pytest.mark.parametrize(
    ("member", "match"),
    [
        (DEEP, f"nested more than {MAX_DEPTH} levels"),
        ('"\\ud800"', "not UTF-8 JSON"),
        ('"\\udfff and more"', "not UTF-8 JSON"),
    ],
)
def test_client_signed_entry_with_a_hostile_payload_is_400(
    client: TestClient, world: World, ledger: Ledger, member: str, match: str
) -> None:
    party = world["manufacturer"]
    size = ledger.size()
    r = post(client, "/v1/entries", entry_text(world, party.signer, x=member), party.auth)
    assert match in str(assert_problem(r, 400, "malformed-input")["detail"])
    assert ledger.size() == size


@pytest.mark.parametrize(
    ("member", "status", "slug", "match"),
    [
        # a deep object where the typed payload wants text: the model refuses it first
        (DEEP, 422, "invalid-request", "/payload/address"),
        # a lone surrogate is no Unicode text: the model refuses it too
        ('"\\ud800"', 422, "invalid-request", "/payload/address"),
        ('{"\\udc00": 1}', 422, "invalid-request", "/payload/address"),
    ],
)
@pytest.mark.parametrize("idempotency", [None, "hostile-1"])
def test_server_signed_write_with_a_hostile_payload_is_4xx(
    client: TestClient,
    world: World,
    ledger: Ledger,
    signer_for: Callable[[str], Signer],
    member: str,
    status: int,
    slug: str,
    match: str,
    idempotency: str | None,
) -> None:
    headers = world["authority"].auth
    if idempotency:
        headers = {**headers, "Idempotency-Key": idempotency}
    size = ledger.size()
    body = register_body(signer_for, replacing=True, address=member)
    r = post(client, "/v1/actor.register", body, {**headers, "Content-Type": "application/json"})
    detail = assert_problem(r, status, slug)["detail"]
    assert match in str(detail) and "\n" not in str(detail)
    assert ledger.size() == size


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_duplicate_member_names_in_a_server_signed_body_are_400(
    client: TestClient,
    world: World,
    ledger: Ledger,
    signer_for: Callable[[str], Signer],
    content_type: str | None,
) -> None:
    headers = dict(world["authority"].auth)
    if content_type:
        headers["Content-Type"] = content_type
    size = ledger.size()
    body = register_body(signer_for, name='"the name a reviewer sees"')  # name given twice
    r = post(client, "/v1/actor.register", body, headers)
    detail = assert_problem(r, 400, "malformed-input")["detail"]
    assert detail == "duplicate member name 'name' in the request body (RFC 7493 §2.3)"
    nested = register_body(signer_for, lab='{"cma": "1", "cma": "2"}')
    r = post(client, "/v1/actor.register", nested, headers)
    assert "'cma'" in str(assert_problem(r, 400, "malformed-input")["detail"])
    assert ledger.size() == size


def test_duplicate_member_names_in_a_client_signed_entry_are_400(
    client: TestClient, world: World, ledger: Ledger
) -> None:
    party = world["manufacturer"]
    size = ledger.size()
    text = entry_text(world, party.signer)
    twice = text.replace('"seq":', '"seq":0,"seq":', 1)
    r = post(client, "/v1/entries", twice, party.auth)
    assert "duplicate member name 'seq'" in str(assert_problem(r, 400, "malformed-input")["detail"])
    assert ledger.size() == size


def test_nesting_too_deep_for_the_parser_is_400(
    client: TestClient, world: World, ledger: Ledger
) -> None:
    size = ledger.size()
    body = '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"
    for path in ("/v1/actor.register", "/v1/entries"):
        r = post(client, path, body, world["authority"].auth)
        assert "nested too deep" in str(assert_problem(r, 400, "malformed-input")["detail"])
    assert ledger.size() == size


def test_an_ordinary_server_signed_write_still_passes(
    client: TestClient, world: World, ledger: Ledger, signer_for: Callable[[str], Signer]
) -> None:
    headers = {**world["authority"].auth, "Content-Type": "application/json"}
    r = post(client, "/v1/actor.register", register_body(signer_for), headers)
    assert r.status_code == 201, r.text
    assert ledger.entry(r.json()["seq"]).payload["id"] == uscc(950)
