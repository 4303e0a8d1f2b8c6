"""Labels through the API: the resolver's six verdicts (JSON and the phone page), bad input,
scans by token and by the page's form, clone alerts for regulators, label.issue refusals,
the wall plate PDF and the web pages. SQLite and PostgreSQL; the ledger is re-verified and
rebuilt after every test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import support
from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.api.label_routes import prefers_json
from insutrace.api.web import label_path
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

W = support.label_world()
JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
MEASURES = ["door_window_fire_integrity", "fire_barrier_belt", "protective_layer"]


@pytest.fixture
def lw(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> Any:
    w = W.LabelWorld(ledger, root, signer_for)
    w.trade_parties(name_en="Jiangsu Test Insulation Co., Ltd.")
    w.site_parties()
    return w


def login(services: Services, w: Any, key: str, role: str, hold: bool = True) -> dict[str, str]:
    """An account (and, with ``hold``, a server-held key) for the world's organisation."""
    _, token = services.accounts.create_account(w.id(key), role, f"{role} staff 张三")
    if hold:
        services.accounts.store_key(services.require_vault(), w[key])
    return {"Authorization": f"Bearer {token}"}


def page(payload: str) -> str:
    return label_path(payload)


def test_accept_header_negotiation() -> None:
    assert prefers_json("application/json")
    assert prefers_json("application/json, text/html;q=0.5")
    assert not prefers_json(BROWSER["Accept"])
    assert not prefers_json("*/*")
    assert not prefers_json("")
    assert not prefers_json("text/html, application/json")


def test_public_verify_gives_the_resolvers_verdict(client: TestClient, lw: Any) -> None:
    """GET /v1/public/labels/verify and the resolver answer from one function: for each of
    the six verdicts the two JSON bodies are equal, and none says "genuine" for a label
    whose signature verifies but whose serial was never issued."""
    cases = lw.six_cases()
    lw.deliver("maker", "dist", _batch(cases), "100")
    for verdict, payload in cases.items():
        public = client.get("/v1/public/labels/verify", params={"payload": payload})
        assert public.status_code == 200, public.text
        assert public.json() == client.get(page(payload), headers=JSON).json()
        assert public.json()["verdict"] == verdict and "genuine" not in public.json()


def test_six_verdicts_as_json(client: TestClient, lw: Any) -> None:
    cases = lw.six_cases()
    lw.deliver("maker", "dist", _batch(cases), "100")
    for verdict, payload in cases.items():
        r = client.get(page(payload), headers=JSON)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["verdict"] == verdict, body["problems"]
        assert body["ok"] is (verdict == "genuine")
    body = client.get(page(cases["genuine"]), headers=JSON).json()
    assert body["product"]["name"] == "挤塑聚苯乙烯泡沫塑料板"
    assert body["manufacturer"]["name_en"] == "Jiangsu Test Insulation Co., Ltd."
    assert body["report"]["lab_name"] == "江苏省测试建设工程质量检测中心有限公司"
    assert body["report"]["cma"] == "231502280012" and body["report"]["qualifies"] is True
    assert [(h["from"]["name"], h["to"]["name"]) for h in body["custody"]] == [
        ("江苏测试保温材料有限公司", "南京测试建材贸易有限公司")
    ]
    assert body["label"]["uri"] == cases["genuine"].split("?")[0]
    assert body["issued"]["count"] == 24
    listed = client.get(page(cases["blacklisted"]), headers=JSON).json()
    assert "ndrc_serious list" in listed["manufacturer"]["listings"][0]


def _batch(cases: dict[str, str]) -> str:
    fields = W.scan_fields(cases["genuine"])
    return f"{fields['gtin']}.{fields['lot']}"


def test_the_phone_page_shows_each_verdict(client: TestClient, lw: Any) -> None:
    cases = lw.six_cases()
    titles = {
        "genuine": "正品：已在账本登记",
        "unknown_serial": "未登记的序列号",
        "bad_signature": "签名无效",
        "recalled": "批次已召回",
        "not_qualified": "无有效检验报告",
        "blacklisted": "生产企业列入失信名单",
    }
    for verdict, payload in cases.items():
        r = client.get(page(payload), headers=BROWSER)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert f'data-verdict="{verdict}"' in r.text
        assert titles[verdict] in r.text
    assert "Sign in" in r.text  # no account: the scan form asks to sign in


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda p: p.replace("/01/0690", "/01/0691", 1), "gtin check digit"),
        (lambda p: p.replace("/21/000001", "/21/" + quote("序列"), 1), "CSET 82"),
        (lambda p: p.replace("/21/000001", "/21/" + "1" * 21, 1), "1-20 characters"),
        (lambda p: p.split("&s=")[0] + "&s=short", "86 base64url"),
        (lambda p: p.split("?")[0] + "?k=abc", "come together"),
    ],
)
def test_bad_input_is_a_clear_error(
    client: TestClient, lw: Any, mangle: Callable[[str], str], message: str
) -> None:
    batch = lw.qualified_batch(lw.product())
    lw.issue(batch)
    path = mangle(page(lw.label(batch, "000001")))
    r = client.get(path, headers=JSON)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert message in r.json()["detail"]
    html = client.get(path, headers=BROWSER)
    assert html.status_code == 400 and "无法识别的标识" in html.text


def test_an_unregistered_gtin_is_an_unknown_serial(client: TestClient, lw: Any) -> None:
    from insutrace.labels.codec import sign_label

    maker = lw["maker"]
    uri = f"https://{W.RESOLVER}/01/09506000134352/10/L1/21/000001"
    payload = sign_label(uri, maker.key_id, maker.private_key)
    body = client.get(page(payload), headers=JSON).json()
    assert body["verdict"] == "unknown_serial" and body["product"] is None
    assert body["problems"][0]["reason"] == "no batch 09506000134352.L1 is in the ledger"
    html = client.get(page(payload), headers=BROWSER)
    assert html.status_code == 200 and 'data-verdict="unknown_serial"' in html.text


def test_a_lot_with_an_encoded_slash_resolves(client: TestClient, lw: Any) -> None:
    batch = lw.qualified_batch(lw.product(), lot="L26/07")
    lw.issue(batch)
    payload = lw.label(batch, "000001")
    assert "/10/L26%2F07/" in payload
    assert client.get(page(payload), headers=JSON).json()["verdict"] == "genuine"


def two_projects_and_a_label(
    lw: Any, services: Services
) -> tuple[str, str, str, dict[str, str], str]:
    """A qualified batch with three labels issued, two projects, a supervisor's token, and
    the payload of label 000002: (batch, project 1, project 2, token header, payload)."""
    batch = lw.qualified_batch(lw.product())
    lw.issue(batch, count=3)
    p1, p2 = lw.project(), lw.project()
    supervisor = login(services, lw, "supervisor", "supervisor")
    return batch, p1, p2, supervisor, lw.label(batch, "000002")


def test_scans_by_token_raise_clone_alerts_for_regulators(
    client: TestClient, lw: Any, services: Services, ledger: Ledger
) -> None:
    _, p1, p2, supervisor, payload = two_projects_and_a_label(lw, services)
    r = client.post(page(payload), json={"project": p1, "verdict": "genuine"}, headers=supervisor)
    assert r.status_code == 201, r.text
    entry = ledger.entry(r.json()["seq"])
    assert entry.type == "label.scan" and entry.actor == lw.id("supervisor")
    assert entry.payload["by"] == "supervisor staff 张三"
    r = client.post(page(payload), json={"project": p2, "verdict": "genuine"}, headers=supervisor)
    assert r.status_code == 201
    lw.authorities()
    regulator = login(services, lw, "regulator", "regulator", hold=False)
    found = client.get("/v1/alerts", headers=regulator).json()
    assert [(a["kind"], a["serial"], a["projects"]) for a in found] == [
        ("clone", "000002", sorted([p1, p2]))
    ]
    assert client.get("/v1/alerts?kind=overscan", headers=regulator).json() == []
    maker = login(services, lw, "maker", "manufacturer", hold=False)
    assert client.get("/v1/alerts", headers=maker).status_code == 403
    assert client.get("/v1/alerts").status_code == 401


def test_a_cloned_label_warns_first_and_lists_its_scans(
    client: TestClient, lw: Any, services: Services
) -> None:
    batch, p1, p2, supervisor, payload = two_projects_and_a_label(lw, services)
    fresh = client.get(page(payload), headers=BROWSER).text
    assert "正品：已在账本登记" in fresh and "尚无扫码记录" in fresh and 'id="alerts"' not in fresh
    seqs = []
    for project in (p1, p2):
        r = client.post(page(payload), json={"project": project, "verdict": "genuine"},
                        headers=supervisor)  # fmt: skip
        seqs.append(r.json()["seq"])
    body = client.get(page(payload), headers=JSON).json()
    assert body["verdict"] == "genuine"  # the signature and the batch are sound ...
    assert [(a["kind"], a["projects"]) for a in body["alerts"]] == [("clone", sorted([p1, p2]))]
    assert [(s["project"], s["seq"]) for s in body["scans"]] == [(p1, seqs[0]), (p2, seqs[1])]
    assert all(s["date"] == W.TODAY for s in body["scans"])
    html = client.get(page(payload), headers=BROWSER).text  # ... but the page warns first
    assert "疑似克隆标识" in html and "正品：已在账本登记" not in html
    assert 'class="banner warn"' in html and 'data-alert="clone"' in html
    assert html.index('id="alerts"') < html.index("产品 <span")
    assert f'data-scan="{seqs[0]}"' in html and f'data-scan="{seqs[1]}"' in html
    assert "合格有效 Qualifies" not in html and 'pill ok">无失信记录' not in html
    other = client.get(page(lw.label(batch, "000001")), headers=BROWSER).text
    assert "正品：已在账本登记" in other and "合格有效 Qualifies" in other


def test_no_green_badge_stands_under_a_red_verdict(client: TestClient, lw: Any) -> None:
    cases = lw.six_cases()
    for verdict, payload in cases.items():
        html = client.get(page(payload), headers=BROWSER).text
        green = "合格有效 Qualifies" in html or 'pill ok">无失信记录' in html
        assert green is (verdict == "genuine"), verdict


def test_a_refused_scan_records_nothing(
    client: TestClient, lw: Any, services: Services, ledger: Ledger
) -> None:
    batch = lw.qualified_batch(lw.product())
    lw.issue(batch)
    project = lw.project()
    supervisor = login(services, lw, "supervisor", "supervisor")
    payload = lw.label(batch, "000001")
    size = ledger.size()
    r = client.post(page(payload), json={"project": project, "verdict": "recalled"},
                    headers=supervisor)  # fmt: skip
    assert r.status_code == 422 and r.json()["rule"] == "scan.verdict"
    maker = login(services, lw, "maker", "manufacturer")
    r = client.post(page(payload), json={"project": project, "verdict": "genuine"}, headers=maker)
    assert r.status_code == 403
    r = client.post(page(payload), json={"project": project, "verdict": "genuine"})
    assert r.status_code == 401
    assert ledger.size() == size


def test_the_page_form_records_a_scan_for_a_signed_in_supervisor(
    client: TestClient, lw: Any, services: Services, ledger: Ledger
) -> None:
    batch = lw.qualified_batch(lw.product())
    lw.issue(batch)
    project = lw.project()
    login(services, lw, "supervisor", "supervisor")  # the organisation's server-held key
    services.accounts.create_person(
        lw.id("supervisor"), "supervisor", "赵监理", "zhao.jianli", "correct horse battery"
    )
    link = page(lw.label(batch, "000001"))
    form = {"link": link, "verdict": "genuine", "project": project}
    r = client.post("/scan", data=form, follow_redirects=False)
    assert r.status_code == 403 and "sign in first" in r.text
    r = client.post("/signin", data={"username": "zhao.jianli", "password": "wrong password"})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    signin = {"username": "zhao.jianli", "password": "correct horse battery", "next": link}
    r = client.post("/signin", data=signin, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == link
    shown = client.get(link).text
    assert "记录扫码 Record scan" in shown
    r = client.post("/scan", data=form, follow_redirects=False)
    assert r.status_code == 403, "a post without the form's CSRF token is refused"
    form["csrf_token"] = shown.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post("/scan", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    seq = ledger.size() - 1
    assert r.headers["location"] == f"{link}&recorded={seq}"
    assert ledger.entry(seq).type == "label.scan"
    assert ledger.entry(seq).payload["by"] == "赵监理"
    assert services.accounts.authors([seq])[seq]["username"] == "zhao.jianli"
    shown = client.get(r.headers["location"]).text
    assert f"账本条目 #{seq}" in shown
    assert f'value="{project}"' in shown  # the project is remembered
    r = client.post("/scan", data=form, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert client.post("/signin", data={**signin, "next": "//evil.example/"},
                       follow_redirects=False).headers["location"] == "/"  # fmt: skip


def test_label_issue_through_the_api(
    client: TestClient, lw: Any, services: Services, ledger: Ledger
) -> None:
    batch = lw.qualified_batch(lw.product())
    lw.org("maker2", "浙江测试节能科技有限公司", "manufacturer")
    other = login(services, lw, "maker2", "manufacturer")
    maker = login(services, lw, "maker", "manufacturer")
    payload = {"schema": 1, "batch": batch, "first": "000001", "count": 24,
               "resolver": W.RESOLVER, "key": lw["maker"].key_id}  # fmt: skip
    size = ledger.size()
    r = client.post("/v1/label.issue", json=payload, headers=other)
    assert r.status_code == 403 and "not the manufacturer of batch" in r.json()["detail"]
    r = client.post("/v1/label.issue", json={**payload, "first": "序号1"}, headers=maker)
    assert r.status_code == 422 and r.json()["rule"] == "label.serial"
    r = client.post("/v1/entries", content=_tamper_sig(lw_signed(lw, ledger, payload)),
                    headers=maker)  # fmt: skip
    assert r.status_code == 422 and r.json()["type"].endswith("verification-failed")
    assert ledger.size() == size
    r = client.post("/v1/label.issue", json=payload, headers=maker)
    assert r.status_code == 201, r.text


def lw_signed(lw: Any, ledger: Ledger, payload: dict[str, Any]) -> bytes:
    from insutrace.trace.clock import format_time
    from insutrace.trace.entry import Entry

    with ledger.store.read() as tx:
        size, leaf = tx.head()
    entry = Entry(seq=size, type="label.issue", actor=lw.id("maker"), key=lw["maker"].key_id,
                  time=format_time(ledger.clock.now()), prev=leaf.hex(), payload=payload)  # fmt: skip
    return entry.signed(lw["maker"]).to_bytes()


def _tamper_sig(data: bytes) -> bytes:
    head, sig = data.split(b'"sig":"')
    flipped = b"B" if sig[:1] != b"B" else b"C"
    return head + b'"sig":"' + flipped + sig[1:]


def test_wall_plate_pdf_of_an_accepted_facade(
    client: TestClient, lw: Any, services: Services
) -> None:
    batch = lw.qualified_batch(lw.product())
    project = lw.project()
    owner = login(services, lw, "owner", "building_owner", hold=False)
    r = client.get(f"/v1/buildings/{project}/plate.pdf", headers=owner)
    assert r.status_code == 422 and r.json()["rule"] == "plate.finished"
    lw.brief(project)
    lw.on_site(project, batch)
    lw.install(project, batch, "600", "600")
    lw.accept(project, "supervisor", MEASURES)
    lw.accept(project, "owner")
    r = client.get(f"/v1/buildings/{project}/plate.pdf", headers=owner)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert (
        client.get(f"/v1/buildings/{project}/plate.pdf?facade=south", headers=owner).status_code
        == 404
    )
    maker = login(services, lw, "maker", "manufacturer", hold=False)
    assert client.get(f"/v1/buildings/{project}/plate.pdf", headers=maker).status_code == 403
    public = client.get(f"/buildings/{project}")
    assert public.status_code == 200 and "北立面 外墙外保温" in public.text
    assert "江苏测试保温材料有限公司" in public.text


def test_building_page_json_and_plate_flag_a_recalled_wall(
    client: TestClient, lw: Any, services: Services, ledger: Ledger
) -> None:
    from insutrace.api.plates import RECALLED, plate_content
    from insutrace.trace.domain.fields import local_date

    batch = lw.qualified_batch(lw.product())
    project = lw.project()
    lw.brief(project)
    lw.on_site(project, batch)
    lw.install(project, batch, "600", "600")
    lw.accept(project, "supervisor", MEASURES)
    lw.accept(project, "owner")
    owner = login(services, lw, "owner", "building_owner", hold=False)
    sound = client.get(f"/v1/buildings/{project}", headers=owner).json()
    assert sound["flagged"] == [] and [w["batch"] for w in sound["walls"]] == [batch]
    assert 'id="flagged"' not in client.get(f"/buildings/{project}").text
    lw.recall(batch)
    body = client.get(f"/v1/buildings/{project}", headers=owner).json()
    (flagged,) = body["flagged"]
    assert (flagged["batch"], flagged["section"]) == (batch, "N1")
    assert flagged["recalled"]["reason"] == "fraud"
    page_text = client.get(f"/buildings/{project}").text
    assert 'id="flagged"' in page_text and f'data-batch="{batch}"' in page_text
    assert "已召回 recalled" in page_text
    assert page_text.index('id="flagged"') < page_text.index("北立面 外墙外保温")
    with ledger.store.read() as tx:
        day = local_date(ledger.clock.now())
        plate = plate_content(tx, project, None, "id.example.cn", day)
    assert [row.product.startswith(RECALLED) for row in plate.rows] == [True]
    assert client.get(f"/v1/buildings/{project}/plate.pdf", headers=owner).status_code == 200


def test_building_page_and_json_show_open_rectification_orders(
    client: TestClient, lw: Any, services: Services
) -> None:
    lw.authorities()
    facade = {"facade": "north", "position": "external_wall", "insulation_type": "eps",
              "class": "B2", "manufacturer": "不详", "installed_year": 2011, "area_m2": "2100"}  # fmt: skip
    survey = {"id": "GL-1", "name": "颐和苑小区3号楼", "owner": lw.id("owner"),
              "address": "江苏省南京市鼓楼区湖南路8号", "use": "residential", "height_m": "54.3",
              "survey": {"date": W.TODAY, "surveyor": "江苏某检测中心", "document": W.DOC},
              "facades": [facade]}  # fmt: skip
    lw.add("building.register_survey", survey, lw["owner"])
    defect = {"id": "D1", "kind": "detachment", "facade": "north", "location": "12层",
              "severity": "critical"}  # fmt: skip
    lw.add("building.inspect", {"building": "GL-1", "date": W.TODAY, "inspector": "安全员 郑华",
           "facades": ["north"], "document": W.DOC, "defects": [defect]}, lw["owner"])  # fmt: skip
    lw.add("rectification.order", {"building": "GL-1", "number": "ZG-1", "date": W.TODAY,
           "deadline": "2027-01-06", "defects": ["D1"], "measures": "按A级材料修复"},
           lw["regulator"])  # fmt: skip
    owner = login(services, lw, "owner", "building_owner", hold=False)
    body = client.get("/v1/buildings/GL-1", headers=owner).json()
    assert [(o["number"], o["deadline"], o["overdue"]) for o in body["rectifications"]] == [
        ("ZG-1", "2027-01-06", False)
    ]
    page_text = client.get("/buildings/GL-1").text
    assert 'id="rectifications"' in page_text and 'data-order="ZG-1"' in page_text
    assert "2027-01-06" in page_text and "整改中 open" in page_text


def test_home_check_and_blacklist_pages(client: TestClient, lw: Any, ledger: Ledger) -> None:
    cases = lw.six_cases()
    home = client.get("/")
    assert home.status_code == 200 and "建筑保温材料追溯账本" in home.text
    assert f'<div class="stat" id="log-size">{ledger.size()}</div>' in home.text
    for link in ("/check", "/blacklist", "/log/checkpoint", "/docs"):
        assert f'href="{link}"' in home.text
    r = client.get("/check", params={"payload": cases["genuine"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == page(cases["genuine"])
    r = client.get("/check", params={"payload": "not a label"})
    assert r.status_code == 400 and "Not a label payload" in r.text
    listed = client.get("/blacklist")
    assert "浙江测试节能科技有限公司" in listed.text
    one = client.get("/blacklist", params={"q": lw.id("maker2")})
    assert "列入失信名单 Listed" in one.text and "严重失信 NDRC serious" in one.text
    clear = client.get("/blacklist", params={"q": "江苏测试保温"})
    assert "无在效记录 Clear" in clear.text


def test_a_printed_sheet_scans_back_to_genuine(client: TestClient, lw: Any) -> None:
    """The whole path for real: labels issued in the ledger, printed on an A4 sheet and as a
    PNG, decoded with zxing-cpp, the URI parsed (GTIN check digit), the signature verified
    against the manufacturer's key from the log, and the resolver says genuine."""
    import io
    from datetime import date
    from decimal import Decimal

    import pypdfium2  # type: ignore[import-untyped]
    import zxingcpp
    from PIL import Image

    from insutrace.labels.codec import parse_label_uri, split_label, verify_label
    from insutrace.labels.model import LabelContent
    from insutrace.labels.render import label_png, label_sheet_pdf
    from insutrace.trace.keys import decode_public

    batch = lw.qualified_batch(lw.product())
    lw.issue(batch, first="SN000001", count=26)
    gtin, lot = batch.split(".")
    contents = [
        LabelContent(
            product_name_zh="挤塑聚苯乙烯泡沫塑料板", product_name_en="XPS board",
            insulation_type="挤塑聚苯板 XPS", combustion_class="B1(B-s1,d0,t1)",
            thermal_conductivity=Decimal("0.032"), manufacturer_name="江苏测试保温材料有限公司",
            manufacturer_uscc=lw.id("maker"), lot=lot, serial=f"SN{n:06d}",
            production_date=date(2026, 11, 1), factory_report_no="R00003",
            lab_cma_no="231502280012", payload=lw.label(batch, f"SN{n:06d}"),
        )
        for n in range(1, 27)
    ]  # fmt: skip
    document = pypdfium2.PdfDocument(label_sheet_pdf(contents))
    pages = [page.render(scale=200 / 72, grayscale=True).to_pil() for page in document]
    document.close()
    pages.append(Image.open(io.BytesIO(label_png(contents[0]))))
    formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    scanned = [b.text for image in pages for b in zxingcpp.read_barcodes(image, formats=formats)]
    assert len(scanned) == 27 and set(scanned) == {c.payload for c in contents}
    with lw.ledger.store.read() as tx:
        public = decode_public(tx.get("key", lw["maker"].key_id)["public"])
    for payload in scanned:
        uri, key_id, _ = split_label(payload)
        assert key_id == lw["maker"].key_id
        link = parse_label_uri(uri)  # checks the GTIN check digit, CSET 82, lengths
        assert (link.gtin, link.lot, link.resolver) == (gtin, lot, W.RESOLVER)
        assert verify_label(payload, public) == uri
        assert client.get(page(payload), headers=JSON).json()["verdict"] == "genuine"
