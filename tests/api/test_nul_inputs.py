"""A NUL character in a path id or a query parameter (which PostgreSQL cannot store or
compare in text) is a 400 problem on every read route, never a 5xx; found by walking the
app's own OpenAPI description, so a new route is covered the day it is added."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

NUL = "a\x00b"


def _get_routes(app: FastAPI) -> list[tuple[str, list[str], list[str]]]:
    routes = []
    for path, item in app.openapi()["paths"].items():
        op: dict[str, Any] | None = item.get("get")
        if op is None:
            continue
        params = op.get("parameters", [])
        names = [p["name"] for p in params if p["in"] == "path"]
        query = [p["name"] for p in params if p["in"] == "query"]
        routes.append((path, names, query))
    return routes


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: value.replace("\x00", "%00"), path)


def test_nul_in_any_path_id_or_query_parameter_is_400(
    app: FastAPI, client: TestClient, world: Any
) -> None:
    headers = world["regulator"].auth
    tried = 0
    for path, names, query in _get_routes(app):
        if names:
            answer = client.get(_fill(path, NUL), headers=headers)
            assert answer.status_code == 400, (path, answer.status_code, answer.text[:200])
            if not path.startswith(("/01/", "/pages/01/")):  # the resolver answers in kind
                assert answer.headers["content-type"] == "application/problem+json"
            tried += 1
        base = _fill(path, "x")
        for name in query:
            answer = client.get(base, params={name: NUL}, headers=headers)
            if path.startswith(("/01/", "/pages/01/")):  # the resolver answers in kind
                assert answer.status_code in (400, 422), (path, name, answer.status_code)
                continue
            assert answer.status_code == 400, (path, name, answer.status_code, answer.text[:200])
            assert "NUL" in answer.json()["detail"]
            tried += 1
    assert tried > 10


def test_a_damaged_stored_entry_is_503_not_500(
    client: TestClient, services: Any, world: Any
) -> None:
    from sqlalchemy import text

    from insutrace.trace.store.engine import make_engine

    good = services.ledger.entry_bytes(1)
    engine = make_engine(services.ledger.store.url)
    put = text("UPDATE log_entry SET body = :b WHERE seq = 1")
    with engine.begin() as conn:
        conn.execute(put, {"b": b"{not json"})
    try:
        answer = client.get("/v1/entries/1", headers=world["regulator"].auth)
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "entry 1 as stored is not JSON" in answer.json()["detail"]
        assert answer.headers.get("retry-after")
    finally:  # put it back, so the after-test verification of the log passes
        with engine.begin() as conn:
            conn.execute(put, {"b": good})
        engine.dispose()
