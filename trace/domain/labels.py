"""Product labels: the serial ranges a manufacturer issues, scans on site, and clone alerts.

A label's QR code holds a GS1 Digital Link URI (domain rules §6) signed by the manufacturer
(the label layer, ``insutrace.labels.codec``)::

    https://{resolver}/01/{gtin14}/10/{lot}/21/{serial}?k={key id}&s={base64url Ed25519}

**Every label ever printed is on record.** ``label.issue`` records a range of serials of one
batch before a sheet is rendered: ``count`` serials from ``first``, the resolver domain the
URIs name and the manufacturer's key that signs them. ``first`` is 1-20 characters of GS1
CSET 82 ending in digits; the trailing digits count up at their width (``SN000001`` …
``SN000240``), and a range that would need another digit is refused. A serial is unique for
its GTIN (GS1 General Specifications, AI (21)), so ranges may not overlap across the lots
of one GTIN. Refused: another manufacturer's batch, a recalled batch, a key that is not the
manufacturer's current key, and (credit module, admission check) a listed manufacturer.

**Reprints and voids.** ``label.reprint`` records issued serials printed again (after a
printer jam), ``label.void`` issued serials that must never be used (spoiled, lost); both
name only serials issued for the batch and not voided. A voided serial's verdict is
``unknown_serial`` from then on: it is no longer an issued label.

**Verdict.** :func:`insutrace.trace.domain.read.label_verdict` answers, from the projections at a date, what a scanned label
is. The six verdicts, most serious first (``problems`` lists every one that applies)::

    unknown_serial   no batch of that GTIN and lot, or the serial was never issued
    bad_signature    no signature, not by the key the range names, key revoked, or the
                     Ed25519 signature over the range's URI does not verify (RFC 8032)
    recalled         the batch is recalled
    blacklisted      the manufacturer is on a credit list carrying joint punishment
    not_qualified    no report qualifies the batch and is within its validity that day
    genuine          none of the above

The URI checked is rebuilt from the recorded range (its resolver), never taken from the
request, so a label copied onto another domain does not verify.

**Scans.** ``label.scan`` is signed by the supervisor or the contractor of a project: the
label's GTIN, lot, serial, key and signature, and the verdict the scanner saw, which must be
the ledger's own verdict at the entry's time (else the scan is refused: re-check the label).
Scans of counterfeits (unknown serial, bad signature) are recorded too: they are evidence.

**Alerts** (projection rows, for regulators and investigators), raised by scans whose
signature verifies:

* ``clone``       the same serial scanned on two different projects: one label sits on one
                  project, so a second project means a copy;
* ``overscan``    more labels of the batch seen on sites than were issued, counting each
                  (serial, project) once, so a label re-scanned on its own project is no alarm;
* ``counterfeit`` a scan with verdict unknown_serial or bad_signature.

Projection rows::

    labels/<batch>                 {batch, gtin, lot, manufacturer, ranges[{first, last,
                                    prefix, width, start, count, resolver, key, date, seq}],
                                    issued, seen, scans, seq, reprints[{first, last, count,
                                    reason, date, seq}], voided[{first, last, prefix, width,
                                    start, count, reason, date, seq}]}
    scan/<batch>|<serial>          {batch, serial, projects {project: [seq…]}}
    alert/<kind>|<batch>[|<serial>] {id, kind, batch, serial, manufacturer, projects[],
                                    issued, seen, reason, first_seq, entries[], date, seq}
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..entrytype import EntryType, Record, by_field, party, roles
from ..errors import MalformedInput, RuleViolation
from ..identifiers import check_ai_value, check_key_id, validate_gtin
from ..store.base import KV, Tx
from . import payloads
from .batches import batch_id, require_batch
from .credit import describe
from .fields import Reader, local_date, reader
from .orgs import Role, acting_org
from .products import gtin14
from .projects import require_party, require_project
from .read import (
    Verdict,
    batch_brief,
    batch_standing,
    custody_hops,
    label_alerts,
    label_uri,
    label_verdict,
    org_brief,
    report_brief,
    scan_history,
)
from .rows import Serial, scan_key

__all__ = [
    "GS1_SERIAL_CLAUSE",
    "MAX_LABELS_PER_ISSUE",
    "TYPES",
    "alerts",
    "decode_signature",
    "issue_labels",
    "label_record",
    "scan_label",
]

GS1_SERIAL_CLAUSE = "GS1 General Specifications §3.2, AI (21): X..20 of CSET 82, unique per GTIN"
ISSUE_CLAUSE = "issue 5: every label printed is on record before it is printed"
MAX_LABELS_PER_ISSUE = 1_000_000
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")


# -- serials ----------------------------------------------------------------------------


def _range(first: Any, count: int) -> tuple[Serial, str]:
    """The parsed first serial and the text of the last one; RuleViolation ``label.serial``."""
    try:
        check_ai_value("label.issue: payload.first", first)
    except MalformedInput as exc:
        raise RuleViolation("label.serial", str(exc), GS1_SERIAL_CLAUSE) from None
    start = Serial.parse(first)
    if start is None:
        raise RuleViolation(
            "label.serial", f"first serial {first!r} must end in digits that count up"
        )
    end = start.number + count - 1
    if end >= 10**start.width:
        raise RuleViolation(
            "label.serial",
            f"{count} serials from {first} run past {start.text(10**start.width - 1)}: "
            f"the {start.width} trailing digits keep their width",
            GS1_SERIAL_CLAUSE,
        )
    return start, start.text(end)


def _overlap(kv: KV, gtin: str, start: Serial, count: int) -> None:
    """Refuse a range sharing a serial with any range already issued for the GTIN."""
    end = start.number + count - 1
    for _, row in kv.scan("labels", f"{gtin}."):
        for r in row["ranges"]:
            if (r["prefix"], r["width"]) != (start.prefix, start.width):
                continue
            if start.number <= r["start"] + r["count"] - 1 and r["start"] <= end:
                raise RuleViolation(
                    "label.overlap",
                    f"serials {start.text(start.number)}-{start.text(end)} overlap "
                    f"{r['first']}-{r['last']} issued for batch {row['batch']} (entry {r['seq']})",
                    GS1_SERIAL_CLAUSE,
                )


# -- label.issue --------------------------------------------------------------------------


def _label_key(ctx: Context, key_id: str, maker: str) -> str:
    """The key that signs the labels: a current key of the manufacturer."""
    key = ctx.kv.get("key", key_id)
    if key is None or key["actor"] != maker:
        raise RuleViolation("label.key", f"key {key_id!r} is not a registered key of {maker}")
    if key.get("until") is not None:
        raise RuleViolation(
            "label.key",
            f"key {key_id} of {maker} is {key.get('ended', 'ended')}: use a current key",
        )
    return key_id


def _issuable(maker: str, batch: dict[str, Any]) -> None:
    if batch["manufacturer"] != maker:
        raise RuleViolation(
            "label.manufacturer",
            f"batch {batch['id']} is made by {batch['manufacturer']}, not by the signer {maker}",
            ISSUE_CLAUSE,
        )
    if batch["recalled"]:
        raise RuleViolation(
            "label.recalled",
            f"batch {batch['id']} was recalled on {batch['recalled']['date']} "
            f"(entry {batch['recalled']['seq']}): no labels may be issued for it",
        )


def _batch(ctx: Context, p: Reader) -> dict[str, Any]:
    """The batch ``<gtin14>.<lot>``: a GTIN with a wrong check digit is named as such."""
    key = p.text("batch", max_len=40)
    gtin, _, lot = key.partition(".")
    return require_batch(ctx, batch_id(gtin14(gtin), lot))


def _resolver(p: Reader, batch: dict[str, Any], first: str, last: str) -> str:
    resolver = p.text("resolver", max_len=100).lower()
    try:
        label_uri(resolver, batch, first)
        label_uri(resolver, batch, last)
    except MalformedInput as exc:
        raise MalformedInput(f"{p.where}: {exc}") from None
    return resolver


def _count(p: Reader) -> int:
    count = p.integer("count", minimum=1)
    if count > MAX_LABELS_PER_ISSUE:
        raise MalformedInput(f"{p.where}.count: at most {MAX_LABELS_PER_ISSUE}, got {count}")
    return count


def issue_labels(ctx: Context) -> None:
    """label.issue, by the batch's manufacturer: a range of serials, before they are printed."""
    maker = acting_org(ctx, Role.MANUFACTURER)["uscc"]
    p = reader(ctx)
    batch = _batch(ctx, p)
    _issuable(maker, batch)
    count = _count(p)
    start, last = _range(p.raw("first"), count)
    first = start.text(start.number)
    resolver = _resolver(p, batch, first, last)
    key_id = _label_key(ctx, p.text("key", max_len=16), maker)
    _overlap(ctx.kv, batch["gtin"], start, count)
    row = ctx.kv.get("labels", batch["id"]) or _labels_row(batch)
    row["ranges"] = [
        *row["ranges"],
        {
            "first": first,
            "last": last,
            "prefix": start.prefix,
            "width": start.width,
            "start": start.number,
            "count": count,
            "resolver": resolver,
            "key": key_id,
            "date": local_date(ctx.time).isoformat(),
            "seq": ctx.entry.seq,
        },
    ]
    row["issued"] += count
    row["seq"] = ctx.entry.seq
    ctx.kv.put("labels", batch["id"], row)
    ctx.ref(f"org:{maker}", f"product:{batch['gtin']}")


def _labels_row(batch: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch": batch["id"],
        "gtin": batch["gtin"],
        "lot": batch["lot"],
        "manufacturer": batch["manufacturer"],
        "ranges": [],
        "issued": 0,
        "seen": 0,
        "scans": 0,
        "seq": None,
    }


# -- the verdict -----------------------------------------------------------------------------


def decode_signature(text: str) -> bytes:
    """A label's ``s``: 64 bytes in canonical base64url without padding (RFC 4648 §5)."""
    if not _SIGNATURE.fullmatch(text):
        raise MalformedInput(
            f"label signature: expected 86 base64url characters, got {len(text)}: {text!r:.100}"
        )
    try:
        raw = base64.urlsafe_b64decode(text + "==")
    except binascii.Error as exc:  # pragma: no cover - the pattern admits only the alphabet
        raise MalformedInput(f"label signature: {exc}") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise MalformedInput("label signature: non-canonical base64url (stray trailing bits)")
    return raw


# -- label.scan -------------------------------------------------------------------------------


def _scanned(p: Reader) -> tuple[str, str, str, str | None, bytes | None]:
    gtin = validate_gtin(p.text("gtin", max_len=14))
    lot = check_ai_value(f"{p.where}.lot (AI 10)", p.raw("lot"))
    serial = check_ai_value(f"{p.where}.serial (AI 21)", p.raw("serial"))
    if p.has("key") != p.has("sig"):
        raise MalformedInput(f"{p.where}: key and sig come together (the label's k and s)")
    if not p.has("key"):
        return gtin, lot, serial, None, None
    key = check_key_id(f"{p.where}.key", p.raw("key"))
    sig = p.raw("sig")
    return gtin, lot, serial, key, decode_signature(sig if isinstance(sig, str) else "")


def scan_label(ctx: Context) -> None:
    """label.scan, by a project's supervisor or contractor: what was scanned and its verdict."""
    p = reader(ctx)
    project = require_project(ctx, p.ident("project"))
    require_party(ctx, project, "supervisor", "contractor")
    gtin, lot, serial, key_id, signature = _scanned(p)
    seen = p.one("verdict", Verdict)
    p.text("by", max_len=100, optional=True)
    found = label_verdict(ctx.kv, gtin, lot, serial, key_id, signature, local_date(ctx.time))
    if found["verdict"] != seen:
        raise RuleViolation(
            "scan.verdict",
            f"the scanner saw {seen}, the ledger's verdict now is {found['verdict']}: "
            "check the label again",
        )
    if found["batch"] is not None:
        ctx.ref(f"batch:{found['batch']}")
    if seen in (Verdict.UNKNOWN_SERIAL, Verdict.BAD_SIGNATURE):
        _counterfeit(ctx, project["id"], batch_id(gtin, lot), serial, found)
    else:
        _count_scan(ctx, project["id"], found["batch"], serial)


def _count_scan(ctx: Context, project: str, batch: str, serial: str) -> None:
    """Record a scan whose signature verified; raise clone and overscan alerts."""
    row = ctx.kv.get("scan", scan_key(batch, serial)) or {
        "batch": batch,
        "serial": serial,
        "projects": {},
    }
    labels = ctx.kv.get("labels", batch)
    assert labels is not None  # label_verdict found the serial in an issued range
    labels["scans"] += 1
    if project not in row["projects"]:
        labels["seen"] += 1
    row["projects"] = {
        **row["projects"],
        project: [*row["projects"].get(project, []), ctx.entry.seq],
    }
    ctx.kv.put("scan", scan_key(batch, serial), row)
    ctx.kv.put("labels", batch, labels)
    if len(row["projects"]) > 1:
        reason = f"serial {serial} of batch {batch} was scanned on {len(row['projects'])} projects"
        _alert(ctx, f"clone|{batch}|{serial}", "clone", labels, serial, row["projects"], reason)
    if labels["seen"] > labels["issued"]:
        reason = (
            f"{labels['seen']} labels of batch {batch} seen on sites, {labels['issued']} issued"
        )
        _alert(ctx, f"overscan|{batch}", "overscan", labels, None, {project: []}, reason)


def _counterfeit(
    ctx: Context, project: str, batch: str, serial: str, found: dict[str, Any]
) -> None:
    stored = ctx.kv.get("batch", batch)
    labels = {
        "batch": batch,
        "manufacturer": stored["manufacturer"] if stored else None,
        "issued": None,
        "seen": None,
    }
    reason = found["problems"][0]["reason"]
    _alert(
        ctx, f"counterfeit|{batch}|{serial}", "counterfeit", labels, serial, {project: []}, reason
    )


def _alert(
    ctx: Context, key: str, kind: str, labels: dict[str, Any], serial: str | None,
    projects: dict[str, Any], reason: str,
) -> None:  # fmt: skip
    row = ctx.kv.get("alert", key) or {
        "id": key,
        "kind": kind,
        "batch": labels["batch"],
        "serial": serial,
        "manufacturer": labels["manufacturer"],
        "projects": [],
        "first_seq": ctx.entry.seq,
        "entries": [],
    }
    row.update(
        {
            "projects": sorted({*row["projects"], *projects}),
            "issued": labels["issued"],
            "seen": labels["seen"],
            "reason": reason,
            "entries": [*row["entries"], ctx.entry.seq],
            "date": local_date(ctx.time).isoformat(),
            "seq": ctx.entry.seq,
        }
    )
    ctx.kv.put("alert", key, row)
    ctx.ref(f"alert:{key}")
    if labels["manufacturer"]:
        ctx.ref(f"org:{labels['manufacturer']}")


def alerts(kv: KV, kind: str | None = None) -> list[dict[str, Any]]:
    """Label alerts, the most recently raised or updated first; ``kind`` filters."""
    rows = [row for _, row in kv.scan("alert", f"{kind}|" if kind else "")]
    return sorted(rows, key=lambda row: -int(row["seq"]))


# -- what a scanner is shown ------------------------------------------------------------------


def label_record(
    kv: Tx, gtin: str, lot: str, serial: str, key_id: str | None, signature: bytes | None,
    day: date,
) -> dict[str, Any]:  # fmt: skip
    """What a scanner is shown: :func:`~.read.label_verdict`, with the alerts on this label
    and its scan history (:func:`~.read.label_alerts`, :func:`~.read.scan_history`), the
    product, batch, manufacturer (and its listings in force), the report and lab, the issued
    range and the batch's chain of custody in brief. Plain JSON, read from the log only."""
    found = label_verdict(kv, gtin, lot, serial, key_id, signature, day)
    issued = found.pop("range")
    key = batch_id(gtin, lot)
    out: dict[str, Any] = {
        **found,
        "ok": found["verdict"] == Verdict.GENUINE,
        "checked_on": day.isoformat(),
        "label": {"gtin": gtin, "lot": lot, "serial": serial, "key": key_id},
        "alerts": label_alerts(kv, key, serial),
        "scans": scan_history(kv, key, serial),
        "issued": issued,
        "product": None,
        "manufacturer": None,
        "report": None,
        "custody": [],
    }
    batch = kv.get("batch", key)
    product = kv.get("product", gtin)
    if product is not None:
        keys = ("gtin", "name", "name_en", "type", "standard")
        out["product"] = {k: product[k] for k in keys}
        out["manufacturer"] = org_brief(kv, product["manufacturer"])
    if batch is None:
        return out
    out["batch"] = batch_brief(batch)
    out["manufacturer"] = org_brief(kv, batch["manufacturer"])
    standing = batch_standing(kv, batch["id"], day)
    out["manufacturer"]["listings"] = [describe(x) for x in standing["manufacturer"]]
    out["report"] = report_brief(kv, batch, standing)
    out["custody"] = custody_hops(kv, batch["id"])
    if issued is not None:
        out["label"]["uri"] = label_uri(issued["resolver"], batch, serial)
    return out


# -- label.reprint and label.void ----------------------------------------------------------


def _covered(row: dict[str, Any] | None, start: Serial, count: int) -> bool:
    """Every serial ``start`` … ``start + count - 1`` lies in a range issued in ``row``."""
    spans = sorted(
        (int(r["start"]), int(r["start"]) + int(r["count"]))
        for r in (row or {}).get("ranges", [])
        if (r["prefix"], int(r["width"])) == (start.prefix, start.width)
    )
    at, end = start.number, start.number + count
    for lo, hi in spans:
        if lo > at:
            break
        at = max(at, hi)
        if at >= end:
            return True
    return at >= end


def _voided_overlap(row: dict[str, Any], start: Serial, count: int) -> dict[str, Any] | None:
    end = start.number + count - 1
    for v in row.get("voided", []):
        if (v["prefix"], int(v["width"])) != (start.prefix, start.width):
            continue
        if start.number <= v["start"] + v["count"] - 1 and v["start"] <= end:
            found: dict[str, Any] = v
            return found
    return None


def _issued_span(
    ctx: Context, rule: str
) -> tuple[dict[str, Any], dict[str, Any], Serial, str, int, str]:
    """(batch, labels row, first serial, last serial text, count, reason) of a reprint or
    void: the manufacturer's own batch, every serial issued for it; else ``rule``."""
    maker = acting_org(ctx, Role.MANUFACTURER)["uscc"]
    p = reader(ctx)
    batch = _batch(ctx, p)
    if batch["manufacturer"] != maker:
        raise RuleViolation(
            "label.manufacturer",
            f"batch {batch['id']} is made by {batch['manufacturer']}, not by the signer {maker}",
            ISSUE_CLAUSE,
        )
    count = _count(p)
    start, last = _range(p.raw("first"), count)
    row = ctx.kv.get("labels", batch["id"])
    first = start.text(start.number)
    if row is None or not _covered(row, start, count):
        raise RuleViolation(
            rule, f"serials {first}-{last} were not all issued for batch {batch['id']}"
        )
    voided = _voided_overlap(row, start, count)
    if voided is not None:
        raise RuleViolation(
            "label.voided",
            f"serials {first}-{last} overlap {voided['first']}-{voided['last']}, voided at "
            f"entry {voided['seq']}",
        )
    return batch, row, start, last, count, p.text("reason", max_len=500)


def reprint_labels(ctx: Context) -> None:
    """label.reprint, by the batch's manufacturer: issued, unvoided serials printed again."""
    batch, row, start, last, count, reason = _issued_span(ctx, "label.reprint_range")
    row["reprints"] = [
        *row.get("reprints", []),
        {"first": start.text(start.number), "last": last, "count": count, "reason": reason,
         "date": local_date(ctx.time).isoformat(), "seq": ctx.entry.seq},
    ]  # fmt: skip
    row["seq"] = ctx.entry.seq
    ctx.kv.put("labels", batch["id"], row)
    ctx.ref(f"org:{batch['manufacturer']}", f"product:{batch['gtin']}")


def void_labels(ctx: Context) -> None:
    """label.void, by the batch's manufacturer: issued serials that may never be used; the
    label verdict of each is ``unknown_serial`` from this entry on."""
    batch, row, start, last, count, reason = _issued_span(ctx, "label.void_range")
    row["voided"] = [
        *row.get("voided", []),
        {"first": start.text(start.number), "last": last, "prefix": start.prefix,
         "width": start.width, "start": start.number, "count": count, "reason": reason,
         "date": local_date(ctx.time).isoformat(), "seq": ctx.entry.seq},
    ]  # fmt: skip
    row["seq"] = ctx.entry.seq
    ctx.kv.put("labels", batch["id"], row)
    ctx.ref(f"org:{batch['manufacturer']}", f"product:{batch['gtin']}")


# -- entry types ---------------------------------------------------------------------

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "label.issue", "发放标签序列号", "Issue label serials", issue_labels,
        roles("manufacturer"),
        "A manufacturer records a range of label serials of its batch before printing them.",
        owner=party("batch", "batch", "manufacturer"),
        owner_doc="Only for the organisation's own batches.",
        epcis=epcis.EventSpec("ADD", "encoding", "encoded", epcis.labels_issued),
        records=(Record("labels", by_field("batch")),),
        payload=payloads.LabelIssue,
    ),
    EntryType(
        "label.reprint", "重印标签", "Reprint labels", reprint_labels,
        roles("manufacturer"),
        "A manufacturer records issued serials of its batch printed again (a printer jam).",
        owner=party("batch", "batch", "manufacturer"),
        owner_doc="Only for the organisation's own batches.",
        epcis=epcis.EventSpec("OBSERVE", "encoding", "encoded", epcis.labels_reprinted),
        records=(Record("labels", by_field("batch")),),
        payload=payloads.LabelReprint,
    ),
    EntryType(
        "label.void", "作废标签", "Void labels", void_labels,
        roles("manufacturer"),
        "A manufacturer voids issued serials of its batch that must never be used.",
        owner=party("batch", "batch", "manufacturer"),
        owner_doc="Only for the organisation's own batches.",
        epcis=epcis.EventSpec("DELETE", "decommissioning", "inactive", epcis.labels_voided),
        records=(Record("labels", by_field("batch")),),
        payload=payloads.LabelVoid,
    ),
    EntryType(
        "label.scan", "扫描标签", "Record a label scan", scan_label,
        roles("supervisor", "contractor"),
        "The project's supervisor or contractor records a label scan and its verdict.",
        owner=party("project", "project", "supervisor", "contractor"),
        owner_doc="Only on the organisation's own projects.",
        epcis=epcis.EventSpec("OBSERVE", "inspecting", None, epcis.label_scanned),
        records=(),
        payload=payloads.LabelScan,
    ),
)  # fmt: skip
"""Labels' entry types (:mod:`insutrace.trace.entrytype`)."""
