"""The quality clerk and the testing lab in Chromium on a phone (390 x 844): the clerk
registers a product (a bad GTIN is named beside its field) and a batch, uploads the factory
report's PDF; the lab issues the report citing it; the clerk sees the batch qualified, issues
labels from the next free serial offered and sees where the batch went. Screenshots go to
test-artifacts/clerk/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser_roles as roles
import pytest
import support

from insutrace.api.deps import Services
from insutrace.trace.clock import FixedClock
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner

P = support._load("insutrace_tests_web_people", "web/people.py")
PDF = b"%PDF-1.4\n% factory report\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def server(
    tmp_path: Path, store_url: str, world: Any, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[tuple[str, Services]]:
    with roles.served(tmp_path, store_url, clock, log_signer) as served:
        yield served


def test_the_clerk_and_the_lab_on_a_phone(
    browser: Any, server: tuple[str, Services], world: Any, ledger: Ledger, tmp_path: Path
) -> None:
    base, services = server
    P.person(services, world, "maker", "manufacturer", "li.zhiliang", name="李质量")
    P.person(services, world, "lab", "testing_lab", "zhou.jiance", name="周检测")
    with (
        roles.phone(browser, base, "clerk", offline=True) as clerk,
        roles.phone(browser, base, "clerk", offline=True) as lab,
    ):
        _journey(clerk, lab, world, tmp_path)
    assert clerk.foreign() == [] and lab.foreign() == []
    writes = [ledger.entry(s) for s in range(ledger.size())]
    mine = [
        e.seq for e in writes if e.type in ("product.register", "batch.register", "label.issue")
    ]
    authors = services.accounts.authors(mine)
    assert {a["username"] for a in authors.values()} == {"li.zhiliang"} and len(authors) == 3


def _journey(clerk: roles.Phone, lab_phone: roles.Phone, world: Any, tmp_path: Path) -> None:
    page, lab = clerk.page, lab_phone.page
    roles.sign_in(clerk, "li.zhiliang")
    clerk.goto("/maker")
    page.fill("form[action='/maker/products'] input[name=gtin]", "06941234500018")
    page.fill("form[action='/maker/products'] input[name=name]", "挤塑聚苯板")
    page.fill("form[action='/maker/products'] input[name=standard]", "GB/T 10801.2-2018")
    page.select_option("form[action='/maker/products'] select[name=type]", "xps")
    page.get_by_role("button", name="登记产品 Register product").click()
    assert "[product.gtin" in page.locator("#error-gtin").inner_text()
    clerk.shot("product-bad-gtin", check_width=True)
    page.fill("form[action='/maker/products'] input[name=gtin]", "06941234500017")
    page.get_by_role("button", name="登记产品 Register product").click()
    assert "已登记产品 06941234500017" in page.locator("#done").inner_text()
    form = "form[action='/maker/batches']"
    page.select_option(f"{form} select[name=product]", "06941234500017")
    for name, value in (("lot", "L2026-07"), ("quantity", "1200"),
                        ("declared_class", "B1(B-s1,d0,t1)"), ("conductivity", "0.030"),
                        ("density", "32")):  # fmt: skip
        page.fill(f"{form} input[name={name}]", value)
    page.fill(f"{form} input[name=production_date]", "2026-11-01")
    page.get_by_role("button", name="登记批次 Register batch").click()
    batch = "06941234500017.L2026-07"
    assert "已登记批次" in page.locator("#done").inner_text()
    assert page.locator("#next-serial").input_value() == "SN000001"
    pdf = tmp_path / "factory-report.pdf"
    pdf.write_bytes(PDF)
    page.set_input_files("#reports input[name=document]", str(pdf))
    page.locator("#reports").get_by_role("button", name="上传 Upload").click()
    digest = page.locator("#uploaded").inner_text()
    assert len(digest) == 64
    clerk.shot("batch-uploaded", check_width=True)
    # the lab, on another phone
    roles.sign_in(lab_phone, "zhou.jiance")
    lab_phone.goto("/lab")
    report = "#report"
    for name, value in (("batch", batch), ("number", "R2026-00101"), ("sample", "S1"),
                        ("combustion_class", "B1(B-s1,d0,t1)"), ("conductivity", "0.029"),
                        ("density", "31"), ("sha256", digest)):  # fmt: skip
        lab.fill(f"{report} input[name={name}]", value)
    lab.fill(f"{report} input[name=issued_on]", "2026-11-20")
    lab.fill(f"{report} input[name=valid_until]", "2026-11-01")
    lab.get_by_role("button", name="出具报告 Issue report").click()
    assert "issued_on 2026-11-20" in lab.locator("#error-valid_until").inner_text()
    lab_phone.shot("lab-report-refused", check_width=True)
    lab.fill(f"{report} input[name=valid_until]", "2027-11-19")
    lab.get_by_role("button", name="出具报告 Issue report").click()
    assert "已出具报告 R2026-00101" in lab.locator("#done").inner_text()
    lab_phone.shot("lab-report-issued", check_width=True)
    # back to the clerk: qualified, labels from the next free serial
    clerk.goto(f"/maker/batches/{batch}")
    assert "R2026-00101" in page.locator("#standing").inner_text()
    page.fill("#labels input[name=count]", "24")
    page.get_by_role("button", name="发放序列号 Issue serials").click()
    assert "SN000001 – SN000024 (24)" in page.locator("#labels").inner_text()
    assert page.locator("#next-serial").input_value() == "SN000025"
    world.deliver("maker", "dist", batch, "400")
    page.reload()
    assert "南京测试建材贸易有限公司" in page.locator("#where").inner_text()
    clerk.shot("batch", check_width=True)
    clerk.goto("/maker")
    assert "合格 qualified" in page.locator(f'tr[data-batch="{batch}"]').inner_text()
    clerk.shot("maker-home", check_width=True)
