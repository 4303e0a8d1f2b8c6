"""Investigation dossiers: a back-trace whose every cited entry is proven against one checkpoint.

A dossier is one JSON document (``format: insutrace-dossier/v1``)::

    {format, title {zh, en}, subject, created,
     log {origin, vkey, checkpoint},         the log's verifier key and one signed
                                             checkpoint note (C2SP signed-note/checkpoint)
     trace {subject, nodes, edges, recall, entries},   see insutrace.trace.backtrace
     entries [{seq, entry, proof[]}]}        each cited entry's exact bytes (base64) and its
                                             RFC 9162 §2.1.3 inclusion path at the
                                             checkpoint's size (base64, leaf sibling first)

Besides the cited entries it carries the genesis entry and the entries that registered
the key of every signer (``actor.register`` / ``key.rotate``), so that
:func:`verify_dossier` checks, with no network and no database and only the core's note,
checkpoint, Merkle and entry modules: the checkpoint's signature by the log key (pinned by
the caller, or the one in the file, reported as unpinned); every entry's inclusion; every
entry's form and signature against the key its log registered before it; that every entry
the trace cites is present; and that the records the trace names (organisations, batches,
reports, projects, shipments, samples, permits, listings, incidents) are the ones their
cited entries created. Key revocations cannot be seen without the whole log and are
reported as a note.

:func:`render_html` prints it bilingually (Chinese first, English beside it) with an SVG
drawing of the chain (:func:`render_svg`, laid out by :func:`chain_layout`, which the PDF
renderer in ``insutrace.labels.dossier_pdf`` shares).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .checkpoint import SignedCheckpoint
from .clock import format_time
from .entry import Entry
from .errors import MalformedInput, NotFound, Unavailable, VerificationError
from .keys import decode_public, key_id_of
from .ledger import Ledger
from .merkle import frontier_nodes, inclusion_proof, inclusion_proof_nodes, leaf_hash
from .merkle import verify_inclusion as merkle_verify_inclusion
from .note import NoteVerifier
from .store.base import Tx

__all__ = [
    "FORMAT",
    "Box",
    "DossierCheck",
    "Layout",
    "build_dossier",
    "chain_layout",
    "load_dossier",
    "render_html",
    "render_svg",
    "verify_dossier",
]

FORMAT = "insutrace-dossier/v1"
KEY_TYPES = ("actor.register", "key.rotate")

# -- building ---------------------------------------------------------------------------


def _key_entries(tx: Tx, entries: dict[int, Entry]) -> set[int]:
    """Sequence numbers of the entries that registered the signers' keys (and theirs)."""
    wanted, todo = {0}, list(entries.values())
    while todo:
        entry = todo.pop()
        record = tx.get("key", entry.key)
        if record is None or entry.seq == 0:
            continue
        seq = max(int(record["from"]) - 1, 0)
        if seq not in wanted and seq not in entries:
            wanted.add(seq)
            todo.append(Entry.from_bytes(tx.entries(seq, seq + 1)[0]))
        wanted.add(seq)
    return wanted


def _entries(tx: Tx, seqs: set[int]) -> dict[int, Entry]:
    return {seq: Entry.from_bytes(tx.entries(seq, seq + 1)[0]) for seq in sorted(seqs)}


def _checkpoint(ledger: Ledger, needed: int) -> SignedCheckpoint:
    latest = ledger.latest_checkpoint()
    if latest.checkpoint.size > needed:
        return latest
    if ledger.log_signer is None:
        raise Unavailable(
            f"the latest checkpoint (size {latest.checkpoint.size}) does not cover entry "
            f"{needed}; sign a checkpoint first (insutrace checkpoint)"
        )
    return ledger.checkpoint()


def build_dossier(
    ledger: Ledger,
    trace: dict[str, Any],
    *,
    title: tuple[str, str] = ("保温材料追溯调查卷宗", "Insulation back-trace dossier"),
    created: datetime | None = None,
) -> dict[str, Any]:
    """A dossier for ``trace`` (a back-trace's JSON): every cited entry with its inclusion
    proof against one signed checkpoint (the latest, or a new one when it does not cover
    them and the ledger holds the log key)."""
    cited = set(trace["entries"])
    with ledger.store.read() as tx:
        entries = _entries(tx, cited)
        entries.update(_entries(tx, _key_entries(tx, entries) - set(entries)))
    signed = _checkpoint(ledger, max(entries))
    size = signed.checkpoint.size
    with ledger.store.read() as tx:
        nodes = tx.nodes({n for seq in entries for n in inclusion_proof_nodes(seq, size)})
        nodes.update(tx.nodes(frontier_nodes(size)))
        genesis = tx.get("log", "genesis")
    if genesis is None:  # pragma: no cover - a checkpoint exists, so genesis does
        raise NotFound("the log has no genesis entry")
    items = [
        {
            "seq": seq,
            "entry": base64.b64encode(entry.to_bytes()).decode(),
            "proof": [base64.b64encode(h).decode() for h in inclusion_proof(seq, size, nodes)],
        }
        for seq, entry in sorted(entries.items())
    ]
    return {
        "format": FORMAT,
        "title": {"zh": title[0], "en": title[1]},
        "subject": trace["subject"],
        "created": format_time(created or ledger.clock.now()),
        "log": {"origin": genesis["origin"], "vkey": genesis["log_key"], "checkpoint": signed.note},
        "trace": trace,
        "entries": items,
    }


def load_dossier(data: str | bytes) -> dict[str, Any]:
    """Parse a dossier file's text; MalformedInput when it is not a dossier."""
    try:
        dossier = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedInput(f"dossier: not JSON: {exc}") from None
    if not isinstance(dossier, dict) or dossier.get("format") != FORMAT:
        raise MalformedInput(f"dossier: expected format {FORMAT!r}")
    return dossier


# -- verifying ----------------------------------------------------------------------------


@dataclass
class DossierCheck:
    """What :func:`verify_dossier` established."""

    subject: dict[str, Any]
    origin: str
    vkey: str
    pinned: bool
    checkpoint_size: int
    root: bytes
    entries: int
    cited: int
    notes: list[str] = field(default_factory=list)


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise MalformedInput(f"dossier: {what} must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise MalformedInput(f"dossier: {what} is not base64") from None


def _proven_entries(dossier: dict[str, Any], signed: SignedCheckpoint) -> dict[int, Entry]:
    cp = signed.checkpoint
    entries: dict[int, Entry] = {}
    for item in dossier.get("entries", []):
        seq = item.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq in entries:
            raise MalformedInput(f"dossier: entry seq {seq!r} is not a distinct integer")
        data = _b64(item.get("entry"), f"entry {seq}")
        path = [_b64(h, f"proof of entry {seq}") for h in item.get("proof", [])]
        try:
            merkle_verify_inclusion(leaf_hash(data), seq, cp.size, path, cp.root)
        except VerificationError as exc:
            raise VerificationError(
                f"not in the log at checkpoint size {cp.size}: {exc}", seq
            ) from None
        entry = Entry.from_bytes(data)
        if entry.seq != seq:
            raise VerificationError(f"the entry's own seq is {entry.seq}", seq)
        entries[seq] = entry
    return entries


@dataclass(frozen=True)
class _Key:
    actor: str
    public: str
    since: int


def _registered_keys(entries: dict[int, Entry]) -> dict[str, _Key]:
    """Keys the included genesis and key entries register: key id -> (actor, key, from)."""
    keys: dict[str, _Key] = {}
    for seq, entry in sorted(entries.items()):
        p = entry.payload
        if seq == 0:
            keys[entry.key] = _Key(entry.actor, str(p.get("root_key")), 0)
        elif entry.type in KEY_TYPES and isinstance(p.get("public_key"), str):
            actor = str(
                p.get("id") if entry.type == "actor.register" else p.get("actor", entry.actor)
            )
            kid = key_id_of(base64.b64decode(p["public_key"]))
            keys[kid] = _Key(actor, p["public_key"], seq + 1)
    return keys


def _check_signatures(entries: dict[int, Entry]) -> None:
    if 0 not in entries:
        raise VerificationError("the dossier lacks the genesis entry (entry 0)")
    keys = _registered_keys(entries)
    root = keys.get(entries[0].key)
    if root is None or key_id_of(base64.b64decode(root.public)) != entries[0].key:
        raise VerificationError("genesis is not signed by the root key it names", 0)
    for seq, entry in sorted(entries.items()):
        key = keys.get(entry.key)
        if key is None:
            raise VerificationError(f"the entry registering key {entry.key} is missing", seq)
        if key.actor != entry.actor or seq < key.since:
            raise VerificationError(
                f"key {entry.key} belongs to {key.actor} from entry {key.since}, "
                f"not to {entry.actor} at entry {seq}",
                seq,
            )
        if not entry.signature_valid(decode_public(key.public)):
            raise VerificationError(f"signature by {entry.actor}/{entry.key} does not verify", seq)


def _created_by(kind: str, key: str, entry: Entry) -> bool:
    """True when ``entry`` is one that creates or changes the record ``kind``/``key``."""
    p, actor = entry.payload, entry.actor
    checks: dict[str, Callable[[], bool]] = {
        "org": lambda: entry.type in ("actor.register", "org.update") and p.get("id") == key,
        "product": lambda: entry.type == "product.register" and p.get("gtin") == key,
        "batch": lambda: (
            entry.type in ("batch.register", "batch.recall")
            and (f"{p.get('product')}.{p.get('lot')}" == key or p.get("batch") == key)
        ),
        "report": lambda: entry.type == "report.issue" and f"{actor}|{p.get('number')}" == key,
        "project": lambda: (
            entry.type in ("project.register", "project.file")
            and key in (p.get("id"), p.get("project"))
        ),
        "permit": lambda: (
            entry.type == "permit.decide" and f"{p.get('project')}|{p.get('stage')}" == key
        ),
        "incident": lambda: entry.type == "incident.record" and p.get("id") == key,
        "listing": lambda: (
            entry.type.startswith("credit.")
            and key in (f"{actor}|{(p.get('decision') or {}).get('number')}", p.get("listing"))
        ),
        "sample": lambda: (
            entry.type in ("site.sample", "site.retest_result")
            and f"{p.get('project')}|{p.get('sample')}" == key
        ),
    }
    check = checks.get(kind)
    return True if check is None else check()


def _check_trace(dossier: dict[str, Any], entries: dict[int, Entry]) -> int:
    trace = dossier.get("trace")
    if not isinstance(trace, dict):
        raise MalformedInput("dossier: no trace")
    cited: set[int] = set()
    items = [*trace.get("nodes", []), *trace.get("edges", []), *trace.get("recall", [])]
    for item in items:
        cited.update(item.get("entries", []))
    missing = sorted(cited - set(entries))
    if missing or set(trace.get("entries", [])) != cited:
        raise VerificationError(
            f"the trace cites entries the dossier does not prove: {missing[:8]}"
        )
    for node in trace.get("nodes", []):
        seqs = node.get("entries", [])
        if seqs and not any(_created_by(node["kind"], node["key"], entries[s]) for s in seqs):
            raise VerificationError(
                f"none of the entries {seqs[:6]} cited for {node['id']} records it", seqs[0]
            )
    return len(cited)


def verify_dossier(dossier: dict[str, Any], *, vkey: str | None = None) -> DossierCheck:
    """Check a dossier offline; raise VerificationError or MalformedInput at the first failure.

    ``vkey`` pins the log's verifier key (C2SP signed-note); without it the key inside the
    file is used and :attr:`DossierCheck.pinned` is False: compare it with the published one.
    """
    if dossier.get("format") != FORMAT:
        raise MalformedInput(f"dossier: expected format {FORMAT!r}")
    log = dossier.get("log") or {}
    inside = str(log.get("vkey", ""))
    if vkey is not None and vkey.strip() != inside:
        raise VerificationError(f"the dossier's log key {inside!r:.60} is not the pinned key")
    verifier = NoteVerifier.parse(vkey.strip() if vkey else inside)
    signed = SignedCheckpoint.open(str(log.get("checkpoint", "")), verifier)
    entries = _proven_entries(dossier, signed)
    _check_signatures(entries)
    cited = _check_trace(dossier, entries)
    notes = ["key revocations are not visible offline: verify the whole log to rule them out"]
    if vkey is None:
        notes.insert(0, f"log key not pinned: compare {inside} with the published one")
    cp = signed.checkpoint
    return DossierCheck(
        dossier.get("subject", {}), cp.origin, inside, vkey is not None, cp.size, cp.root,
        len(entries), cited, notes,
    )  # fmt: skip


# -- bilingual vocabulary -------------------------------------------------------------------

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
_ROLE_ORDER = (
    "manufacturer", "lab", "contractor", "supervisor", "owner", "regulator", "investigator",
    "sampler", "holder",
)  # fmt: skip
_COLUMNS = (
    ("manufacturer", "product"),
    ("batch",),
    ("report", "lab"),
    ("holder",),
    ("inspection", "sample", "sampler"),
    ("contractor", "section"),
    ("project", "supervisor", "owner", "acceptance"),
    ("building", "permit", "regulator", "incident", "investigator", "listing"),
)


def role_of(node: dict[str, Any]) -> str:
    """The drawing role of a node: its kind, or for an organisation its main role here."""
    if node["kind"] != "org":
        return str(node["kind"])
    roles = node["facts"].get("as", [])
    return next((r for r in _ROLE_ORDER if r in roles), "holder")


def _name(node: dict[str, Any]) -> str:
    facts = node["facts"]
    return str(facts.get("name") or facts.get("number") or node["key"])


# -- layout and SVG -------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Layout:
    """The chain drawing: boxes by column, arrows between box centres' edges."""

    width: float
    height: float
    boxes: tuple[Box, ...]
    arrows: tuple[tuple[float, float, float, float], ...]


BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 170.0, 46.0, 34.0, 12.0, 16.0
MAX_PER_COLUMN = 10


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _seqs(entries: list[int]) -> str:
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
                Box(node["id"], x, y, BOX_W, BOX_H, f"{zh} {en}", _short(_name(node), 26),
                    _seqs(node["entries"]))
            )  # fmt: skip
        if len(nodes) > MAX_PER_COLUMN:
            y = MARGIN + MAX_PER_COLUMN * (BOX_H + GAP_Y)
            more = len(nodes) - MAX_PER_COLUMN
            boxes.append(Box("", x, y, BOX_W, BOX_H, f"另有 {more} 项 +{more} more", "", ""))
    at = {b.node: b for b in boxes if b.node}
    arrows = []
    for edge in trace["edges"]:
        a, b = at.get(edge["from"]), at.get(edge["to"])
        if a is None or b is None or a is b:
            continue
        if a.x <= b.x:
            arrows.append((a.x + a.w, a.y + a.h / 2, b.x, b.y + b.h / 2))
        else:
            arrows.append((a.x, a.y + a.h / 2, b.x + b.w, b.y + b.h / 2))
    rows = max((len(c[:MAX_PER_COLUMN]) + (len(c) > MAX_PER_COLUMN) for c in used), default=1)
    width = 2 * MARGIN + len(used) * BOX_W + max(len(used) - 1, 0) * GAP_X
    height = 2 * MARGIN + rows * BOX_H + max(rows - 1, 0) * GAP_Y
    return Layout(width, height, tuple(boxes), tuple(dict.fromkeys(arrows)))


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
    for x1, y1, x2, y2 in lay.arrows:
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#777" '
            'stroke-width="1" marker-end="url(#arrow)"/>'
        )
    for b in lay.boxes:
        parts.append(
            f'<g><rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.0f}" height="{b.h:.0f}" rx="5" '
            'fill="#f7f7f2" stroke="#333"/>'
            f'<text x="{b.x + 6:.1f}" y="{b.y + 14:.1f}" font-size="10" font-weight="bold">'
            f"{e(b.title)}</text>"
            f'<text x="{b.x + 6:.1f}" y="{b.y + 28:.1f}" font-size="10">{e(b.name)}</text>'
            f'<text x="{b.x + 6:.1f}" y="{b.y + 40:.1f}" font-size="8" fill="#555">'
            f"{e(b.seqs)}</text></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


# -- HTML ---------------------------------------------------------------------------------------

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
        shown.append(f"{key}: {_short(text, 160)}")
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
            [_h(zh, en), html.escape(_name(node)) + f"<br><code>{html.escape(node['key'])}</code>",
             _facts(node["facts"]), html.escape(_seqs(node["entries"]))]
        )  # fmt: skip
    head = [("类别", "Kind"), ("名称 / 标识", "Name / id"), ("要点", "Facts"), ("条目", "Entries")]
    return _table(head, rows)


def _recall_tables(trace: dict[str, Any]) -> str:
    out = []
    for notice in trace.get("recall", []):
        out.append(f"<h3>{_h('批次', 'Batch')} <code>{html.escape(notice['batch'])}</code></h3>")
        walls = [
            [html.escape(str(w[k])) for k in ("project", "section", "building", "facade")]
            + [f"{w['area'] / 1000:g} m²", html.escape(_seqs(w["entries"]))]
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


def render_html(dossier: dict[str, Any]) -> str:
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
