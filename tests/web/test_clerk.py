"""The manufacturer's quality clerk and the testing lab in the browser's forms (HTTP level):
each write is an entry naming the person, bad input is named beside its field with nothing
written, and the authorization table refuses another organisation's objects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import support
from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.trace.blobs import sha256_hex
from insutrace.trace.ledger import Ledger

P = support._load("insutrace_tests_web_people", "web/people.py")
W = P.W
PDF = b"%PDF-1.4\n% factory report of a test batch\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
B1 = "B1(B-s1,d0,t1)"


@pytest.fixture
def world(world: Any) -> Any:
    world.org("maker2", "浙江另一保温材料有限公司", "manufacturer")
    return world


@pytest.fixture
def clerk(app: Any, services: Services, world: Any) -> Iterator[TestClient]:
    P.person(services, world, "maker", "manufacturer", "li.zhiliang", name="李质量")
    for client in P.client_for(app):
        P.sign_in(client, "li.zhiliang")
        yield client


def _post(client: TestClient, page: str, action: str, data: dict[str, str], **kw: Any) -> Any:
    return P.post_form(client, page, action, data, **kw)


PRODUCT = {
    "gtin": "06941234500017",
    "name": "挤塑聚苯板",
    "name_en": "XPS board",
    "type": "xps",
    "polymer": "polystyrene",
    "standard": "GB/T 10801.2-2018",
}
BATCH = {
    "product": "06941234500017",
    "lot": "L2026-07",
    "quantity": "1200",
    "unit": "m2",
    "production_date": "2026-11-01",
    "declared_class": B1,
    "conductivity": "0.030",
    "density": "32",
}


def test_the_clerk_registers_a_product_and_a_batch(
    clerk: TestClient, services: Services, ledger: Ledger
) -> None:
    size = ledger.size()
    r = _post(clerk, "/maker", "/maker/products", PRODUCT)
    assert r.status_code == 200 and "已登记产品 06941234500017" in r.text
    assert ledger.entry(size).type == "product.register"
    assert services.accounts.authors([size])[size]["name"] == "李质量"
    r = _post(clerk, "/maker", "/maker/batches", BATCH)
    assert r.status_code == 303
    page = clerk.get(r.headers["location"]).text
    assert "已登记批次" in page and "06941234500017.L2026-07" in page
    assert 'value="SN000001"' in page  # the next free serial is offered
    assert "无有效报告" in clerk.get("/maker").text  # standing from the read model


def test_bad_input_is_named_beside_the_field_and_nothing_is_written(
    clerk: TestClient, ledger: Ledger
) -> None:
    size = ledger.size()
    r = _post(clerk, "/maker", "/maker/products", {**PRODUCT, "gtin": "123"})
    assert r.status_code == 422
    assert 'id="error-gtin">格式不符' in r.text
    assert f'value="{PRODUCT["name"]}"' in r.text  # what was typed is kept
    _post(clerk, "/maker", "/maker/products", PRODUCT)
    size = ledger.size()
    r = _post(clerk, "/maker", "/maker/batches", {**BATCH, "quantity": "lots", "density": ""})
    assert r.status_code == 422
    assert 'id="error-quantity">格式不符' in r.text and 'id="error-density">' in r.text
    r = _post(clerk, "/maker", "/maker/batches", {**BATCH, "declared_class": "B3"})
    assert r.status_code == 422 and "batch.declared_class" in r.text
    assert ledger.size() == size


def test_labels_from_the_next_free_serial_print_and_refuse_unissued_serials(
    clerk: TestClient, world: Any, ledger: Ledger
) -> None:
    batch = world.qualified_batch(world.product())
    page = f"/maker/batches/{batch}"
    r = _post(clerk, page, f"{page}/labels", {"first": "SN000001", "count": "24"})
    assert r.status_code == 303
    shown = clerk.get(page).text
    assert "SN000001 – SN000024 (24)" in shown
    assert 'value="SN000025"' in shown  # the next free serial moved on
    assert ledger.entry(ledger.size() - 1).type == "label.issue"
    r = _post(clerk, page, f"{page}/labels", {"first": "SN000010", "count": "5"})
    assert r.status_code == 422 and "label.overlap" in r.text
    r = _post(clerk, page, f"{page}/labels", {"first": "SN000030", "count": "zero"})
    assert r.status_code == 400 and 'id="error-count">请输入正整数' in r.text
    pdf = clerk.get(f"{page}/labels.pdf", params={"first": "SN000023", "count": 2})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    r = clerk.get(f"{page}/labels.pdf", params={"first": "SN000024", "count": 2})
    assert r.status_code == 400 and "序列号 SN000025 未为本批次发放" in r.text


def test_where_a_batch_went_and_its_recall(clerk: TestClient, world: Any, ledger: Ledger) -> None:
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "dist", batch, "400")
    page = clerk.get(f"/maker/batches/{batch}").text
    assert "南京测试建材贸易有限公司" in page and "400" in page
    size = ledger.size()
    r = _post(clerk, f"/maker/batches/{batch}", f"/maker/batches/{batch}/recall", {"sample": ""})
    assert r.status_code == 400 and 'id="error-sample">' in r.text
    r = _post(clerk, f"/maker/batches/{batch}", f"/maker/batches/{batch}/recall",
              {"sample": "NOPE|WS9"})  # fmt: skip
    assert r.status_code in (404, 422) and ledger.size() == size


def test_the_clerk_uploads_the_report_pdf_and_the_lab_cites_it(
    app: Any, clerk: TestClient, services: Services, world: Any, ledger: Ledger
) -> None:
    batch = world.batch(world.product())
    page = f"/maker/batches/{batch}"
    token = P.csrf(clerk.get(page).text)
    r = clerk.post("/maker/documents", data={"csrf_token": token, "batch": batch},
                   files={"document": ("report.pdf", b"not a pdf", "application/pdf")})  # fmt: skip
    assert r.status_code == 400 and "文件不是 PDF" in r.text
    r = clerk.post("/maker/documents", data={"csrf_token": token, "batch": batch},
                   files={"document": ("report.pdf", PDF, "application/pdf")})  # fmt: skip
    digest = r.text.split('id="uploaded">', 1)[1].split("<", 1)[0]
    assert services.blobs.get(digest) == PDF
    P.person(services, world, "lab", "testing_lab", "zhou.jiance", name="周检测")
    for lab in P.client_for(app):
        P.sign_in(lab, "zhou.jiance")
        form = {"batch": batch, "number": "R2026-00101", "sample": "S1",
                "issued_on": "2026-11-20", "valid_until": "2027-11-19",
                "combustion_class": B1, "conductivity": "0.029", "density": "31"}  # fmt: skip
        size = ledger.size()
        r = _post(lab, "/lab", "/lab/reports", {**form, "sha256": ""})
        assert r.status_code == 400 and 'id="error-document">' in r.text
        r = _post(lab, "/lab", "/lab/reports", {**form, "sha256": digest, "conductivity": "-1"})
        assert r.status_code == 422 and 'id="error-conductivity">' in r.text
        assert ledger.size() == size
        r = _post(lab, "/lab", "/lab/reports", {**form, "sha256": digest})
        assert r.status_code == 200 and "已出具报告 R2026-00101" in r.text, r.text
        entry = ledger.entry(size)
        assert entry.type == "report.issue" and entry.payload["document"] == digest
        assert services.accounts.authors([size])[size]["username"] == "zhou.jiance"
    assert "合格 qualified" in clerk.get("/maker").text


def test_a_lab_report_with_its_pdf_attached_stores_the_pdf_only_when_written(
    app: Any, services: Services, world: Any, ledger: Ledger
) -> None:
    batch = world.batch(world.product())
    P.person(services, world, "lab", "testing_lab", "zhou.jiance")
    other = PDF + b"% second\n"
    for lab in P.client_for(app):
        P.sign_in(lab, "zhou.jiance")
        token = P.csrf(lab.get("/lab").text)
        form = {"csrf_token": token, "batch": batch, "number": "R2026-00102", "sample": "S1",
                "issued_on": "2026-11-20", "valid_until": "2025-01-01",
                "combustion_class": B1, "conductivity": "0.029", "density": "31"}  # fmt: skip
        files = {"document": ("r.pdf", other, "application/pdf")}
        size = ledger.size()
        r = lab.post("/lab/reports", data=form, files=files)
        assert r.status_code == 400
        assert (
            'id="error-valid_until">输入格式不正确' in r.text and "issued_on 2026-11-20" in r.text
        )
        assert not services.blobs.has(sha256_hex(other)) and ledger.size() == size
        r = lab.post("/lab/reports", data={**form, "valid_until": "2027-11-19"}, files=files)
        assert r.status_code == 200, r.text
        assert services.blobs.get(sha256_hex(other)) == other


def test_pages_and_posts_refuse_another_organisations_objects_and_other_roles(
    app: Any, clerk: TestClient, services: Services, world: Any, ledger: Ledger
) -> None:
    gtin = world.product("maker2")
    theirs = world.batch(gtin, maker="maker2")
    r = clerk.get(f"/maker/batches/{theirs}")
    assert r.status_code == 403 and "无法打开此批次" in r.text
    mine = world.batch(world.product())
    size = ledger.size()
    page = f"/maker/batches/{mine}"
    for action, data in (
        (f"/maker/batches/{theirs}/labels", {"first": "SN000001", "count": "10"}),
        (f"/maker/batches/{theirs}/recall", {"sample": "P|S"}),
        ("/maker/batches", {**BATCH, "product": gtin}),
    ):
        r = _post(clerk, page, action, data)
        assert r.status_code == 403, (action, r.status_code)
        assert "无权操作" in r.text or "无法打开此批次" in r.text
    assert ledger.size() == size
    r = clerk.get(f"/maker/batches/{theirs}/labels.pdf", params={"first": "SN000001"})
    assert r.status_code == 403
    # a lab's person may not open or post the clerk's pages, nor the clerk the lab's
    P.person(services, world, "lab", "testing_lab", "zhou.jiance")
    for lab in P.client_for(app):
        P.sign_in(lab, "zhou.jiance")
        assert lab.get("/maker").status_code == 403
        r = _post(lab, "/lab", "/maker/products", PRODUCT)
        assert r.status_code == 403 and "此操作仅供生产企业" in r.text
    assert clerk.get("/lab").status_code == 403
    r = _post(clerk, "/maker", "/lab/reports", {"batch": mine})
    assert r.status_code == 403
    assert ledger.size() == size


def test_reprint_and_void_a_range_as_entries(
    clerk: TestClient, world: Any, ledger: Ledger, services: Services
) -> None:
    batch = world.qualified_batch(world.product())
    page = f"/maker/batches/{batch}"
    assert (
        _post(clerk, page, f"{page}/labels", {"first": "SN000001", "count": "48"}).status_code
        == 303
    )
    size = ledger.size()
    r = _post(
        clerk, page, f"{page}/reprint", {"first": "SN000040", "count": "20", "reason": "卡纸"}
    )
    assert r.status_code == 422 and 'id="error-form">' in r.text
    assert "label.reprint_range" in r.text  # SN000049… were never issued
    r = _post(clerk, page, f"{page}/reprint", {"first": "SN000013", "count": "12", "reason": ""})
    assert r.status_code == 400 and 'id="error-reprint_reason">请填写原因' in r.text
    assert ledger.size() == size
    r = _post(
        clerk,
        page,
        f"{page}/reprint",
        {"first": "SN000013", "count": "12", "reason": "卡纸 printer jam"},
    )
    assert r.status_code == 303
    assert ledger.entry(size).type == "label.reprint"
    assert 'data-reprint="SN000013-SN000024"' in clerk.get(page).text
    r = _post(
        clerk, page, f"{page}/void", {"first": "SN000013", "count": "2", "reason": "损坏 spoiled"}
    )
    assert r.status_code == 303 and ledger.entry(size + 1).type == "label.void"
    r = _post(clerk, page, f"{page}/void", {"first": "SN000014", "count": "1", "reason": "again"})
    assert r.status_code == 422 and "label.voided" in r.text
    assert ledger.size() == size + 2
    # a voided serial is an unknown serial from then on; its neighbour is still genuine
    gtin, lot = batch.split(".")
    voided = clerk.get(f"/01/{gtin}/10/{lot}/21/SN000013", headers={"Accept": "application/json"})
    assert voided.json()["verdict"] == "unknown_serial"
    assert "was voided at entry" in voided.json()["problems"][0]["reason"]
    r = clerk.get(f"{page}/labels.pdf", params={"first": "SN000013", "count": 1})
    assert r.status_code == 400 and "已作废" in r.text
    assert (
        clerk.get(f"{page}/labels.pdf", params={"first": "SN000015", "count": 1}).status_code == 200
    )


def test_reprints_and_voids_export_as_valid_epcis(world: Any, ledger: Ledger) -> None:
    import json

    from insutrace.trace.epcis import export_epcis, validate_epcis

    batch = world.qualified_batch(world.product())
    maker = world["maker"]
    issue = {"schema": 1, "batch": batch, "first": "SN000001", "count": 24,
             "resolver": W.RESOLVER, "key": maker.key_id}  # fmt: skip
    ledger.append("label.issue", issue, maker)
    span = {"schema": 1, "batch": batch, "first": "SN000005", "count": 4}
    ledger.append("label.reprint", {**span, "reason": "卡纸 printer jam"}, maker)
    ledger.append("label.void", {**span, "reason": "损坏 spoiled"}, maker)
    with W.refused("label.void_range"):
        ledger.append("label.void", {**span, "first": "SN000023", "reason": "x"}, maker)
    document = export_epcis(ledger)
    schema = json.loads(support.epcis_schema().read_text(encoding="utf-8"))
    assert validate_epcis(document, schema) == []
    found = [e for e in document["epcisBody"]["eventList"] if "insu:reason" in e]
    assert [(e["action"], e["bizStep"]) for e in found] == [
        ("OBSERVE", "encoding"),
        ("DELETE", "decommissioning"),
    ]


def test_a_supervisor_cannot_record_a_scan_on_another_organisations_project(
    app: Any, services: Services, world: Any, ledger: Ledger
) -> None:
    from insutrace.api.web import label_path

    batch = world.qualified_batch(world.product())
    world.issue(batch)
    theirs = world.project()  # supervised by the world's "supervisor"
    world.org("sup2", "江苏另一监理有限公司", "supervisor")
    P.person(services, world, "sup2", "supervisor", "qian.jianli")
    link = label_path(world.label(batch, "000001"))
    for client in P.client_for(app):
        P.sign_in(client, "qian.jianli")
        token = P.csrf(client.get(link).text)
        size = ledger.size()
        form = {"link": link, "verdict": "genuine", "project": theirs, "csrf_token": token}
        r = client.post("/scan", data=form)
        assert r.status_code == 403
        assert "扫码未记录" in r.text and "无权操作" in r.text  # Chinese first
        assert ledger.size() == size
