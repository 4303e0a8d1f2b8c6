"""The EPCIS round trip: the demo exported, captured into an empty ledger of the same
organisations over ``POST /epcis/capture``, exported again — the same events, same hashes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import databases
import pytest
import support
from fastapi.testclient import TestClient

from insutrace.api.authz import write_rule
from insutrace.api.deps import Services
from insutrace.demo.story import DemoOutcome, build_demo
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.epcis import export_epcis
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # the test ledgers' genesis (conftest)
EXPORTED_AT = datetime(2027, 6, 1, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def epcis_schema_present() -> None:
    """Capture validates against GS1's schema (installed by the API tests' settings)."""
    support.epcis_schema()  # skips, with its reason, where ../shared lacks it


@pytest.fixture
def source(
    tmp_path: Any, root: Signer, log_signer: NoteSigner
) -> Iterator[tuple[Ledger, DemoOutcome]]:
    store = open_store(databases.migrated_sqlite(tmp_path / "source.db"))
    ledger = Ledger(
        store,
        log_signer=log_signer,
        clock=FixedClock(START, step=timedelta(seconds=1)),
        types=REGISTRY,
        admission=ADMISSION,
    )
    ledger.initialize(root, origin=log_signer.name)
    outcome = build_demo(ledger, root, start=support.DEMO_START)
    yield ledger, outcome
    store.close()


def _actor(event: dict[str, Any]) -> str:
    declared = event.get("errorDeclaration")
    uri = declared["insu:correction"]["actor"] if declared else event["insu:actor"]
    return str(uri).rsplit("/", 1)[1]


def _runs(
    events: list[dict[str, Any]], roles: dict[str, list[str]]
) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """Consecutive events of one organisation acting in one role: one capture each."""
    run: list[dict[str, Any]] = []
    who: tuple[str, str] | None = None
    for event in events:
        org = _actor(event)
        kind = "entry.correct" if "errorDeclaration" in event else event["insu:entryType"]
        rule = write_rule(REGISTRY, kind)
        assert rule is not None, kind
        role = next(r for r in roles[org] if r in rule.roles)
        if who is not None and who != (org, role):
            yield *who, run
            run = []
        who = (org, role)
        run.append(event)
    if who is not None:
        yield *who, run


def test_export_capture_export_gives_the_same_events(
    source: tuple[Ledger, DemoOutcome],
    client: TestClient,
    services: Services,
    ledger: Ledger,
    clock: FixedClock,
    root: Signer,
) -> None:
    demo_ledger, outcome = source
    exported = export_epcis(demo_ledger, created=EXPORTED_AT)
    events = exported["epcisBody"]["eventList"]
    assert len(events) == outcome.entries

    # the same organisations: their keys held by the server, an account per role
    vault = services.require_vault()
    roles: dict[str, list[str]] = {"root": ["authority"]}
    services.accounts.store_key(vault, root)
    for info in outcome.orgs.values():
        roles[info["uscc"]] = list(info["roles"])
        services.accounts.store_key(vault, outcome.signers[info["uscc"]])
    tokens: dict[tuple[str, str], str] = {}
    for org, names in roles.items():
        for role in names:
            _, tokens[org, role] = services.accounts.create_account(org, role, f"{role} staff")
    clock.tick(timedelta(days=900))  # the server's clock is after the demo's last day

    captures = 0
    runs = list(_runs(events, roles))
    for org, role, run in runs:
        document = {**exported, "epcisBody": {"eventList": run}}
        answer = client.post(
            "/epcis/capture",
            json=document,
            headers={"Authorization": f"Bearer {tokens[org, role]}", "GS1-EPCIS-Version": "2.0.0"},
        )
        assert answer.status_code == 202, answer.text
        job = answer.json()
        assert job["success"] and job["errors"] == [], job
        assert answer.headers["Location"] == f"/epcis/capture/{job['captureID']}"
        captures += 1
    assert captures > 10  # many organisations took turns

    again = export_epcis(ledger, created=EXPORTED_AT)
    assert again["epcisBody"]["eventList"] == events
    assert again == exported

    # idempotent on eventID: the first organisation's events sent again write nothing
    size = ledger.size()
    org, role, run = runs[1]
    answer = client.post(
        "/epcis/capture",
        json={**exported, "epcisBody": {"eventList": run}},
        headers={"Authorization": f"Bearer {tokens[org, role]}"},
    )
    assert answer.status_code == 202 and answer.json()["success"]
    assert answer.json()["insu:events"] == 0 and ledger.size() == size
