"""The resolver's pages in a real browser: Chromium (/usr/bin/chromium via Playwright) on
a phone-sized viewport opens a product's and a lot's GS1 Digital Link on a uvicorn server,
follows the resolver's redirect and reads what the product and lot pages say (Chinese
first). Screenshots go to test-artifacts/resolver/.

Skips with a one-line reason without Chromium or Playwright, unless
INSUTRACE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import browser_roles as roles
import pytest
import support

from insutrace.trace.clock import FixedClock
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner

W = support.label_world()


@pytest.fixture
def seeded(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> dict[str, str]:
    w = W.LabelWorld(ledger, root, signer_for)
    w.trade_parties(name_en="Jiangsu Test Insulation Co., Ltd.")
    gtin = w.product(name_en="XPS board")
    good = w.qualified_batch(gtin)
    w.deliver("maker", "dist", good, "400")
    recalled = w.qualified_batch(gtin)
    w.recall(recalled)
    ledger.checkpoint()
    return {"gtin": gtin, "good": good.split(".", 1)[1], "recalled": recalled.split(".", 1)[1]}


@pytest.fixture
def base(
    tmp_path: Path, store_url: str, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[str]:
    with roles.served(tmp_path, store_url, clock, log_signer) as (url, _):
        yield url


def test_product_and_lot_links_on_a_phone(browser: Any, seeded: dict[str, str], base: str) -> None:
    with roles.phone(browser, base, "resolver") as p:
        page = p.page
        gtin = seeded["gtin"]

        page.goto(f"{base}/01/{gtin}")
        assert page.url == f"{base}/pages/01/{gtin}"
        assert page.locator("#product-name").inner_text().startswith("挤塑聚苯乙烯泡沫塑料板")
        rows = page.locator("#lots tr[data-lot]")
        assert rows.count() == 2
        recalled_row = page.locator(f'#lots tr[data-lot="{seeded["recalled"]}"]')
        assert "已召回 Recalled" in recalled_row.inner_text()
        assert p.fits()
        p.shot("product")

        page.locator(f'#lots tr[data-lot="{seeded["good"]}"] a').click()
        assert page.url == f"{base}/pages/01/{gtin}/10/{seeded['good']}"
        assert page.locator("#standing").get_attribute("data-standing") == "qualified"
        assert page.locator("#standing .zh").inner_text() == "检验报告有效"
        assert "合格有效 Qualifies" in page.locator("#report").inner_text()
        hops = page.locator("#custody li")
        assert hops.count() == 1 and "南京测试建材贸易有限公司" in hops.inner_text()
        assert p.fits()
        p.shot("lot")

        page.goto(f"{base}/01/{gtin}/10/{seeded['recalled']}")
        assert page.locator("#standing .zh").inner_text() == "批次已召回"
        assert "fraud" in page.locator("#standing").inner_text()
        p.shot("lot-recalled")

        page.goto(f"{base}/01/{gtin}/10/L1/22/X")
        assert "无法识别的标识" in page.locator("main").inner_text()
        assert p.foreign() == []
