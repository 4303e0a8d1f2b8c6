"""A dossier (:mod:`insutrace.trace.dossier`) as one printable bilingual HTML page.

The page shows the subject and the signed checkpoint, the chain drawing
(:func:`insutrace.render.svg.render_svg`), the upstream records, the recall list and every
cited entry with the length of its RFC 9162 §2.1.3 inclusion proof. Headings and table
heads are Chinese first with English beside them.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any

from insutrace.render.chain import TERMS, display_name, role_of, seq_list, short
from insutrace.render.evidence import CaseInfo
from insutrace.render.svg import render_svg
from insutrace.trace.entry import Entry
from insutrace.trace.merkle import leaf_hash

__all__ = ["CaseInfo", "render_html"]

_CSS = """
body{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',sans-serif;
margin:2em;color:#111;font-size:11pt}
h1{font-size:18pt}h2{font-size:13pt;border-bottom:1px solid #999;margin-top:1.6em}
.en{color:#444;font-weight:normal}table{border-collapse:collapse;width:100%;margin:.5em 0}
td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top;font-size:9.5pt;text-align:left}
th{background:#eee}code{font-size:8.5pt;word-break:break-all}.chain{overflow-x:auto}
@media print{body{margin:1cm}.chain svg{max-width:100%;height:auto}h2{page-break-after:avoid}}
"""


def _h(zh: str, en: str) -> str:
    return f'{html.escape(zh)} <span class="en">{html.escape(en)}</span>'


def _facts(facts: dict[str, Any]) -> str:
    shown = []
    for key, value in facts.items():
        if value in (None, [], {}, ""):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        shown.append(f"{key}: {short(text, 160)}")
    return html.escape("; ".join(shown))


def _table(head: list[tuple[str, str]], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{_h(zh, en)}</th>" for zh, en in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _nodes_table(trace: dict[str, Any]) -> str:
    rows = []
    for node in sorted(trace["nodes"], key=lambda n: (role_of(n), n["id"])):
        zh, en = TERMS.get(role_of(node), (node["kind"], node["kind"]))
        rows.append(
            [_h(zh, en), html.escape(display_name(node)) + f"<br><code>{html.escape(node['key'])}</code>",
             _facts(node["facts"]), html.escape(seq_list(node["entries"]))]
        )  # fmt: skip
    head = [("类别", "Kind"), ("名称 / 标识", "Name / id"), ("要点", "Facts"), ("条目", "Entries")]
    return _table(head, rows)


def _recall_tables(trace: dict[str, Any]) -> str:
    out = []
    for notice in trace.get("recall", []):
        out.append(f"<h3>{_h('批次', 'Batch')} <code>{html.escape(notice['batch'])}</code></h3>")
        walls = [
            [html.escape(str(w[k])) for k in ("project", "section", "building", "facade")]
            + [f"{w['area'] / 1000:g} m²", html.escape(seq_list(w["entries"]))]
            for w in notice["walls"]
        ]
        head = [("项目", "Project"), ("部位", "Section"), ("建筑", "Building"),
                ("立面", "Facade"), ("面积", "Area"), ("条目", "Entries")]  # fmt: skip
        out.append(_table(head, walls))
        got = [
            [html.escape(r["org"]), html.escape(r["name"]), html.escape(r["site"] or "—"),
             html.escape(", ".join(r["shipments"]))]
            for r in notice["recipients"]
        ]  # fmt: skip
        head = [
            ("收货单位", "Recipient"),
            ("名称", "Name"),
            ("工地", "Site"),
            ("发货单", "Shipments"),
        ]
        out.append(_table(head, got))
        held = [[html.escape(h["holder"]), html.escape(h["site"] or "—"), f"{h['qty'] / 1000:g}"]
                for h in notice["holders"]]  # fmt: skip
        out.append(
            _table([("现持有方", "Holder now"), ("工地", "Site"), ("数量", "Quantity")], held)
        )
    return "".join(out)


def _entries_table(dossier: dict[str, Any]) -> str:
    rows = []
    for item in dossier["entries"]:
        data = base64.b64decode(item["entry"])
        entry = Entry.from_bytes(data)
        rows.append(
            [str(item["seq"]), html.escape(entry.type), f"<code>{html.escape(entry.actor)}</code>",
             html.escape(entry.time), f"<code>{leaf_hash(data).hex()[:16]}…</code>",
             str(len(item["proof"]))]
        )  # fmt: skip
    head = [("序号", "Seq"), ("类型", "Type"), ("签署方", "Signer"), ("时间", "Time"),
            ("叶哈希", "Leaf hash"), ("证明长度", "Proof hashes")]  # fmt: skip
    return _table(head, rows)


def _summary_table(dossier: dict[str, Any]) -> str:
    e = html.escape
    note = dossier["log"]["checkpoint"]
    lines = note[: note.rfind("\n\n")].split("\n")
    subject, log = dossier["subject"], dossier["log"]
    rows = [
        [_h("追溯对象", "Subject"), f"{e(subject['kind'])}: <code>{e(subject['id'])}</code>"],
        [_h("生成时间", "Created"), e(dossier["created"])],
        [_h("日志", "Log"), f"<code>{e(log['origin'])}</code>"],
        [_h("日志公钥", "Log verifier key"), f"<code>{e(log['vkey'])}</code>"],
        [_h("检查点", "Checkpoint"), f"size {e(lines[1])}, root <code>{e(lines[2])}</code>"],
    ]
    return _table([("项目", "Item"), ("内容", "Value")], rows)


def render_html(dossier: dict[str, Any], info: CaseInfo | None = None) -> str:
    """A printable bilingual HTML page: subject, checkpoint, chain drawing, upstream records,
    the recall list, and every proven entry."""
    e = html.escape
    title = dossier["title"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(title['zh'])} {e(title['en'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_h(title['zh'], title['en'])}</h1>",
        _summary_table(dossier),
        f"<h2>{_h('追溯链', 'Chain')}</h2>",
        f'<div class="chain">{render_svg(dossier["trace"])}</div>',
        f"<h2>{_h('上游记录', 'Upstream records')}</h2>",
        _nodes_table(dossier["trace"]),
        f"<h2>{_h('下游扩散（召回清单）', 'Downstream spread (recall list)')}</h2>",
        _recall_tables(dossier["trace"]),
        f"<h2>{_h('引用条目及包含证明', 'Cited entries and inclusion proofs')}</h2>",
        _entries_table(dossier),
        f"<h2>{_h('核验', 'Verification')}</h2>",
        "<p>每条引用条目均附有针对同一签名检查点的默克尔包含证明；离线核验："
        "<code>insutrace verify-dossier FILE --vkey KEY</code>。<br>"
        '<span class="en">Every cited entry carries a Merkle inclusion proof against the one '
        "signed checkpoint above; check it offline with "
        "<code>insutrace verify-dossier FILE --vkey KEY</code>.</span></p>",
        f"<pre><code>{e(dossier['log']['checkpoint'])}</code></pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
