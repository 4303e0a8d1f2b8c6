"""The wall plate: the identification sign of one finished façade, A4 landscape.

::

    ╔══════════════════════════════════════════════════════════════════════╗
    ║ 建筑外墙保温系统标识牌 (title)                              +------+  ║
    ║ External wall insulation identification plate               |  QR  |  ║
    ║ ──────────────────────────────────────────────────────────  +------+  ║
    ║ 建筑名称 Building   ...                                    扫码 Scan   ║
    ║ 地址 Address        ...                                               ║
    ║ 立面 Façade         ...                                               ║
    ║ ┌──────────┬──────────┬────────┬──────────┬──────────┬────────┐       ║
    ║ │ 部位 ... │ 产品 ... │ 燃烧性能│ 生产企业  │ 施工单位  │ 日期   │ black ║
    ║ ├──────────┼──────────┼────────┼──────────┼──────────┼────────┤       ║
    ║ │ rows, 9 a page; later pages repeat the header and continue │       ║
    ║ └──────────┴──────────┴────────┴──────────┴──────────┴────────┘       ║
    ║ 请勿遮挡、损毁或拆除 Do not cover, damage or remove      第 1/1 页 Page ║
    ╚══════════════════════════════════════════════════════════════════════╝

The plate serves wall-system identification (标识化管理) of the 2025 rectification campaign
(domain rules §1, problem area 4); its QR opens the building's record in the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator

from insutrace.labels.layout import (
    PT,
    QR_QUIET_MODULES,
    Box,
    Drawing,
    Item,
    Qr,
    Rule,
    Text,
    bilingual,
    fit_lines,
    fit_size,
    middle_baseline,
    qr_modules,
)
from insutrace.labels.model import WallPlateContent, WallPlateRow

__all__ = ["PLATE_HEIGHT", "PLATE_WIDTH", "ROWS_PER_PAGE", "wall_plate_drawings"]

PLATE_WIDTH = 297.0
PLATE_HEIGHT = 210.0
ROWS_PER_PAGE = 9
QR_MAX_VERSION = 10

_LEFT = 14.0
_RIGHT = PLATE_WIDTH - 14.0
_QR_SIZE = 31.0
_QR_TOP = 14.0
_TEXT_RIGHT = _RIGHT - _QR_SIZE - 8.0
_CAPTION_WIDTH = 80.0  # the QR's caption and URL, right-aligned; info values stop short of it
_TABLE_TOP = 66.0
_HEADER_HEIGHT = 9.0
_ROW_HEIGHT = 12.4
_FOOTER_Y = 192.0
_PAD = 1.8
# Column captions and widths in mm; the widths add up to _RIGHT - _LEFT.
_COLUMNS = (
    ("部位/区段", "Position", 42.0),
    ("保温产品", "Product", 56.0),
    ("燃烧性能", "Class", 34.0),
    ("生产企业", "Manufacturer", 55.0),
    ("施工单位", "Contractor", 55.0),
    ("日期", "Date", 27.0),
)
_DATE_KINDS = {"accepted": ("验收", "Accepted"), "surveyed": ("普查", "Surveyed")}


def wall_plate_drawings(plate: WallPlateContent) -> tuple[Drawing, ...]:
    """One drawing a page, ``ROWS_PER_PAGE`` sections each."""
    modules = qr_modules(plate.record_url, QR_MAX_VERSION)
    chunks = [
        plate.rows[start : start + ROWS_PER_PAGE]
        for start in range(0, len(plate.rows), ROWS_PER_PAGE)
    ]
    return tuple(
        Drawing(PLATE_WIDTH, PLATE_HEIGHT, tuple(_page(plate, modules, chunk, (n, len(chunks)))))
        for n, chunk in enumerate(chunks, start=1)
    )


def _page(
    plate: WallPlateContent,
    modules: tuple[tuple[bool, ...], ...],
    rows: tuple[WallPlateRow, ...],
    page: tuple[int, int],
) -> Iterator[Item]:
    yield from _frame()
    yield from _title()
    yield from _record_qr(plate.record_url, modules)
    yield from _building(plate)
    yield from _table_header()
    for index, row in enumerate(rows):
        yield from _table_row(row, _TABLE_TOP + _HEADER_HEIGHT + index * _ROW_HEIGHT)
    yield from _table_grid(len(rows))
    yield from _footer(page)


def _frame() -> Iterator[Item]:
    """A heavy outer border with a hairline inside it, as on an engraved sign."""
    yield Box(7.0, 7.0, PLATE_WIDTH - 14.0, PLATE_HEIGHT - 14.0, stroke=2.2)
    yield Box(9.5, 9.5, PLATE_WIDTH - 19.0, PLATE_HEIGHT - 19.0, stroke=0.5)


def _title() -> Iterator[Item]:
    yield Text(_LEFT, 24.0, "建筑外墙保温系统标识牌", 21.0, bold=True)
    yield Text(_LEFT, 31.5, "External Wall Insulation System Identification Plate", 11.0)
    yield Rule(_LEFT, 35.0, _TEXT_RIGHT, 35.0, 1.2)


def _record_qr(url: str, modules: tuple[tuple[bool, ...], ...]) -> Iterator[Item]:
    """The record's QR at the top right, caption and URL right-aligned under it."""
    yield Qr(_RIGHT - _QR_SIZE, _QR_TOP, _QR_SIZE, modules)
    quiet_zone_bottom = _QR_TOP + _QR_SIZE * (1 + QR_QUIET_MODULES / len(modules))
    caption = ("扫码查看完整记录", "Scan for the full record")
    yield from bilingual(_RIGHT, quiet_zone_bottom + 3.0, *caption, 8.0, anchor="end")
    url_size = fit_size(url, 6.0, _CAPTION_WIDTH)
    yield Text(_RIGHT, quiet_zone_bottom + 6.6, url, url_size, anchor="end")


def _building(plate: WallPlateContent) -> Iterator[Item]:
    lines = (
        ("建筑名称", "Building", plate.building_name),
        ("地址", "Address", plate.address),
        ("立面", "Façade", plate.facade),
    )
    value_x = _LEFT + 40.0
    width = _RIGHT - _CAPTION_WIDTH - 5.0 - value_x
    for index, (zh, en, value) in enumerate(lines):
        y = 43.0 + index * 7.4
        bold = index == 0
        yield from bilingual(_LEFT, y, zh, en, 9.0)
        yield Text(value_x, y, value, fit_size(value, 11.0 if bold else 10.0, width, bold), bold)


def _table_header() -> Iterator[Item]:
    yield Box(_LEFT, _TABLE_TOP, _RIGHT - _LEFT, _HEADER_HEIGHT, fill="black")
    for x, (zh, en, width) in zip(_column_lefts(), _COLUMNS, strict=True):
        size = fit_size(f"{zh} {en}", 8.5, width - 2 * _PAD, bold=True)
        baseline = middle_baseline(_TABLE_TOP, _HEADER_HEIGHT, size)
        yield from bilingual(x + _PAD, baseline, zh, en, size, bold=True, ink="white")


def _table_row(row: WallPlateRow, top: float) -> Iterator[Item]:
    lefts = _column_lefts()
    widths = [width for _, _, width in _COLUMNS]
    text_cells = ((0, row.position), (1, row.product), (3, row.manufacturer), (4, row.contractor))
    for column, value in text_cells:
        yield from _wrapped_cell(lefts[column], top, widths[column], value)
    yield from _class_cell(lefts[2], top, widths[2], row.combustion_class)
    yield from _date_cell(lefts[5], top, row)


def _wrapped_cell(x: float, top: float, width: float, value: str) -> Iterator[Item]:
    lines, size = fit_lines(value, 9.0, width - 2 * _PAD, max_lines=2, min_size=6.0)
    pitch = size * 1.25 * PT
    first = middle_baseline(top, _ROW_HEIGHT, size) - pitch * (len(lines) - 1) / 2
    for index, line in enumerate(lines):
        yield Text(x + _PAD, first + index * pitch, line, fit_size(line, size, width - 2 * _PAD))


def _class_cell(x: float, top: float, width: float, value: str) -> Iterator[Item]:
    size = fit_size(value, 12.0, width - 2 * _PAD, bold=True)
    yield Text(x + _PAD, middle_baseline(top, _ROW_HEIGHT, size), value, size, bold=True)


def _date_cell(x: float, top: float, row: WallPlateRow) -> Iterator[Item]:
    yield Text(x + _PAD, top + 5.4, row.date.isoformat(), 9.0)
    yield from bilingual(x + _PAD, top + 9.6, *_DATE_KINDS[row.date_kind], 7.0)


def _table_grid(rows: int) -> Iterator[Item]:
    bottom = _TABLE_TOP + _HEADER_HEIGHT + rows * _ROW_HEIGHT
    for index in range(1, rows):
        y = _TABLE_TOP + _HEADER_HEIGHT + index * _ROW_HEIGHT
        yield Rule(_LEFT, y, _RIGHT, y, 0.4)
    for x in _column_lefts()[1:]:
        yield Rule(x, _TABLE_TOP + _HEADER_HEIGHT, x, bottom, 0.4)
    yield Box(_LEFT, _TABLE_TOP, _RIGHT - _LEFT, bottom - _TABLE_TOP, stroke=1.0)


def _footer(page: tuple[int, int]) -> Iterator[Item]:
    warning = ("请勿遮挡、损毁或拆除本标识牌", "Do not cover, damage or remove this plate")
    yield from bilingual(_LEFT, _FOOTER_Y, *warning, 8.0)
    number, total = page
    yield from bilingual(
        _RIGHT, _FOOTER_Y, f"第 {number}/{total} 页", f"Page {number} of {total}", 8.0, "end"
    )


def _column_lefts() -> list[float]:
    lefts = [_LEFT]
    for _, _, width in _COLUMNS[:-1]:
        lefts.append(lefts[-1] + width)
    return lefts
