"""What a product label and a wall plate say, checked on construction.

A ``LabelContent`` is the product identification the 2025 rectification campaign asks for on
every unit of insulation (domain rules §1, problem area 6): what it is, its GB 8624 combustion
class and thermal conductivity, who made it (name and unified social credit code, GB 32100),
which lot and serial, and which accredited (CMA) lab tested the lot - plus the signed payload
its QR code carries (``insutrace.labels.codec``). A ``WallPlateContent`` is the plate fixed to
a finished façade (标识化管理, problem area 4): which insulation went where, and the QR of the
building's public record.

Lengths are capped so that every field fits the printed layout at a legible size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from insutrace.labels.codec import MAX_PAYLOAD_BYTES, LabelUri, parse_label_uri, split_label
from insutrace.trace.errors import MalformedInput

__all__ = ["DateKind", "LabelContent", "WallPlateContent", "WallPlateRow"]

DateKind = Literal["accepted", "surveyed"]

# GB 32100-2015 §4: the 31 code characters (no I, O, S, V, Z) and the weights of positions 1-17.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CMA = re.compile(r"[0-9]{12}")
_MAX_CONDUCTIVITY = Decimal("1")  # W/(m·K); insulation is far below, mineral wool ~0.04


@dataclass(frozen=True, slots=True)
class LabelContent:
    """One product label; ``payload`` is the output of ``codec.sign_label`` for this unit."""

    product_name_zh: str
    product_name_en: str
    insulation_type: str  # e.g. "挤塑聚苯板 XPS"
    combustion_class: str  # GB 8624 label string, e.g. "B1(B-s1,d0,t1)"
    thermal_conductivity: Decimal  # declared λ, W/(m·K)
    manufacturer_name: str
    manufacturer_uscc: str
    lot: str
    serial: str
    production_date: date
    factory_report_no: str
    lab_cma_no: str
    payload: str

    def __post_init__(self) -> None:
        _require_text("product_name_zh", self.product_name_zh, 20)
        _require_text("product_name_en", self.product_name_en, 48)
        _require_text("insulation_type", self.insulation_type, 16)
        _require_text("combustion_class", self.combustion_class, 24)
        _require_text("manufacturer_name", self.manufacturer_name, 24)
        _require_text("factory_report_no", self.factory_report_no, 24)
        _check_conductivity(self.thermal_conductivity)
        _check_uscc(self.manufacturer_uscc)
        if not _CMA.fullmatch(self.lab_cma_no):
            raise MalformedInput(f"lab_cma_no: expected 12 digits, got {self.lab_cma_no!r}")
        self._check_payload_matches()

    @property
    def link(self) -> LabelUri:
        """The Digital Link the payload carries."""
        return parse_label_uri(split_label(self.payload)[0])

    def _check_payload_matches(self) -> None:
        link = self.link
        for name, printed, encoded in (
            ("lot", self.lot, link.lot),
            ("serial", self.serial, link.serial),
        ):
            if printed != encoded:
                raise MalformedInput(
                    f"{name}: printed {printed!r} but the signed payload says {encoded!r}"
                )


@dataclass(frozen=True, slots=True)
class WallPlateRow:
    """One section of a façade: which product went there and who put it up."""

    position: str  # e.g. "1-6层 南立面" or "裙房 Podium"
    product: str
    combustion_class: str
    manufacturer: str
    contractor: str
    date: date
    date_kind: DateKind  # accepted on completion, or surveyed on an existing building

    def __post_init__(self) -> None:
        _require_text("position", self.position, 24)
        _require_text("product", self.product, 24)
        _require_text("combustion_class", self.combustion_class, 24)
        _require_text("manufacturer", self.manufacturer, 32)
        _require_text("contractor", self.contractor, 32)
        if self.date_kind not in ("accepted", "surveyed"):
            raise MalformedInput(
                f"date_kind: expected 'accepted' or 'surveyed', got {self.date_kind!r}"
            )


@dataclass(frozen=True, slots=True)
class WallPlateContent:
    """The identification plate of one façade; ``record_url`` is the QR's target."""

    building_name: str
    address: str
    facade: str  # e.g. "南立面 South"
    rows: tuple[WallPlateRow, ...]
    record_url: str

    def __post_init__(self) -> None:
        _require_text("building_name", self.building_name, 32)
        _require_text("address", self.address, 48)
        _require_text("facade", self.facade, 24)
        if not self.rows:
            raise MalformedInput("rows: a wall plate needs at least one section")
        _check_record_url(self.record_url)


def _require_text(name: str, value: str, max_chars: int) -> None:
    if not value or value != value.strip():
        raise MalformedInput(f"{name}: expected non-empty text without edge spaces, got {value!r}")
    if len(value) > max_chars:
        raise MalformedInput(f"{name}: {len(value)} characters, at most {max_chars} fit the label")
    if not value.isprintable():
        raise MalformedInput(f"{name}: control characters in {value!r}")


def _check_conductivity(value: Decimal) -> None:
    if not value.is_finite() or not Decimal(0) < value < _MAX_CONDUCTIVITY:
        raise MalformedInput(
            f"thermal_conductivity: expected 0 < λ < {_MAX_CONDUCTIVITY} W/(m·K), got {value}"
        )


def _check_uscc(code: str) -> None:
    """GB 32100-2015 §4 and annex: 18 characters, check = 31 - (Σ value·weight mod 31)."""
    if len(code) != 18 or any(char not in _USCC_ALPHABET for char in code):
        raise MalformedInput(
            f"manufacturer_uscc: expected 18 characters of {_USCC_ALPHABET}, got {code!r}"
        )
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    expected = _USCC_ALPHABET[(31 - total % 31) % 31]
    if code[-1] != expected:
        raise MalformedInput(f"manufacturer_uscc: {code} check character: expected {expected}")


def _check_record_url(url: str) -> None:
    if not url.startswith("https://") or not url.isascii() or " " in url:
        raise MalformedInput(f"record_url: expected an ASCII https:// URL, got {url!r}")
    if len(url) > MAX_PAYLOAD_BYTES:
        raise MalformedInput(
            f"record_url: {len(url)} characters, at most {MAX_PAYLOAD_BYTES} fit the plate's QR"
        )
