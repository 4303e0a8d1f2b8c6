"""A verified dossier (:mod:`insutrace.trace.dossier`) as one printable bilingual HTML page.

The page is evidence, Chinese first with English beside it: the case block (case number,
investigator, what verified), the summary of what happened, the timeline in China
Standard Time with organisations' names beside their credit codes, the chain drawing
(:func:`insutrace.render.svg.render_svg`, labelled edges), the records with dates,
quantities in m² and test results, the recall list, every proven entry with the length of
its RFC 9162 §2.1.3 inclusion proof, and the sign-off block. The wording is
:mod:`insutrace.render.evidence`'s, shared with the PDF.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from insutrace.render.chain import seq_list
from insutrace.render.evidence import (
    CaseInfo,
    case_rows,
    records,
    sign_off,
    summary,
    timeline,
)
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
.summary li{margin:.3em 0}.sign td{height:2.4em}
@media print{body{margin:1cm}.chain svg{max-width:100%;height:auto}h2{page-break-after:avoid}}
"""


def _h(zh: str, en: str) -> str:
    return f'{html.escape(zh)} <span class="en">{html.escape(en)}</span>'


def _table(head: list[tuple[str, str]], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{_h(zh, en)}</th>" for zh, en in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _nodes_table(trace: dict[str, Any]) -> str:
    e = html.escape
    rows = [
        [_h(r.kind_zh, r.kind_en), e(r.name) + f"<br><code>{e(r.key)}</code>",
         "<br>".join(e(f) for f in r.facts), e(seq_list(list(r.entries)))]
        for r in records(trace)
    ]  # fmt: skip
    head = [("类别", "Kind"), ("名称 / 标识", "Name / id"), ("记录", "Record"), ("条目", "Entries")]
    return _table(head, rows)


def _summary(dossier: dict[str, Any]) -> str:
    items = "".join(
        f'<li>{html.escape(zh)}<br><span class="en">{html.escape(en)}</span></li>'
        for zh, en in summary(dossier)
    )
    return f'<ol class="summary">{items}</ol>'


def _timeline(dossier: dict[str, Any]) -> str:
    e = html.escape
    rows = [[e(t.time), f"#{t.seq}", _h(t.title_zh, t.title_en), e(t.actor)]
            for t in timeline(dossier)]  # fmt: skip
    head = [("时间（北京时间 UTC+8）", "Time (CST)"), ("条目", "Entry"), ("事项", "Event"),
            ("签署单位（统一社会信用代码）", "Signed by (credit code)")]  # fmt: skip
    return _table(head, rows)


def _case(dossier: dict[str, Any], info: CaseInfo | None) -> str:
    if info is None:
        return ""
    rows = [[_h(zh, en), html.escape(value)] for zh, en, value in case_rows(dossier, info)]
    return _table([("案件", "Case"), ("内容", "Value")], rows)


def _sign_off() -> str:
    rows = [[_h(zh, en), ""] for zh, en in sign_off()]
    return f'<table class="sign">{"".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)}</table>'


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
    """A printable bilingual HTML page of a dossier that verified (``info`` says how)."""
    e = html.escape
    title = dossier["title"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(title['zh'])} {e(title['en'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_h(title['zh'], title['en'])}</h1>",
        _case(dossier, info),
        f"<h2>{_h('案情摘要', 'Summary')}</h2>",
        _summary(dossier),
        f"<h2>{_h('时间线', 'Timeline')}</h2>",
        _timeline(dossier),
        f"<h2>{_h('追溯链', 'Chain')}</h2>",
        f'<div class="chain">{render_svg(dossier["trace"])}</div>',
        f"<h2>{_h('记录', 'Records')}</h2>",
        _nodes_table(dossier["trace"]),
        f"<h2>{_h('下游扩散（召回清单）', 'Downstream spread (recall list)')}</h2>",
        _recall_tables(dossier["trace"]),
        f"<h2>{_h('日志检查点', 'Log checkpoint')}</h2>",
        _summary_table(dossier),
        f"<h2>{_h('引用条目及包含证明', 'Cited entries and inclusion proofs')}</h2>",
        _entries_table(dossier),
        f"<h2>{_h('核验', 'Verification')}</h2>",
        "<p>每条条目均附有针对同一签名检查点的默克尔包含证明；离线核验（重新推导全部节点、关系与召回清单）："
        "<code>insutrace verify-dossier FILE --vkey KEY</code>。<br>"
        '<span class="en">Every entry carries a Merkle inclusion proof against the one '
        "signed checkpoint above; check it offline, re-deriving every node, edge and recall "
        "list, with <code>insutrace verify-dossier FILE --vkey KEY</code>.</span></p>",
        f"<pre><code>{e(dossier['log']['checkpoint'])}</code></pre>",
        f"<h2>{_h('签署', 'Sign-off')}</h2>",
        _sign_off(),
        "</body></html>",
    ]
    return "\n".join(parts)
