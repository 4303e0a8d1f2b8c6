"""The rule catalogue page (/rules) in a real browser on a phone: which policy versions carry
the offline window (cn-national-2025 2026.3 from 2026-12-03 and 2027.1 from 2027-01-02,
not 2026.2, in force on 2027-01-01 alone; docs/offline.md), readable at the phone's width,
nothing fetched from elsewhere. Screenshot in test-artifacts/rules/.

Without /usr/bin/chromium or Playwright the test skips with a one-line reason, unless
INSUTRACE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

from pathlib import Path

import browser_roles as roles

from insutrace.trace.clock import FixedClock
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner


def test_the_rules_page_names_the_versions_carrying_the_window(
    tmp_path: Path, store_url: str, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner
) -> None:
    with (
        roles.served(tmp_path, store_url, clock, log_signer) as (url, _),
        roles.chromium() as browser,
        roles.phone(browser, url, "rules") as p,
    ):
        assert p.goto("/rules").status == 200
        rule = p.page.locator('article[id="entry.offline_window"]')
        rule.scroll_into_view_if_needed()
        text = str(rule.inner_text())
        assert "离线签署的声明须在签署后 72 小时内提交" in text
        assert text.index("政策版本") < text.index("Policy versions")
        assert "cn-national-2025 2027.1（2027-01-02 起 from 2027-01-02）" in text
        assert "cn-national-2025 2026.3（2026-12-03 起 from 2026-12-03）" in text
        assert "2026.2" not in text
        p.folder.mkdir(parents=True, exist_ok=True)
        rule.screenshot(path=str(p.folder / "offline-window.png"))
        assert p.fits() and p.foreign() == []
