"""Paint labels and wall plates as PNG, SVG and PDF.

Every output paints the same ``layout.Drawing``; see ``insutrace.labels.fonts`` for which font
draws Chinese in each format. PDFs are written with reportlab's ``invariant`` flag, so the
same content always gives the same bytes.

Label sheets step the 70 x 37 mm label over a grid of ``columns`` x ``rows`` cells inside a
margin, scaled uniformly to fit a cell and centred in it. Crop marks sit in the margin on every
cut line, 1.5 mm clear of the grid.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw
from reportlab.pdfgen.canvas import Canvas

from insutrace.labels.fonts import CJK_PDF_FONT, PngFonts, latin_font_name, register_pdf_fonts
from insutrace.labels.label import LABEL_HEIGHT, LABEL_WIDTH, label_drawing
from insutrace.labels.layout import PT, Box, Drawing, Item, Qr, Rule, Text
from insutrace.labels.model import LabelContent, WallPlateContent
from insutrace.labels.plate import wall_plate_drawings
from insutrace.trace.errors import MalformedInput

__all__ = [
    "PAGE_SIZES",
    "label_png",
    "label_sheet_pdf",
    "label_svg",
    "wall_plate_pdf",
]

PAGE_SIZES: dict[str, tuple[float, float]] = {
    "A3": (297.0, 420.0),
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "Letter": (215.9, 279.4),
}
MIN_SHEET_SCALE = 0.7  # below this the QR's 0.35 mm modules drop under 0.25 mm
_MM = 1 / PT  # points per millimetre
_GREY = {"black": 0, "white": 255}
_CROP_GAP = 1.5
_CROP_LENGTH = 4.0
_CJK_FAKE_BOLD = 0.035  # the Chinese face has no bold: stroke the outline this many em wide
_SVG_FONTS = {
    False: "'Bitstream Vera Sans', 'DejaVu Sans', Helvetica, Arial, sans-serif",
    True: "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', STSong, sans-serif",
}


def label_png(content: LabelContent, *, dpi: int = 300, fonts: PngFonts | None = None) -> bytes:
    """The label as a greyscale PNG at ``dpi``.

    Chinese runs need a Chinese font on the machine (``PngFonts.detect()``, fontconfig); with
    none, or with ``fonts=PngFonts()``, they stay blank and only the Latin text, the class and
    the QR are drawn.
    """
    if not 72 <= dpi <= 2400:
        raise MalformedInput(f"dpi: expected 72-2400, got {dpi}")
    return _png(label_drawing(content), dpi, fonts or PngFonts.detect())


def label_svg(content: LabelContent) -> str:
    """The label as a standalone SVG document, 70 x 37 mm."""
    return _svg(label_drawing(content))


def label_sheet_pdf(
    contents: Sequence[LabelContent],
    columns: int = 3,
    rows: int = 8,
    page: str | tuple[float, float] = "A4",
    crop_marks: bool = True,
    *,
    margin: float = 8.0,
) -> bytes:
    """Labels stepped over ``columns`` x ``rows`` cells a page, as many pages as needed."""
    if not contents:
        raise MalformedInput("label sheet: no labels to print")
    grid = _Grid.on(page, columns, rows, margin)
    if crop_marks and margin < _CROP_GAP + _CROP_LENGTH:
        raise MalformedInput(
            f"label sheet: crop marks need a margin of {_CROP_GAP + _CROP_LENGTH} mm, got {margin}"
        )
    drawings = [label_drawing(content) for content in contents]
    buffer = io.BytesIO()
    canvas = _canvas(buffer, grid.page, "InsuTrace product labels 产品标识")
    for start in range(0, len(drawings), grid.cells):
        if crop_marks:
            _crop_marks(canvas, grid)
        for index, drawing in enumerate(drawings[start : start + grid.cells]):
            _place(canvas, grid, index, drawing)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def wall_plate_pdf(plate: WallPlateContent) -> bytes:
    """The façade's identification plate, A4 landscape, continued on further pages as needed."""
    drawings = wall_plate_drawings(plate)
    buffer = io.BytesIO()
    size = (drawings[0].width, drawings[0].height)
    canvas = _canvas(buffer, size, f"外墙保温标识牌 Wall plate: {plate.building_name}")
    for drawing in drawings:
        _paint_pdf(canvas, drawing)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class _Grid:
    """A sheet's cells in mm; ``scale`` shrinks or grows the label to fit one."""

    page: tuple[float, float]
    columns: int
    rows: int
    margin: float

    @classmethod
    def on(cls, page: str | tuple[float, float], columns: int, rows: int, margin: float) -> _Grid:
        size = _page_size(page)
        if columns < 1 or rows < 1:
            raise MalformedInput(f"label sheet: need at least 1 x 1 cells, got {columns} x {rows}")
        if not 0 <= margin < min(size) / 2:
            raise MalformedInput(f"label sheet: margin {margin} mm does not fit a {size} page")
        grid = cls(size, columns, rows, margin)
        if grid.scale < MIN_SHEET_SCALE:
            raise MalformedInput(
                f"label sheet: {grid.cell_width:.1f} x {grid.cell_height:.1f} mm cells shrink "
                f"the label to {grid.scale:.0%}; at least {MIN_SHEET_SCALE:.0%} keeps the QR "
                "scannable, use fewer columns or rows"
            )
        return grid

    @property
    def cells(self) -> int:
        return self.columns * self.rows

    @property
    def cell_width(self) -> float:
        return (self.page[0] - 2 * self.margin) / self.columns

    @property
    def cell_height(self) -> float:
        return (self.page[1] - 2 * self.margin) / self.rows

    @property
    def scale(self) -> float:
        return min(self.cell_width / LABEL_WIDTH, self.cell_height / LABEL_HEIGHT)

    def origin(self, index: int) -> tuple[float, float]:
        """Bottom-left corner, in PDF points, of the label centred in cell ``index``."""
        column, row = index % self.columns, index // self.columns
        left = self.margin + column * self.cell_width
        left += (self.cell_width - LABEL_WIDTH * self.scale) / 2
        top = self.margin + row * self.cell_height
        top += (self.cell_height - LABEL_HEIGHT * self.scale) / 2
        return left * _MM, (self.page[1] - top - LABEL_HEIGHT * self.scale) * _MM


def _page_size(page: str | tuple[float, float]) -> tuple[float, float]:
    if isinstance(page, tuple):
        return page
    if page not in PAGE_SIZES:
        raise MalformedInput(
            f"page: expected one of {sorted(PAGE_SIZES)} or (w, h) mm, got {page!r}"
        )
    return PAGE_SIZES[page]


def _canvas(buffer: io.BytesIO, size_mm: tuple[float, float], title: str) -> Canvas:
    register_pdf_fonts()
    canvas = Canvas(buffer, pagesize=(size_mm[0] * _MM, size_mm[1] * _MM), invariant=1)
    canvas.setTitle(title)
    canvas.setAuthor("InsuTrace")
    canvas.setCreator("insutrace.labels")
    return canvas


def _place(canvas: Canvas, grid: _Grid, index: int, drawing: Drawing) -> None:
    x, y = grid.origin(index)
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(grid.scale, grid.scale)
    _paint_pdf(canvas, drawing)
    canvas.restoreState()


def _crop_marks(canvas: Canvas, grid: _Grid) -> None:
    """Short hairlines in the margin continuing every cut line (ISO 12647-2 style trim marks)."""
    width, height = grid.page
    near, far = grid.margin - _CROP_GAP, grid.margin - _CROP_GAP - _CROP_LENGTH
    canvas.setLineWidth(0.25)
    canvas.setStrokeGray(0)
    for column in range(grid.columns + 1):
        x = (grid.margin + column * grid.cell_width) * _MM
        canvas.line(x, near * _MM, x, far * _MM)
        canvas.line(x, (height - near) * _MM, x, (height - far) * _MM)
    for row in range(grid.rows + 1):
        y = (height - grid.margin - row * grid.cell_height) * _MM
        canvas.line(near * _MM, y, far * _MM, y)
        canvas.line((width - near) * _MM, y, (width - far) * _MM, y)


def _paint_pdf(canvas: Canvas, drawing: Drawing) -> None:
    """Paint ``drawing`` with its bottom-left corner at the canvas origin."""
    for item in drawing.items:
        _pdf_item(canvas, item, drawing.height)


def _pdf_item(canvas: Canvas, item: Item, height: float) -> None:
    if isinstance(item, Text):
        _pdf_text(canvas, item, height)
    elif isinstance(item, Box):
        _pdf_box(canvas, item, height)
    elif isinstance(item, Rule):
        canvas.setLineWidth(item.width)
        canvas.setStrokeGray(0)
        y1, y2 = (height - item.y1) * _MM, (height - item.y2) * _MM
        canvas.line(item.x1 * _MM, y1, item.x2 * _MM, y2)
    else:
        _pdf_qr(canvas, item, height)


def _pdf_text(canvas: Canvas, item: Text, height: float) -> None:
    grey = _GREY[item.ink] / 255
    canvas.setFillGray(grey)
    canvas.setStrokeGray(grey)
    canvas.setLineWidth(item.size * _CJK_FAKE_BOLD)
    for run, x in item.placed():
        text = canvas.beginText(x * _MM, (height - item.y) * _MM)
        if run.cjk:
            text.setFont(CJK_PDF_FONT, item.size)
            text.setTextRenderMode(2 if item.bold else 0)
        else:
            text.setFont(latin_font_name(item.bold), item.size)
        text.textOut(run.text)
        canvas.drawText(text)


def _pdf_box(canvas: Canvas, item: Box, height: float) -> None:
    if item.fill is not None:
        canvas.setFillGray(_GREY[item.fill] / 255)
    canvas.setStrokeGray(0)
    canvas.setLineWidth(item.stroke)
    bottom = (height - item.y - item.h) * _MM
    canvas.rect(
        item.x * _MM,
        bottom,
        item.w * _MM,
        item.h * _MM,
        stroke=int(item.stroke > 0),
        fill=int(item.fill is not None),
    )


def _pdf_qr(canvas: Canvas, item: Qr, height: float) -> None:
    """All dark modules as one path, so viewers show no seams between them."""
    path = canvas.beginPath()
    step = item.module * _MM
    for x, y, width in item.dark_runs():
        path.rect(x * _MM, (height - y) * _MM - step, width * _MM, step)
    canvas.setFillGray(0)
    canvas.drawPath(path, stroke=0, fill=1)


def _svg(drawing: Drawing) -> str:
    width, height = _num(drawing.width), _num(drawing.height)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" '
        f'viewBox="0 0 {width} {height}">'
    )
    body = [_svg_item(item) for item in drawing.items]
    return "\n".join(
        [head, f'<rect width="{width}" height="{height}" fill="white"/>', *body, "</svg>\n"]
    )


def _svg_item(item: Item) -> str:
    if isinstance(item, Text):
        return "".join(_svg_run(item, run.text, run.cjk, x) for run, x in item.placed())
    if isinstance(item, Box):
        fill = item.fill or "none"
        stroke = f' stroke="black" stroke-width="{_num(item.stroke * PT)}"' if item.stroke else ""
        return (
            f'<rect x="{_num(item.x)}" y="{_num(item.y)}" width="{_num(item.w)}" '
            f'height="{_num(item.h)}" fill="{fill}"{stroke}/>'
        )
    if isinstance(item, Rule):
        return (
            f'<line x1="{_num(item.x1)}" y1="{_num(item.y1)}" x2="{_num(item.x2)}" '
            f'y2="{_num(item.y2)}" stroke="black" stroke-width="{_num(item.width * PT)}"/>'
        )
    step = _num(item.module)
    path = "".join(
        f"M{_num(x)} {_num(y)}h{_num(w)}v{step}h-{_num(w)}z" for x, y, w in item.dark_runs()
    )
    return f'<path d="{path}" fill="black" shape-rendering="crispEdges"/>'


def _svg_run(item: Text, text: str, cjk: bool, x: float) -> str:
    weight = ' font-weight="bold"' if item.bold else ""
    return (
        f'<text x="{_num(x)}" y="{_num(item.y)}" font-size="{_num(item.size * PT)}" '
        f'font-family={quoteattr(_SVG_FONTS[cjk])}{weight} fill="{item.ink}" '
        f'xml:space="preserve">{escape(text)}</text>'
    )


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _png(drawing: Drawing, dpi: int, fonts: PngFonts) -> bytes:
    scale = dpi / 25.4
    size = (round(drawing.width * scale), round(drawing.height * scale))
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for item in drawing.items:
        _png_item(draw, item, scale, fonts)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(dpi, dpi))
    return buffer.getvalue()


def _png_item(draw: ImageDraw.ImageDraw, item: Item, scale: float, fonts: PngFonts) -> None:
    px_per_pt = scale * PT
    if isinstance(item, Text):
        _png_text(draw, item, scale, fonts)
    elif isinstance(item, Box):
        corners = (
            item.x * scale,
            item.y * scale,
            (item.x + item.w) * scale,
            (item.y + item.h) * scale,
        )
        fill = None if item.fill is None else _GREY[item.fill]
        outline = 0 if item.stroke else None
        draw.rectangle(
            corners, fill=fill, outline=outline, width=max(1, round(item.stroke * px_per_pt))
        )
    elif isinstance(item, Rule):
        ends = (item.x1 * scale, item.y1 * scale, item.x2 * scale, item.y2 * scale)
        draw.line(ends, fill=0, width=max(1, round(item.width * px_per_pt)))
    else:
        _png_qr(draw, item, scale)


def _png_text(draw: ImageDraw.ImageDraw, item: Text, scale: float, fonts: PngFonts) -> None:
    size_px = item.size * PT * scale
    for run, x in item.placed():
        face = fonts.face(run.cjk, item.bold, size_px)
        if face is not None:  # no Chinese font on this machine: the run stays blank
            position = (x * scale, item.y * scale)
            draw.text(position, run.text, font=face, fill=_GREY[item.ink], anchor="ls")


def _png_qr(draw: ImageDraw.ImageDraw, item: Qr, scale: float) -> None:
    """Module edges snap to whole pixels so every module stays a crisp square-ish block."""
    step = item.module * scale
    for x, y, width in item.dark_runs():
        left, top = round(x * scale), round(y * scale)
        right, bottom = round((x + width) * scale), round(y * scale + step)
        draw.rectangle((left, top, right - 1, bottom - 1), fill=0)
