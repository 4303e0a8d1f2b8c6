"""The dossier's chain drawing as data: bilingual vocabulary, drawing roles and box layout.

One layout serves every drawing of a back-trace (:mod:`insutrace.trace.backtrace`): the SVG
of the HTML page (:mod:`insutrace.render.svg`) and the PDF (:mod:`insutrace.render.dossier_pdf`)
draw the same boxes and arrows. Terms are Chinese first with English beside them, as every
text a person reads in the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "EDGE_TERMS",
    "TERMS",
    "Arrow",
    "Box",
    "Layout",
    "chain_layout",
    "display_name",
    "edge_label",
    "role_of",
    "seq_list",
    "short",
    "split_columns",
    "wrap",
]

TERMS: dict[str, tuple[str, str]] = {
    "manufacturer": ("制造商", "Manufacturer"),
    "product": ("产品", "Product"),
    "batch": ("批次", "Batch"),
    "report": ("出厂检验报告", "Factory test report"),
    "lab": ("检测机构", "Testing lab"),
    "holder": ("经销/持有方", "Holder"),
    "inspection": ("进场验收", "Arrival inspection"),
    "sample": ("见证取样复验", "Witnessed re-test"),
    "contractor": ("施工单位", "Contractor"),
    "sampler": ("取样人单位", "Sampler"),
    "section": ("墙体部位", "Wall section"),
    "design_change": ("设计变更", "Design change"),
    "designer": ("设计单位", "Designer"),
    "reviewer": ("施工图审查机构", "Drawing reviewer"),
    "project": ("工程项目", "Project"),
    "supervisor": ("监理单位", "Supervisor"),
    "owner": ("建设单位", "Owner"),
    "acceptance": ("竣工验收", "Acceptance"),
    "building": ("建筑", "Building"),
    "permit": ("行政许可决定", "Permit decision"),
    "regulator": ("主管部门", "Regulator"),
    "incident": ("事故", "Incident"),
    "investigator": ("调查机构", "Investigator"),
    "listing": ("失信名单", "Credit listing"),
    "org": ("单位", "Organisation"),
}
EDGE_TERMS: dict[str, tuple[str, str]] = {
    "produced": ("生产", "produced"),
    "makes": ("制造", "makes"),
    "lot_of": ("批次属于", "lot of"),
    "tested_in": ("出厂检验", "tested in"),
    "issued": ("出具", "issued"),
    "custody": ("交付", "custody"),
    "inspected": ("进场验收", "inspected"),
    "signed": ("签署", "signed"),
    "at": ("位于", "at"),
    "sampled": ("取样", "sampled"),
    "witnessed": ("见证", "witnessed"),
    "sampled_by": ("取样单位", "sampled by"),
    "retested": ("复验", "re-tested"),
    "owns": ("建设", "owns"),
    "builds": ("施工", "builds"),
    "supervises": ("监理", "supervises"),
    "accepts": ("验收", "accepts"),
    "decides": ("许可决定", "decides"),
    "on": ("位于建筑", "on"),
    "installed": ("安装", "installed"),
    "part_of": ("属于", "part of"),
    "lists": ("列入名单", "lists"),
    "recorded": ("记录", "recorded"),
}
"""Edge kinds' labels on the drawing (a custody hop's kind is ``custody:<shipment>``)."""
_ROLE_ORDER = (
    "manufacturer", "lab", "contractor", "supervisor", "owner", "regulator", "investigator",
    "designer", "reviewer", "sampler", "holder",
)  # fmt: skip
_COLUMNS = (
    ("manufacturer", "product"),
    ("batch",),
    ("report", "lab"),
    ("holder",),
    ("inspection", "sample", "sampler"),
    ("contractor", "section", "design_change", "designer", "reviewer"),
    ("project", "supervisor", "owner", "acceptance"),
    ("building", "permit", "regulator", "incident", "investigator", "listing"),
)


def role_of(node: dict[str, Any]) -> str:
    """The drawing role of a node: its kind, or for an organisation its main role here."""
    if node["kind"] != "org":
        return str(node["kind"])
    roles = node["facts"].get("as", [])
    return next((r for r in _ROLE_ORDER if r in roles), "holder")


def display_name(node: dict[str, Any]) -> str:
    """What a box or table row calls a node: its name, else its number, else its key."""
    facts = node["facts"]
    return str(facts.get("name") or facts.get("number") or node["key"])


@dataclass(frozen=True)
class Box:
    """One node's box: position and size in points, and its two text lines."""

    node: str
    x: float
    y: float
    w: float
    h: float
    title: str
    name: str
    seqs: str
    col: int = 0

    @property
    def lines(self) -> tuple[str, ...]:
        """The name wrapped to at most two lines of the box's width."""
        return wrap(self.name, 30, 2)


@dataclass(frozen=True)
class Arrow:
    """One edge: from the right or left side of a box to another, with its label."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    cols: tuple[int, int]


@dataclass(frozen=True)
class Layout:
    """The chain drawing: boxes by column, arrows between box centres' edges."""

    width: float
    height: float
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]
    columns: int = 1


BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 170.0, 56.0, 60.0, 12.0, 16.0
MAX_PER_COLUMN = 10


def short(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters, the last one an ellipsis when cut."""
    return text if len(text) <= n else text[: n - 1] + "…"


def _width(char: str) -> int:
    return 2 if ord(char) > 0x2E7F else 1


def wrap(text: str, width: int, lines: int) -> tuple[str, ...]:
    """``text`` in at most ``lines`` lines of ``width`` units (a CJK character is two),
    the last one cut with an ellipsis when the text is longer."""
    out: list[str] = []
    current, used = "", 0
    for char in text:
        if used + _width(char) > width:
            out.append(current)
            current, used = "", 0
        current += char
        used += _width(char)
    out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][:-1] + "…"
    return tuple(out)


def edge_label(kind: str) -> str:
    """An edge's label, Chinese first: ``生产 produced``."""
    zh, en = EDGE_TERMS.get(kind.split(":", 1)[0], (kind, kind))
    return f"{zh} {en}"


def seq_list(entries: list[int]) -> str:
    """The first four sequence numbers as ``#n`` and how many more there are."""
    shown = ", ".join(f"#{s}" for s in entries[:4])
    return shown + (f" +{len(entries) - 4}" if len(entries) > 4 else "")


def chain_layout(trace: dict[str, Any]) -> Layout:
    """Boxes in columns along the chain (maker → batch → reports → custody → site → wall →
    project → building and decisions); at most ``MAX_PER_COLUMN`` per column, then a
    "+n more" box."""
    columns: list[list[dict[str, Any]]] = [[] for _ in _COLUMNS]
    for node in trace["nodes"]:
        role = role_of(node)
        index = next((i for i, kinds in enumerate(_COLUMNS) if role in kinds), len(_COLUMNS) - 1)
        columns[index].append(node)
    boxes: list[Box] = []
    used = [c for c in columns if c]
    for col, nodes in enumerate(used):
        x = MARGIN + col * (BOX_W + GAP_X)
        for row, node in enumerate(nodes[:MAX_PER_COLUMN]):
            zh, en = TERMS.get(role_of(node), (node["kind"], node["kind"]))
            y = MARGIN + row * (BOX_H + GAP_Y)
            boxes.append(
                Box(node["id"], x, y, BOX_W, BOX_H, f"{zh} {en}", display_name(node),
                    seq_list(node["entries"]), col)
            )  # fmt: skip
        if len(nodes) > MAX_PER_COLUMN:
            y = MARGIN + MAX_PER_COLUMN * (BOX_H + GAP_Y)
            more = len(nodes) - MAX_PER_COLUMN
            boxes.append(Box("", x, y, BOX_W, BOX_H, f"另有 {more} 项 +{more} more", "", "", col))
    at = {b.node: b for b in boxes if b.node}
    arrows: list[Arrow] = []
    for edge in trace["edges"]:
        a, b = at.get(edge["from"]), at.get(edge["to"])
        if a is None or b is None or a is b:
            continue
        label, cols = edge_label(edge["kind"]), (a.col, b.col)
        if a.x <= b.x:
            arrows.append(Arrow(a.x + a.w, a.y + a.h / 2, b.x, b.y + b.h / 2, label, cols))
        else:
            arrows.append(Arrow(a.x, a.y + a.h / 2, b.x + b.w, b.y + b.h / 2, label, cols))
    rows = max((len(c[:MAX_PER_COLUMN]) + (len(c) > MAX_PER_COLUMN) for c in used), default=1)
    width = 2 * MARGIN + len(used) * BOX_W + max(len(used) - 1, 0) * GAP_X
    height = 2 * MARGIN + rows * BOX_H + max(rows - 1, 0) * GAP_Y
    return Layout(width, height, tuple(boxes), tuple(dict.fromkeys(arrows)), len(used))


def split_columns(lay: Layout, per_page: int) -> list[Layout]:
    """The drawing cut into pages of ``per_page`` columns, each page's boxes moved to its
    left edge; an arrow between two pages is kept on both as a stub to the page's edge."""
    pages = []
    for first in range(0, max(lay.columns, 1), per_page):
        cols = range(first, first + per_page)
        dx = first * (BOX_W + GAP_X)
        boxes = tuple(
            Box(b.node, b.x - dx, b.y, b.w, b.h, b.title, b.name, b.seqs, b.col)
            for b in lay.boxes if b.col in cols
        )  # fmt: skip
        arrows = []
        width = 2 * MARGIN + min(per_page, lay.columns - first) * (BOX_W + GAP_X) - GAP_X
        for a in lay.arrows:
            inside = [c in cols for c in a.cols]
            if not any(inside):
                continue
            x1, x2 = a.x1 - dx, a.x2 - dx
            if not all(inside):  # a stub to the edge the other end lies beyond
                edge = width - MARGIN / 2 if max(a.cols) not in cols else MARGIN / 2
                if inside[0]:
                    x2 = edge
                else:
                    x1 = edge
            arrows.append(Arrow(x1, a.y1, x2, a.y2, a.label, a.cols))
        pages.append(Layout(width, lay.height, boxes, tuple(arrows), len(cols)))
    return pages
