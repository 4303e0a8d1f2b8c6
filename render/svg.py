"""The back-trace chain as a standalone SVG image (W3C SVG 1.1), for the dossier's HTML page.

Boxes and arrows come from :func:`insutrace.render.chain.chain_layout`; the text is
bilingual (Chinese first, English beside it) and escaped for XML.
"""

from __future__ import annotations

import html
from typing import Any

from insutrace.render.chain import chain_layout

__all__ = ["render_svg"]

_FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','SimSun',sans-serif"


def render_svg(trace: dict[str, Any]) -> str:
    """The chain as a standalone SVG (UTF-8 text; Chinese and English labels)."""
    lay = chain_layout(trace)
    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width:.0f}" '
        f'height="{lay.height:.0f}" viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" '
        f'font-family="{e(_FONT)}" role="img" aria-label="追溯链 back-trace chain">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for a in lay.arrows:
        parts.append(
            f'<line x1="{a.x1:.1f}" y1="{a.y1:.1f}" x2="{a.x2:.1f}" y2="{a.y2:.1f}" '
            'stroke="#777" stroke-width="1" marker-end="url(#arrow)"/>'
        )
    for a in lay.arrows:  # labels above the lines, on a white ground
        x, y = a.x1 + (a.x2 - a.x1) * 0.5, a.y1 + (a.y2 - a.y1) * 0.5
        parts.append(
            f'<text x="{x:.1f}" y="{y - 2:.1f}" font-size="7" fill="#333" text-anchor="middle" '
            f'paint-order="stroke" stroke="#fff" stroke-width="2">{e(a.label)}</text>'
        )
    for b in lay.boxes:
        name = "".join(
            f'<text x="{b.x + 6:.1f}" y="{b.y + 27 + 11 * i:.1f}" font-size="10">{e(line)}</text>'
            for i, line in enumerate(b.lines)
        )
        parts.append(
            f'<g><rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.0f}" height="{b.h:.0f}" rx="5" '
            'fill="#f7f7f2" stroke="#333"/>'
            f'<text x="{b.x + 6:.1f}" y="{b.y + 14:.1f}" font-size="10" font-weight="bold">'
            f"{e(b.title)}</text>{name}"
            f'<text x="{b.x + 6:.1f}" y="{b.y + 51:.1f}" font-size="8" fill="#555">'
            f"{e(b.seqs)}</text></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
