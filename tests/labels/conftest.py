"""Fixtures for the label layer: a fixed test-only key, label and plate factories, and a
PDF rasteriser (pypdfium2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import support
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from insutrace.labels.codec import encode_ai_value, sign_label
from insutrace.labels.model import LabelContent, WallPlateContent, WallPlateRow

RESOLVER = "id.insutrace.test"
GTIN = "09506000134352"
KEY_ID = "mfr-test-01"
# Test-only: a fixed seed, so payloads and PDFs are the same on every run.
TEST_ONLY_SEED = b"insutrace test-only label key 01"

LabelFactory = Callable[..., LabelContent]
Rasterise = Callable[[bytes, int], list[Image.Image]]


def label_uri(lot: str = "L20250601A", serial: str = "SN00000001", gtin: str = GTIN) -> str:
    lot_part = encode_ai_value("lot", lot)
    serial_part = encode_ai_value("serial", serial)
    return f"https://{RESOLVER}/01/{gtin}/10/{lot_part}/21/{serial_part}"


@pytest.fixture
def make_uri() -> Callable[..., str]:
    """``make_uri(lot, serial, gtin)``: a Digital Link on the test resolver."""
    return label_uri


@pytest.fixture
def make_row() -> Callable[..., WallPlateRow]:
    """``make_row(index, **overrides)``: one valid wall plate section."""
    return plate_row


@pytest.fixture
def test_only_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(TEST_ONLY_SEED)


@pytest.fixture
def make_label(test_only_key: Ed25519PrivateKey) -> LabelFactory:
    """``make_label(serial=..., **overrides)``: a valid, signed label content."""

    def make(lot: str = "L20250601A", serial: str = "SN00000001", **overrides: Any) -> LabelContent:
        fields: dict[str, Any] = {
            "product_name_zh": "挤塑聚苯乙烯泡沫塑料板",
            "product_name_en": "Extruded polystyrene (XPS) board",
            "insulation_type": "挤塑聚苯板 XPS",
            "combustion_class": "B1(B-s1,d0,t1)",
            "thermal_conductivity": Decimal("0.030"),
            "manufacturer_name": "福建某某新型建材科技有限公司",
            "manufacturer_uscc": "91350100M000100Y43",
            "lot": lot,
            "serial": serial,
            "production_date": date(2025, 6, 1),
            "factory_report_no": "CJ-2025-0601-017",
            "lab_cma_no": "230123280123",
            "payload": sign_label(label_uri(lot, serial), KEY_ID, test_only_key),
        }
        fields.update(overrides)
        return LabelContent(**fields)

    return make


def plate_row(index: int = 0, **overrides: Any) -> WallPlateRow:
    fields: dict[str, Any] = {
        "position": f"{3 * index + 1}-{3 * index + 3}层 南立面",
        "product": "岩棉板 Rock wool board",
        "combustion_class": "A(A1)级",
        "manufacturer": "福建某某新型建材科技有限公司",
        "contractor": "中建某局第三建设工程有限公司",
        "date": date(2025, 7, 1),
        "date_kind": "accepted",
    }
    fields.update(overrides)
    return WallPlateRow(**fields)


@pytest.fixture
def plate() -> WallPlateContent:
    return WallPlateContent(
        building_name="阳光花园3号楼",
        address="福建省福州市鼓楼区五四路88号",
        facade="南立面 South",
        rows=tuple(plate_row(i) for i in range(3)),
        record_url="https://id.insutrace.test/buildings/350102-0003/facades/S",
    )


@pytest.fixture
def rasterise() -> Rasterise:
    """``rasterise(pdf, dpi)``: every page as a greyscale PIL image (pypdfium2, a dev
    dependency)."""
    return _pdfium


def _pdfium(pdf: bytes, dpi: int) -> list[Image.Image]:
    import pypdfium2  # type: ignore[import-untyped]

    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72, grayscale=True).to_pil() for page in document]
    finally:
        document.close()


# -- label scenarios on a real ledger (SQLite and PostgreSQL) -----------------------------


def load_world() -> Any:
    """tests/labels/world.py (see tests/support.py)."""
    return support.label_world()


@pytest.fixture
def label_world(ledger: Any, root: Any, signer_for: Any) -> Any:
    """A ledger with a manufacturer, a distributor and an accredited lab (LabelWorld)."""
    w = load_world().LabelWorld(ledger, root, signer_for)
    w.trade_parties()
    return w
