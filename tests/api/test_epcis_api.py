"""EPCIS 2.0 over HTTP: capture of standard events from another system, bad documents,
refused events, and SimpleEventQuery with its parameters, paging and headers."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import support
from fastapi.testclient import TestClient

from insutrace.trace.clock import FixedClock
from insutrace.trace.epcis import CONTEXT, validate_epcis
from insutrace.trace.epcis_map import lot_class, voc
from insutrace.trace.ledger import Ledger

from .conftest import World

GTIN = "06901234000016"
LOT = "L2026-77"
BATCH = f"{GTIN}.{LOT}"
PRODUCT = {
    "schema": 1,
    "gtin": GTIN,
    "name": "挤塑聚苯板 XPS-30",
    "type": "xps",
    "polymer": "polystyrene",
    "thermosetting": False,
    "standard": "GB/T 10801.2-2018",
}
RESOLVER = "id.insutrace.local"
REGISTERED = voc("registering_organisation")  # the organisation's own registration


@pytest.fixture(autouse=True)
def epcis_schema_present() -> None:
    """Capture validates against GS1's schema (installed by the API tests' settings)."""
    support.epcis_schema()  # skips, with its reason, where ../shared lacks it


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return dict(json.loads(support.epcis_schema().read_text(encoding="utf-8")))


def org(uscc: str) -> str:
    return f"https://{RESOLVER}/org/{uscc}"


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-22T09:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def commissioning(time: str = "2026-11-22T08:30:00.000Z") -> dict[str, Any]:
    """A commissioning event as an ERP system writes it: CBV URIs, no ledger extension
    except the lot master data in ilmd."""
    return {
        "type": "ObjectEvent",
        "eventTime": time,
        "eventTimeZoneOffset": "+08:00",
        "action": "ADD",
        "bizStep": "https://ref.gs1.org/cbv/BizStep-commissioning",
        "disposition": "active",
        "quantityList": [{"epcClass": lot_class(BATCH), "quantity": 1200, "uom": "MTK"}],
        "ilmd": {
            "insu:productionDate": "2026-11-20",
            "insu:declaredClass": "B1(B-s1,d0,t1)",
            "insu:thermalConductivity": "0.030",
            "insu:density": "32",
        },
    }


def shipping(
    to: str, quantity: float = 400, time: str = "2026-11-22T08:40:00.000Z"
) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": time,
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "quantityList": [{"epcClass": lot_class(BATCH), "quantity": quantity, "uom": "MTK"}],
        "bizTransactionList": [
            {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:D-0101"}
        ],
        "destinationList": [{"type": "owning_party", "destination": org(to)}],
    }


def post(client: TestClient, party: Any, body: Any) -> Any:
    return client.post("/epcis/capture", json=body, headers=party.auth)


@pytest.fixture
def maker(client: TestClient, world: World, clock: FixedClock) -> Any:
    """The manufacturer, its product registered just after 08:00 (the ledger's first day);
    the server's clock then reads about 09:00, so the events at 08:30 and 08:40 are past."""
    party = world["manufacturer"]
    world.hold_key(party)
    assert client.post("/v1/product.register", json=PRODUCT, headers=party.auth).status_code == 201
    clock.tick(timedelta(hours=1))
    return party


def test_a_standard_commissioning_event_becomes_a_batch_registration(
    client: TestClient, world: World, maker: Any, ledger: Ledger
) -> None:
    size = ledger.size()
    answer = post(client, maker, document(commissioning()))
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["success"] is True and job["running"] is False and job["errors"] == []
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    entry = ledger.entry(size)
    assert (entry.type, entry.actor, entry.time) == (
        "batch.register",
        maker.org,
        "2026-11-22T08:30:00.000Z",
    )
    assert entry.payload == {
        "schema": 1,
        "product": GTIN,
        "lot": LOT,
        "quantity": "1200",
        "unit": "m2",
        "production_date": "2026-11-20",
        "declared_class": "B1(B-s1,d0,t1)",
        "conductivity": "0.030",
        "density": "32",
    }
    again = client.get(answer.headers["Location"], headers=maker.auth)
    assert again.status_code == 200 and again.json()["captureID"] == job["captureID"]
    other = client.get(answer.headers["Location"], headers=world["distributor"].auth)
    assert other.status_code == 404  # another organisation's job


def test_a_shipping_event_becomes_custody_and_a_refused_one_names_its_rule(
    client: TestClient, world: World, maker: Any, ledger: Ledger
) -> None:
    assert post(client, maker, document(commissioning())).json()["success"]
    size = ledger.size()
    dealer = world["distributor"].org
    too_much = post(client, maker, document(shipping(dealer, quantity=5000)))
    assert too_much.status_code == 202
    job = too_much.json()
    assert job["success"] is False and ledger.size() == size  # nothing written
    (error,) = job["errors"]
    assert error["instance"] == "/epcisBody/eventList/0"
    assert error["rule"] and error["clause"] and error["message"]["zh"]

    fine = post(client, maker, document(shipping(dealer)))
    assert fine.json()["success"], fine.text
    entry = ledger.entry(size)
    assert entry.type == "custody.ship"
    assert entry.payload == {
        "schema": 1,
        "number": "D-0101",
        "to": dealer,
        "date": "2026-11-22",
        "lines": [{"batch": BATCH, "unit": "m2", "quantity": "400"}],
    }


def test_one_refused_event_writes_none_of_the_document(
    client: TestClient, world: World, maker: Any, ledger: Ledger
) -> None:
    size = ledger.size()
    theirs = {**shipping(world["distributor"].org), "insu:actor": org(world["distributor"].org)}
    answer = post(client, maker, document(commissioning(), theirs))
    job = answer.json()
    assert job["success"] is False and ledger.size() == size
    assert [(e["rule"], e["pointer"]) for e in job["errors"]] == [
        ("epcis.actor", "/epcisBody/eventList/1/insu:actor")
    ]


def test_a_bad_document_lists_each_fault_with_its_pointer(
    client: TestClient, maker: Any, ledger: Ledger
) -> None:
    size = ledger.size()
    no_time = commissioning()
    del no_time["eventTime"]
    unknown_scheme = {
        **commissioning(),
        "quantityList": [{"epcClass": "urn:example:lot:1", "quantity": 1, "uom": "MTK"}],
    }
    no_unit = copy.deepcopy(commissioning("2026-11-22T08:31:00.000Z"))
    del no_unit["quantityList"][0]["uom"]
    earlier = commissioning("2026-11-22T08:00:00.000Z")
    answer = post(client, maker, document(no_time, unknown_scheme, no_unit, earlier))
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    faults = {(f["rule"], f["pointer"]) for f in answer.json()["errors"]}
    assert ("epcis.schema", "/epcisBody/eventList/0") in faults  # eventTime is required
    assert ("epcis.epc_scheme", "/epcisBody/eventList/1/quantityList/0/epcClass") in faults
    assert ("epcis.uom", "/epcisBody/eventList/2/quantityList/0/quantity") in faults
    assert ("epcis.order", "/epcisBody/eventList/3/eventTime") in faults
    assert ledger.size() == size
    assert client.get("/epcis/capture", headers=maker.auth).json()["captureJobs"] == []


def test_an_event_of_no_single_type_and_a_body_that_is_not_json(
    client: TestClient, maker: Any, ledger: Ledger
) -> None:
    odd = {**commissioning(), "bizStep": "destroying", "action": "OBSERVE"}  # destroying: DELETE
    del odd["ilmd"]  # lot master data only with ADD
    job = post(client, maker, document(odd)).json()
    assert [(e["rule"], e["pointer"]) for e in job["errors"]] == [
        ("epcis.mapping", "/epcisBody/eventList/0/bizStep")
    ]
    raw = client.post("/epcis/capture", content=b"{not json", headers=maker.auth)
    assert raw.status_code == 400
    proceed = client.post(
        "/epcis/capture",
        json=document(commissioning()),
        headers={**maker.auth, "GS1-Capture-Error-Behaviour": "proceed"},
    )
    assert proceed.status_code == 400
    options = client.options("/epcis/capture")
    assert (
        options.status_code == 204 and options.headers["GS1-Capture-Error-Behaviour"] == "rollback"
    )


# -- query --------------------------------------------------------------------------------


@pytest.fixture
def shipped(client: TestClient, world: World, maker: Any) -> None:
    events = [commissioning(), shipping(world["distributor"].org)]
    assert post(client, maker, document(*events)).json()["success"]


def results(answer: Any) -> list[dict[str, Any]]:
    return list(answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def test_query_answers_a_valid_query_document_with_the_epcis_headers(
    client: TestClient, maker: Any, shipped: None, schema: dict[str, Any]
) -> None:
    answer = client.get("/epcis/events", headers=maker.auth)
    assert answer.status_code == 200
    body = answer.json()
    assert validate_epcis(body, schema) == []
    assert body["type"] == "EPCISQueryDocument"
    assert body["epcisBody"]["queryResults"]["queryName"] == "SimpleEventQuery"
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    steps = [e["bizStep"] for e in results(answer)]
    assert steps == [REGISTERED, "creating_class_instance", "commissioning", "shipping"]


@pytest.mark.parametrize(
    ("query", "steps"),
    [
        ("EQ_bizStep=shipping", ["shipping"]),
        ("EQ_bizStep=https://ref.gs1.org/cbv/BizStep-commissioning", ["commissioning"]),
        ("EQ_bizStep=shipping|commissioning", ["commissioning", "shipping"]),
        ("eventType=AggregationEvent", []),
        ("EQ_disposition=in_transit", ["shipping"]),
        (f"MATCH_epcClass={lot_class(BATCH)}", ["commissioning", "shipping"]),
        (f"MATCH_anyEPCClass=https://id.gs1.org/01/{GTIN}", ["creating_class_instance"]),
        ("GE_eventTime=2026-11-22T08:35:00Z", ["shipping"]),
        (
            "LT_eventTime=2026-11-22T08:40:00Z",
            [REGISTERED, "creating_class_instance", "commissioning"],
        ),
        ("EQ_action=ADD", [REGISTERED, "creating_class_instance", "commissioning"]),
    ],
)
def test_query_parameters_select(
    client: TestClient, maker: Any, shipped: None, query: str, steps: list[str]
) -> None:
    answer = client.get(f"/epcis/events?{query.replace('|', '%7C')}", headers=maker.auth)
    assert answer.status_code == 200, answer.text
    assert [e["bizStep"] for e in results(answer)] == steps


def test_bizlocation_and_per_resource_paths(client: TestClient, maker: Any, shipped: None) -> None:
    here = client.get(f"/epcis/events?EQ_bizLocation={org(maker.org)}", headers=maker.auth)
    assert [e["bizStep"] for e in results(here)] == ["commissioning"]
    by_step = client.get("/epcis/bizSteps/shipping/events", headers=maker.auth)
    assert [e["bizStep"] for e in results(by_step)] == ["shipping"]
    by_type = client.get("/epcis/eventTypes/ObjectEvent/events", headers=maker.auth)
    assert len(results(by_type)) == 4
    event = results(by_step)[0]
    one = client.get(f"/epcis/events/{quote(event['eventID'], safe='')}", headers=maker.auth)
    assert one.status_code == 200 and one.json() == event


def test_paging_follows_next_page_tokens(client: TestClient, maker: Any, shipped: None) -> None:
    seen: list[str] = []
    url: str | None = "/epcis/events?perPage=2"
    pages = 0
    while url is not None:
        answer = client.get(url, headers=maker.auth)
        assert answer.status_code == 200
        seen += [e["bizStep"] for e in results(answer)]
        link = answer.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        pages += 1
        if url:
            assert parse_qs(urlsplit(url).query)["perPage"] == ["2"]
    assert pages == 2 and seen == [
        REGISTERED,
        "creating_class_instance",
        "commissioning",
        "shipping",
    ]
    forged = client.get("/epcis/events?perPage=2&nextPageToken=MTIzLmFiYw", headers=maker.auth)
    assert forged.status_code == 400


def test_unknown_or_bad_parameters_are_a_400_naming_them(client: TestClient, maker: Any) -> None:
    answer = client.get(
        "/epcis/events?EQ_colour=red&type=x&eventType=ObjectEvent", headers=maker.auth
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["rule"] == "epcis.query"
    assert sorted(e["parameter"] for e in body["errors"]) == ["EQ_colour", "type"]
    assert "EQ_colour" in body["detail"] and "type" in body["detail"]
    bad_time = client.get("/epcis/events?GE_eventTime=yesterday", headers=maker.auth)
    assert (
        bad_time.status_code == 400 and bad_time.json()["errors"][0]["parameter"] == "GE_eventTime"
    )
    bad_page = client.get("/epcis/events?perPage=0", headers=maker.auth)
    assert bad_page.status_code == 400
    old = client.get("/epcis/events", headers={**maker.auth, "GS1-EPCIS-Version": "1.2"})
    assert old.status_code == 406
    options = client.options("/epcis/events")
    assert options.status_code == 204 and options.headers["GS1-EPCIS-Max"] == "2.0.0"


def test_an_organisation_sees_the_events_naming_it(
    client: TestClient, world: World, shipped: None
) -> None:
    lab = client.get("/epcis/events", headers=world["testing_lab"].auth)
    assert [e["bizStep"] for e in results(lab)] == [REGISTERED]
    dealer = client.get("/epcis/events", headers=world["distributor"].auth)
    assert [e["bizStep"] for e in results(dealer)] == [REGISTERED, "shipping"]


def test_export_over_http_is_the_cli_export(
    client: TestClient, world: World, shipped: None, ledger: Ledger
) -> None:
    answer = client.get("/epcis/export?type=custody.ship", headers=world["authority"].auth)
    assert answer.status_code == 200
    (event,) = answer.json()["epcisBody"]["eventList"]
    assert event["bizStep"] == "shipping" and event["eventID"].endswith("?ver=CBV2.0")
    refused = client.get("/epcis/export", headers=world["manufacturer"].auth)
    assert refused.status_code == 403


def test_a_capture_repeated_without_its_index_row_writes_nothing_twice(
    client: TestClient, maker: Any, ledger: Ledger, services: Any
) -> None:
    """Another server process has no sight of this one's eventID index row: the log's own
    statement ids (derived from the eventID) still make the second capture a no-op."""
    from sqlalchemy import delete

    from insutrace.api.interop_tables import event_index_table

    event = {**commissioning(), "eventID": "urn:uuid:6d2b1a2e-1b7e-4c55-9a62-3f0e7c9d2a11"}
    assert post(client, maker, document(event)).status_code == 202
    size = ledger.size()
    with services.accounts.engine.begin() as conn:
        conn.execute(delete(event_index_table))
    again = post(client, maker, document(event))
    assert again.status_code == 202 and again.json()["errors"] == [], again.text
    assert ledger.size() == size
