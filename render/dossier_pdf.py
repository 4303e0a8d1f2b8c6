"""A printable PDF (landscape A4) of a verified investigation dossier (:mod:`insutrace.trace.dossier`).

The core builds and verifies dossiers; the wording is :mod:`insutrace.render.evidence`'s
and the chain drawing is laid out by :func:`insutrace.render.chain.chain_layout`, both
shared with the HTML page; this module only draws them with reportlab, which the core may
not import. Pages: the case block and summary, the timeline (China Standard Time), the
records, the recall list, the chain drawing split over as many pages as keep its boxes
legible, the proven entries, the checkpoint and the sign-off block; every page carries
"第 n 页 / 共 N 页". Chinese runs use the embedded WenQuanYi Micro Hei subset
(``CJK_PDF_FONT``) and Latin runs Bitstream Vera, both registered by
:func:`insutrace.labels.fonts.register_pdf_fonts` (nothing is downloaded). Text is
bilingual, Chinese first with English beside it.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from insutrace.labels.fonts import CJK_PDF_FONT, latin_font_name, register_pdf_fonts, runs
from insutrace.render.chain import BOX_W, GAP_X, Layout, chain_layout, split_columns
from insutrace.render.chain import MARGIN as LAYOUT_MARGIN
from insutrace.render.evidence import (
    CaseInfo,
    case_rows,
    page_label,
    records,
    sign_off,
    summary,
    timeline,
)
from insutrace.trace.entry import Entry
from insutrace.trace.merkle import leaf_hash

__all__ = ["render_dossier_pdf"]

PAGE_W, PAGE_H = landscape(A4)
MARGIN = 36.0


def _draw(canvas: Canvas, x: float, y: float, text: str, size: float, bold: bool = False) -> None:
    """Draw mixed Chinese/Latin text, each run in its own face."""
    for run in runs(text, size, bold):
        canvas.setFont(CJK_PDF_FONT if run.cjk else latin_font_name(bold), size)
        canvas.drawString(x + run.offset, y, run.text)


def _fit(text: str, size: float, width: float) -> list[str]:
    """Split ``text`` into lines no wider than ``width`` points."""
    lines, current = [], ""
    for char in text:
        trial = current + char
        if current and sum(r.width for r in runs(trial, size, False)) > width:
            lines.append(current)
            current = char
        else:
            current = trial
    return [*lines, current] if current else lines


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no types
    """A canvas that writes "第 n 页 / 共 N 页" on every page once the total is known."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFillColorRGB(0.3, 0.3, 0.3)
            _draw(self, PAGE_W / 2 - 70, MARGIN / 2, page_label(self._pageNumber, total), 8)
            Canvas.showPage(self)
        Canvas.save(self)


@dataclass
class _Writer:
    """A top-down text flow over landscape A4 pages."""

    canvas: Canvas
    y: float = PAGE_H - MARGIN

    def need(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.canvas.showPage()
            self.y = PAGE_H - MARGIN

    def line(self, text: str, size: float = 9, bold: bool = False, indent: float = 0) -> None:
        for part in _fit(text, size, PAGE_W - 2 * MARGIN - indent) or [""]:
            self.need(size * 1.4)
            self.y -= size * 1.4
            _draw(self.canvas, MARGIN + indent, self.y, part, size, bold)

    def heading(self, zh: str, en: str) -> None:
        self.need(40)
        self.y -= 8
        self.line(f"{zh}  {en}", 13, bold=True)
        self.y -= 2

    def page(self) -> None:
        self.canvas.showPage()
        self.y = PAGE_H - MARGIN


def _arrowhead(canvas: Canvas, x1: float, y1: float, x2: float, y2: float) -> None:
    """A filled triangle at (x2, y2) pointing along the line from (x1, y1)."""
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    head = canvas.beginPath()
    head.moveTo(x2, y2)
    head.lineTo(x2 - 6 * ux - 3 * uy, y2 - 6 * uy + 3 * ux)
    head.lineTo(x2 - 6 * ux + 3 * uy, y2 - 6 * uy - 3 * ux)
    head.close()
    canvas.drawPath(head, stroke=0, fill=1)


def _flipped(canvas: Canvas, x: float, y: float, text: str, size: float, bold: bool) -> None:
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(1, -1)
    _draw(canvas, 0, 0, text, size, bold)
    canvas.restoreState()


def _chain_page(canvas: Canvas, lay: Layout, scale: float, part: int, parts: int) -> None:
    heading = "追溯链  Back-trace chain"
    if parts > 1:
        heading += f"（第 {part} / {parts} 部分  part {part} of {parts}）"
    _draw(canvas, MARGIN, PAGE_H - MARGIN - 12, heading, 13, bold=True)
    canvas.saveState()
    canvas.translate(MARGIN, PAGE_H - MARGIN - 24)
    canvas.scale(scale, -scale)  # layout y grows downwards
    canvas.setStrokeColorRGB(0.45, 0.45, 0.45)
    canvas.setFillColorRGB(0.45, 0.45, 0.45)
    for a in lay.arrows:
        canvas.line(a.x1, a.y1, a.x2, a.y2)
        _arrowhead(canvas, a.x1, a.y1, a.x2, a.y2)
    canvas.setFillColorRGB(0.15, 0.15, 0.15)
    for a in lay.arrows:
        x, y = a.x1 + (a.x2 - a.x1) * 0.5, a.y1 + (a.y2 - a.y1) * 0.5
        _flipped(canvas, x - 20, y - 2, a.label, 6, False)
    canvas.setStrokeColorRGB(0.2, 0.2, 0.2)
    for b in lay.boxes:
        canvas.setFillColorRGB(0.97, 0.97, 0.95)
        canvas.roundRect(b.x, b.y, b.w, b.h, 5, stroke=1, fill=1)
        canvas.setFillColorRGB(0, 0, 0)
        _flipped(canvas, b.x + 6, b.y + 14, b.title, 9, True)
        for i, line in enumerate(b.lines):
            _flipped(canvas, b.x + 6, b.y + 27 + 11 * i, line, 9, False)
        _flipped(canvas, b.x + 6, b.y + 51, b.seqs, 7, False)
    canvas.restoreState()
    canvas.showPage()


def _chain(canvas: Canvas, trace: dict[str, Any]) -> None:
    """The chain drawing, split over pages by columns so that no box shrinks below
    legibility (at most as many columns per page as fit at the page's scale)."""
    lay = chain_layout(trace)
    scale = min((PAGE_H - 2 * MARGIN - 24) / lay.height, 1.0)
    room = (PAGE_W - 2 * MARGIN) / scale - 2 * LAYOUT_MARGIN + GAP_X
    per_page = max(int(room // (BOX_W + GAP_X)), 1)
    pages = split_columns(lay, per_page)
    for i, page in enumerate(pages, 1):
        _chain_page(canvas, page, scale, i, len(pages))


def _case(w: _Writer, dossier: dict[str, Any], info: CaseInfo | None) -> None:
    title = dossier["title"]
    w.line(f"{title['zh']}  {title['en']}", 18, bold=True)
    w.y -= 6
    if info is not None:
        for zh, en, value in case_rows(dossier, info):
            w.line(f"{zh} {en}: {value}", 10)
    w.heading("案情摘要", "Summary")
    for n, (zh, en) in enumerate(summary(dossier), 1):
        w.line(f"{n}. {zh}", 10)
        w.line(en, 8, indent=14)


def _timeline(w: _Writer, dossier: dict[str, Any]) -> None:
    w.heading("时间线（北京时间 UTC+8）", "Timeline (China Standard Time)")
    for t in timeline(dossier):
        w.line(f"{t.time}  #{t.seq}  {t.title_zh} {t.title_en}  —  {t.actor}", 9)


def _records(w: _Writer, trace: dict[str, Any]) -> None:
    w.heading("记录", "Records")
    for r in records(trace):
        seqs = ", ".join(f"#{s}" for s in r.entries[:8])
        w.line(f"{r.kind_zh} {r.kind_en}: {r.name}  ({r.key})  {seqs}", 9, bold=True)
        if r.facts:
            w.line("; ".join(r.facts), 8, indent=14)


def _recall(w: _Writer, trace: dict[str, Any]) -> None:
    w.heading("下游扩散（召回清单）", "Downstream spread (recall list)")
    for notice in trace.get("recall", []):
        w.line(f"批次 Batch {notice['batch']}", 10, bold=True)
        for wall in notice["walls"]:
            w.line(
                f"墙体 Wall: {wall['project']} / {wall['section']}, 建筑 building "
                f"{wall['building']}, 立面 facade {wall['facade']}, {wall['area'] / 1000:g} m²",
                9, indent=12,
            )  # fmt: skip
        for r in notice["recipients"]:
            site = r["site"] or "—"
            w.line(f"收货 Received: {r['name']}（{r['org']}）@ {site}", 9, indent=12)
        for h in notice["holders"]:
            site = h["site"] or "—"
            w.line(f"现持有 Holds: {h['holder']} @ {site}: {h['qty'] / 1000:g}", 9, indent=12)


def _entries(w: _Writer, dossier: dict[str, Any]) -> None:
    w.heading("条目及包含证明", "Entries and inclusion proofs")
    for item in dossier["entries"]:
        data = base64.b64decode(item["entry"])
        entry = Entry.from_bytes(data)
        w.line(
            f"#{item['seq']}  {entry.type}  {entry.actor}  {entry.time}  "
            f"leaf {leaf_hash(data).hex()[:16]}…  proof {len(item['proof'])}",
            8,
        )


def _checkpoint(w: _Writer, dossier: dict[str, Any]) -> None:
    log = dossier["log"]
    w.heading("日志检查点与核验", "Log checkpoint and verification")
    w.line(f"日志 Log: {log['origin']}", 9)
    w.line(f"日志公钥 Log verifier key: {log['vkey']}", 9)
    for line in log["checkpoint"].rstrip("\n").split("\n"):
        w.line(line, 8, indent=14)
    w.line(
        "每条条目均附有针对上述签名检查点的包含证明；离线核验并重新推导全部节点、关系与召回清单："
        "insutrace verify-dossier FILE --vkey KEY。 Every entry carries an inclusion proof "
        "against the signed checkpoint above; check offline, re-deriving every node, edge and "
        "recall list, with: insutrace verify-dossier FILE --vkey KEY.",
        9,
    )


def _sign_off(w: _Writer) -> None:
    w.heading("签署", "Sign-off")
    w.need(len(sign_off()) * 34)
    for zh, en in sign_off():
        w.y -= 30
        _draw(w.canvas, MARGIN, w.y, f"{zh} {en}:", 10)
        w.canvas.line(MARGIN + 190, w.y - 2, MARGIN + 480, w.y - 2)


def render_dossier_pdf(dossier: dict[str, Any], info: CaseInfo | None = None) -> bytes:
    """The PDF bytes of a dossier that verified (``info`` says how, and names the case)."""
    register_pdf_fonts()
    out = io.BytesIO()
    canvas = _NumberedCanvas(out, pagesize=(PAGE_W, PAGE_H), invariant=True)
    canvas.setTitle(f"{dossier['title']['zh']} {dossier['title']['en']}")
    writer = _Writer(canvas)
    _case(writer, dossier, info)
    _timeline(writer, dossier)
    _records(writer, dossier["trace"])
    _recall(writer, dossier["trace"])
    writer.page()
    _chain(canvas, dossier["trace"])
    _entries(writer, dossier)
    _checkpoint(writer, dossier)
    _sign_off(writer)
    writer.page()
    canvas.save()
    return out.getvalue()
