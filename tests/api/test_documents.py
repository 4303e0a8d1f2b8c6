"""Documents by SHA-256 over HTTP: upload, download checked against the hash, refusals."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from insutrace.api.deps import Services

from .conftest import World

REPORT = b"%PDF-1.7\n% factory test report JS2026-BW0391\n" + bytes(range(256)) * 8


def test_a_lab_uploads_a_report_and_any_account_reads_it_back(
    client: TestClient, world: World
) -> None:
    r = client.post("/v1/documents", content=REPORT, headers=world["testing_lab"].auth)
    assert r.status_code == 201
    digest = r.json()["sha256"]
    assert digest == hashlib.sha256(REPORT).hexdigest() and r.json()["size"] == len(REPORT)
    got = client.get(f"/v1/documents/{digest}", headers=world["regulator"].auth)
    assert got.status_code == 200 and got.content == REPORT
    assert got.headers["content-type"] == "application/pdf"


def test_documents_need_an_account(client: TestClient, world: World) -> None:
    assert client.post("/v1/documents", content=REPORT).status_code == 401
    digest = hashlib.sha256(REPORT).hexdigest()
    assert client.get(f"/v1/documents/{digest}").status_code == 401


def test_unknown_altered_and_malformed_ids_are_problems(
    client: TestClient, world: World, services: Services
) -> None:
    auth = world["regulator"].auth
    missing = client.get(f"/v1/documents/{'0' * 64}", headers=auth)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert client.get("/v1/documents/not-a-hash", headers=auth).status_code == 422
    digest = services.blobs.put(REPORT)
    services.blobs.path(digest).write_bytes(REPORT + b"tampered")
    altered = client.get(f"/v1/documents/{digest}", headers=auth)
    assert altered.status_code == 422 and "altered on disk" in altered.json()["detail"]


def test_empty_and_oversized_uploads_are_refused_and_nothing_stored(
    client: TestClient, world: World, services: Services
) -> None:
    services.blobs.max_bytes = 1000
    auth = world["testing_lab"].auth
    assert client.post("/v1/documents", content=b"", headers=auth).status_code in (400, 422)
    too_big = client.post("/v1/documents", content=REPORT, headers=auth)
    assert too_big.status_code in (400, 422) and "limit" in too_big.json()["detail"]
    assert not (services.blobs.root / "sha256").exists()
