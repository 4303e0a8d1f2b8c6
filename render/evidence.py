"""What a dossier's HTML and PDF print as evidence, from a dossier that verified.

One function per question, shared by the page (:mod:`insutrace.render.dossier_html`) and the
PDF (:mod:`insutrace.render.dossier_pdf`): the case block, the Chinese-first summary of what
happened, the timeline in China Standard Time with organisations' names beside their credit
codes, and the records with their dates, quantities in m² and test results. Everything is
read from the dossier's trace and entries, which :func:`insutrace.trace.dossier.verify_dossier`
has re-derived from the proven entries before anything is rendered; nothing here decides a
fact, it only words what the trace says.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any

from insutrace.render.chain import EDGE_TERMS, TERMS, display_name, role_of
from insutrace.trace.clock import parse_time
from insutrace.trace.domain import REGISTRY
from insutrace.trace.dossier import DossierCheck
from insutrace.trace.entry import Entry

__all__ = [
    "EDGE_TERMS",
    "CaseInfo",
    "Event",
    "Record",
    "case_rows",
    "cst",
    "org_names",
    "page_label",
    "records",
    "sign_off",
    "summary",
    "timeline",
]

CST = timezone(timedelta(hours=8), "CST")

_REASONS = {"failed_retest": ("见证取样复验不合格", "failed witnessed re-test"),
            "fraud": ("欺诈", "fraud")}  # fmt: skip
_MILLI_AREA = ("area", "installed")
_MILLI_QTY = ("shipped", "received", "qty", "produced")


@dataclass(frozen=True)
class CaseInfo:
    """The case a dossier is printed for, and what its verification established."""

    case: str | None
    investigator: str | None
    check: DossierCheck


@dataclass(frozen=True)
class Event:
    """One cited entry on the timeline."""

    seq: int
    time: str  # China Standard Time, "YYYY-MM-DD HH:MM"
    title_zh: str
    title_en: str
    actor: str  # name and credit code


@dataclass(frozen=True)
class Record:
    """One node as a record: its kind (zh, en), name, key and worded facts."""

    kind_zh: str
    kind_en: str
    name: str
    key: str
    facts: tuple[str, ...]
    entries: tuple[int, ...]


def cst(time: str) -> str:
    """An entry time (RFC 3339 UTC) in China Standard Time, ``YYYY-MM-DD HH:MM``."""
    return parse_time(time).astimezone(CST).strftime("%Y-%m-%d %H:%M")


def page_label(page: int, total: int) -> str:
    """The page number line of a printed dossier."""
    return f"第 {page} 页 / 共 {total} 页  Page {page} of {total}"


def _entries(dossier: dict[str, Any]) -> dict[int, Entry]:
    return {
        int(item["seq"]): Entry.from_bytes(base64.b64decode(item["entry"]))
        for item in dossier["entries"]
    }


def org_names(dossier: dict[str, Any]) -> dict[str, str]:
    """Organisation names by credit code: the trace's organisation nodes, then the
    registrations among the proven entries (signers outside the trace), and the root."""
    names: dict[str, str] = {}
    for entry in _entries(dossier).values():
        if entry.type == "actor.register" and isinstance(entry.payload.get("name"), str):
            names[str(entry.payload.get("id"))] = entry.payload["name"]
        if entry.seq == 0:
            names["root"] = str(entry.payload.get("name") or "root")
    for node in dossier["trace"]["nodes"]:
        if node["kind"] == "org":
            names[node["key"]] = str(node["facts"].get("name") or node["key"])
    return names


def named(names: dict[str, str], code: str) -> str:
    """``name（code）``, or the code alone when no name is known."""
    name = names.get(code)
    return f"{name}（{code}）" if name and name != code else code


def timeline(dossier: dict[str, Any]) -> list[Event]:
    """Every entry the trace cites, oldest first, in China Standard Time."""
    entries, names = _entries(dossier), org_names(dossier)
    out = []
    for seq in dossier["trace"]["entries"]:
        entry = entries[seq]
        declared = REGISTRY.get(entry.type)
        zh, en = (declared.title_zh, declared.title_en) if declared else (entry.type, entry.type)
        out.append(Event(seq, cst(entry.time), zh, en, named(names, entry.actor)))
    return out


def _m2(milli: Any) -> str:
    return f"{int(milli) / 1000:g} m²"


def _qty(milli: Any, unit: str) -> str:
    shown = "m²" if unit == "m2" else unit
    return f"{int(milli) / 1000:g} {shown}"


def _nodes(trace: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [n for n in trace["nodes"] if n["kind"] == kind]


def _edges(trace: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in trace["edges"] if e["kind"] == kind]


def _subject_line(dossier: dict[str, Any]) -> tuple[str, str]:
    subject = dossier["subject"]
    kind = {"section": ("墙体部位", "wall section"), "building": ("建筑", "building"),
            "batch": ("批次", "batch"), "label": ("标签", "label"),
            "incident": ("事故", "incident")}.get(subject["kind"], (subject["kind"],) * 2)  # fmt: skip
    return (f"追溯对象：{kind[0]} {subject['id']}。", f"Subject: {kind[1]} {subject['id']}.")


def _batch_lines(trace: dict[str, Any], batch: dict[str, Any], names: dict[str, str]) -> list[tuple[str, str]]:  # fmt: skip
    f = batch["facts"]
    maker = next((e["from"][4:] for e in _edges(trace, "produced") if e["to"] == batch["id"]), "")
    product = next((n for n in _nodes(trace, "product") if n["key"] == f["gtin"]), None)
    pname = product["facts"]["name"] if product else f["gtin"]
    lines = [(
        f"批次 {batch['key']}（{pname}，声明燃烧性能 {f['declared']}，生产日期 "
        f"{f['production_date']}，产量 {_qty(f['produced'], f['unit'])}），"
        f"制造商 {named(names, maker)}。",
        f"Batch {batch['key']} ({pname}, declared {f['declared']}, produced on "
        f"{f['production_date']}, {_qty(f['produced'], f['unit'])}) by {named(names, maker)}.",
    )]  # fmt: skip
    for edge in _edges(trace, "tested_in"):
        if edge["from"] != batch["id"]:
            continue
        report = next(n for n in trace["nodes"] if n["id"] == edge["to"])
        r = report["facts"]
        ok = ("合格", "qualifies") if r["qualifies"] else ("不合格", "does not qualify")
        lab = report["key"].split("|")[0]
        lines.append((
            f"出厂检验报告 {r['number']}（{named(names, lab)}，{r['issued_on']} 出具，有效期至 "
            f"{r['valid_until']}）：燃烧性能 {r['class'] or '—'}，{ok[0]}。",
            f"Factory report {r['number']} ({lab}, issued {r['issued_on']}, valid until "
            f"{r['valid_until']}): combustion {r['class'] or '—'}, {ok[1]}.",
        ))  # fmt: skip
    for edge in _edges(trace, "sampled"):
        if edge["from"] != batch["id"]:
            continue
        sample = next(n for n in trace["nodes"] if n["id"] == edge["to"])
        s = sample["facts"]
        project = sample["key"].split("|")[0]
        if s["passed"] is None:
            verdict = ("尚无结果", "no result yet")
        elif s["passed"]:
            verdict = ("合格", "passed")
        else:
            verdict = ("不合格", "FAILED")
        why = "；".join(s["reasons"]) if s["reasons"] else ""
        lines.append((
            f"见证取样复验 {s['sample']}（工程 {project}，{s['date']}，见证人 "
            f"{s['witness']['name']}）：燃烧性能 {s['class'] or '—'}，{verdict[0]}"
            + (f"（{why}）" if why else "") + "。",
            f"Witnessed re-test {s['sample']} (project {project}, {s['date']}): combustion "
            f"{s['class'] or '—'}, {verdict[1]}" + (f" ({why})" if why else "") + ".",
        ))  # fmt: skip
    notice = next((n for n in trace.get("recall", []) if n["batch"] == batch["key"]), None)
    recalled = notice["recalled"] if notice else None
    if recalled:
        reason = _REASONS.get(recalled["reason"], (recalled["reason"],) * 2)
        sample = f"，样品 {recalled['sample']}" if recalled.get("sample") else ""
        found = "；".join(recalled.get("reasons") or [])
        lines.append((
            f"该批次已于 {recalled['date']} 由 {named(names, recalled['by'])} 召回"
            f"（原因：{reason[0]}{sample}" + (f"：{found}" if found else "") + "）。",
            f"The batch was recalled on {recalled['date']} by {recalled['by']} "
            f"(reason: {reason[1]}" + (f": {found}" if found else "") + ").",
        ))  # fmt: skip
    elif f["recalled"]:
        lines.append(("该批次已被召回。", "The batch has been recalled."))
    if notice:
        lines.append((
            f"召回清单：{len(notice['walls'])} 处墙体，{len(notice['projects'])} 个工程，"
            f"{len(notice['holders'])} 个现持有方，{len(notice['recipients'])} 个收货单位。",
            f"Recall list: {len(notice['walls'])} walls, {len(notice['projects'])} projects, "
            f"{len(notice['holders'])} current holders, {len(notice['recipients'])} recipients.",
        ))  # fmt: skip
    return lines


def _site_lines(trace: dict[str, Any], names: dict[str, str]) -> list[tuple[str, str]]:
    lines = []
    for edge in _edges(trace, "installed"):
        if not edge["from"].startswith("batch:"):
            continue
        contractor = next((e["from"][4:] for e in _edges(trace, "installed")
                           if e["to"] == edge["to"] and e["from"].startswith("org:")), "")  # fmt: skip
        section = edge["to"].split(":", 1)[1].replace("|", " / ")
        who = f"由 {named(names, contractor)} " if contractor else ""
        lines.append((
            f"{who}将批次 {edge['from'][6:]} 安装于墙体 {section}，面积 "
            f"{_m2(edge['facts']['area'])}。",
            f"Batch {edge['from'][6:]} installed on wall {section}: "
            f"{_m2(edge['facts']['area'])}" + (f" by {contractor}." if contractor else "."),
        ))  # fmt: skip
    for node in _nodes(trace, "acceptance"):
        signers = [e["from"][4:] for e in _edges(trace, "signed") if e["to"] == node["id"]]
        done = ("已完成", "complete") if node["facts"]["complete"] else ("未完成", "incomplete")
        lines.append((
            f"工程 {node['key']} 竣工验收{done[0]}，签署：{'、'.join(named(names, s) for s in signers)}。",
            f"Project {node['key']} acceptance {done[1]}, signed by {', '.join(signers)}.",
        ))  # fmt: skip
    return lines


def summary(dossier: dict[str, Any]) -> list[tuple[str, str]]:
    """What happened, Chinese first: the subject, each batch (maker, reports, re-tests,
    recall, recall list), who installed it where, who accepted the work."""
    trace, names = dossier["trace"], org_names(dossier)
    lines = [_subject_line(dossier)]
    for batch in sorted(_nodes(trace, "batch"), key=lambda n: n["id"]):
        lines += _batch_lines(trace, batch, names)
    lines += _site_lines(trace, names)
    for node in _nodes(trace, "incident"):
        f = node["facts"]
        lines.append((f"事故 {node['key']}（{f['date']}）：{f['description']}。",
                      f"Incident {node['key']} ({f['date']}): {f['kind']}."))  # fmt: skip
    return lines


def _fact(name: str, value: Any, unit: str) -> str | None:
    if value in (None, [], {}, ""):
        return None
    if name in _MILLI_AREA and isinstance(value, int):
        return f"{name}: {_m2(value)}"
    if name in _MILLI_QTY and isinstance(value, int):
        return f"{name}: {_qty(value, unit)}"
    if isinstance(value, bool):
        return f"{name}: {'是 yes' if value else '否 no'}"
    if isinstance(value, dict):
        inner = ", ".join(f"{k}={v}" for k, v in value.items() if not isinstance(v, dict | list))
        return f"{name}: {inner}" if inner else None
    if isinstance(value, list):
        return f"{name}: " + "; ".join(str(v) for v in value)
    return f"{name}: {value}"


def records(trace: dict[str, Any]) -> list[Record]:
    """Every node as a record, in chain order: dates, quantities in m² (not milli-units),
    test results and classes, worded; edges' quantities are the custody and install rows."""
    units = {n["key"]: str(n["facts"]["unit"]) for n in _nodes(trace, "batch")}
    unit = next(iter(units.values()), "m2")
    out = []
    for node in sorted(trace["nodes"], key=lambda n: (role_of(n), n["id"])):
        zh, en = TERMS.get(role_of(node), (node["kind"], node["kind"]))
        own = str(node["facts"].get("unit", unit))
        facts = [_fact(k, v, own) for k, v in node["facts"].items() if k not in ("name", "as")]
        if node["kind"] == "section":
            for edge in _edges(trace, "installed"):
                if edge["to"] == node["id"] and "area" in edge["facts"]:
                    facts.append(f"installed {edge['from'][6:]}: {_m2(edge['facts']['area'])}")
        out.append(Record(zh, en, display_name(node), node["key"],
                          tuple(f for f in facts if f), tuple(node["entries"])))  # fmt: skip
    for edge in trace["edges"]:
        if edge["kind"].startswith("custody:"):
            f = edge["facts"]
            unit = units.get(str(f.get("batch")), unit)
            out.append(Record(
                "交付", "Custody", f"{f['kind']} {f['shipment']}", edge["kind"][8:],
                (f"date: {f['date']}", f"from: {edge['from'][4:]} {f['from_site']}".rstrip(),
                 f"to: {edge['to'][4:]} {f['to_site']}".rstrip(),
                 f"shipped: {_qty(f['shipped'] or 0, unit)}",
                 f"received: {_qty(f['received'] or 0, unit)}"),
                tuple(edge["entries"]),
            ))  # fmt: skip
    return out


def case_rows(dossier: dict[str, Any], info: CaseInfo) -> list[tuple[str, str, str]]:
    """The case block: case number, investigator, subject, checkpoint, what verified."""
    check = info.check
    pinned = ("已核对公布的日志公钥", "log key pinned") if check.pinned else (
        "日志公钥未核对：请与公布的公钥比对", "log key not pinned: compare it with the published one")  # fmt: skip
    return [
        ("案件编号", "Case number", info.case or "—"),
        ("调查人", "Investigator", info.investigator or "—"),
        ("追溯对象", "Subject", f"{dossier['subject']['kind']}: {dossier['subject']['id']}"),
        ("卷宗生成时间", "Dossier created", cst(dossier["created"]) + " (UTC+8)"),
        ("检查点", "Checkpoint",
         f"{check.origin} size {check.checkpoint_size}, root {check.root.hex()}"),
        ("核验结果", "Verification",
         f"通过：{check.entries} 条条目（引用 {check.cited} 条）的包含证明与签名均有效，全部节点、"
         f"关系与召回清单已由条目重新推导一致；{pinned[0]}。 Verified: {check.entries} entries "
         f"({check.cited} cited) proven and signed; every node, edge and recall list re-derived "
         f"from them; {pinned[1]}."),
    ]  # fmt: skip


def sign_off() -> list[tuple[str, str]]:
    """The sign-off lines of a printed dossier."""
    return [
        ("调查人签字", "Signature of the investigator"),
        ("审核人签字", "Reviewed by"),
        ("日期", "Date"),
    ]
