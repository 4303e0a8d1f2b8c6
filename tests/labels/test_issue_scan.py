"""label.issue and label.scan on a real ledger (SQLite and PostgreSQL): ranges, refusals,
the six verdicts, and clone, overscan and counterfeit alerts. Every test ends with the
whole-ledger verify + rebuild check of the ``ledger`` fixture."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from insutrace.trace.domain.labels import alerts, decode_signature
from insutrace.trace.domain.read import label_verdict
from insutrace.trace.errors import Forbidden, MalformedInput

from .conftest import load_world

W = load_world()
refused = W.refused
DAY = date.fromisoformat(W.TODAY)


def row(world: Any, kind: str, key: str) -> Any:
    with world.ledger.store.read() as tx:
        return tx.get(kind, key)


def verdict(world: Any, payload: str, day: date = DAY) -> dict[str, Any]:
    fields = W.scan_fields(payload)
    with world.ledger.store.read() as tx:
        return label_verdict(
            tx, fields["gtin"], fields["lot"], fields["serial"], fields["key"],
            decode_signature(fields["sig"]), day,
        )  # fmt: skip


@pytest.fixture
def batch(label_world: Any) -> str:
    found: str = label_world.qualified_batch(label_world.product())
    return found


def test_issue_records_the_range(label_world: Any, batch: str) -> None:
    receipt = label_world.issue(batch, first="SN000001", count=240)
    label_world.issue(batch, first="SN000241", count=10)
    labels = row(label_world, "labels", batch)
    assert labels["issued"] == 250
    assert [(r["first"], r["last"], r["seq"]) for r in labels["ranges"]] == [
        ("SN000001", "SN000240", receipt.seq),
        ("SN000241", "SN000250", receipt.seq + 1),
    ]
    assert labels["ranges"][0]["key"] == label_world["maker"].key_id
    with label_world.ledger.store.read() as tx:
        assert receipt.seq in tx.refs(f"batch:{batch}")


def test_ranges_of_another_width_or_prefix_do_not_collide(label_world: Any, batch: str) -> None:
    label_world.issue(batch, first="000001", count=5)
    label_world.issue(batch, first="00001", count=5)  # "00001" ≠ "000001"
    label_world.issue(batch, first="A000001", count=5)
    assert row(label_world, "labels", batch)["issued"] == 15


@pytest.mark.parametrize(
    ("first", "count", "rule", "message"),
    [
        ("000001", 1_000_000, "label.serial", "run past 999999"),
        ("SN99", 2, "label.serial", "run past SN99"),
        ("SN-A", 1, "label.serial", "must end in digits"),
        ("序列000001", 1, "label.serial", "outside GS1 CSET 82"),
        ("S" * 15 + "000001", 1, "label.serial", "expected 1-20 characters"),
        ("SN 000001", 1, "label.serial", "outside GS1 CSET 82"),
    ],
)
def test_serials_outside_gs1_or_the_width_are_refused(
    label_world: Any, batch: str, first: str, count: int, rule: str, message: str
) -> None:
    size = label_world.ledger.size()
    with refused(rule, message):
        label_world.issue(batch, first=first, count=count)
    assert label_world.ledger.size() == size
    assert row(label_world, "labels", batch) is None


def test_overlapping_serials_are_refused_across_the_lots_of_a_gtin(label_world: Any) -> None:
    product = label_world.product()
    first = label_world.qualified_batch(product)
    second = label_world.qualified_batch(product)
    label_world.issue(first, first="000001", count=100)
    with refused("label.overlap", f"overlap 000001-000100 issued for batch {first}"):
        label_world.issue(first, first="000100", count=5)
    with refused("label.overlap", "000050-000059"):
        label_world.issue(second, first="000050", count=10)
    label_world.issue(second, first="000101", count=10)  # the next serials are free
    other = label_world.qualified_batch(label_world.product())
    label_world.issue(other, first="000001", count=100)  # another GTIN: its own serials


def test_another_manufacturers_batch_is_refused(label_world: Any, batch: str) -> None:
    label_world.org("maker2", "浙江测试节能科技有限公司", "manufacturer")
    with refused("label.manufacturer", f"made by {label_world.id('maker')}"):
        label_world.issue(batch, maker="maker2")
    with pytest.raises(Forbidden, match="must be signed by a manufacturer"):
        label_world.add("label.issue", {"batch": batch}, label_world["dist"])


def test_unknown_batch_and_bad_fields_are_refused(label_world: Any, batch: str) -> None:
    gtin = batch.split(".")[0]
    with refused("batch.known", "no batch"):
        label_world.issue(f"{gtin}.NOLOT")
    with refused("product.gtin"):
        label_world.issue("06900000000000.L1")
    with pytest.raises(MalformedInput, match="count: expected an integer >= 1"):
        label_world.issue(batch, count=0)
    with pytest.raises(MalformedInput, match="count: at most 1000000"):
        label_world.issue(batch, count=1_000_001)
    with pytest.raises(MalformedInput, match="domain"):
        label_world.issue(batch, resolver="Not A Host")
    assert row(label_world, "labels", batch) is None


def test_a_recalled_batch_gets_no_labels(label_world: Any, batch: str) -> None:
    label_world.recall(batch)
    with refused("label.recalled", "was recalled on 2026-11-22"):
        label_world.issue(batch)


def test_a_listed_manufacturer_issues_no_labels(label_world: Any, batch: str) -> None:
    label_world.issue(batch)
    label_world.listing("maker")
    with refused("credit.manufacturer_listed", "may not issue labels"):
        label_world.issue(batch, first="000011")


def test_the_label_key_must_be_a_current_key_of_the_manufacturer(
    label_world: Any, batch: str
) -> None:
    dist = label_world["dist"].key_id
    with refused("label.key", f"key {dist!r} is not a registered key"):
        label_world.issue(batch, key=dist)
    label_world.issue(batch, count=5)
    old = label_world["maker"]
    label = label_world.label(batch, "000001")
    new = type(old).from_seed(old.actor, b"rotated test-only key")
    label_world.add("key.rotate", {"public_key": new.public_b64}, old)
    label_world.orgs["maker"] = new
    with refused("label.key", "is rotated"):
        label_world.issue(batch, first="000006", key=old.key_id)
    label_world.issue(batch, first="000006")  # the new key signs new ranges
    assert verdict(label_world, label)["verdict"] == "genuine"  # printed before the rotation


def test_six_verdicts(label_world: Any) -> None:
    cases = label_world.six_cases()
    found = {name: verdict(label_world, payload) for name, payload in cases.items()}
    assert {name: v["verdict"] for name, v in found.items()} == {n: n for n in W.VERDICTS}
    assert found["genuine"]["problems"] == []
    assert found["unknown_serial"]["problems"][0]["reason"].startswith("serial 009999 was never")
    assert "does not verify" in found["bad_signature"]["problems"][0]["reason"]
    assert "(fraud, entry" in found["recalled"]["problems"][0]["reason"]
    assert "ndrc_serious list" in found["blacklisted"]["problems"][0]["reason"]
    assert "no report that qualifies" in found["not_qualified"]["problems"][0]["reason"]


def test_a_report_out_of_validity_no_longer_qualifies(label_world: Any, batch: str) -> None:
    label_world.issue(batch)
    label = label_world.label(batch, "000003")
    assert verdict(label_world, label)["verdict"] == "genuine"
    assert verdict(label_world, label, date(2027, 11, 10))["verdict"] == "not_qualified"


def test_a_label_moved_to_another_resolver_does_not_verify(label_world: Any, batch: str) -> None:
    from insutrace.labels.codec import sign_label

    label_world.issue(batch)
    gtin, lot = batch.split(".")
    maker = label_world["maker"]
    uri = f"https://evil.example.com/01/{gtin}/10/{lot}/21/000001"
    moved = sign_label(uri, maker.key_id, maker.private_key)
    assert verdict(label_world, moved)["verdict"] == "bad_signature"
    other = label_world.label(batch, "000001", signer=label_world["dist"])
    assert "signed with key" in verdict(label_world, other)["problems"][0]["reason"]


@pytest.fixture
def sites(label_world: Any, batch: str) -> dict[str, str]:
    label_world.issue(batch, count=2)
    return {"batch": batch, "p1": label_world.project(), "p2": label_world.project()}


def test_scans_are_recorded_by_the_projects_supervisor_or_contractor(
    label_world: Any, sites: dict[str, str]
) -> None:
    label = label_world.label(sites["batch"], "000001")
    receipt = label_world.scan(sites["p1"], label, "genuine")
    label_world.scan(sites["p1"], label, "genuine", who="contractor")  # the same label again
    scanned = row(label_world, "scan", f"{sites['batch']}|000001")
    assert scanned["projects"] == {sites["p1"]: [receipt.seq, receipt.seq + 1]}
    labels = row(label_world, "labels", sites["batch"])
    assert (labels["scans"], labels["seen"]) == (2, 1)
    with label_world.ledger.store.read() as tx:
        assert alerts(tx) == []
        assert receipt.seq in tx.refs(f"project:{sites['p1']}")
    with pytest.raises(Forbidden, match="is for supervisor"):
        label_world.scan(sites["p1"], label, "genuine", who="maker")


def test_a_scan_must_report_the_ledgers_verdict(label_world: Any, sites: dict[str, str]) -> None:
    label = label_world.label(sites["batch"], "000001")
    size = label_world.ledger.size()
    with refused("scan.verdict", "the scanner saw recalled, the ledger's verdict now is genuine"):
        label_world.scan(sites["p1"], label, "recalled")
    bad = dict(W.scan_fields(label), sig="x" * 86 + "=")
    with pytest.raises(MalformedInput, match="86 base64url"):
        label_world.add("label.scan", {"project": sites["p1"], **bad, "verdict": "genuine"},
                        label_world["supervisor"])  # fmt: skip
    bad = dict(W.scan_fields(label), gtin="06901234567890")
    with pytest.raises(MalformedInput, match="check digit"):
        label_world.add("label.scan", {"project": sites["p1"], **bad, "verdict": "genuine"},
                        label_world["supervisor"])  # fmt: skip
    bad = dict(W.scan_fields(label), serial="号码1")
    with pytest.raises(MalformedInput, match="outside GS1 CSET 82"):
        label_world.add("label.scan", {"project": sites["p1"], **bad, "verdict": "genuine"},
                        label_world["supervisor"])  # fmt: skip
    assert label_world.ledger.size() == size


def test_the_same_serial_on_two_projects_raises_a_clone_alert(
    label_world: Any, sites: dict[str, str]
) -> None:
    batch, p1, p2 = sites["batch"], sites["p1"], sites["p2"]
    label = label_world.label(batch, "000001")
    label_world.scan(p1, label, "genuine")
    second = label_world.scan(p2, label, "genuine")
    with label_world.ledger.store.read() as tx:
        (alert,) = alerts(tx)
        assert second.seq in tx.refs("alert:" + alert["id"])
    assert alert["kind"] == "clone"
    assert (alert["batch"], alert["serial"], alert["projects"]) == (
        batch,
        "000001",
        sorted([p1, p2]),
    )
    assert alert["manufacturer"] == label_world.id("maker")
    assert alert["entries"] == [second.seq]


def test_more_labels_seen_than_issued_raises_an_overscan_alert(
    label_world: Any, sites: dict[str, str]
) -> None:
    batch, p1, p2 = sites["batch"], sites["p1"], sites["p2"]
    first, second = (label_world.label(batch, s) for s in ("000001", "000002"))
    label_world.scan(p1, first, "genuine")
    label_world.scan(p1, second, "genuine")
    label_world.scan(p2, second, "genuine")  # a copy of label 2 on the second project
    with label_world.ledger.store.read() as tx:
        found = {a["kind"]: a for a in alerts(tx)}
        assert [a["kind"] for a in alerts(tx, "overscan")] == ["overscan"]
    assert set(found) == {"clone", "overscan"}
    assert (found["overscan"]["seen"], found["overscan"]["issued"]) == (3, 2)
    assert found["overscan"]["reason"] == f"3 labels of batch {batch} seen on sites, 2 issued"


def test_scans_of_counterfeits_are_recorded_with_an_alert(
    label_world: Any, sites: dict[str, str]
) -> None:
    batch, p1 = sites["batch"], sites["p1"]
    forged = W.tamper(label_world.label(batch, "000001"))
    unknown = label_world.label(batch, "000777")
    label_world.scan(p1, forged, "bad_signature")
    label_world.scan(p1, unknown, "unknown_serial")
    with label_world.ledger.store.read() as tx:
        found = alerts(tx)
    assert [(a["kind"], a["serial"]) for a in found] == [
        ("counterfeit", "000777"),
        ("counterfeit", "000001"),
    ]
    assert row(label_world, "labels", batch)["scans"] == 0  # counterfeits are not counted


def test_signature_text_must_be_canonical() -> None:
    assert decode_signature("A" * 85 + "Q") == bytes(63) + b"\x01"
    with pytest.raises(MalformedInput, match="non-canonical"):
        decode_signature("A" * 85 + "B")
    with pytest.raises(MalformedInput, match="86 base64url"):
        decode_signature("A" * 10)
