"""Rule 11: every entry type maps to one EPCIS 2.0 event; exports validate against the schema."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import support

from insutrace.demo.story import DemoOutcome, build_demo
from insutrace.trace.actors import CORE_HANDLERS
from insutrace.trace.domain import HANDLERS
from insutrace.trace.epcis import EVENTS, export_epcis, validate_epcis
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return dict(json.loads(support.epcis_schema().read_text(encoding="utf-8")))


@pytest.fixture
def demo(ledger: Ledger, root: Signer) -> DemoOutcome:
    return build_demo(ledger, root, start=support.DEMO_START)


# Types the demo does not write (entry.correct is exported as the event it corrects).
DEMO_UNUSED = {
    "org.update",
    "entry.correct",
    "credit.list",
    "credit.repair_apply",
    "credit.repair_decide",
    "permit.decide",
    "incident.record",
    "alert.acknowledge",
    "alert.assign",
    "alert.close",
    "label.reprint",
    "label.void",
}


CBV_HASH = r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0"


def events(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["epcisBody"]["eventList"])


def test_every_domain_entry_type_has_one_event_in_one_table() -> None:
    log_mechanics = set(CORE_HANDLERS) - {"actor.register"}
    assert set(EVENTS) | {"entry.correct"} == set(HANDLERS) - log_mechanics


def test_the_whole_demo_ledger_exports_as_valid_epcis(
    ledger: Ledger, demo: DemoOutcome, schema: dict[str, Any]
) -> None:
    exported_at = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
    document = export_epcis(ledger, created=exported_at)
    assert validate_epcis(document, schema) == []
    assert len(events(document)) == demo.entries  # genesis is log mechanics, not an event
    kinds = {e["insu:entryType"] for e in events(document)}
    assert kinds == set(HANDLERS) - set(CORE_HANDLERS) - DEMO_UNUSED | {
        "actor.register"
    }  # see the correction
    assert document["creationDate"] == "2027-03-01T02:00:00.000Z"  # the export time
    ids = [e["eventID"] for e in events(document) if "errorDeclaration" not in e]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(CBV_HASH, i) for i in ids)
    assert_master_data_and_certification(events(document))
    assert_correction_is_an_error_declaration(events(document))


def assert_master_data_and_certification(found: list[dict[str, Any]]) -> None:
    """A batch's lot master data travels in ilmd, a report in certificationInfo."""
    commission = next(e for e in found if e["insu:entryType"] == "batch.register")
    assert commission["ilmd"]["insu:declaredClass"].startswith("GB 8624 ")
    assert commission["quantityList"][0]["uom"] == "MTK"
    reports = [e for e in found if e["insu:entryType"] == "report.issue"]
    assert all(e["certificationInfo"][1].startswith("ni:///sha-256;") for e in reports)
    assert {e["disposition"] for e in reports} == {"conformant", "non_conformant"}


def assert_correction_is_an_error_declaration(found: list[dict[str, Any]]) -> None:
    """entry.correct re-exports the corrected event with an errorDeclaration."""
    declared = next(e for e in found if "errorDeclaration" in e)
    original = next(
        e for e in found if e["eventID"] == declared["eventID"] and "errorDeclaration" not in e
    )
    assert original["insu:entryType"] == "project.register"
    assert declared["errorDeclaration"]["reason"] == "incorrect_data"


def test_a_selection_validates_and_the_validator_rejects_what_the_schema_rejects(
    ledger: Ledger, demo: DemoOutcome, schema: dict[str, Any]
) -> None:
    batch = demo.recalled[0]
    document = export_epcis(ledger, refs=[f"batch:{batch}"])
    assert validate_epcis(document, schema) == []
    steps = [e["bizStep"] for e in events(document)]
    assert steps[0] == "commissioning" and "sampling" in steps and "installing" in steps
    recall = next(e for e in events(document) if e["insu:entryType"] == "batch.recall")
    assert recall["disposition"] == "recalled"
    assert recall["persistentDisposition"] == {"set": ["recalled"]}
    only = export_epcis(ledger, refs=[f"batch:{batch}"], types=["site.install"])
    assert {e["bizStep"] for e in events(only)} == {"installing"}
    bad = copy.deepcopy(document)
    events(bad)[0]["eventID"] = "not a uri"
    events(bad)[1]["eventTime"] = "yesterday"
    events(bad)[2]["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"  # CBV terms are bare words
    problems = validate_epcis(bad, schema)
    assert any("not a uri" in p for p in problems)
    assert any("yesterday" in p for p in problems)
    assert len(problems) >= 3
