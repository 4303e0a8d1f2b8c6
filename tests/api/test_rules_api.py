"""The rule catalogue over HTTP (GET /v1/rules, the /rules page) and the problem bodies of
refusals: rule, clause, message {zh, en}, errors with JSON Pointers; one status per class."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from insutrace.api import client as api_client
from insutrace.api.problems import STATUSES, Unauthenticated, install_problem_handlers
from insutrace.trace import errors
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain.payloads import PayloadInvalid
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.rules import catalogue

from .conftest import World

PROBLEM = "application/problem+json"


def _subclasses(cls: type[errors.LedgerError]) -> set[type[errors.LedgerError]]:
    found = set(cls.__subclasses__())
    return found | {s for c in found for s in _subclasses(c)}


# -- GET /v1/rules and /rules --------------------------------------------------------------


def test_v1_rules_serves_every_rule_once(client: TestClient) -> None:
    r = client.get("/v1/rules")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["version"] == catalogue().version
    ids = [rule["id"] for rule in body["rules"]]
    assert ids == list(catalogue().rules) and len(ids) == len(set(ids))
    by_id = {rule["id"]: rule for rule in body["rules"]}
    assert by_id["wall.row5.residential_27_to_100m"] == {
        "id": "wall.row5.residential_27_to_100m",
        "clause": "GB 55037-2022 §6.6.6",
        "clauses": ["GB 55037-2022 §6.6.6"],
        "confidence": "S",
        "source": "policy",
        "applies": [
            "project.register",
            "fire_design_review",
            "construction_permit",
            "fire_acceptance",
        ],
        "policies": [  # every shipped version carries the row, newest first
            {"id": "cn-national-2025", "version": version, "effective_date": day}
            for version, day in (
                ("2027.1", "2027-01-02"),
                ("2026.2", "2027-01-01"),
                ("2026.3", "2026-12-03"),
                ("2026.1", "2026-07-01"),
                ("2025.1", "2025-01-01"),
            )
        ],
        "zh": "建筑高度大于 27 m、不大于 100 m 的住宅建筑（无空腔）：外墙保温材料燃烧性能须达到 ≥B1",
        "en": "residential building over 27 m and up to 100 m, no cavity: external-wall "
        "insulation ≥B1",
    }
    assert by_id["gate.retest"]["applies"] == ["fire_acceptance", "permit.decide"]
    assert by_id["gate.retest"]["clause"].startswith("GB 55015-2021 §6.2.1")
    assert (
        by_id["org.uscc"]["confidence"] == "V" and by_id["org.uscc"]["clause"] == "GB 32100-2015 §4"
    )
    assert by_id["install.recalled"]["applies"] == ["site.install"]
    assert by_id["install.recalled"]["policies"] == []  # a ledger rule
    # the offline window: 2026.3 and 2027.1 carry it, 2026.2 (in force on 2027-01-01) not
    assert [
        (p["version"], p["effective_date"]) for p in by_id["entry.offline_window"]["policies"]
    ] == [
        ("2027.1", "2027-01-02"),
        ("2026.3", "2026-12-03"),
    ]


def test_the_rules_page_is_bilingual_chinese_first(client: TestClient) -> None:
    r = client.get("/rules")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert page.index("本账本执行的规则") < page.index("The rules this ledger enforces")
    entry = catalogue().rule("install.recalled")
    for text in (entry.id, entry.zh, entry.en, entry.clause):
        assert text in page
    assert page.index(entry.zh) < page.index(entry.en)
    assert f"{len(catalogue().rules)} rules, catalogue version {catalogue().version}" in page
    for heading in ("入账规则", "审批门规则", "政策规则"):
        assert heading in page
    assert "住宅建筑（无空腔）：外墙保温材料燃烧性能须达到 ≥B1" in page
    window = page[page.index('id="entry.offline_window"') :]
    window = window[: window.index("</article>")]
    assert "政策版本" in window and window.index("政策版本") < window.index("Policy versions")
    assert "cn-national-2025 2026.3</span>（2026-12-03 起" in window
    assert "cn-national-2025 2027.1</span>（2027-01-02 起" in window
    assert "2026.2" not in window


def test_the_home_page_links_the_rules(client: TestClient) -> None:
    assert '<a href="/rules">规则 Rules</a>' in client.get("/").text


# -- refusals ------------------------------------------------------------------------------


def test_a_rule_violation_carries_rule_clause_bilingual_message_and_errors(
    client: TestClient, world: World, clock: FixedClock, signer_for: Callable[[str], Signer]
) -> None:
    party = world["manufacturer"]
    clock.tick(timedelta(hours=-1))
    data = world.sign(party.signer, "key.rotate", {"public_key": signer_for("fresh").public_b64})
    clock.tick(timedelta(hours=1))
    r = client.post("/v1/entries", content=data, headers=party.auth)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    body = r.json()
    entry = catalogue().rule("entry.time")
    assert (body["rule"], body["clause"], body["message"]) == (
        "entry.time",
        entry.clause,
        {
            "zh": "条目时间与账本时钟相差过大",
            "en": "an entry's time must be close to the ledger's clock",
        },
    )
    assert "is more than" in body["detail"]
    assert body["errors"] == [{"pointer": None, "detail": body["detail"], "rule": "entry.time"}]


def test_a_malformed_entry_points_at_the_member(client: TestClient, world: World) -> None:
    r = client.post("/v1/entries", content=b'{"v":1}', headers=world["manufacturer"].auth)
    assert r.status_code == 400
    body = r.json()
    assert body["rule"] == "input.malformed"
    assert body["message"] == catalogue().rule("input.malformed").message()
    assert body["errors"] == [{"pointer": "/actor", "detail": body["detail"]}]


def test_a_malformed_payload_field_points_into_the_payload(
    client: TestClient, world: World, signer_for: Callable[[str], Signer]
) -> None:
    payload = {"schema": 1, "id": "91350100M000100Y43", "name": 7, "roles": ["manufacturer"]}
    payload |= {"address": "北京", "public_key": signer_for("p").public_b64}
    data = world.sign(world["authority"].signer, "actor.register", payload)
    r = client.post("/v1/entries", content=data, headers=world["authority"].auth)
    # the declared payload model refuses it before the handler's own reader would
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["pointer"] == "/payload/name"
    assert "valid string" in r.json()["errors"][0]["detail"]


def test_the_handlers_reader_points_into_the_payload_too(
    ledger: Ledger, world: World, signer_for: Callable[[str], Signer]
) -> None:
    """Below the API, a handler's refusal of a field carries the same kind of pointer."""
    payload = {"schema": 1, "id": "91350100M000100Y43", "name": 7, "roles": ["manufacturer"]}
    payload |= {"address": "北京", "public_key": signer_for("p").public_b64}
    with pytest.raises(
        errors.MalformedInput, match=r"payload\.name must be a non-empty string"
    ) as info:
        ledger.append("actor.register", payload, world["authority"].signer)
    assert info.value.pointer == "/payload/name"


# -- one status per error class ------------------------------------------------------------


def test_every_error_class_has_one_row_in_the_status_table() -> None:
    found = _subclasses(errors.LedgerError)
    # a module's private subclass (e.g. verify's stored-hash fault) is answered by its
    # public parent's row
    classes = {c for c in found if not c.__name__.startswith("_")}
    assert classes == set(STATUSES)
    for private in found - classes:
        assert any(c in STATUSES for c in private.__mro__[1:]), private
    assert Unauthenticated in classes and errors.Unavailable in classes
    assert len({slug for _, slug in STATUSES.values()}) == len(STATUSES)


def _raising_app(exc: errors.LedgerError) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app)


@pytest.mark.parametrize("cls", sorted(STATUSES, key=lambda c: c.__name__))
def test_each_error_class_answers_its_status(cls: type[errors.LedgerError]) -> None:
    exc = (
        cls("org.known", "x")
        if cls is errors.RuleViolation
        else PayloadInvalid("actor.register", [{"pointer": "/payload/name", "detail": "bad"}])
        if cls is PayloadInvalid
        else cls("something failed")
    )
    r = _raising_app(exc).get("/boom")
    status, slug = STATUSES[cls]
    assert r.status_code == status and r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == f"urn:insutrace:problem:{slug}" and r.json()["status"] == status


def test_the_client_reads_each_slug_back_as_its_class() -> None:
    for cls, (status, slug) in STATUSES.items():
        body = {"type": f"urn:insutrace:problem:{slug}", "detail": "d", "rule": "org.known"}
        read = api_client.problem_error(status, body)
        readings = {Unauthenticated: errors.Forbidden, PayloadInvalid: errors.MalformedInput}
        expected = readings.get(cls, cls)
        assert type(read) is expected, slug
