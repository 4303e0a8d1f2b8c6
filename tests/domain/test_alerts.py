"""The alert lifecycle on the demo ledger: the regulator's inbox lists the demo's clone alert,
its failed witnessed re-test and its credit proposal; acknowledge, assign and close are
entries, out of order or after closing they are refused, and the projections rebuild."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import support

from insutrace.demo.story import DemoOutcome, build_demo
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain.read import alert_inbox, alert_of
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

DAY = date(2027, 8, 2)


@pytest.fixture
def demo(ledger: Ledger, root: Signer, clock: FixedClock) -> DemoOutcome:
    out = build_demo(ledger, root, start=support.DEMO_START)
    clock.tick(timedelta(days=252))  # past the demo's last entry (2027-07-29)
    return out


def _regulator(demo: DemoOutcome) -> Signer:
    return demo.signers[demo.orgs["mohurd_nj"]["uscc"]]


def test_the_inbox_lists_what_the_demo_raised(ledger: Ledger, demo: DemoOutcome) -> None:
    with ledger.store.read() as tx:
        inbox = alert_inbox(tx, DAY)
    kinds = {a["kind"] for a in inbox}
    assert kinds == {"clone", "retest", "credit"}
    clone = next(a for a in inbox if a["kind"] == "clone")
    # SN000122 of the second XPS batch was scanned on the high-rise and on the cold store
    assert clone["serial"] == "SN000122"
    assert clone["projects"] == ["JY-2025-0231", "QD-HD-2025-0088"]
    retest = next(a for a in inbox if a["kind"] == "retest")
    assert retest["id"] == "retest|JY-2025-0231|JZ270220-396"
    assert "B2(E) is below the declared GB 8624 B1" in retest["reason"]
    credit = next(a for a in inbox if a["kind"] == "credit")
    assert credit["org"] == demo.orgs["xps"]["uscc"]
    assert all(a["status"] == "open" for a in inbox)


def test_acknowledge_assign_close(ledger: Ledger, demo: DemoOutcome) -> None:
    reg = _regulator(demo)
    alert = "retest|JY-2025-0231|JZ270220-396"
    with support.refused("alert.order"):
        ledger.append("alert.close", {"schema": 1, "alert": alert, "note": "x"}, reg)
    with support.refused("alert.known"):
        ledger.append("alert.acknowledge", {"schema": 1, "alert": "retest|JY-2025-0231|NO"}, reg)
    ack = ledger.append("alert.acknowledge", {"schema": 1, "alert": alert}, reg)
    with support.refused("alert.order"):
        ledger.append("alert.acknowledge", {"schema": 1, "alert": alert}, reg)
    ledger.append("alert.assign", {"schema": 1, "alert": alert, "assignee": "王科长"}, reg)
    close = ledger.append("alert.close", {"schema": 1, "alert": alert, "note": "已召回"}, reg)
    with support.refused("alert.closed"):
        ledger.append("alert.assign", {"schema": 1, "alert": alert, "assignee": "李"}, reg)
    with ledger.store.read() as tx:
        found = alert_of(tx, alert, DAY)
        closed = alert_inbox(tx, DAY, status="closed")
    assert found is not None and found["status"] == "closed" and found["assignee"] == "王科长"
    assert [s["step"] for s in found["steps"]] == ["acknowledged", "assigned", "closed"]
    assert found["steps"][-1]["note"] == "已召回"
    assert ack.seq in found["entries"] and close.seq in found["entries"]
    assert [a["id"] for a in closed] == [alert]
