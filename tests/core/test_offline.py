"""Offline submissions (docs/offline.md): a client statement signed while offline is admitted
up to the policy's window after its signed time and judged at its signed time; without a
window (cn-national-2025 2025.1 and 2026.1, and 2026.2 on its one day in force, 2027-01-01)
the ledger behaves as it always did. The window is in force from 2026.3 (2026-12-03) and again
from 2027.1 (2027-01-02).

On SQLite and PostgreSQL; the ``ledger`` fixture verifies the log and rebuilds the
projections identically after every test, so each admission judged at a signed time is
judged at that time again on replay.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
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

CST = timezone(timedelta(hours=8))
START = datetime(2026, 12, 1, 22, 0, tzinfo=CST)  # the ledgers' genesis: 2026.1 in force
BEFORE = datetime(2026, 12, 2, 10, 0, tzinfo=CST)  # 2026.1 in force: no window
WITH = datetime(2026, 12, 10, 10, 0, tzinfo=CST)  # 2026.3 in force: the window
# Every day a window is in force on, with the version that brings it
WINDOWED = [
    pytest.param(WITH, "2026.3", id="2026.3"),
    pytest.param(datetime(2027, 3, 1, 10, 0, tzinfo=CST), "2027.1", id="2027.1"),
]
# Days without a window: 2026.1 in force, and 2026.2 on its one day
UNWINDOWED = [
    pytest.param(date(2026, 12, 2), "2026.1", id="2026.1"),
    pytest.param(date(2027, 1, 1), "2026.2", id="2026.2"),
]
WINDOW = timedelta(hours=72)
SKEW = timedelta(minutes=5)
DOC = "a" * 64


@pytest.fixture
def clock() -> FixedClock:
    """The test ledgers' clock (overrides the suite's): a day before the window exists."""
    return FixedClock(START.astimezone(UTC), step=timedelta(seconds=1))


def to(clock: FixedClock, moment: datetime) -> None:
    """Move the clock forward to ``moment``."""
    assert moment > clock.now()
    clock.tick(moment - clock.now())


def windowed(clock: FixedClock, day: datetime = WITH) -> None:
    """Move the clock to a day a policy version with the window is in force."""
    to(clock, day)


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


def test_the_window_is_policy_from_2026_3_but_not_on_new_year_s_day() -> None:
    for version, effective in (("2026.3", date(2026, 12, 3)), ("2027.1", date(2027, 1, 2))):
        policy = load_policy(NATIONAL, version)
        assert (policy.effective_date, offline_window(policy)) == (effective, WINDOW)
        assert policy.rule(OFFLINE_RULE).confidence.value == "U"  # a project choice
    for version in ("2025.1", "2026.1", "2026.2"):
        assert offline_window(load_policy(NATIONAL, version)) is None
    assert current_policy(NATIONAL, date(2026, 12, 2)).version == "2026.1"
    assert current_policy(NATIONAL, date(2027, 1, 1)).version == "2026.2"

    def in_force(*moment: int) -> str | None:  # a CST wall-clock time
        found = window_at(datetime(*moment, tzinfo=CST))
        assert found is None or found[0] == WINDOW
        return None if found is None else found[1].version

    assert in_force(2026, 12, 2, 23, 59, 59) is None
    assert in_force(2026, 12, 3, 0, 0) == "2026.3"
    assert in_force(2026, 12, 31, 23, 59, 59) == "2026.3"
    assert in_force(2027, 1, 1, 0, 0) is None  # 2026.2, shipped without the window
    assert in_force(2027, 1, 1, 23, 59, 59) is None
    assert in_force(2027, 1, 2, 0, 0) == "2027.1"
    assert in_force(2027, 3, 1, 10, 0) == "2027.1"


@pytest.mark.parametrize(
    ("older", "newer"), [("2026.1", "2026.3"), ("2026.2", "2027.1")], ids=["2026.3", "2027.1"]
)
def test_a_version_with_the_window_adds_it_and_changes_nothing_else(older: str, newer: str) -> None:
    old, new = load_policy(NATIONAL, older), load_policy(NATIONAL, newer)
    assert set(new.rules) - set(old.rules) == {OFFLINE_RULE}
    assert {k: v for k, v in new.rules.items() if k != OFFLINE_RULE} == old.rules
    assert [dict(r.rule.values) for r in new.wall_table] == [
        dict(r.rule.values) for r in old.wall_table
    ]
    assert new.wall_table == old.wall_table and new.jurisdiction == old.jurisdiction
    assert "entry.offline_window" in new.description
    assert new.rule(OFFLINE_RULE) == load_policy(NATIONAL, "2027.1").rule(OFFLINE_RULE)


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
    with refused(OFFLINE_RULE, "logged at 2026-12-10T02:00:00.000Z"):
        judged_at(placed(root, WITH - WINDOW - timedelta(seconds=1), WITH))


# -- admission, on a ledger ---------------------------------------------------------------


@pytest.mark.parametrize(("day", "version"), WINDOWED)
def test_a_statement_signed_within_the_window_is_admitted_with_both_times(
    world: Any, clock: FixedClock, day: datetime, version: str
) -> None:
    windowed(clock, day)
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


@pytest.mark.parametrize(("day", "version"), WINDOWED)
def test_a_statement_signed_before_the_window_is_refused_naming_both_times(
    world: Any, clock: FixedClock, day: datetime, version: str
) -> None:
    windowed(clock, day)
    sites = built(world)
    at = now(clock) - WINDOW - timedelta(minutes=1)
    size = world.ledger.size()
    with pytest.raises(RuleViolation) as info:
        world.ledger.submit(scan(world, sites, "000001", "genuine", at))
    refusal = info.value
    assert refusal.rule == OFFLINE_RULE
    assert refusal.clause == load_policy(NATIONAL, version).rule(OFFLINE_RULE).clause
    assert f"signed at {format_time(at)}, logged at {day.date().isoformat()}T" in refusal.reason
    assert f"offline window of 72 h (policy cn-national-2025 {version})" in refusal.reason
    assert refusal.message["zh"].startswith("离线签署的声明须在签署后 72 小时内提交")
    assert world.ledger.size() == size
    ahead = now(clock) + SKEW + timedelta(seconds=30)
    with refused("entry.time", "from now"):
        world.ledger.submit(scan(world, sites, "000001", "genuine", ahead))
    assert world.ledger.size() == size


@pytest.mark.parametrize(("day", "version"), WINDOWED)
def test_a_scan_signed_before_a_recall_is_judged_before_it(
    world: Any, clock: FixedClock, day: datetime, version: str
) -> None:
    windowed(clock, day)
    sites = built(world)
    before_recall = scan(world, sites, "000001", "genuine", now(clock))  # kept on the phone
    clock.tick(timedelta(days=2))
    world.recall(sites["batch"])  # recorded two days later
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


@pytest.mark.parametrize(("day", "version"), WINDOWED)
def test_a_listing_in_force_between_signed_and_log_time(
    world: Any, clock: FixedClock, day: datetime, version: str
) -> None:
    windowed(clock, day)
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
    listing_from(world, "maker", day.date() + timedelta(days=1))
    receipt = world.ledger.submit(offline)  # signed the day before the listing took effect
    assert receipt.entry.payload["lot"] == "OFF-B"
    late = signed(world["maker"], "batch.register", {**register, "lot": "OFF-C"}, now(clock))
    next_day = (day.date() + timedelta(days=1)).isoformat()
    with refused("credit.manufacturer_listed", f"may not register batches on {next_day}"):
        world.ledger.submit(late)


@pytest.mark.parametrize(("day", "version"), UNWINDOWED)
def test_without_the_window_the_ledger_behaves_as_before(
    world: Any, clock: FixedClock, day: date, version: str
) -> None:
    eve = datetime(day.year, day.month, day.day, tzinfo=CST) - timedelta(minutes=30)
    if eve > clock.now():
        to(clock, eve)
    sites = built(world)  # on the evening before ``day``
    # judged at its log time: a scan signed before midnight, logged after a recall past it
    to(clock, datetime(day.year, day.month, day.day, tzinfo=CST) - timedelta(minutes=2))
    before_midnight = scan(world, sites, "000001", "genuine", now(clock))
    clock.tick(timedelta(minutes=3))
    world.recall(sites["batch"])  # 00:01 CST on ``day``
    assert current_policy(NATIONAL, day).version == version
    with refused("scan.verdict", "the ledger's verdict now is recalled"):
        world.ledger.submit(before_midnight)
    receipt = world.ledger.submit(scan(world, sites, "000002", "recalled", now(clock) - SKEW / 2))
    assert receipt.entry.signed_time < receipt.entry.time
    assert judged_at(receipt.entry) == parse_time(receipt.entry.time)
    to(clock, datetime(day.year, day.month, day.day, 10, tzinfo=CST))
    with refused("entry.time", "from now"):  # an hour's queue is refused on this day
        world.ledger.submit(
            scan(world, sites, "000003", "recalled", now(clock) - timedelta(hours=1))
        )


@pytest.mark.parametrize(("day", "version"), WINDOWED)
def test_with_the_window_the_same_scan_is_judged_on_its_own_day(
    world: Any, clock: FixedClock, day: datetime, version: str
) -> None:
    windowed(clock, day)
    sites = built(world)
    to(clock, day.replace(hour=23, minute=58))
    before_midnight = scan(world, sites, "000001", "genuine", now(clock))
    clock.tick(timedelta(minutes=3))
    world.recall(sites["batch"])  # 00:01 CST the next day
    receipt = world.ledger.submit(before_midnight)
    assert receipt.entry.signed_time.startswith(f"{day.date().isoformat()}T15:58")


def test_server_built_statements_are_judged_at_their_one_time(
    world: Any, clock: FixedClock
) -> None:
    windowed(clock)
    sites = built(world)
    receipt = world.scan(sites["project"], world.label(sites["batch"], "000003"), "genuine")
    assert receipt.entry.signed_time == receipt.entry.time
    assert judged_at(receipt.entry) == parse_time(receipt.entry.time)


def test_a_log_spanning_the_versions_rebuilds_identically(world: Any, clock: FixedClock) -> None:
    """A phone queueing scans across 2026.1, 2026.3, 2026.2's one day and 2027.1: each is
    admitted or refused by the version in force on the day it reaches the log, and the log
    replays to the same projections (the judged times are the leaves')."""
    to(clock, BEFORE)
    sites = built(world)
    queued = scan(world, sites, "000001", "genuine", now(clock))  # 10:00 on 2026-12-02
    clock.tick(timedelta(hours=1))
    with refused("entry.time", "from now"):  # 2026.1: no window
        world.ledger.submit(queued)
    to(clock, datetime(2026, 12, 3, 9, 0, tzinfo=CST))  # 2026.3
    first = world.ledger.submit(queued).entry
    assert judged_at(first) == parse_time(first.signed_time) < parse_time(first.time)
    assert first.signed_time.startswith("2026-12-02T02:00")

    to(clock, datetime(2026, 12, 31, 20, 0, tzinfo=CST))
    held = scan(world, sites, "000002", "genuine", now(clock))  # signed under 2026.3
    to(clock, datetime(2027, 1, 1, 10, 0, tzinfo=CST))  # 2026.2: no window
    with refused("entry.time", "from now"):
        world.ledger.submit(held)
    to(clock, datetime(2027, 1, 2, 8, 0, tzinfo=CST))  # 2027.1: 36 h after it was signed
    second = world.ledger.submit(held).entry
    assert judged_at(second) == parse_time(second.signed_time)
    assert second.signed_time.startswith("2026-12-31T12:00")
    stale = datetime(2026, 12, 29, 23, 0, tzinfo=CST)  # 57 h before 2026.2's day ended
    with refused(OFFLINE_RULE, "(policy cn-national-2025 2027.1)"):
        world.ledger.submit(scan(world, sites, "000003", "genuine", stale))

    with world.ledger.store.read() as tx:
        labels = tx.get("labels", sites["batch"])
    assert labels is not None and labels["scans"] == 2
    before = world.ledger.store.projection_digest()
    assert world.ledger.rebuild() == before
    leaves = [world.ledger.entry(seq) for seq in range(world.ledger.size())]
    assert [judged_at(e) for e in leaves if e.signed_time != e.time] == [
        parse_time(first.signed_time),
        parse_time(second.signed_time),
    ]
