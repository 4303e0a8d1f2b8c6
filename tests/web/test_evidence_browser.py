"""What the public pages say when the ledger knows something bad, read in Chromium on a
phone (390x844): a cloned label, a counterfeit label, a recalled batch in a building's wall,
a manufacturer on a credit list. Screenshots go to test-artifacts/evidence/.

Without /usr/bin/chromium or Playwright the browser tests skip with a one-line reason,
unless INSUTRACE_REQUIRE_BROWSER=1 (CI), where they fail. The blacklist's read function is
also checked without a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import browser_roles as roles
import pytest
import support

from insutrace.api.web import label_path
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain.credit import credit_status, listed_now
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner

W = support.label_world()
REGULATOR = "南京市住房和城乡建设局"
REASON = "以次充好，伪造检测报告"


@pytest.fixture
def evidence(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> dict[str, Any]:
    """Six label cases; the genuine label scanned on two projects (a clone); an unknown
    serial scanned (a counterfeit); a batch built into a wall of building P-WALL, then
    recalled; maker2 on the serious-dishonesty list."""
    w = W.LabelWorld(ledger, root, signer_for)
    w.trade_parties(name_en="Jiangsu Test Insulation Co., Ltd.")
    cases = w.six_cases()
    genuine = W.scan_fields(cases["genuine"])
    batch = f"{genuine['gtin']}.{genuine['lot']}"
    first, second = w.project(id="P-NJ-2026-018"), w.project(id="P-NJ-2026-019")
    w.deliver("maker", "dist", batch, "400")
    for project in (first, second):
        w.deliver("dist", "contractor", batch, "100", to_project=project)
    w.scan(first, cases["genuine"], "genuine")
    w.scan(second, cases["genuine"], "genuine")  # the same serial on a second project
    w.scan(first, cases["unknown_serial"], "unknown_serial")
    walled = w.qualified_batch(w.product())
    wall = w.project(id="P-WALL")
    w.brief(wall)
    w.deliver("maker", "contractor", walled, "800", to_project=wall)
    w.inspect(wall, walled)
    w.retest(wall, w.sample(wall, walled))
    w.install(wall, walled, "600", "600")
    w.recall(walled)
    ledger.checkpoint()
    return {"world": w, "cases": cases, "first": first, "second": second,
            "wall": wall, "walled": walled}  # fmt: skip


@pytest.fixture
def server(
    tmp_path: Path, store_url: str, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[str]:
    with roles.served(tmp_path, store_url, clock, log_signer) as (url, _):
        yield url


def test_a_cloned_label_says_so_with_its_scan_history(
    browser: Any, evidence: dict[str, Any], server: str
) -> None:
    with roles.phone(browser, server, "evidence") as p:
        page = p.page
        p.goto(label_path(evidence["cases"]["genuine"]))
        alert = page.locator("#alerts [data-alert=clone]")
        assert alert.count() == 1
        text = alert.inner_text()
        assert "克隆" in text and evidence["first"] in text and evidence["second"] in text
        scans = page.locator("#scans [data-scan]")
        assert scans.count() == 2
        history = page.locator("#scans").inner_text()
        assert evidence["first"] in history and evidence["second"] in history
        p.shot("clone")
        assert p.foreign() == []


def test_a_counterfeit_label_shows_no_green_badge(
    browser: Any, evidence: dict[str, Any], server: str
) -> None:
    with roles.phone(browser, server, "evidence") as p:
        page = p.page
        p.goto(label_path(evidence["cases"]["unknown_serial"]))
        banner = page.locator("#verdict")
        assert banner.get_attribute("data-verdict") == "unknown_serial"
        assert banner.locator(".zh").inner_text() == "未登记的序列号"
        main = page.locator("main").inner_text()
        assert "假冒" in page.locator("#alerts").inner_text()
        assert "合格有效 Qualifies" not in main and "无失信记录 Clear" not in main
        assert page.locator("main .pill.ok").count() == 0  # no green badge under the red banner
        p.shot("counterfeit")
        assert p.foreign() == []


def test_a_building_flags_the_wall_holding_a_recalled_batch(
    browser: Any, evidence: dict[str, Any], server: str
) -> None:
    with roles.phone(browser, server, "evidence") as p:
        page = p.page
        p.goto(f"/buildings/{evidence['wall']}")
        flagged = page.locator("#flagged")
        assert "以下墙体含已召回或不合格批次" in flagged.inner_text()
        row = flagged.locator(f"[data-batch='{evidence['walled']}']")
        assert row.count() == 1 and "已召回 recalled" in row.inner_text()
        assert "N1" in row.inner_text()
        p.shot("recalled-wall", check_width=True)
        assert p.foreign() == []


def test_a_listed_manufacturer_on_the_blacklist_page(
    browser: Any, evidence: dict[str, Any], server: str
) -> None:
    w = evidence["world"]
    with roles.phone(browser, server, "evidence") as p:
        page = p.page
        p.goto("/blacklist")
        row = page.locator("main [data-listing]").first
        listed_now_text = row.inner_text()
        assert "浙江测试节能科技有限公司" in listed_now_text and REASON in listed_now_text
        assert REGULATOR in listed_now_text
        p.shot("blacklist")
        row.get_by_role("link").click()
        listing = page.locator("article.listing")
        assert listing.count() == 1 and listing.get_attribute("data-state") == "in_force"
        assert listing.locator(".reason").inner_text() == REASON
        assert REGULATOR in listing.locator(".authority").inner_text()
        assert listing.locator(".decision").inner_text().startswith("XY")
        period = listing.locator(".period").inner_text()
        assert "2026-11-22 至 2028-11-22" in period and "2027-11-22" in period
        assert "未申请信用修复" in listing.locator(".repair").inner_text()
        href = listing.locator("a.document").get_attribute("href")
        assert href == f"/v1/documents/{W.DOC}"
        assert "列入失信名单 Listed" in page.locator("main").inner_text()
        assert w.id("maker2") in page.url
        p.shot("blacklist-listing")
        assert p.foreign() == []


def test_the_blacklist_read_function_words_each_listing(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> None:
    """One read function answers the page and the JSON: reason, authority's name, decision,
    period, in force or expired, repair status."""
    w = W.LabelWorld(ledger, root, signer_for)
    w.trade_parties()
    w.org("maker2", "浙江测试节能科技有限公司", "manufacturer")
    w.listing("maker2")
    with ledger.store.read() as tx:
        (now,) = credit_status(tx, w.id("maker2"), date(2026, 11, 22))
        (later,) = credit_status(tx, w.id("maker2"), date(2028, 11, 22))
        listed = listed_now(tx, date(2026, 11, 22))
        after = listed_now(tx, date(2028, 11, 22))
    (row,) = now["history"]
    assert row["reason"] == REASON and row["authority_name"] == REGULATOR
    assert row["period"] == {"from": "2026-11-22", "until": "2028-11-22",
                             "repair_from": "2027-11-22"}  # fmt: skip
    assert row["state"]["code"] == "in_force" and row["repair_view"]["status"] == "none"
    assert now["current"] == [row] and [s["uscc"] for s in listed] == [w.id("maker2")]
    (old,) = later["history"]
    assert later["status"] == "clear" and old["state"]["code"] == "expired"
    assert old["state"]["zh"] == "已届满（2028-11-22）" and after == []
