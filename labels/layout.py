"""Drawings: what goes where on a label or plate, independent of the output format.

A ``Drawing`` is a list of four primitives - text, boxes, rules and QR symbols - placed in
millimetres from the top-left corner, with font sizes in points. ``insutrace.labels.render``
paints the same drawing as PDF, SVG or PNG, so every format shows the same layout.

QR symbols use error-correction level M (ISO/IEC 18004 §7.5.1, ~15 % of codewords
recoverable) and are placed with at least the 4-module quiet zone of §9.1 kept clear.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

from insutrace.labels import fonts
from insutrace.trace.errors import MalformedInput

__all__ = [
    "PT",
    "QR_QUIET_MODULES",
    "Anchor",
    "Box",
    "Drawing",
    "Ink",
    "Item",
    "Modules",
    "Qr",
    "Rule",
    "Text",
    "bilingual",
    "fit_lines",
    "fit_size",
    "middle_baseline",
    "qr_modules",
    "wrap",
]

PT = 25.4 / 72  # millimetres per point
QR_QUIET_MODULES = 4  # ISO/IEC 18004 §9.1
_CAP_HEIGHT = 0.73  # Vera's cap height in em, to centre a line of text vertically
# Break points: a run of printable ASCII (a word and its trailing spaces) stays whole; any
# other character, Chinese above all, may end a line.
_TOKEN = re.compile(r"[\x21-\x7e]+ *| +|.", re.DOTALL)

Ink = Literal["black", "white"]
Anchor = Literal["start", "middle", "end"]
Modules = tuple[tuple[bool, ...], ...]


@dataclass(frozen=True, slots=True)
class Text:
    """One line; ``y`` is the baseline, ``x`` the start, middle or end as ``anchor`` says."""

    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    anchor: Anchor = "start"
    ink: Ink = "black"

    @property
    def width(self) -> float:
        return fonts.text_width(self.text, self.size, self.bold) * PT

    def placed(self) -> Iterator[tuple[fonts.Run, float]]:
        """Each run of one script with the x, in mm, where it starts."""
        shift = {"start": 0.0, "middle": self.width / 2, "end": self.width}[self.anchor]
        for run in fonts.runs(self.text, self.size, self.bold):
            yield run, self.x - shift + run.offset * PT


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle, filled with ``fill`` and/or outlined ``stroke`` points wide."""

    x: float
    y: float
    w: float
    h: float
    fill: Ink | None = None
    stroke: float = 0.0


@dataclass(frozen=True, slots=True)
class Rule:
    """A straight line ``width`` points wide."""

    x1: float
    y1: float
    x2: float
    y2: float
    width: float


@dataclass(frozen=True, slots=True)
class Qr:
    """A QR symbol without its quiet zone, ``size`` mm a side."""

    x: float
    y: float
    size: float
    modules: Modules

    @property
    def module(self) -> float:
        return self.size / len(self.modules)

    def dark_runs(self) -> Iterator[tuple[float, float, float]]:
        """Horizontal runs of dark modules as (x, y, width) in mm; each is one module tall."""
        step = self.module
        for row, line in enumerate(self.modules):
            col = 0
            while col < len(line):
                if not line[col]:
                    col += 1
                    continue
                end = col
                while end < len(line) and line[end]:
                    end += 1
                yield self.x + col * step, self.y + row * step, (end - col) * step
                col = end


Item = Text | Box | Rule | Qr


@dataclass(frozen=True, slots=True)
class Drawing:
    """A page or label: its size in mm and what is drawn on it, in painting order."""

    width: float
    height: float
    items: tuple[Item, ...]


def qr_modules(data: str, max_version: int) -> Modules:
    """The module matrix of ``data`` at level M, refusing symbols above ``max_version``."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(data.encode("utf-8"))
    try:
        code.make(fit=True)
    except DataOverflowError:
        raise MalformedInput(f"QR data of {len(data)} characters does not fit any QR") from None
    if code.version > max_version:
        raise MalformedInput(
            f"QR data of {len(data)} characters needs version {code.version}, "
            f"at most {max_version} scans reliably at this size"
        )
    return tuple(tuple(bool(module) for module in row) for row in code.get_matrix())


def fit_size(text: str, size: float, width: float, bold: bool = False) -> float:
    """``size`` or, when ``text`` is wider than ``width`` mm, the size at which it fits."""
    natural = fonts.text_width(text, size, bold) * PT
    return size if natural <= width else size * width / natural


def middle_baseline(top: float, height: float, size: float) -> float:
    """The baseline that centres capitals of ``size`` points in a band."""
    return top + (height + _CAP_HEIGHT * size * PT) / 2


def bilingual(
    x: float,
    y: float,
    zh: str,
    en: str,
    size: float,
    anchor: Anchor = "start",
    *,
    bold: bool = False,
    ink: Ink = "black",
) -> tuple[Text, Text]:
    """Chinese, then English at 80 % size beside it, as one line anchored at ``x``."""
    first = Text(0, y, zh, size, bold, ink=ink)
    second = Text(0, y, en, size * 0.8, bold, ink=ink)
    gap = size * 0.3 * PT
    total = first.width + gap + second.width
    start = x - {"start": 0.0, "middle": total / 2, "end": total}[anchor]
    return (
        Text(start, y, zh, size, bold, ink=ink),
        Text(start + first.width + gap, y, en, size * 0.8, bold, ink=ink),
    )


def fit_lines(
    text: str, size: float, width: float, max_lines: int, min_size: float
) -> tuple[tuple[str, ...], float]:
    """Wrap ``text`` into at most ``max_lines`` lines of ``width`` mm, shrinking the font by
    half points down to ``min_size``; at that size the last line takes what is left."""
    while size > min_size and len(_wrap_tokens(text, size, width)) > max_lines:
        size = max(min_size, size - 0.5)
    lines = _wrap_tokens(text, size, width)
    if len(lines) > max_lines:
        lines = [
            *lines[: max_lines - 1],
            [token for line in lines[max_lines - 1 :] for token in line],
        ]
    return tuple("".join(line).strip() for line in lines), size


def wrap(text: str, size: float, width: float) -> list[str]:
    """Greedy line breaking at the ``_TOKEN`` break points; a lone over-wide token overflows."""
    return ["".join(line).strip() for line in _wrap_tokens(text, size, width)]


def _wrap_tokens(text: str, size: float, width: float) -> list[list[str]]:
    lines: list[list[str]] = [[]]
    for token in _TOKEN.findall(text):
        trial = "".join([*lines[-1], token]).strip()
        if lines[-1] and fonts.text_width(trial, size) * PT > width:
            lines.append([])
        lines[-1].append(token)
    return [line for line in lines if "".join(line).strip()]
