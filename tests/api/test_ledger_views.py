"""Issue 11 items 7–10 through the API: hazard ledgers (JSON and CSV with Chinese-first
headings), a project's campaign facts, the persons on the blacklist, the person identifier."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
import support
from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.demo.story import DemoOutcome, build_demo
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

BUILDING = "GL-HNL-008-03"
ON = (support.DEMO_START + timedelta(days=280)).date().isoformat()


@pytest.fixture
def demo(ledger: Ledger, root: Signer) -> DemoOutcome:
    return build_demo(ledger, root, start=support.DEMO_START)


def auth(services: Services, demo: DemoOutcome, key: str, role: str) -> dict[str, str]:
    _, token = services.accounts.create_account(demo.orgs[key]["uscc"], role, f"{key} staff")
    return {"Authorization": f"Bearer {token}"}


def test_the_estate_reads_its_hazard_ledger(
    client: TestClient, services: Services, demo: DemoOutcome
) -> None:
    owner = auth(services, demo, "owner_estate", "building_owner")
    r = client.get(f"/v1/buildings/{BUILDING}/hazard-ledger", params={"on": ON}, headers=owner)
    assert r.status_code == 200, r.text
    ledger = r.json()
    assert [h["id"] for h in ledger["hazards"]] == ["H1", "H2", "H3"]
    assert [h["id"] for h in ledger["closed"]] == ["H1"]
    assert [h["id"] for h in ledger["rectification"]] == ["H2", "H3"]
    assert [h["id"] for h in ledger["supervised"]] == ["H3"]
    assert {r["name"] for r in ledger["responsibility"]} == {"孙安全"}
    assert ledger["signage"]["status"] == "posted"
    mine = client.get(f"/v1/orgs/{demo.orgs['owner_estate']['uscc']}/hazard-ledger",
                      params={"on": ON}, headers=owner)  # fmt: skip
    assert mine.status_code == 200 and mine.json()["closed"] == ledger["closed"]


def test_a_list_exports_as_csv_with_chinese_first_headings(
    client: TestClient, services: Services, demo: DemoOutcome
) -> None:
    regulator = auth(services, demo, "mohurd_nj", "regulator")
    r = client.get(f"/v1/buildings/{BUILDING}/hazard-ledger/rectification.csv",
                   params={"on": ON}, headers=regulator)  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["建筑 Building", "隐患编号 Hazard", "整改责任人 Responsible person"]
    assert [row[1] for row in rows[1:]] == ["H2", "H3"] and {row[2] for row in rows[1:]} == {
        "孙安全"
    }
    closed = client.get(f"/v1/buildings/{BUILDING}/hazard-ledger/closed.csv",
                        params={"on": ON}, headers=regulator)  # fmt: skip
    (heading, row) = list(csv.reader(io.StringIO(closed.content.decode("utf-8-sig"))))
    assert heading[2] == "销号日期 Closed on" and row[1] == "H1" and len(row[4]) == 64


def test_another_owner_may_not_read_the_estates_ledger(
    client: TestClient, services: Services, demo: DemoOutcome
) -> None:
    mall = auth(services, demo, "owner_mall", "building_owner")
    r = client.get(f"/v1/buildings/{BUILDING}/hazard-ledger", headers=mall)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    other = client.get(f"/v1/orgs/{demo.orgs['owner_estate']['uscc']}/hazard-ledger", headers=mall)
    assert other.status_code == 403
    unknown = client.get("/v1/buildings/GL-NONE/hazard-ledger/nope.csv", headers=mall)
    assert unknown.status_code == 422


def test_the_retrofit_shows_its_design_change_measures_and_persons(
    client: TestClient, services: Services, demo: DemoOutcome
) -> None:
    contractor = auth(services, demo, "local_builder", "contractor")
    r = client.get(f"/v1/projects/{demo.projects['retrofit']}/campaign", headers=contractor)
    assert r.status_code == 200, r.text
    facts = r.json()
    assert facts["design_in_force"]["N"]["design_class"] == "GB 8624 A(A1)"
    assert facts["design_in_force"]["N"]["change"] == "BG-GZ-001"
    assert facts["design_in_force"]["S"]["change"] is None
    assert [m["kind"] for m in facts["measures"]] == ["fire_barrier_belt", "protective_layer", "door_window"]  # fmt: skip
    assert {(p["name"], p["role"]) for p in facts["persons"]} == {
        ("钱建国", "project_manager"), ("王取样", "sampler"), ("赵监理", "witness")}  # fmt: skip


def test_the_public_blacklist_of_persons_names_the_unit(
    client: TestClient, demo: DemoOutcome
) -> None:
    r = client.get("/v1/public/blacklist/persons", params={"on": ON})
    assert r.status_code == 200
    (listed,) = r.json()
    assert listed["name"] == "周某某" and listed["units"] == [demo.orgs["cscec"]["uscc"]]
    by_name = client.get("/v1/public/persons/credit", params={"q": "周某", "on": ON}).json()
    assert [s["status"] for s in by_name] == ["listed"]
    later = (date.fromisoformat(ON) + timedelta(days=400)).isoformat()
    assert client.get("/v1/public/blacklist/persons", params={"on": later}).json() == []


def test_the_person_identifier_checks_the_number_and_is_stable(
    client: TestClient, services: Services, demo: DemoOutcome
) -> None:
    owner = auth(services, demo, "owner_estate", "building_owner")
    body = {"national_id": "11010519491231002X"}
    first = client.post("/v1/persons/identifier", json=body, headers=owner)
    again = client.post("/v1/persons/identifier", json=body, headers=owner)
    assert first.status_code == 200 and first.json() == again.json()
    assert first.json()["person"].startswith("P-") and "11010519491231002X" not in first.text
    bad = client.post("/v1/persons/identifier", json={"national_id": "110105194912310021"}, headers=owner)  # fmt: skip
    assert bad.status_code == 400 and "check character" in bad.json()["detail"]
    assert client.post("/v1/persons/identifier", json=body).status_code == 401
