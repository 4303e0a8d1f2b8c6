"""Credit listings: authorities, periods, joint punishment on append, repair, queries, proposals."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from insutrace.trace.clock import FixedClock
from insutrace.trace.domain.credit import add_months, credit_proposals, credit_status
from insutrace.trace.errors import Forbidden

from .conftest import DOC, POLICY, RETEST_EXTRAS, TODAY, GateWorld, refused, results, uscc

DAY = date.fromisoformat(TODAY)


def _status(world: GateWorld, query: str, on: date = DAY) -> list[dict[str, object]]:
    with world.ledger.store.read() as tx:
        return credit_status(tx, query, on)


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 22), 14) == date(2028, 1, 22)


def test_only_authorised_authorities_publish(world: GateWorld) -> None:
    world.org("other", "某市市场监督管理局", "regulator")
    payload = {"subject": world.id("maker"), "list": "ndrc_serious", "policy": POLICY,
               "decision": {"number": "N1", "date": TODAY, "document": DOC},
               "min_date": "2027-11-22", "max_date": "2028-11-22", "reason": "x"}  # fmt: skip
    with pytest.raises(Forbidden, match="not authorised to publish on the ndrc_serious list"):
        world.add("credit.list", {"schema": 1, **payload}, world["other"])
    with pytest.raises(Forbidden, match="only the root authority"):
        world.add("credit.authorize", {"authority": world.id("other"), "lists": []}, world["other"])
    world.add(
        "credit.authorize", {"authority": world.id("other"), "lists": ["ndrc_serious"]}, world.root
    )
    world.add("credit.list", payload, world["other"])
    world.add("credit.authorize", {"authority": world.id("other"), "lists": []}, world.root)
    with pytest.raises(Forbidden, match="authorised: none"):
        world.add("credit.list", {**payload, "decision": {**payload["decision"], "number": "N2"}},
                  world["other"])  # fmt: skip


def test_publication_periods_follow_the_policy(world: GateWorld) -> None:
    with refused("credit.period", "min_date 2027-05-22 is before 2027-11-22 (12 months)"):
        world.listing("maker", min_date="2027-05-22")
    with refused("credit.period", "max_date 2030-01-01 is after 2029-11-22 (36 months)"):
        world.listing("maker", max_date="2030-01-01")
    with refused("credit.decision_date", "in the future"):
        world.listing("maker", decision={"number": "F1", "date": "2026-12-01", "document": DOC})
    world.listing("maker", number="D1")
    with refused("credit.unique"):
        world.listing("maker", number="D1")


def test_a_listed_manufacturer_registers_no_batch_until_the_listing_expires(
    world: GateWorld, clock: FixedClock
) -> None:
    product = world.product()
    world.listing("maker", "ndrc_ordinary", min_date="2027-02-22", max_date="2027-05-22")
    world.batch(product)  # ordinary dishonesty carries no joint punishment
    world.listing("maker", number="S-1", max_date="2028-11-22")
    with refused("credit.manufacturer_listed", "decision S-1 of 2026-11-22"):
        world.batch(product)
    clock.tick(timedelta(days=731))  # past the maximum date: expired, never used again
    world.batch(product, production_date="2028-11-20")


def test_a_listed_contractor_is_assigned_no_new_project(world: GateWorld) -> None:
    world.project()
    world.listing("contractor", "mohurd_bad_record", min_date="2027-05-22")
    with refused("credit.contractor_listed", "may not be assigned new projects"):
        world.project()


def test_a_listed_labs_new_reports_do_not_qualify(world: GateWorld) -> None:
    product = world.product()
    before = world.qualified_batch(product)
    world.listing("lab", "samr_serious_illegal", max_date="2030-01-01")
    after = world.batch(product)
    world.report(after)
    with world.ledger.store.read() as tx:
        old, new = tx.get("batch", before), tx.get("batch", after)
        assert old is not None and new is not None
        report = tx.get("report", new["reports"][0])
    assert old["qualified_by"] and not new["qualified_by"]
    assert report is not None and not report["qualifies"] and report["listings"]
    assert "samr_serious_illegal list" in report["reasons"][-1]
    project = world.project()
    world.brief(project)
    world.on_site(project, after)
    with refused("install.qualified", "has no qualifying factory report"):
        world.install(project, after, "100", "100")


def test_repair_after_the_minimum_period(world: GateWorld, clock: FixedClock) -> None:
    listing = world.listing("maker", number="R-1")
    apply = {"listing": listing, "date": TODAY, "commitment": DOC, "evidence": DOC}
    with refused("credit.repair_early", "may be applied for from 2027-11-22"):
        world.add("credit.repair_apply", apply, world["maker"])
    with pytest.raises(Forbidden, match="the listed subject"):
        world.add("credit.repair_apply", apply, world["dist"])
    clock.tick(timedelta(days=366))
    later = {**apply, "date": "2027-11-23"}
    world.add("credit.repair_apply", later, world["maker"])
    with refused("credit.repair_open", "has an open application"):
        world.add("credit.repair_apply", later, world["maker"])
    decide = {"listing": listing, "granted": False, "number": "XF-1", "date": "2027-11-23",
              "document": DOC}  # fmt: skip
    with pytest.raises(Forbidden, match="the listing authority"):
        world.add("credit.repair_decide", decide, world["maker"])
    world.add("credit.repair_decide", decide, world["regulator"])
    on = date(2027, 11, 23)
    assert _status(world, world.id("maker"), on)[0]["status"] == "listed"
    world.add("credit.repair_apply", later, world["maker"])
    world.add(
        "credit.repair_decide", {**decide, "granted": True, "number": "XF-2"}, world["regulator"]
    )
    status = _status(world, world.id("maker"), on)[0]
    assert status["status"] == "clear" and status["current"] == []
    events = [h["event"] for h in status["history"][0]["history"]]  # type: ignore[index]
    assert events == [
        "listed",
        "repair_applied",
        "repair_refused",
        "repair_applied",
        "repair_granted",
    ]
    world.batch(world.product(), production_date="2027-11-20")


def test_anyone_queries_by_code_or_name(world: GateWorld) -> None:
    outsider = uscc(900)
    world.listing(outsider, subject_name="无锡测试保温科技有限公司", number="O-1")
    by_name = _status(world, "测试保温科技")
    assert [s["uscc"] for s in by_name] == [outsider] and by_name[0]["status"] == "listed"
    by_code = _status(world, outsider.lower())
    assert by_code[0]["name"] == "无锡测试保温科技有限公司" and by_code[0]["joint_punishment"]
    assert _status(world, world.id("lab"))[0]["status"] == "clear"
    assert _status(world, "2029-01-01 nobody") == []
    assert _status(world, outsider, date(2028, 11, 22))[0]["status"] == "clear"  # expired


def test_proposals_flag_labs_and_manufacturers_for_review(world: GateWorld) -> None:
    project = world.project()
    world.brief(project)
    batches = [world.qualified_batch(world.product()) for _ in range(3)]
    for n, batch in enumerate(batches):
        world.deliver("maker", "contractor", batch, "100", to_project=project)
        world.inspect(project, batch)
        if n < 2:
            world.retest(project, world.sample(project, batch),
                         results=results(cls="B2(E)", **RETEST_EXTRAS))  # fmt: skip
    with world.ledger.store.read() as tx:
        found = credit_proposals(tx, DAY)
    assert [(p["subject"], p["kind"]) for p in found] == [(world.id("lab"), "lab_false_reports")]
    assert len(found[0]["evidence"]["reports"]) == 2 and found[0]["entries"]
    with world.ledger.store.read() as tx:
        key = next(k for k, row in tx.scan("sample", f"{project}|") if row["batch"] == batches[0])
    world.add("batch.recall", {"batch": batches[0], "reason": "failed_retest", "sample": key},
              world["regulator"])  # fmt: skip
    with world.ledger.store.read() as tx:
        found = credit_proposals(tx, DAY)
    kinds = {p["kind"]: p for p in found}
    assert kinds["manufacturer_recall"]["subject"] == world.id("maker")
    assert not kinds["manufacturer_recall"]["listed"]
    assert _status(world, world.id("maker"))[0]["status"] == "clear"  # never listed automatically
