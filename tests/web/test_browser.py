"""The label pages in a real browser: Chromium (Debian's /usr/bin/chromium, driven by
Playwright) on a phone-sized viewport opens each verdict's label URL served by uvicorn,
reads the verdict, signs in and records a scan. Screenshots go to test-artifacts/labels/.

Without /usr/bin/chromium or Playwright the test skips with a one-line reason, unless
INSUTRACE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import browser_roles as roles
import pytest
import support

from insutrace.api.deps import Services
from insutrace.api.web import label_path
from insutrace.trace.clock import FixedClock
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner

TITLES = {
    "genuine": "正品：已在账本登记",
    "unknown_serial": "未登记的序列号",
    "bad_signature": "签名无效",
    "recalled": "批次已召回",
    "not_qualified": "无有效检验报告",
    "blacklisted": "生产企业列入失信名单",
}

REASONS = {
    "recalled": ("召回", "was recalled on"),
    "not_qualified": ("无有效的合格检验报告", "no report that qualifies"),
    "blacklisted": ("列入失信名单", "is on the"),
}
W = support.label_world()


@pytest.fixture
def seeded(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> tuple[Any, dict[str, str]]:
    w = W.LabelWorld(ledger, root, signer_for)
    w.trade_parties(name_en="Jiangsu Test Insulation Co., Ltd.")
    cases = w.six_cases()
    genuine = W.scan_fields(cases["genuine"])
    project = w.project(id="P-NJ-2026-018")
    w.deliver("maker", "dist", f"{genuine['gtin']}.{genuine['lot']}", "400")
    w.deliver("dist", "contractor", f"{genuine['gtin']}.{genuine['lot']}", "300",
              to_project=project)  # fmt: skip
    ledger.checkpoint()
    return w, cases


@pytest.fixture
def server(
    tmp_path: Path, store_url: str, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[tuple[str, Services]]:
    """The app over the seeded ledger, served by uvicorn on a free loopback port."""
    with roles.served(tmp_path, store_url, clock, log_signer) as served:
        yield served


def test_each_verdict_on_a_phone(
    browser: Any, seeded: tuple[Any, dict[str, str]], server: tuple[str, Services]
) -> None:
    _, cases = seeded
    base, _ = server
    with roles.phone(browser, base, "labels") as p:
        page = p.page
        for verdict, payload in cases.items():
            p.goto(label_path(payload))
            banner = page.locator("#verdict")
            assert banner.get_attribute("data-verdict") == verdict
            assert banner.locator(".zh").inner_text() == TITLES[verdict]
            if verdict in REASONS:  # the reason reads Chinese first, the English beside it
                zh, en = REASONS[verdict]
                reason = page.locator("ul.reasons li", has_text=zh).first.inner_text()
                assert en in reason and reason.index(zh) < reason.index(en), reason
            p.shot(verdict, check_width=True)
        p.goto("/")
        p.shot("home")
        p.goto("/blacklist")
        assert "浙江测试节能科技有限公司" in page.locator("main").inner_text()
        p.shot("blacklist")
        assert p.foreign() == []


def test_a_signed_in_supervisor_records_a_scan(
    browser: Any, seeded: tuple[Any, dict[str, str]], server: tuple[str, Services]
) -> None:
    world, cases = seeded
    base, services = server
    services.accounts.create_person(world.id("supervisor"), "supervisor", "赵监理",
                                    "zhao.jianli", roles.PASSWORD)  # fmt: skip
    services.accounts.store_key(services.require_vault(), world["supervisor"])
    with roles.phone(browser, base, "labels") as p:
        page = p.page
        p.goto(label_path(cases["genuine"]))
        page.locator("#scan").get_by_role("link", name="登录 Sign in").click()
        page.fill("input[name=username]", "zhao.jianli")
        page.fill("input[name=password]", roles.PASSWORD)
        page.get_by_role("button", name="登录 Sign in").click()
        page.fill("input[name=project]", "P-NJ-2026-018")
        size = world.ledger.size()
        page.get_by_role("button", name="记录扫码 Record scan").click()
        notice = page.locator(".notice.ok").inner_text()
        assert f"#{size}" in notice
        assert world.ledger.entry(size).type == "label.scan"
        p.shot("scan-recorded")
        assert p.foreign() == []
