"""The regulator's journey in Chromium on the demo ledger: the permit gate of a stage as a
page (the decision in Chinese, each finding with its rule, clause, entries and the failed
property), recording the decision; the alerts inbox (the demo's clone alert, failed re-test
and credit proposal), filtered, exported as CSV, and one alert acknowledged, assigned and
closed with a note — each step an entry; bad input beside its field, nothing written; and
the pages refused to a supervisor. The tests share one served demo (``demo_world``): the
decision is on the community centre, the alert walked is the failed re-test, and each test
counts the entries it writes from the log's size before it writes."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import browser_roles as roles

from insutrace.trace.entry import Entry

SMALL = "XW-2025-BA-0117"  # the community centre: its XPS batch failed re-test, recalled
RETEST = "retest|JY-2025-0231|JZ270220-396"


def test_the_permit_gate_as_a_page_and_the_decision_recorded(
    browser: Any, demo_world: roles.World
) -> None:
    ledger = demo_world.ledger
    with roles.as_role(browser, demo_world, "mohurd_nj", "regulator", "孙科长", "regulator") as p:
        p.goto("/regulator")
        assert p.page.locator("#projects [data-project]").count() == 5  # the retrofit too
        p.page.locator(f'[data-project="{SMALL}"] a', has_text="消防验收").click()
        p.page.wait_for_load_state()
        decision = p.page.locator("#decision")
        assert decision.get_attribute("data-outcome") == "refuse"
        assert "消防验收：不予通过" in decision.inner_text()
        refused = p.page.locator('#findings li[data-ok="false"]')
        assert [li.get_attribute("data-rule") for li in refused.all()] == [
            "gate.retest",
            "gate.complete",
        ]
        retest = p.page.locator('#findings li[data-rule="gate.retest"]').inner_text()
        assert "每个已安装批次须有合格的见证取样复验" in retest  # the rule, in Chinese
        assert "GB 55015-2021 §6.2.1" in retest  # its clause
        assert "不合格性能 Failed property: 燃烧性能 combustion" in retest  # tested B2(E)
        failed = [
            seq
            for seq, body in ledger.store.iter_entries()
            if (e := Entry.from_bytes(body)).type == "site.retest_result"
            and any(r.get("conforms") is False for r in e.payload.get("results", []))
        ]  # the batch's failed re-test, on the high-rise where it was also delivered
        assert len(failed) == 1 and f"#{failed[0]}" in retest  # the finding rests on it
        assert p.fits()
        p.shot("gate-refused")
        size = ledger.size()
        p.page.get_by_role("button", name="记录决定 Record decision").click()  # no number
        error = p.page.locator('[data-error-for="number"]')
        assert error.inner_text().startswith("此项填写有误")
        assert ledger.size() == size
        p.page.fill("input[name=number]", "宁消验字〔2027〕第0117号")
        p.page.get_by_role("button", name="记录决定 Record decision").click()
        assert f"#{size}" in p.text("#recorded")
        entry = ledger.entry(size)
        assert entry.type == "permit.decide"
        assert entry.payload["outcome"] == "refuse"
        assert entry.payload["rules"] == ["gate.complete", "gate.retest"]
        assert "不予通过 refuse" in p.text("#decided")
        p.shot("gate-decided")
        assert p.foreign() == []


def test_the_alerts_inbox_filters_exports_and_walks_an_alert_through_its_lifecycle(
    browser: Any, demo_world: roles.World
) -> None:
    ledger = demo_world.ledger
    with roles.as_role(browser, demo_world, "mohurd_nj", "regulator", "孙科长", "regulator") as p:
        p.goto("/regulator/alerts")
        kinds = [li.get_attribute("data-kind") for li in p.page.locator("#alerts li").all()]
        assert sorted(kinds) == ["clone", "credit", "retest"]
        assert "江苏明德新型建材有限公司" in p.text('#alerts li[data-kind="credit"]')
        p.shot("alerts")
        p.page.select_option("select[name=kind]", "clone")
        p.page.get_by_role("button", name="筛选 Filter").click()
        clone = p.page.locator("#alerts li")
        assert clone.count() == 1 and "SN000122" in clone.inner_text()
        with p.page.expect_download() as download:
            p.page.click("#csv")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
        assert rows[0][:3] == ["编号 id", "类别 kind", "状态 status"]
        assert len(rows) == 2 and rows[1][1] == "克隆标识 clone" and rows[1][5] == "SN000122"
        assert "JY-2025-0231 QD-HD-2025-0088" in rows[1][7]

        p.goto("/regulator/alerts?kind=retest")
        p.page.locator("#alerts li a").click()
        p.page.wait_for_load_state()
        assert "tested class GB 8624 B2(E)" in p.text("#facts")
        size = ledger.size()
        p.page.get_by_role("button", name="确认 Acknowledge").click()
        assert p.page.locator("#facts").get_attribute("data-status") == "acknowledged"
        p.page.fill("input[name=assignee]", "王科长 Inspector Wang")
        p.page.get_by_role("button", name="指派 Assign").click()
        assert "王科长" in p.text("#assignee")
        p.page.get_by_role("button", name="关闭 Close").click()  # no closing note
        error = p.page.locator('[data-error-for="close_note"]')
        assert error.inner_text().startswith("此项填写有误")
        assert ledger.size() == size + 2
        p.page.fill(
            "textarea[name=note]",
            "批次已召回，墙体已列入整改 batch recalled, walls ordered rectified",
        )
        p.page.get_by_role("button", name="关闭 Close").click()
        assert p.page.locator("#facts").get_attribute("data-status") == "closed"
        steps = [li.get_attribute("data-step") for li in p.page.locator("#steps li").all()]
        assert steps == ["acknowledged", "assigned", "closed"]
        assert [ledger.entry(s).type for s in range(size, size + 3)] == [
            "alert.acknowledge", "alert.assign", "alert.close",
        ]  # fmt: skip
        assert ledger.entry(size + 2).payload["alert"] == RETEST
        assert p.fits()
        p.shot("alert-closed")
        p.goto("/regulator/alerts?status=closed")
        assert [li.get_attribute("data-alert") for li in p.page.locator("#alerts li").all()] == [
            RETEST
        ]
        assert p.foreign() == []


def test_a_supervisor_is_refused_the_regulators_pages_and_posts(
    browser: Any, demo_world: roles.World
) -> None:
    ledger = demo_world.ledger
    size = ledger.size()
    with roles.as_role(
        browser, demo_world, "supervisor_sd", "supervisor", "钱监理", "regulator"
    ) as p:
        for path in ("/regulator", f"/regulator/projects/{SMALL}/gate?stage=fire_acceptance",
                     "/regulator/alerts", "/regulator/alerts.csv", f"/regulator/alert?id={RETEST}"):  # fmt: skip
            response = p.goto(path)
            assert response.status == 403, path
            assert "无权访问" in p.text("#refused")
        p.shot("regulator-refused")
        csrf = roles.csrf(p)
        decide = roles.post_form(p, f"/regulator/projects/{SMALL}/gate", {
            "csrf_token": csrf, "stage": "fire_acceptance", "outcome": "refuse",
            "rules": "gate.complete,gate.retest", "number": "X-1"})  # fmt: skip
        step = roles.post_form(
            p, "/regulator/alert", {"csrf_token": csrf, "alert": RETEST, "step": "acknowledge"}
        )
        assert decide.status == 403 and step.status == 403
    assert ledger.size() == size
