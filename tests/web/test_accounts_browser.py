"""People in Chromium on a phone (390 x 844): sign in with a password (the wrong one is
named beside the field), manage the organisation's people as its administrator, sign out;
and /docs and /redoc render with every request kept on the server (no CDN reachable).
Screenshots go to test-artifacts/accounts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser_roles as roles
import pytest
import support

from insutrace.api.deps import Services
from insutrace.trace.clock import FixedClock
from insutrace.trace.note import NoteSigner

P = support._load("insutrace_tests_web_people", "web/people.py")


@pytest.fixture
def server(
    tmp_path: Path, store_url: str, world: Any, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[tuple[str, Services]]:
    with roles.served(tmp_path, store_url, clock, log_signer) as served:
        yield served


def test_an_administrator_signs_in_and_adds_a_person(
    browser: Any, server: tuple[str, Services], world: Any
) -> None:
    base, services = server
    P.person(services, world, "maker", "manufacturer", "zhang.admin", name="张管理", admin=True)
    with roles.phone(browser, base, "accounts", offline=True) as p:
        page = p.page
        roles.sign_in(p, "zhang.admin", "not the password")
        assert page.locator("#error-password").inner_text().startswith("用户名或密码错误")
        p.shot("signin-wrong-password", check_width=True)
        roles.sign_in(p, "zhang.admin")
        p.goto("/account")
        assert "张管理" in page.locator("#whoami").inner_text()
        p.shot("my-account", check_width=True)
        page.get_by_role("link", name="人员管理").click()
        page.fill("input[name=name]", "李质量")
        page.fill("input[name=title]", "质量专员")
        page.fill("input[name=username]", "Li Zhiliang")
        page.get_by_role("button", name="添加 Add").click()
        assert page.locator("#error-username").inner_text().startswith("用户名需 3-32 位")
        page.fill("input[name=username]", "li.zhiliang")
        page.get_by_role("button", name="添加 Add").click()
        assert "已添加 李质量" in page.locator("#done").inner_text()
        password = page.locator("#new-password .mono").inner_text()
        assert page.locator('tr[data-username="li.zhiliang"]').count() == 1
        p.shot("people", check_width=True)
        page.get_by_role("button", name="退出 Sign out").first.click()
        assert page.locator("#nav-account").count() == 0
        # the new person signs in with the password shown once
        roles.sign_in(p, "li.zhiliang", password)
        p.goto("/account")
        assert "李质量 · 质量专员" in page.locator("#whoami").inner_text()
        assert p.foreign() == []


def test_api_docs_render_with_no_network(browser: Any, server: tuple[str, Services]) -> None:
    base, _ = server
    with roles.phone(browser, base, "accounts", offline=True) as p:
        page = p.page
        p.goto("/docs")
        page.wait_for_selector(".opblock", timeout=20000)
        assert "InsuTrace" in page.locator(".info .title").inner_text()
        assert page.locator(".opblock").count() > 20
        p.shot("docs", full=False, check_width=True)
        p.goto("/redoc")
        page.wait_for_selector("h1", timeout=20000)
        assert "InsuTrace" in page.locator("h1").first.inner_text()
        p.shot("redoc", full=False, check_width=True)
        assert p.foreign() == []  # nothing but the app itself was asked for
