"""A printable PDF of an investigation dossier (:mod:`insutrace.trace.dossier`).

The core builds and verifies dossiers; the chain drawing is laid out by
:func:`insutrace.render.chain.chain_layout`, which the SVG shares; this module only draws
them with reportlab, which the core may not import. Chinese runs use the embedded WenQuanYi Micro Hei subset
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
from insutrace.render.chain import TERMS, chain_layout, display_name, role_of
from insutrace.render.evidence import CaseInfo
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


def _chain(canvas: Canvas, trace: dict[str, Any]) -> None:
    """The chain drawing on a page of its own, scaled to fit."""
    lay = chain_layout(trace)
    scale = min((PAGE_W - 2 * MARGIN) / lay.width, (PAGE_H - 2 * MARGIN - 24) / lay.height, 1.0)
    _draw(canvas, MARGIN, PAGE_H - MARGIN - 12, "追溯链  Back-trace chain", 13, bold=True)
    canvas.saveState()
    canvas.translate(MARGIN, PAGE_H - MARGIN - 24)
    canvas.scale(scale, -scale)  # layout y grows downwards
    canvas.setStrokeColorRGB(0.45, 0.45, 0.45)
    canvas.setFillColorRGB(0.45, 0.45, 0.45)
    for x1, y1, x2, y2 in lay.arrows:
        canvas.line(x1, y1, x2, y2)
        _arrowhead(canvas, x1, y1, x2, y2)
    canvas.setStrokeColorRGB(0.2, 0.2, 0.2)
    for b in lay.boxes:
        canvas.setFillColorRGB(0.97, 0.97, 0.95)
        canvas.roundRect(b.x, b.y, b.w, b.h, 5, stroke=1, fill=1)
        canvas.setFillColorRGB(0, 0, 0)
        for dy, text, size, bold in ((14, b.title, 9, True), (28, b.name, 9, False),
                                     (40, b.seqs, 7, False)):  # fmt: skip
            canvas.saveState()
            canvas.translate(b.x + 6, b.y + dy)
            canvas.scale(1, -1)
            _draw(canvas, 0, 0, text, size, bold)
            canvas.restoreState()
    canvas.restoreState()
    canvas.showPage()


def _summary(w: _Writer, dossier: dict[str, Any]) -> None:
    title, log, subject = dossier["title"], dossier["log"], dossier["subject"]
    w.line(f"{title['zh']}  {title['en']}", 18, bold=True)
    w.y -= 6
    note = log["checkpoint"]
    lines = note[: note.rfind("\n\n")].split("\n")
    for zh, en, value in (
        ("追溯对象", "Subject", f"{subject['kind']}: {subject['id']}"),
        ("生成时间", "Created", dossier["created"]),
        ("日志", "Log", log["origin"]),
        ("日志公钥", "Log verifier key", log["vkey"]),
        ("检查点", "Checkpoint", f"size {lines[1]}, root {lines[2]}"),
    ):
        w.line(f"{zh} {en}: {value}", 10)
    w.y -= 6
    w.line(
        "每条引用条目均附有针对上述签名检查点的包含证明；离线核验：insutrace verify-dossier FILE "
        "--vkey KEY。 Every cited entry carries an inclusion proof against the signed "
        "checkpoint above; check offline with: insutrace verify-dossier FILE --vkey KEY.",
        9,
    )


def _records(w: _Writer, trace: dict[str, Any]) -> None:
    w.heading("上游记录", "Upstream records")
    for node in sorted(trace["nodes"], key=lambda n: (role_of(n), n["id"])):
        zh, en = TERMS.get(role_of(node), (node["kind"], node["kind"]))
        seqs = ", ".join(f"#{s}" for s in node["entries"][:8])
        w.line(f"{zh} {en}: {display_name(node)}  ({node['key']})  {seqs}", 9)


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
            w.line(f"收货 Received: {r['org']} {r['name']} @ {site}", 9, indent=12)
        for h in notice["holders"]:
            site = h["site"] or "—"
            w.line(f"现持有 Holds: {h['holder']} @ {site}: {h['qty'] / 1000:g}", 9, indent=12)


def _entries(w: _Writer, dossier: dict[str, Any]) -> None:
    w.heading("引用条目及包含证明", "Cited entries and inclusion proofs")
    for item in dossier["entries"]:
        data = base64.b64decode(item["entry"])
        entry = Entry.from_bytes(data)
        w.line(
            f"#{item['seq']}  {entry.type}  {entry.actor}  {entry.time}  "
            f"leaf {leaf_hash(data).hex()[:16]}…  proof {len(item['proof'])}",
            8,
        )


def render_dossier_pdf(dossier: dict[str, Any], info: CaseInfo | None = None) -> bytes:
    """The dossier as PDF bytes: summary, chain drawing, records, recall list, entries."""
    register_pdf_fonts()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(PAGE_W, PAGE_H), invariant=True)
    canvas.setTitle(f"{dossier['title']['zh']} {dossier['title']['en']}")
    writer = _Writer(canvas)
    _summary(writer, dossier)
    canvas.showPage()
    _chain(canvas, dossier["trace"])
    writer.y = PAGE_H - MARGIN
    _records(writer, dossier["trace"])
    _recall(writer, dossier["trace"])
    _entries(writer, dossier)
    canvas.save()
    return out.getvalue()
