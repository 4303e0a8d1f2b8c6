"""Payload models (trace/domain/payloads.py) against what the ledger admits.

Every payload the demo and the scenario builders write validates against its type's
model; each model's own example validates, and the main types' examples are admitted by
the ledger; wrong payloads are refused with a JSON Pointer (RFC 6901) to the member.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, get_args

import pytest
import support

from insutrace.demo.story import build_demo
from insutrace.trace.actors import GENESIS
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import HANDLERS, MODELS, check_payload, payloads
from insutrace.trace.domain.batches import Unit
from insutrace.trace.domain.buildings import DefectKind, Severity
from insutrace.trace.domain.custody import Discrepancy
from insutrace.trace.domain.gate import Outcome, Stage, evaluate
from insutrace.trace.domain.incidents import IncidentKind
from insutrace.trace.domain.orgs import Role
from insutrace.trace.domain.payloads import PayloadInvalid
from insutrace.trace.domain.products import InsulationType, Polymer
from insutrace.trace.domain.read import Verdict
from insutrace.trace.domain.recall import RecallReason
from insutrace.trace.domain.reports import Property
from insutrace.trace.domain.site import BriefingKind
from insutrace.trace.entry import Entry
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.policy import BuildingUse, CreditList, InsulationPosition

from .conftest import DOC, POLICY, TODAY, World, uscc

# What the demo never writes; the scenario below writes each of them.
NOT_IN_DEMO = {
    "org.update",
    "label.reprint",
    "label.void",
    "key.rotate",
    "key.revoke",
    "key.add",  # a device key's private half is made in a person's browser and never leaves it
    "credit.list",
    "credit.repair_apply",
    "credit.repair_decide",
    "permit.decide",
    "incident.record",
    "alert.acknowledge",
    "alert.assign",
    "alert.close",
}


def example(type: str) -> dict[str, Any]:
    extra = MODELS[type].model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list) and len(examples) == 1
    return copy.deepcopy(examples[0])


def logged(ledger: Ledger) -> list[Entry]:
    entries = [Entry.from_bytes(raw) for _, raw in ledger.store.iter_entries()]
    return [e for e in entries if e.type != GENESIS]


def refusals(entries: list[Entry]) -> list[str]:
    """Each logged entry its model refuses, with the first error."""
    wrong = []
    for e in entries:
        try:
            check_payload(e.type, e.payload)
        except PayloadInvalid as exc:
            wrong.append(f"{e.seq} {e.type}: {exc.errors[0]}")
    return wrong


# -- coverage and naming ----------------------------------------------------------------------


def test_every_type_but_genesis_has_a_model_named_after_it() -> None:
    assert set(MODELS) == set(HANDLERS) - {GENESIS}
    for type, model in MODELS.items():
        camel = "".join(part.title() for part in type.replace("_", ".").split("."))
        assert model.__name__ == camel
        assert getattr(payloads, camel) is model and camel in payloads.__all__


@pytest.mark.parametrize(
    ("literal", "enum"),
    [
        (payloads.Role, Role),
        (payloads.Unit, Unit),
        (payloads.InsulationType, InsulationType),
        (payloads.Polymer, Polymer),
        (payloads.BuildingUse, BuildingUse),
        (payloads.Position, InsulationPosition),
        (payloads.CreditListKind, CreditList),
        (payloads.DefectKind, DefectKind),
        (payloads.Verdict, Verdict),
    ],
)
def test_literals_are_the_domain_enums(literal: Any, enum: type[StrEnum]) -> None:
    assert set(get_args(literal)) == {m.value for m in enum}


@pytest.mark.parametrize(
    ("model", "field", "enum"),
    [
        (payloads.CustodyReceive, "discrepancy", Discrepancy),
        (payloads.SiteBriefing, "kind", BriefingKind),
        (payloads.BatchRecall, "reason", RecallReason),
        (payloads.PermitDecide, "stage", Stage),
        (payloads.PermitDecide, "outcome", Outcome),
        (payloads.IncidentRecord, "kind", IncidentKind),
        (payloads.Defect, "severity", Severity),
    ],
)
def test_inline_literals_are_the_domain_enums(
    model: type[Any], field: str, enum: type[StrEnum]
) -> None:
    schema = model.model_json_schema()
    prop = schema["properties"][field]
    if "enum" not in prop:  # a nested object (discrepancy): its kind
        ref = next(a["$ref"] for a in prop["anyOf"] if "$ref" in a).split("/")[-1]
        prop = schema["$defs"][ref]["properties"]["kind"]
    assert set(prop["enum"]) == {m.value for m in enum}


def test_measured_properties_are_the_domain_properties() -> None:
    tagged = {"combustion", "thermal_conductivity", *get_args(payloads.MeasuredProperty)}
    assert tagged == {p.value for p in Property}


# -- what the ledger accepts today ------------------------------------------------------------


def test_every_demo_payload_validates(ledger: Ledger, root: Signer) -> None:
    build_demo(ledger, root, start=support.DEMO_START)
    entries = logged(ledger)
    assert not refusals(entries)
    assert {e.type for e in entries} == set(MODELS) - NOT_IN_DEMO


def _credit_and_permits(world: World, clock: FixedClock, project: str) -> None:
    world.org("regulator", "南京市住房和城乡建设局", "regulator")
    world.org("investigator", "南京市消防救援支队", "investigator")
    regulator = world.id("regulator")
    world.add("credit.authorize", {"authority": regulator, "lists": ["ndrc_serious"]}, world.root)
    listing = {"subject": world.id("dist"), "list": "ndrc_serious", "policy": POLICY,
               "decision": {"number": "XY-1", "date": TODAY, "document": DOC},
               "min_date": "2027-11-22", "max_date": "2028-11-22", "reason": "虚假宣传"}  # fmt: skip
    world.add("credit.list", listing, world["regulator"])
    with world.ledger.store.read() as tx:
        found = evaluate(tx, project, Stage.FIRE_DESIGN_REVIEW, on=date.fromisoformat(TODAY))
    decision = {"project": project, "stage": "fire_design_review", "number": "JD-1",
                "outcome": found.outcome.value, "rules": found.refused_rules}  # fmt: skip
    world.add("permit.decide", decision, world["regulator"])
    incident = {"id": "FIRE-1", "building": project, "date": TODAY, "kind": "fire",
                "description": "外墙保温层起火"}  # fmt: skip
    world.add("incident.record", incident, world["investigator"])
    clock.tick(timedelta(days=366))
    apply = {"listing": f"{regulator}|XY-1", "date": "2027-11-23", "commitment": DOC,
             "evidence": DOC}  # fmt: skip
    world.add("credit.repair_apply", apply, world["dist"])
    decide = {"listing": f"{regulator}|XY-1", "granted": True, "number": "XF-1",
              "date": "2027-11-23", "document": DOC}  # fmt: skip
    world.add("credit.repair_decide", decide, world["regulator"])


def _alert_lifecycle(world: World, project: str, batch: str) -> None:
    gtin, lot = batch.split(".", 1)
    scan = {"project": project, "gtin": gtin, "lot": lot, "serial": "NEVER1",
            "verdict": "unknown_serial"}  # fmt: skip
    world.add("label.scan", scan, world["supervisor"])
    alert = f"counterfeit|{batch}|NEVER1"
    world.add("alert.acknowledge", {"alert": alert}, world["regulator"])
    world.add("alert.assign", {"alert": alert, "assignee": "王科长"}, world["regulator"])
    world.add("alert.close", {"alert": alert, "note": "已立案查处"}, world["regulator"])


def _keys(world: World, signer_for: Callable[[str], Signer]) -> None:
    lab = world.id("lab")
    world.add("org.update", {"id": lab, "address": "江苏省南京市鼓楼区新址路2号"}, world.root)
    fresh = signer_for(lab + "-2")
    world.ledger.append("key.rotate", {"public_key": fresh.public_b64}, world["lab"])
    world.ledger.append("key.revoke", {"key": fresh.key_id, "actor": lab}, world.root)
    maker = world["maker"]
    phone = signer_for(maker.actor + "-phone")
    device = {"public_key": phone.public_b64, "holder": "xps.clerk", "device": "质检平板 tablet"}
    world.ledger.append("key.add", device, maker)


def _label_ranges(world: World, batch: str) -> None:
    maker = world["maker"]
    issue = {"batch": batch, "first": "SN000001", "count": 24, "resolver": "id.insutrace.test",
             "key": maker.key_id}  # fmt: skip
    world.add("label.issue", issue, maker)
    span = {"batch": batch, "first": "SN000005", "count": 4}
    world.add("label.reprint", {**span, "reason": "打印机卡纸 printer jam"}, maker)
    world.add("label.void", {**span, "reason": "卡纸损坏 spoiled"}, maker)


def test_every_scenario_builder_payload_validates(
    world: World, clock: FixedClock, signer_for: Callable[[str], Signer]
) -> None:
    batch = world.qualified_batch(world.product())
    project = world.project()
    world.brief(project)
    world.on_site(project, batch)
    world.install(project, batch, "600", "600")
    _credit_and_permits(world, clock, project)
    _alert_lifecycle(world, project, batch)
    _keys(world, signer_for)
    _label_ranges(world, batch)
    entries = logged(world.ledger)
    assert not refusals(entries)
    assert {e.type for e in entries} >= NOT_IN_DEMO


# -- each model's example ---------------------------------------------------------------------


@pytest.mark.parametrize("type", sorted(MODELS))
def test_the_example_validates_and_dumps_back_unchanged(type: str) -> None:
    sent = example(type)
    model = check_payload(type, sent)
    assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == sent


def test_the_main_examples_are_admitted(world: World, signer_for: Callable[[str], Signer]) -> None:
    """The examples of registration, report, custody and project, with this world's ids."""
    code = uscc(90)
    org = {**example("actor.register"), "id": code, "public_key": signer_for(code).public_b64}
    world.add("actor.register", org, world.root)
    world.add("product.register", example("product.register"), world["maker"])
    world.add("batch.register", example("batch.register"), world["maker"])
    report = world.append("report.issue", example("report.issue"), world["lab"])
    ship = {**example("custody.ship"), "to": world.id("dist")}
    world.add("custody.ship", ship, world["maker"])
    receipt = {**example("custody.receive"), "shipment": f"{world.id('maker')}|D2026-0101"}
    world.add("custody.receive", receipt, world["dist"])
    world.site_parties()
    project = {**example("project.register"), "contractor": world.id("contractor"),
               "supervisor": world.id("supervisor")}  # fmt: skip
    world.add("project.register", project, world["owner"])
    with world.ledger.store.read() as tx:
        row = tx.get("report", f"{world.id('lab')}|R2026-00017")
        assert tx.get("project", "NJ-2026-0001") is not None
    assert row is not None and row["qualifies"], row
    assert report.seq < world.ledger.size()


# -- refusals name the member -----------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]

    def edit(payload: dict[str, Any]) -> None:
        here: Any = payload
        for part in parents:
            here = here[part]
        here[last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]

    def edit(payload: dict[str, Any]) -> None:
        here: Any = payload
        for part in parents:
            here = here[part]
        del here[last]

    return edit


WRONG = [
    # (type, edit, pointer): missing, unknown member, number for string, bad unit …
    ("batch.register", _drop("unit"), "/payload/unit"),
    ("batch.register", _set("colour", "blue"), "/payload/colour"),
    ("batch.register", _set("quantity", 1200), "/payload/quantity"),
    ("batch.register", _set("quantity", "0"), "/payload/quantity"),
    ("batch.register", _set("conductivity", "0.03001"), "/payload/conductivity"),
    ("batch.register", _set("unit", "kg"), "/payload/unit"),
    ("batch.register", _set("schema", True), "/payload/schema"),
    ("batch.register", _set("schema", "1"), "/payload/schema"),
    ("batch.register", _drop("schema"), "/payload/schema"),
    ("product.register", _set("thermosetting", 0), "/payload/thermosetting"),
    ("product.register", _set("gtin", "6900000000014"), "/payload/gtin"),
    ("custody.ship", _set("lines/0/unit", "kg"), "/payload/lines/0/unit"),
    ("custody.ship", _set("lines/0/quantity", 400), "/payload/lines/0/quantity"),
    ("custody.ship", _drop("lines/0/batch"), "/payload/lines/0/batch"),
    ("custody.ship", _set("date", "2026-02-30"), "/payload/date"),
    ("custody.ship", _set("to", "91320100ma0000002e"), "/payload/to"),
    ("custody.ship", _set("lines", []), "/payload/lines"),
    ("report.issue", _set("results/1/value", 0.029), "/payload/results/1/value"),
    ("report.issue", _drop("results/0/class"), "/payload/results/0/class"),
    ("report.issue", _set("results/2/property", "colour"), "/payload/results/2"),
    ("report.issue", _set("document", "9F" * 32), "/payload/document"),
    ("project.register", _set("design/height_m", 80), "/payload/design/height_m"),
    ("project.register", _set("sections/0/colour", "red"), "/payload/sections/0/colour"),
    ("project.register", _set("sections/0/position", "floor"), "/payload/sections/0/position"),
    ("project.register", _set("below_quota", True), "/payload"),
    ("site.inspect", _set("accepted", "true"), "/payload/accepted"),
    ("actor.register", _set("roles/0", "chef"), "/payload/roles/0"),
    ("entry.correct", _set("corrects", True), "/payload/corrects"),
    ("entry.correct", _set("set", {}), "/payload/set"),
    ("label.issue", _set("count", "240"), "/payload/count"),
    ("label.issue", _set("count", 240.0), "/payload/count"),
    ("label.issue", _set("count", 0), "/payload/count"),
    ("label.scan", _set("key", "3f9c0e1a2b4d5e6f"), "/payload"),
    (
        "building.register_survey",
        _set("facades/0/installed_year", "2009"),
        "/payload/facades/0/installed_year",
    ),
    ("key.rotate", _set("public_key", "not base64"), "/payload/public_key"),
    ("custody.receive", lambda p: p.update({"a/b~c": 1}), "/payload/a~1b~0c"),
]


@pytest.mark.parametrize(("type", "edit", "pointer"), WRONG)
def test_a_wrong_payload_is_refused_with_a_pointer_to_the_member(
    type: str, edit: Callable[[dict[str, Any]], None], pointer: str
) -> None:
    payload = example(type)
    edit(payload)
    with pytest.raises(PayloadInvalid) as info:
        check_payload(type, payload)
    pointers = [e["pointer"] for e in info.value.errors]
    assert pointer in pointers, json.dumps(info.value.errors, ensure_ascii=False)
    assert all(e["detail"] for e in info.value.errors)
    assert type in str(info.value) and pointers[0] in str(info.value)


def test_the_models_refuse_what_the_ledger_refuses_as_malformed(world: World) -> None:
    """The same wrong quantity: the ledger's handler and the model both refuse it."""
    product = world.product()
    payload = {**example("batch.register"), "product": product, "quantity": "1.0001"}
    with pytest.raises(PayloadInvalid, match="/payload/quantity"):
        check_payload("batch.register", payload)
    size = world.ledger.size()
    with pytest.raises(Exception, match="quantity"):
        world.ledger.append("batch.register", payload, world["maker"])
    assert world.ledger.size() == size
