"""The OpenAPI document shows every server-signed write body as its payload model: fields,
units, constraints and a valid example (trace/domain/payloads.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from insutrace.api.authz import WRITE_RULES
from insutrace.trace.domain import MODELS, check_payload


def _body_schema(doc: dict[str, Any], type: str) -> dict[str, Any]:
    body = doc["paths"][f"/v1/{type}"]["post"]["requestBody"]
    assert body["required"] is True
    media = body["content"]["application/json"]
    ref = media["schema"]["$ref"]
    name = ref.split("/")[-1]
    schema: dict[str, Any] = doc["components"]["schemas"][name]
    return {"name": name, "schema": schema, "examples": media.get("examples", {})}


def _doc(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def test_every_api_write_type_has_a_model() -> None:
    assert set(WRITE_RULES) == set(MODELS)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_every_write_body_is_its_model(app: FastAPI) -> None:
    doc = _doc(app)
    for type, model in MODELS.items():
        found = _body_schema(doc, type)
        assert found["name"] == model.__name__, type
        schema = found["schema"]
        assert schema["additionalProperties"] is False, type
        want = set(model.model_json_schema(by_alias=True)["properties"])
        assert set(schema["properties"]) == want, type
        (example,) = found["examples"].values()
        check_payload(type, example["value"])
        assert schema["examples"] == [example["value"]]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_components_keep_their_plain_names(app: FastAPI) -> None:
    names = set(_doc(app)["components"]["schemas"])
    assert not [n for n in names if "__" in n], "two models share a name"
    assert {"Line", "Section", "Design", "Location", "CombustionResult"} <= names


def _property(doc: dict[str, Any], component: str, name: str) -> dict[str, Any]:
    prop: dict[str, Any] = doc["components"]["schemas"][component]["properties"][name]
    if "anyOf" in prop:  # optional: the non-null member
        prop = {**next(p for p in prop["anyOf"] if p.get("type") != "null"), **prop}
    return prop


UNITS = [
    ("BatchRegister", "conductivity", "W/(m·K)"),
    ("BatchRegister", "density", "kg/m³"),
    ("BatchRegister", "quantity", "batch's unit"),
    ("Section", "area_m2", "m²"),
    ("Design", "height_m", " m"),
    ("Design", "composite_noncombustible_layer_mm", "mm"),
    ("Design", "roof_slab_fire_resistance_h", " h"),
    ("ConductivityResult", "value", "W/(m·K)"),
    ("MeasuredResult", "value", "kg/m³"),
]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_measured_fields_state_their_unit(app: FastAPI) -> None:
    doc = _doc(app)
    for component, name, unit in UNITS:
        prop = _property(doc, component, name)
        assert unit in prop["description"], (component, name)
        assert prop["type"] == "string" and "pattern" in prop  # decimal strings, never numbers


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_forms_are_in_the_schema(app: FastAPI) -> None:
    doc = _doc(app)
    assert _property(doc, "BatchRegister", "unit")["enum"] == ["m2", "m3", "board", "panel"]
    assert _property(doc, "BatchRegister", "schema")["const"] == 1
    assert _property(doc, "BatchRegister", "product")["pattern"] == "^[0-9]{14}$"
    assert _property(doc, "BatchRegister", "production_date")["pattern"].startswith("^[0-9]{4}")
    assert _property(doc, "CustodyShip", "to")["pattern"].endswith("{10}$")
    assert _property(doc, "ReportIssue", "document")["pattern"] == "^[0-9a-f]{64}$"
    results = doc["components"]["schemas"]["ReportIssue"]["properties"]["results"]
    assert results["items"]["discriminator"]["propertyName"] == "property"
