"""A new entry type touches one declaration: it is then writable through the API (server-held
key), exported to EPCIS 2.0 and known to the dossier verifier, with nothing else changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from insutrace.api.app import create_app
from insutrace.api.deps import Services
from insutrace.trace.actors import Context
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, TYPES
from insutrace.trace.dossier import build_dossier, verify_dossier
from insutrace.trace.entry import Entry
from insutrace.trace.entrytype import EntryType, Record, Registry, by_actor, party, roles
from insutrace.trace.epcis import export_epcis
from insutrace.trace.epcis_map import EventSpec, Uris, voc
from insutrace.trace.errors import RuleViolation, VerificationError
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings
from insutrace.trace.store.base import KV

from .conftest import World
from .test_roles import batch_payload

pytestmark = pytest.mark.test_rules("note.unique")

GTIN = "06901234000016"


def record_note(ctx: Context) -> None:
    """product.note: a manufacturer's numbered note on its own product."""
    number = ctx.payload_str("number", max_len=40)
    key = f"{ctx.entry.actor}|{number}"
    if ctx.kv.get("note", key) is not None:
        raise RuleViolation("note.unique", f"note {key} is already recorded")
    product = ctx.payload_str("product", max_len=14)
    ctx.kv.put("note", key, {"product": product, "text": ctx.payload_str("text")})
    ctx.ref(f"product:{product}")


def note_details(u: Uris, e: Entry, kv: KV) -> dict[str, Any]:
    return {"epcList": [], "bizLocation": {"id": u.org(e.actor)}, "insu:note": e.payload["text"]}


class NotePayload(BaseModel):
    """product.note's payload: declared with the type, like every domain type's."""

    model_config = ConfigDict(extra="forbid", strict=True)
    version: Literal[1] = Field(alias="schema")
    product: str = Field(pattern=r"^[0-9]{14}$", description="GTIN-14 of the product")
    number: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=512)


NOTE = EntryType(
    "product.note", "产品备注", "Note on a product", record_note,
    roles("manufacturer"), "A manufacturer notes something on its product.",
    owner=party("product", "product", "manufacturer"),
    owner_doc="Only on the organisation's own products.",
    epcis=EventSpec("OBSERVE", voc("noting"), None, note_details),
    records=(Record("note", by_actor("number")),),
    payload=NotePayload,
)  # fmt: skip
WITH_NOTE = Registry((*TYPES, NOTE))


@pytest.fixture
def ledger(make_ledger: Any) -> Ledger:
    ledger: Ledger = make_ledger(WITH_NOTE, ADMISSION)
    return ledger


@pytest.fixture
def app(
    settings: Settings, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[FastAPI]:
    app = create_app(settings, clock=clock, log_signer=log_signer, types=WITH_NOTE)
    yield app
    services: Services = app.state.services
    services.accounts.close()
    services.ledger.store.close()


def product_payload() -> dict[str, Any]:
    return {
        "schema": 1,
        "gtin": GTIN,
        "name": "挤塑聚苯板 XPS-30",
        "type": "xps",
        "polymer": "polystyrene",
        "thermosetting": False,
        "standard": "GB/T 10801.2-2018",
    }


def note(number: str = "N-1") -> dict[str, Any]:
    return {"schema": 1, "product": GTIN, "number": number, "text": "板边受潮 damp edges"}


@pytest.fixture
def written(client: TestClient, world: World, ledger: Ledger) -> int:
    """The seq of a product.note written through the server-signed path."""
    maker = world["manufacturer"]
    ledger.append("product.register", product_payload(), maker.signer)
    world.hold_key(maker)
    response = client.post("/v1/product.note", json=note(), headers=maker.auth)
    assert response.status_code == 201, response.text
    return int(response.json()["seq"])


def test_the_new_type_is_an_endpoint_with_its_declared_rule(
    client: TestClient, world: World, written: int
) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/product.note"]["post"]
    assert (
        "Roles: manufacturer. Only on the organisation's own products."
        in (operation["description"])
    )
    other = world["distributor"]
    world.hold_key(other)
    refused = client.post("/v1/product.note", json=note("N-2"), headers=other.auth)
    assert refused.status_code == 403 and "may not write" in refused.json()["detail"]
    again = client.post("/v1/product.note", json=note(), headers=world["manufacturer"].auth)
    assert again.status_code == 422 and again.json()["rule"] == "note.unique"


def test_the_new_type_is_exported_to_epcis(ledger: Ledger, written: int) -> None:
    events = export_epcis(ledger, types=["product.note"])["epcisBody"]["eventList"]
    assert [e["insu:payload"] for e in events] == [ledger.entry(written).payload]
    assert events[0]["bizStep"] == voc("noting") and events[0]["insu:note"].startswith("板边")


def test_the_dossier_replays_through_the_ledgers_types(
    ledger: Ledger, world: World, written: int
) -> None:
    """A dossier's entries are replayed through the entry types the verifier is given; the
    note is in no batch's back-trace, so a batch dossier neither cites nor needs it."""
    ledger.append("batch.register", batch_payload(gtin=GTIN), world["manufacturer"].signer)
    dossier = build_dossier(ledger, {"kind": "batch", "id": f"{GTIN}.L2026-001"})
    assert written not in {item["seq"] for item in dossier["entries"]}
    assert verify_dossier(dossier, types=WITH_NOTE).cited == len(dossier["trace"]["entries"])
    dossier["trace"]["nodes"][0]["facts"]["declared"] = "A1"
    with pytest.raises(VerificationError, match=r"field facts\.declared"):
        verify_dossier(dossier, types=WITH_NOTE)
