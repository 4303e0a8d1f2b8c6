"""The browser is held to the API's authorization table (Chromium on a phone, the demo
ledger): each role's pages and form posts against another organisation's objects, or a page
not for the role, are refused — the page says so, Chinese first — and nothing is written.
Screenshots go to test-artifacts/refusals/."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import browser_roles as roles

SAMPLE = ("JY-2025-0231", "JZ270220-396")  # the high-rise's witnessed sample that failed


def test_a_clerk_is_refused_another_manufacturers_batch(
    browser: Any, demo_world: roles.World
) -> None:
    ledger = demo_world.ledger
    theirs = quote(demo_world.demo.batches["rockwool_1"])  # the rock wool maker's
    size = ledger.size()
    with roles.as_role(browser, demo_world, "xps", "manufacturer", "李质量", "refusals") as p:
        response = p.goto(f"/maker/batches/{theirs}")
        assert response.status == 403
        assert "无法打开此批次" in p.text("main") and "not by" in p.text("main")
        p.shot("clerk-other-batch", check_width=True)
        token = roles.csrf(p)
        for action, form in (
            ("labels", {"first": "SN900001", "count": "10"}),
            ("recall", {"sample": "|".join(SAMPLE)}),
            ("reprint", {"first": "SN000001", "count": "1", "reason": "卡纸 jam"}),
            ("void", {"first": "SN000001", "count": "1", "reason": "损坏 damaged"}),
        ):
            answer = roles.post_form(p, f"/maker/batches/{theirs}/{action}",
                                     {**form, "csrf_token": token, "idem": action})  # fmt: skip
            assert answer.status == 403, (action, answer.status)
        sheet = p.context.request.get(f"{p.base}/maker/batches/{theirs}/labels.pdf?first=SN000001")
        assert sheet.status == 403 and "application/pdf" not in sheet.headers["content-type"]
        assert p.foreign() == []
    assert ledger.size() == size


def test_a_lab_is_refused_another_labs_sample_beside_the_form(
    browser: Any, demo_world: roles.World
) -> None:
    ledger = demo_world.ledger
    with ledger.store.read() as tx:
        sent_to = tx.get("sample", "|".join(SAMPLE))["lab"]
    other = next(k for k in ("lab_js", "lab_nat") if demo_world.signer(k).actor != sent_to)
    size = ledger.size()
    with roles.as_role(browser, demo_world, other, "testing_lab", "吴检测", "refusals") as p:
        p.goto("/lab")
        form = "#retest"
        p.page.fill(f"{form} input[name=project]", SAMPLE[0])
        p.page.fill(f"{form} input[name=sample]", SAMPLE[1])
        p.page.fill(f"{form} input[name=number]", "FJ-2027-0001")
        p.page.fill(f"{form} input[name=date]", "2027-07-30")
        p.page.fill(f"{form} input[name=combustion_class]", "B1(B-s1,d0,t1)")
        p.page.fill(f"{form} input[name=sha256]", "ab" * 32)
        p.page.get_by_role("button", name="记录复验 Record re-test").click()
        refusal = p.text("#error-retest")
        assert refusal.startswith("无权操作 · Not allowed") and f"was sent to {sent_to}" in refusal
        assert p.page.locator(f"{form} input[name=number]").input_value() == "FJ-2027-0001"
        p.shot("lab-other-sample", check_width=True)
        assert p.foreign() == []
    assert ledger.size() == size


def test_an_investigator_is_refused_the_regulators_decision_and_the_clerks_pages(
    browser: Any, demo_world: roles.World
) -> None:
    ledger = demo_world.ledger
    size = ledger.size()
    with roles.as_role(browser, demo_world, "fire_nj", "investigator", "周调查", "refusals") as p:
        for path in ("/maker", "/lab", "/regulator", "/admin/people"):
            response = p.goto(path)
            assert response.status == 403, path
            assert "无权访问" in p.text("#refused")
        p.goto("/maker")
        refusal = p.text("#refusal")
        assert refusal.startswith("此页面仅供生产企业使用（您的角色：调查机构）")
        p.shot("investigator-maker", check_width=True)
        decide = roles.post_form(p, "/regulator/projects/XW-2025-BA-0117/gate", {
            "csrf_token": roles.csrf(p), "stage": "fire_acceptance", "outcome": "refuse",
            "rules": "gate.complete,gate.retest", "number": "X-1"})  # fmt: skip
        assert decide.status == 403 and "此操作仅供监管部门使用" in decide.text()
        assert p.foreign() == []
    assert ledger.size() == size
