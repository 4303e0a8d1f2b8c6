"""The product label: 70 x 37 mm, the A4 3 x 8 label stock size.

::

    +--------------------------------------------------------------+
    | 产品名称 (bold)                            | 保温材料 Type   |
    | Product name                               | 挤塑聚苯板 XPS  |
    |--------------------------------------------------------------|
    | +----------+  燃烧性能等级 Combustion class · GB 8624          |
    | |          |  ########## B1(B-s1,d0,t1) ##################   |
    | |    QR    |  导热系数 Conductivity   0.030 W/(m·K)          |
    | |          |  生产企业 Manufacturer   ...                     |
    | +----------+  ...  (8 rows of caption and value)              |
    |  扫码验真 Scan to verify                                      |
    |  (01)09506000134352                                          |
    +--------------------------------------------------------------+

The QR is 19.6 mm: 0.34 mm a module at version 10 (the largest a signed payload needs), and
every edge of its quiet zone stays 2.5 mm inside the cut. Long values shrink to fit their
cell; the model caps their length so that they stay legible.
"""

from __future__ import annotations

from collections.abc import Iterator

from insutrace.labels.layout import (
    Box,
    Drawing,
    Item,
    Qr,
    Rule,
    Text,
    bilingual,
    fit_size,
    middle_baseline,
    qr_modules,
)
from insutrace.labels.model import LabelContent

__all__ = ["LABEL_HEIGHT", "LABEL_WIDTH", "label_drawing"]

LABEL_WIDTH = 70.0
LABEL_HEIGHT = 37.0
QR_MAX_VERSION = 10

_MARGIN = 2.5
_HEADER_RULE_Y = 8.4
_QR_SIZE = 19.6
_QR_Y = 10.0
_COLUMN_X = _MARGIN + _QR_SIZE + 2.2
_RIGHT = LABEL_WIDTH - _MARGIN
_BAND_TOP = 11.9
_BAND_HEIGHT = 5.8
_FIELDS_TOP = 20.1
_FIELDS_BOTTOM = 35.3
_CAPTION_SIZE = 4.4
_VALUE_SIZE = 4.8


def label_drawing(content: LabelContent) -> Drawing:
    """Lay out one product label."""
    items: list[Item] = [
        *_header(content),
        *_qr_block(content),
        *_class_block(content),
        *_fields(content),
    ]
    return Drawing(LABEL_WIDTH, LABEL_HEIGHT, tuple(items))


def _header(content: LabelContent) -> Iterator[Item]:
    tag_left, tag_size = _type_tag_geometry(content.insulation_type)
    width = tag_left - _MARGIN - 1.5
    zh = content.product_name_zh
    en = content.product_name_en
    yield Text(_MARGIN, 4.4, zh, fit_size(zh, 7.6, width, bold=True), bold=True)
    yield Text(_MARGIN, 7.1, en, fit_size(en, 4.8, width))
    yield Box(tag_left, 1.6, _RIGHT - tag_left, 5.9, stroke=0.5)
    yield from bilingual(tag_left + 1.2, 3.5, "保温材料", "Insulation", 3.6)
    yield Text(tag_left + 1.2, 6.5, content.insulation_type, tag_size, bold=True)
    yield Rule(_MARGIN, _HEADER_RULE_Y, _RIGHT, _HEADER_RULE_Y, 0.6)


def _type_tag_geometry(insulation_type: str) -> tuple[float, float]:
    """Left edge of the outlined type tag at the top right, and its value's font size."""
    caption = bilingual(0, 0, "保温材料", "Insulation", 3.6)[1]
    size = fit_size(insulation_type, 5.2, 24.0, bold=True)
    inner = max(caption.x + caption.width, Text(0, 0, insulation_type, size, True).width)
    return _RIGHT - inner - 2.4, size


def _qr_block(content: LabelContent) -> Iterator[Item]:
    yield Qr(_MARGIN, _QR_Y, _QR_SIZE, qr_modules(content.payload, QR_MAX_VERSION))
    centre = _MARGIN + _QR_SIZE / 2
    yield from bilingual(centre, 32.6, "扫码验真", "Scan to verify", 4.4, anchor="middle")
    yield Text(centre, 35.3, f"(01){content.link.gtin}", 4.4, anchor="middle")


def _class_block(content: LabelContent) -> Iterator[Item]:
    """GB 8624 class in large white type on a black band: the one thing read from afar."""
    width = _RIGHT - _COLUMN_X
    yield from bilingual(_COLUMN_X, 11.1, "燃烧性能等级", "Combustion class · GB 8624", 4.4)
    yield Box(_COLUMN_X, _BAND_TOP, width, _BAND_HEIGHT, fill="black")
    text = content.combustion_class
    size = fit_size(text, 14.0, width - 3.0, bold=True)
    baseline = middle_baseline(_BAND_TOP, _BAND_HEIGHT, size)
    yield Text(_COLUMN_X + 1.5, baseline, text, size, bold=True, ink="white")


def _fields(content: LabelContent) -> Iterator[Item]:
    rows = _field_rows(content)
    captions = [bilingual(_COLUMN_X, 0, zh, en, _CAPTION_SIZE) for zh, en, _ in rows]
    value_x = max(en.x + en.width for _, en in captions) + 1.2
    pitch = (_FIELDS_BOTTOM - _FIELDS_TOP) / (len(rows) - 1)
    for index, (zh, en, value) in enumerate(rows):
        y = _FIELDS_TOP + index * pitch
        yield from bilingual(_COLUMN_X, y, zh, en, _CAPTION_SIZE)
        yield Text(value_x, y, value, fit_size(value, _VALUE_SIZE, _RIGHT - value_x))


def _field_rows(content: LabelContent) -> list[tuple[str, str, str]]:
    return [
        ("导热系数", "Conductivity", f"{content.thermal_conductivity} W/(m·K)"),
        ("生产企业", "Manufacturer", content.manufacturer_name),
        ("信用代码", "USCC", content.manufacturer_uscc),
        ("批号", "Lot", content.lot),
        ("序列号", "Serial", content.serial),
        ("生产日期", "Produced", content.production_date.isoformat()),
        ("出厂报告", "Factory report", content.factory_report_no),
        ("检测机构", "Lab CMA", content.lab_cma_no),
    ]
