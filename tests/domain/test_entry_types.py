"""Issue 9: every entry type is declared once, and everything else is derived from the registry."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

import insutrace.trace.domain as domain
from insutrace.api.authz import WRITE_RULES
from insutrace.cli.main import app
from insutrace.trace import actors
from insutrace.trace.actors import Context
from insutrace.trace.domain import ADMISSION, REGISTRY, TYPES
from insutrace.trace.entrytable import entry_type_table
from insutrace.trace.entrytype import ROLES, Record, Registry, superseding
from insutrace.trace.epcis import EVENTS
from insutrace.trace.epcis_map import ErrorDeclaration, EventSpec
from insutrace.trace.errors import RuleViolation
from insutrace.trace.ledger import Ledger

from .conftest import World, refused

README = Path(__file__).resolve().parents[2] / "README.md"
LOG_MECHANICS = {"log.genesis", "key.rotate", "key.revoke", "key.add"}
# Node kinds a back-trace draws (insutrace.trace.backtrace): a dossier checks each one
# against the records its cited entries' types declare.
TRACE_NODE_KINDS = {
    "org", "listing", "batch", "product", "report", "inspection", "sample", "project",
    "acceptance", "permit", "building", "incident", "section",
}  # fmt: skip


def _declaring_modules() -> list[str]:
    found = []
    for info in pkgutil.iter_modules(domain.__path__):
        module = importlib.import_module(f"{domain.__name__}.{info.name}")
        if hasattr(module, "TYPES"):
            found.append(info.name)
    return found


def test_every_declaring_module_is_assembled() -> None:
    """No handler module's declarations are forgotten by the assembly."""
    modules = _declaring_modules()
    assert {"orgs", "batches", "credit", "permits", "incidents", "labels"} <= set(modules)
    for name in modules:
        for declared in importlib.import_module(f"{domain.__name__}.{name}").TYPES:
            assert declared.name in REGISTRY, f"{name}.TYPES declares {declared.name}"


def test_the_registry_is_every_type_once_core_first() -> None:
    assert tuple(REGISTRY.values()) == TYPES
    assert len(set(REGISTRY)) == len(TYPES) == 53
    assert list(REGISTRY)[:5] == [t.name for t in actors.TYPES]
    assert REGISTRY["actor.register"].handler is not actors.CORE_TYPES["actor.register"].handler
    with pytest.raises(TypeError):
        REGISTRY["x"] = TYPES[0]  # type: ignore[index]


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_type_is_fully_declared(name: str) -> None:
    t = REGISTRY[name]
    assert re.search(r"[\u4e00-\u9fff]", t.title_zh) and t.title_en.strip()
    assert t.schema == 1 and t.payload_fields().strip()
    assert (t.payload is not None) == bool(t.signers), "every type the API writes has a model"
    assert t.signers <= set(ROLES) and t.signers_doc.endswith(".")
    assert bool(t.signers) == (name != "log.genesis")
    assert isinstance(t.records, tuple) and all(isinstance(r, Record) for r in t.records)
    if name in LOG_MECHANICS:
        assert t.epcis is None
    else:
        assert isinstance(t.epcis, EventSpec | ErrorDeclaration)
    assert t.admitted == (name not in actors.CORE_TYPES or name == "actor.register")


def test_the_dossier_knows_every_kind_a_back_trace_draws() -> None:
    assert REGISTRY.record_kinds() >= TRACE_NODE_KINDS


def test_write_rules_and_epcis_events_are_derived() -> None:
    assert set(WRITE_RULES) == set(REGISTRY) - {"log.genesis"}
    assert WRITE_RULES["batch.register"].roles == REGISTRY["batch.register"].signers
    assert set(EVENTS) == set(REGISTRY) - LOG_MECHANICS - {"entry.correct"}


def test_the_credit_module_punishes_through_report_issue() -> None:
    """The joint punishment of listed labs is part of the assembled report.issue."""
    from insutrace.trace.domain import reports

    assert REGISTRY["report.issue"].handler is not reports.TYPES[0].handler
    assert replace(REGISTRY["report.issue"], handler=reports.issue_report) == reports.TYPES[0]


def test_a_type_declared_twice_is_refused_and_superseding_replaces_in_place() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Registry((*TYPES, TYPES[5]))
    renamed = replace(TYPES[5], title_en="Other")
    assert superseding(TYPES, renamed)[5] is renamed


def test_unknown_signer_roles_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown signer roles"):
        replace(TYPES[5], signers=frozenset({"janitor"}))


def test_the_readme_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    inside = text.split("<!-- entry-types:start -->\n", 1)[1].split("<!-- entry-types:end -->")[0]
    assert inside == entry_type_table(REGISTRY)


def test_the_cli_prints_the_table() -> None:
    result = CliRunner().invoke(app, ["entry-types"])
    assert result.exit_code == 0 and result.stdout == entry_type_table(REGISTRY)
    with_fields = CliRunner().invoke(app, ["entry-types", "--fields"])
    assert "| `batch.register` |" in with_fields.stdout and "production_date" in with_fields.stdout


@pytest.mark.test_rules("test.refused")
def test_admission_checks_run_only_for_admitted_types(world: World) -> None:
    """The ledger runs the checks it is given before admitted (domain) types only."""
    maker = world.id("maker")

    def refuse_maker(ctx: Context) -> None:
        if ctx.entry.actor == maker:
            raise RuleViolation("test.refused", f"{maker} is refused")

    base = world.ledger
    guarded = Ledger(
        base.store, log_signer=base.log_signer, clock=base.clock, types=REGISTRY,
        admission=(*ADMISSION, refuse_maker),
    )  # fmt: skip
    with refused("test.refused"):
        world.on(guarded).product()
    signer = world["maker"]
    new_key = world.signer_for(f"{maker}/2")
    guarded.append("key.rotate", {"public_key": new_key.public_b64}, signer)
