"""Webhooks: subscriptions per organisation, Standard Webhooks signatures, delivery to a
receiver on 127.0.0.1, retry with back-off, the delivery log, and who a recall reaches."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import support
from fastapi import FastAPI
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from insutrace.api import webhooks
from insutrace.api.deps import Services
from insutrace.api.webhooks import Worker, sign
from insutrace.demo.story import build_demo
from insutrace.trace.clock import FixedClock
from insutrace.trace.entry import Entry
from insutrace.trace.ledger import Ledger
from insutrace.trace.notify import notices

from .conftest import World
from .test_epcis_api import BATCH, PRODUCT, commissioning, document, shipping


@pytest.fixture(autouse=True)
def epcis_schema_present() -> None:
    """Capture validates against GS1's schema (installed by the API tests' settings)."""
    support.epcis_schema()  # skips, with its reason, where ../shared lacks it


class Receiver:
    """A tests-only webhook endpoint: records each request, answers the queued codes."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def plain(app: FastAPI) -> TestClient:
    """A client that does not run the app's lifespan: no worker thread, rounds by hand."""
    return TestClient(app)


def subscribe(client: TestClient, party: Any, url: str, *topics: str) -> dict[str, Any]:
    answer = client.post(
        "/v1/webhooks", json={"url": url, "topics": list(topics)}, headers=party.auth
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def trade(client: TestClient, world: World, clock: FixedClock) -> None:
    """The manufacturer registers a lot and ships 400 m² of it to the distributor."""
    maker = world["manufacturer"]
    world.hold_key(maker)
    assert client.post("/v1/product.register", json=PRODUCT, headers=maker.auth).status_code == 201
    clock.tick(timedelta(hours=1))
    events = document(commissioning(), shipping(world["distributor"].org))
    job = client.post("/epcis/capture", json=events, headers=maker.auth).json()
    assert job["success"], job


def test_the_signature_is_standard_webhooks_v1() -> None:
    """The Python library's test vector (interfaces.md §3)."""
    assert (
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_subscriptions_belong_to_an_organisation(plain: TestClient, world: World) -> None:
    maker, dealer = world["manufacturer"], world["distributor"]
    made = subscribe(plain, maker, "https://erp.example.cn/hook", "entry.names_org")
    assert made["secret"].startswith("whsec_") and made["topics"] == ["entry.names_org"]
    listed = plain.get("/v1/webhooks", headers=maker.auth).json()
    assert [s["id"] for s in listed] == [made["id"]] and "secret" not in listed[0]
    assert plain.get("/v1/webhooks", headers=dealer.auth).json() == []
    assert plain.delete(f"/v1/webhooks/{made['id']}", headers=dealer.auth).status_code == 404
    assert plain.delete(f"/v1/webhooks/{made['id']}", headers=maker.auth).status_code == 204
    assert plain.get("/v1/webhooks", headers=maker.auth).json() == []
    ftp = plain.post(
        "/v1/webhooks", json={"url": "ftp://x/y", "topics": ["entry.names_org"]}, headers=maker.auth
    )
    assert ftp.status_code == 422 and ftp.json()["rule"] == "webhook.dest"
    odd = plain.post(
        "/v1/webhooks", json={"url": "https://x/y", "topics": ["weather"]}, headers=maker.auth
    )
    assert odd.status_code == 422 and odd.json()["rule"] == "webhook.topic"


def test_delivery_is_signed_and_retried_with_the_same_id(
    plain: TestClient, world: World, clock: FixedClock, services: Services, receiver: Receiver
) -> None:
    dealer = world["distributor"]
    made = subscribe(plain, dealer, receiver.url, "entry.names_org")
    receiver.codes[:] = [500]  # the first attempt fails
    trade(plain, world, clock)
    worker = Worker(services, schedule=(0.05, 0.05), jitter=0)
    assert worker.run_once() == 0  # queued and attempted: 500
    time.sleep(0.1)
    assert worker.run_once() == 1
    assert worker.run_once() == 0  # nothing left
    (first, _), (second, body) = receiver.got
    assert first["webhook-id"] == second["webhook-id"] and first["webhook-id"].startswith("msg_")
    # the subscriber's library accepts the signature made with the secret it was given
    payload = Webhook(made["secret"]).verify(body, second)
    assert payload["type"] == "entry.names_org"
    assert payload["data"]["entryType"] == "custody.ship"
    assert payload["data"]["actor"] == world["manufacturer"].org
    forged = {
        **second,
        "webhook-signature": sign(
            made["secret"], "msg_other", int(second["webhook-timestamp"]), body
        ),
    }
    with pytest.raises(Exception, match="signature"):
        Webhook(made["secret"]).verify(body, forged)
    log = plain.get(f"/v1/webhooks/{made['id']}/deliveries", headers=dealer.auth).json()
    (entry,) = log
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 2, 200)


def test_a_round_with_nothing_due_opens_no_http_client(
    plain: TestClient,
    world: World,
    clock: FixedClock,
    services: Services,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every server worker runs a round a second; an HTTP client costs a TLS context
    (milliseconds of CPU), so a round opens one only when it has something to send."""
    opened: list[httpx.Client] = []

    class Counted(httpx.Client):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            opened.append(self)

    monkeypatch.setattr(webhooks.httpx, "Client", Counted)
    worker = Worker(services, jitter=0)
    subscribe(plain, world["distributor"], receiver.url, "entry.names_org")
    assert worker.run_once() == 0 and opened == []
    trade(plain, world, clock)
    assert worker.run_once() == 1 and len(opened) == 1
    assert worker.run_once() == 0 and len(opened) == 1


def test_a_delivery_that_keeps_failing_is_given_up_and_410_ends_the_subscription(
    plain: TestClient, world: World, clock: FixedClock, services: Services, receiver: Receiver
) -> None:
    dealer = world["distributor"]
    made = subscribe(plain, dealer, receiver.url, "entry.names_org")
    receiver.codes[:] = [503, 302]  # a redirect is a failure, not followed
    trade(plain, world, clock)
    worker = Worker(services, schedule=(0.01,), jitter=0)
    worker.run_once()
    time.sleep(0.05)
    worker.run_once()
    (entry,) = plain.get(f"/v1/webhooks/{made['id']}/deliveries", headers=dealer.auth).json()
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("failed", 2, 302)

    assert plain.delete(f"/v1/webhooks/{made['id']}", headers=dealer.auth).status_code == 204
    gone = subscribe(plain, dealer, receiver.url, "entry.names_org")
    receiver.codes[:] = [410]
    maker = world["manufacturer"]
    ship = shipping(dealer.org, quantity=100, time="2026-11-22T08:50:00.000Z")
    ship["bizTransactionList"][0]["bizTransaction"] = "urn:epcglobal:cbv:bt:0614141073467:D-0102"
    assert plain.post("/epcis/capture", json=document(ship), headers=maker.auth).json()["success"]
    worker.run_once()
    listed = {s["id"]: s["active"] for s in plain.get("/v1/webhooks", headers=dealer.auth).json()}
    assert listed[gone["id"]] is False


def test_a_recall_reaches_the_downstream_holder(
    plain: TestClient,
    world: World,
    clock: FixedClock,
    services: Services,
    receiver: Receiver,
    ledger: Ledger,
) -> None:
    dealer, maker, lab = world["distributor"], world["manufacturer"], world["testing_lab"]
    subscribe(plain, dealer, receiver.url, "recall.affecting")
    subscribe(plain, lab, receiver.url, "recall.affecting")  # not reached by this batch
    trade(plain, world, clock)
    world.hold_key(dealer)
    receiving = {
        **shipping(dealer.org, time="2026-11-22T08:45:00.000Z"),
        "bizStep": "receiving",
        "disposition": "in_progress",
        "sourceList": [
            {"type": "possessing_party", "source": f"https://id.insutrace.local/org/{maker.org}"}
        ],
    }
    del receiving["destinationList"]
    job = plain.post("/epcis/capture", json=document(receiving), headers=dealer.auth).json()
    assert job["success"], job
    recall = {
        "schema": 1,
        "batch": BATCH,
        "reason": "fraud",
        "decision": {"number": "JSZJ-2026-07", "date": "2026-11-22", "document": "9f" * 32},
    }
    ledger.append("batch.recall", recall, world["regulator"].signer)
    Worker(services).run_once()
    (body,) = receiver.bodies()
    assert body["type"] == "recall.affecting" and body["data"]["batch"] == BATCH
    assert (
        body["data"]["mine"]["holding"] == [{"site": "", "qty": 400000}]
        or body["data"]["mine"]["holding"][0]["site"] == ""
    )
    assert body["data"]["entryType"] == "batch.recall"


def test_the_server_process_delivers_by_itself(
    client: TestClient, world: World, clock: FixedClock, receiver: Receiver
) -> None:
    """``client`` runs the app's lifespan: its worker thread sends without being asked."""
    subscribe(client, world["distributor"], receiver.url, "entry.names_org")
    trade(client, world, clock)
    deadline = time.monotonic() + 20
    while not receiver.got and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [b["data"]["entryType"] for b in receiver.bodies()] == ["custody.ship"]


# -- who each topic reaches (the read model's answers) --------------------------------------


def test_the_demo_recall_and_clone_alert_reach_their_parties(ledger: Ledger, root: Any) -> None:
    """The story: the recall names the distributor, the contractor whose walls took the
    batch and its manufacturer; the cloned label alerts its manufacturer and the owners of
    both projects it was seen on. A testing lab is told of neither."""
    out = build_demo(ledger, root, start=support.DEMO_START)
    code = {key: info["uscc"] for key, info in out.orgs.items()}
    size = ledger.size()
    with ledger.store.read() as tx:
        found = {
            seq: notices(tx, seq, entry)
            for seq, entry in ((s, Entry.from_bytes(tx.entries(s, s + 1)[0])) for s in range(size))
            if entry.type in ("batch.recall", "label.scan")
        }
    recall = next(n for ns in found.values() for n in ns if n.topic == "recall.affecting")
    reached = {
        n.org: n.data["mine"] for ns in found.values() for n in ns if n.topic == "recall.affecting"
    }
    assert recall.data["batch"] in out.recalled
    assert "received" in reached[code["dist_nj"]]
    assert "walls" in reached[code["local_builder"]]
    assert "manufacturer" in reached[code["xps"]]
    alerted = {n.org for ns in found.values() for n in ns if n.topic == "alert.raised"}
    assert {code["xps"], code["owner_res"], code["owner_cold"]} <= alerted
    labs = {c for k, c in code.items() if "testing_lab" in out.orgs[k]["roles"]}
    assert labs and not labs & (alerted | set(reached))


class _Rows:
    """A key-value view with only what a credit notice reads: shipment rows."""

    def __init__(self, rows: dict[str, dict[str, Any]]) -> None:
        self.rows = rows

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.rows.get(key) if kind == "shipment" else None

    def scan(self, kind: str, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        return iter(
            sorted(
                (k, v) for k, v in self.rows.items() if kind == "shipment" and k.startswith(prefix)
            )
        )


def test_a_credit_listing_tells_the_listed_partys_customers() -> None:
    supplier, buyer, other = "91320100MA0000001B", "91320100MA0000002E", "91320100MA0000003H"
    kv = _Rows(
        {
            f"{supplier}|D-1": {"to": buyer},
            f"{supplier}|D-2": {"to": buyer},
            f"{other}|D-9": {"to": supplier},  # the listed party's own supplier is not told
        }
    )
    listing = Entry(
        seq=9,
        type="credit.list",
        actor="91110000MA00000077",
        key="k",
        time="2026-11-22T09:00:00.000Z",
        prev="0" * 64,
        payload={
            "schema": 1,
            "subject": supplier,
            "list": "mohurd_bad_record",
            "reason": "检测报告失实",
        },
    )
    (notice,) = notices(kv, 9, listing)  # type: ignore[arg-type]
    assert (notice.org, notice.topic, notice.data["supplier"]) == (
        buyer,
        "credit.supplier_listed",
        supplier,
    )
