"""Label and wall plate contents refuse what cannot be printed truthfully."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from insutrace.labels.codec import LabelUri
from insutrace.labels.model import LabelContent, WallPlateContent, WallPlateRow
from insutrace.trace.errors import MalformedInput

LabelFactory = Callable[..., LabelContent]
GTIN = "09506000134352"


def test_valid_label(make_label: LabelFactory) -> None:
    label = make_label(serial="SN/7")
    assert label.link == LabelUri("id.insutrace.test", GTIN, "L20250601A", "SN/7")


@pytest.mark.parametrize("uscc", ["91350100M000100Y43", "9144030071526726XG"])
def test_valid_uscc(make_label: LabelFactory, uscc: str) -> None:
    assert make_label(manufacturer_uscc=uscc).manufacturer_uscc == uscc


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"manufacturer_uscc": "91350100M000100Y4Z"}, "expected 18 characters of 0123"),
        ({"manufacturer_uscc": "91350100M000100Y44"}, "check character: expected 3"),
        ({"manufacturer_uscc": "91350100M000100Y4"}, "expected 18 characters"),
        ({"lab_cma_no": "23012328012"}, "lab_cma_no: expected 12 digits"),
        ({"thermal_conductivity": Decimal("0")}, "expected 0 < λ < 1"),
        ({"thermal_conductivity": Decimal("1.2")}, "thermal_conductivity"),
        ({"thermal_conductivity": Decimal("NaN")}, "thermal_conductivity"),
        ({"product_name_zh": ""}, "product_name_zh: expected non-empty"),
        ({"product_name_en": " XPS"}, "without edge spaces"),
        ({"manufacturer_name": "某" * 25}, "manufacturer_name: 25 characters, at most 24"),
        ({"combustion_class": "B1\nB"}, "control characters"),
        ({"payload": "https://id.insutrace.test/01/09506000134352"}, r"expected '\?k=<key id>'"),
    ],
)
def test_bad_label_field(make_label: LabelFactory, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedInput, match=message):
        make_label(**overrides)


@pytest.mark.parametrize(("field", "value"), [("lot", "L20250601B"), ("serial", "SN2")])
def test_printed_lot_and_serial_must_match_the_payload(
    make_label: LabelFactory, field: str, value: str
) -> None:
    label = make_label()
    with pytest.raises(MalformedInput, match=f"{field}: printed '{value}' but the signed payload"):
        dataclasses.replace(label, **{field: value})  # type: ignore[arg-type]


def test_label_is_frozen(make_label: LabelFactory) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_label().lot = "X"  # type: ignore[misc]


def test_wall_plate_needs_rows(plate: WallPlateContent) -> None:
    with pytest.raises(MalformedInput, match="at least one section"):
        dataclasses.replace(plate, rows=())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://id.insutrace.test/b/1", "expected an ASCII https:// URL"),
        ("https://id.insutrace.test/楼/1", "expected an ASCII https:// URL"),
        ("https://id.insutrace.test/" + "b" * 200, "at most 213 fit the plate's QR"),
    ],
)
def test_wall_plate_record_url(plate: WallPlateContent, url: str, message: str) -> None:
    with pytest.raises(MalformedInput, match=message):
        dataclasses.replace(plate, record_url=url)


def test_wall_plate_row_date_kind(make_row: Callable[..., WallPlateRow]) -> None:
    with pytest.raises(MalformedInput, match="date_kind: expected 'accepted' or 'surveyed'"):
        make_row(date_kind="inspected")


def test_wall_plate_row_text(make_row: Callable[..., WallPlateRow]) -> None:
    with pytest.raises(MalformedInput, match="contractor: 33 characters, at most 32"):
        make_row(contractor="建" * 33)
