"""Offline submissions (docs/offline.md): a client statement signed while offline is admitted
up to the policy's window after its signed time and judged at its signed time; without a
window (policy versions before cn-national-2025 2027.1) the ledger behaves as it always did.

On SQLite and PostgreSQL; the ``ledger`` fixture verifies the log and rebuilds the
projections identically after every test, so each admission judged at a signed time is
judged at that time again on replay.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import support
from support import refused

from insutrace.trace.clock import FixedClock, format_time, parse_time
from insutrace.trace.entry import Entry, Statement, new_statement_id
from insutrace.trace.errors import RuleViolation
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.offline import OFFLINE_RULE, check_signed_time, judged_at, window_at
from insutrace.trace.policy import NATIONAL, current_policy, load_policy, offline_window

BEFORE = datetime(2027, 1, 20, 2, 0, tzinfo=UTC)  # 2026.2 in force: no window
WITH = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 CST on 2027-03-01: 2027.1 in force
WINDOW = timedelta(hours=72)
SKEW = timedelta(minutes=5)
DOC = "a" * 64


@pytest.fixture
def clock() -> FixedClock:
    """The test ledgers' clock (overrides the suite's): a day before the window exists."""
    return FixedClock(BEFORE, step=timedelta(seconds=1))


def windowed(clock: FixedClock) -> None:
    """Move the clock to a day policy 2027.1 (with the window) is in force."""
    clock.tick(WITH - clock.now())


@pytest.fixture
def world(ledger: Ledger, root: Signer, signer_for: Any) -> Any:
    """A label world: manufacturer, lab, a qualified batch with labels, a project."""
    w = support.label_world().LabelWorld(ledger, root, signer_for)
    w.trade_parties()
    return w


def built(world: Any) -> dict[str, str]:
    batch = world.qualified_batch(world.product())
    world.issue(batch, count=4)
    return {"batch": batch, "project": world.project()}


def signed(who: Signer, type: str, payload: dict[str, Any], at: datetime) -> bytes:
    """A statement signed by ``who`` at ``at`` (as a device with no network signs it)."""
    statement = Statement(
        type=type,
        actor=who.actor,
        key=who.key_id,
        time=format_time(at),
        payload={"schema": 1, **payload},
        id=new_statement_id(),
    )
    return statement.signed(who).to_bytes()


def scan(world: Any, sites: dict[str, str], serial: str, verdict: str, at: datetime) -> bytes:
    label = world.label(sites["batch"], serial)
    payload = {"project": sites["project"], **support.label_world().scan_fields(label)}
    return signed(world["supervisor"], "label.scan", {**payload, "verdict": verdict}, at)


def now(clock: FixedClock) -> datetime:
    reading = clock.now()
    clock.tick(-timedelta(seconds=1))  # a look, not a reading the ledger would have made
    return reading


# -- the policy --------------------------------------------------------------------------------


def test_the_window_is_policy_from_2027_1_only() -> None:
    newest = load_policy(NATIONAL, "2027.1")
    assert (newest.effective_date, offline_window(newest)) == (date(2027, 2, 1), WINDOW)
    assert newest.rule(OFFLINE_RULE).confidence.value == "U"  # a project choice
    for version in ("2025.1", "2026.1", "2026.2"):
        assert offline_window(load_policy(NATIONAL, version)) is None
    assert current_policy(NATIONAL, date(2027, 1, 31)).version == "2026.2"
    assert window_at(datetime(2027, 1, 31, 15, 59, 59, tzinfo=UTC)) is None  # 23:59:59 CST
    found = window_at(datetime(2027, 1, 31, 16, 0, tzinfo=UTC))  # midnight CST, 1 February
    assert found is not None and (found[0], found[1].version) == (WINDOW, "2027.1")


def test_2027_1_adds_the_window_and_changes_nothing_else() -> None:
    old, new = load_policy(NATIONAL, "2026.2"), load_policy(NATIONAL, "2027.1")
    assert set(new.rules) - set(old.rules) == {OFFLINE_RULE}
    assert {k: v for k, v in new.rules.items() if k != OFFLINE_RULE} == old.rules
    assert [dict(r.rule.values) for r in new.wall_table] == [
        dict(r.rule.values) for r in old.wall_table
    ]
    assert new.wall_table == old.wall_table and new.jurisdiction == old.jurisdiction
    assert "entry.offline_window" in new.description


def test_the_admission_bounds() -> None:
    logged = WITH
    check_signed_time(format_time(logged - WINDOW), format_time(logged), logged, SKEW)
    with refused(OFFLINE_RULE, "more than the offline window of 72 h"):
        check_signed_time(
            format_time(logged - WINDOW - timedelta(milliseconds=1)), format_time(logged), logged,
            SKEW,
        )  # fmt: skip
    check_signed_time(format_time(logged + SKEW), format_time(logged), logged, SKEW)
    with refused("entry.time", "from now"):
        check_signed_time(format_time(logged + SKEW + timedelta(milliseconds=1)),
                          format_time(logged), logged, SKEW)  # fmt: skip
    before = BEFORE  # no window: the clock skew both ways, as before
    check_signed_time(format_time(before - SKEW), format_time(before), before, SKEW)
    with refused("entry.time", "from now"):
        check_signed_time(format_time(before - SKEW - timedelta(milliseconds=1)),
                          format_time(before), before, SKEW)  # fmt: skip


def placed(signer: Signer, at: datetime, logged: datetime) -> Entry:
    body = {"id": signer.actor, "public_key": signer.public_b64, "name": signer.actor}
    statement = Statement.from_bytes(signed(signer, "actor.register", body, at))
    return Entry.from_bytes(statement.place(7, "0" * 64, format_time(logged)).to_bytes())


def test_the_judged_time_is_a_function_of_the_leaf(root: Signer) -> None:
    ago = WITH - timedelta(hours=30)
    assert judged_at(placed(root, ago, WITH)) == ago  # signed offline: its signed time
    assert judged_at(placed(root, WITH, WITH)) == WITH  # built by the ledger: one time
    ahead = WITH + timedelta(minutes=2)
    assert judged_at(placed(root, ahead, WITH)) == WITH  # never after its log time
    recent = BEFORE - timedelta(minutes=3)
    assert judged_at(placed(root, recent, BEFORE)) == BEFORE  # no window: the log time
    # a log holding a statement placed too late does not replay
    with refused(OFFLINE_RULE, "logged at 2027-03-01T02:00:00.000Z"):
        judged_at(placed(root, WITH - WINDOW - timedelta(seconds=1), WITH))


# -- admission, on a ledger ---------------------------------------------------------------


def test_a_statement_signed_within_the_window_is_admitted_with_both_times(
    world: Any, clock: FixedClock
) -> None:
    windowed(clock)
    sites = built(world)
    at = now(clock) - timedelta(hours=71)
    receipt = world.ledger.submit(scan(world, sites, "000001", "genuine", at))
    entry = receipt.entry
    assert entry.signed_time == format_time(at)
    assert parse_time(entry.time) - at > timedelta(hours=71)  # the log's own time
    leaf = world.ledger.entry_bytes(receipt.seq)
    assert f'"time":"{format_time(at)}"'.encode() in leaf
    assert (
        f'"log":{{"prev":"{entry.prev}","seq":{receipt.seq},"time":"{entry.time}"}}'.encode()
        in leaf
    )


def test_a_statement_signed_before_the_window_is_refused_naming_both_times(
    world: Any, clock: FixedClock
) -> None:
    windowed(clock)
    sites = built(world)
    at = now(clock) - WINDOW - timedelta(minutes=1)
    size = world.ledger.size()
    with pytest.raises(RuleViolation) as info:
        world.ledger.submit(scan(world, sites, "000001", "genuine", at))
    refusal = info.value
    assert refusal.rule == OFFLINE_RULE
    assert refusal.clause == load_policy(NATIONAL, "2027.1").rule(OFFLINE_RULE).clause
    assert f"signed at {format_time(at)}, logged at 2027-03-01T" in refusal.reason
    assert "offline window of 72 h (policy cn-national-2025 2027.1)" in refusal.reason
    assert refusal.message["zh"].startswith("离线签署的声明须在签署后 72 小时内提交")
    assert world.ledger.size() == size
    ahead = now(clock) + SKEW + timedelta(seconds=30)
    with refused("entry.time", "from now"):
        world.ledger.submit(scan(world, sites, "000001", "genuine", ahead))
    assert world.ledger.size() == size


def test_a_scan_signed_before_a_recall_is_judged_before_it(world: Any, clock: FixedClock) -> None:
    windowed(clock)
    sites = built(world)
    before_recall = scan(world, sites, "000001", "genuine", now(clock))  # kept on the phone
    clock.tick(timedelta(days=2))
    world.recall(sites["batch"])  # recorded on 2027-03-03
    receipt = world.ledger.submit(before_recall)
    assert receipt.entry.signed_time < receipt.entry.time
    with refused("scan.verdict", "the scanner saw genuine, the ledger's verdict now is recalled"):
        world.ledger.submit(scan(world, sites, "000002", "genuine", now(clock)))
    world.ledger.submit(scan(world, sites, "000002", "recalled", now(clock)))
    with world.ledger.store.read() as tx:
        labels = tx.get("labels", sites["batch"])
    assert labels is not None and labels["scans"] == 2
    before = world.ledger.store.projection_digest()
    assert world.ledger.rebuild() == before  # replay judges the first scan before the recall


def listing_from(world: Any, subject: str, day: date) -> None:
    """A serious-dishonesty listing of ``subject`` decided on ``day``."""
    world.authorities()
    payload = {
        "subject": world.id(subject),
        "list": "ndrc_serious",
        "policy": support.label_world().POLICY,
        "decision": {"number": f"XY{world.next():04d}", "date": day.isoformat(), "document": DOC},
        "min_date": day.replace(year=day.year + 1).isoformat(),
        "max_date": day.replace(year=day.year + 2).isoformat(),
        "reason": "以次充好，伪造检测报告",
    }
    world.add("credit.list", payload, world["regulator"])


def test_a_listing_in_force_between_signed_and_log_time(world: Any, clock: FixedClock) -> None:
    windowed(clock)
    product = world.product()
    signed_day = now(clock)
    early = world.batch(product, lot="OFF-A")  # the shape the manufacturer's clerk signs
    with world.ledger.store.read() as tx:
        row = tx.get("batch", early)
    assert row is not None
    register = {k: v for k, v in world.ledger.entry(world.ledger.size() - 1).payload.items()}
    register.pop("schema")
    offline = signed(world["maker"], "batch.register", {**register, "lot": "OFF-B"}, signed_day)
    clock.tick(timedelta(days=1))
    listing_from(world, "maker", (WITH + timedelta(days=1)).date())
    receipt = world.ledger.submit(offline)  # signed the day before the listing took effect
    assert receipt.entry.payload["lot"] == "OFF-B"
    late = signed(world["maker"], "batch.register", {**register, "lot": "OFF-C"}, now(clock))
    with refused("credit.manufacturer_listed", "may not register batches on 2027-03-02"):
        world.ledger.submit(late)


def test_without_the_window_the_ledger_behaves_as_before(world: Any, clock: FixedClock) -> None:
    sites = built(world)  # 2027-01-20, policy 2026.2
    with refused("entry.time", "from now"):
        world.ledger.submit(scan(world, sites, "000001", "genuine", now(clock) - SKEW * 2))
    # judged at its log time: a scan signed before midnight, logged after a recall past it
    clock.tick(datetime(2027, 1, 20, 15, 58, tzinfo=UTC) - now(clock))  # 23:58 CST
    before_midnight = scan(world, sites, "000001", "genuine", now(clock))
    clock.tick(timedelta(minutes=3))
    world.recall(sites["batch"])  # 00:01 CST on 2027-01-21
    with refused("scan.verdict", "the ledger's verdict now is recalled"):
        world.ledger.submit(before_midnight)
    receipt = world.ledger.submit(scan(world, sites, "000002", "recalled", now(clock) - SKEW / 2))
    assert receipt.entry.signed_time < receipt.entry.time


def test_with_the_window_the_same_scan_is_judged_on_its_own_day(
    world: Any, clock: FixedClock
) -> None:
    windowed(clock)
    sites = built(world)
    clock.tick(datetime(2027, 3, 1, 15, 58, tzinfo=UTC) - now(clock))  # 23:58 CST
    before_midnight = scan(world, sites, "000001", "genuine", now(clock))
    clock.tick(timedelta(minutes=3))
    world.recall(sites["batch"])  # 00:01 CST on 2027-03-02
    receipt = world.ledger.submit(before_midnight)
    assert receipt.entry.signed_time.startswith("2027-03-01T15:58")


def test_server_built_statements_are_judged_at_their_one_time(
    world: Any, clock: FixedClock
) -> None:
    windowed(clock)
    sites = built(world)
    receipt = world.scan(sites["project"], world.label(sites["batch"], "000003"), "genuine")
    assert receipt.entry.signed_time == receipt.entry.time
    assert judged_at(receipt.entry) == parse_time(receipt.entry.time)
