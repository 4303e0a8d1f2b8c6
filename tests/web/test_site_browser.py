"""The site supervisor's journey on a phone (390 x 844) in Chromium: my projects, the
project's checklist from the permit gate's own evaluation, a delivery session that scans
labels one after another and records the scans with the arrival inspection (quantity,
discrepancy, a photo) in one go — also with the network gone and back — witnessed
sampling, and every page and post refused to another organisation's supervisor."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser_roles as roles
import pytest
import support

from insutrace.api.deps import Services
from insutrace.api.label_routes import VERDICT_TEXT
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain.fields import local_date
from insutrace.trace.domain.gate import evaluate
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner

W = support.label_world()
PROJECT = "P-NJ-2026-018"


def _png(width: int = 8, height: int = 8) -> bytes:
    """A small grey PNG (ISO/IEC 15948), written here so the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def world(ledger: Ledger, root: Signer, signer_for: Any) -> dict[str, Any]:
    w = W.LabelWorld(ledger, root, signer_for)
    w.trade_parties(name_en="Jiangsu Test Insulation Co., Ltd.")
    cases = w.six_cases()
    genuine = W.scan_fields(cases["genuine"])
    batch = f"{genuine['gtin']}.{genuine['lot']}"
    w.project(id=PROJECT)
    w.deliver("maker", "dist", batch, "400")
    w.deliver("dist", "contractor", batch, "300", to_project=PROJECT)
    w.org("supervisor2", "上海其他工程监理有限公司", "supervisor")
    ledger.checkpoint()
    return {"w": w, "cases": cases, "batch": batch}


@pytest.fixture
def server(
    tmp_path: Path, store_url: str, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner,
    world: dict[str, Any],
) -> Iterator[tuple[str, Services]]:  # fmt: skip
    with roles.served(tmp_path, store_url, clock, log_signer) as served:
        yield served


def _qr_video(path: Path, text: str, width: int = 640, height: int = 480) -> Path:
    """A few frames of ``text`` as a QR code (ISO/IEC 18004, by ``qrcode``) in a YUV4MPEG2
    file: what Chromium's fake camera (``--use-file-for-fake-video-capture``) films."""
    import qrcode

    code = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    cell = min(width, height) // len(matrix)
    left, top = (width - cell * len(matrix)) // 2, (height - cell * len(matrix)) // 2
    luma = bytearray(b"\xff" * (width * height))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(cell):
                    start = (top + y * cell + dy) * width + left + x * cell
                    luma[start : start + cell] = b"\x00" * cell
    chroma = b"\x80" * (width // 2 * height // 2)
    frame = b"FRAME\n" + bytes(luma) + chroma + chroma
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode() + frame * 5)
    return path


def _label_link(world: dict[str, Any], serial: str) -> str:
    w = world["w"]
    return str(w.label(world["batch"], serial))


def _types_since(ledger: Ledger, size: int) -> list[str]:
    return [ledger.entry(seq).type for seq in range(size, ledger.size())]


def test_my_projects_and_the_checklist_from_the_gate(
    world: dict[str, Any], server: tuple[str, Services], ledger: Ledger
) -> None:
    base, services = server
    token = roles.account(services, world["w"]["supervisor"], "supervisor", "赵监理")
    with ledger.store.read() as tx:
        day = local_date(services.ledger.clock.now())
        before = evaluate(tx, PROJECT, "construction_permit", on=day)
        acceptance = evaluate(tx, PROJECT, "fire_acceptance", on=day)
    with roles.chromium() as browser, roles.phone(browser, base, "site") as p:
        roles.sign_in(p, token)
        p.goto("/site")
        assert "我的项目" in p.text("h1")
        p.page.locator(f'[data-project="{PROJECT}"]').click()
        p.page.wait_for_load_state()
        assert PROJECT in p.text("h1")
        stages = {c.get_attribute("data-stage"): c for c in p.page.locator(".checklist").all()}
        assert set(stages) == {"construction_permit", "fire_acceptance"}
        assert stages["construction_permit"].get_attribute("data-outcome") == before.outcome
        shown = [
            li.get_attribute("data-rule") for li in stages["fire_acceptance"].locator("li").all()
        ]
        assert shown == [f.rule for f in acceptance.reasons]
        # nothing is installed yet: the gate refuses acceptance for the incomplete wall
        assert "gate.complete" in shown
        assert "验收前还缺什么" in p.text()
        batch_row = p.page.locator(f'#batches [data-batch="{world["batch"]}"]')
        assert "300" in batch_row.inner_text() and "未验收" in batch_row.inner_text()
        assert p.fits()
        p.shot("project-checklist")
        assert p.foreign() == []


def test_a_delivery_session_records_scans_and_the_inspection_in_one_go(
    world: dict[str, Any], server: tuple[str, Services], ledger: Ledger, tmp_path: Path
) -> None:
    base, services = server
    token = roles.account(services, world["w"]["supervisor"], "supervisor", "赵监理")
    photo = tmp_path / "delivery.png"
    photo.write_bytes(_png())
    with roles.chromium() as browser, roles.phone(browser, base, "site") as p:
        roles.sign_in(p, token)
        p.goto(f"/site/projects/{PROJECT}/delivery")
        page = p.page
        for serial in ("000003", "000004"):
            page.fill("#manual-link", _label_link(world, serial))
            page.click("#add-link")
        page.fill("#manual-link", W.tamper(_label_link(world, "000005")))
        page.click("#add-link")
        rows = page.locator("#scans li")
        page.wait_for_function(
            "document.querySelectorAll('#scans li[data-verdict=pending]').length === 0"
        )
        assert [r.get_attribute("data-verdict") for r in rows.all()] == [
            "genuine",
            "genuine",
            "bad_signature",
        ]
        assert VERDICT_TEXT["genuine"]["zh"] in rows.nth(0).inner_text()
        assert VERDICT_TEXT["bad_signature"]["zh"] in rows.nth(2).inner_text()
        page.select_option("#batch", world["batch"])
        assert page.input_value("#label_class")  # the batch's declared class, offered
        page.fill("#counted", "500")  # more than the 300 received on the project
        size = ledger.size()
        page.click("#record")
        error = page.locator('[data-error-for="counted"]')
        error.wait_for(state="visible")
        assert error.inner_text().startswith("进场清点数量不得超过本项目已收货数量")
        assert ledger.size() == size  # nothing written, the scans are still on the page
        assert rows.count() == 3
        p.shot("delivery-refused")
        page.fill("#counted", "298")
        page.select_option("#discrepancy", "damaged")
        page.fill("#note", "两包外包装破损 two packs damaged")
        page.set_input_files("#photos", str(photo))
        page.click("#record")
        page.locator("#done").wait_for(state="visible")
        assert "已记录" in page.locator("#done").inner_text()
        assert _types_since(ledger, size) == [
            "label.scan",
            "label.scan",
            "label.scan",
            "site.inspect",
        ]
        inspect = ledger.entry(ledger.size() - 1).payload
        digest = hashlib.sha256(photo.read_bytes()).hexdigest()
        assert inspect["counted"] == "298" and inspect["discrepancy"] == "damaged"
        assert inspect["photos"] == [digest] and services.blobs.get(digest) == photo.read_bytes()
        assert inspect["accepted"] is True
        scans = [ledger.entry(s).payload for s in range(size, size + 3)]
        assert [s["verdict"] for s in scans] == ["genuine", "genuine", "bad_signature"]
        assert {s["by"] for s in scans} == {"赵监理"}
        assert p.fits()
        p.shot("delivery-recorded")
        assert p.foreign() == []


def test_without_a_signal_the_page_queues_and_sends_when_the_network_returns(
    world: dict[str, Any], server: tuple[str, Services], ledger: Ledger
) -> None:
    base, services = server
    token = roles.account(services, world["w"]["supervisor"], "supervisor", "赵监理")
    with roles.chromium() as browser, roles.phone(browser, base, "site") as p:
        roles.sign_in(p, token)
        p.goto(f"/site/projects/{PROJECT}/delivery")
        page = p.page
        size = ledger.size()
        p.context.set_offline(True)
        page.fill("#manual-link", _label_link(world, "000006"))
        page.click("#add-link")
        row = page.locator("#scans li").first
        page.wait_for_function(
            "document.querySelector('#scans li') && document.querySelector('#scans li').textContent.includes('离线')"
        )
        assert row.get_attribute("data-verdict") == "pending"
        page.select_option("#batch", world["batch"])
        page.fill("#counted", "300")
        page.click("#record")
        page.locator("#done").wait_for(state="visible")
        assert "已保存在本机" in page.locator("#done").inner_text()
        assert "待发送 1 条" in page.locator("#pending").inner_text()
        assert "离线" in page.locator("#net").inner_text()
        queued = json.loads(page.evaluate("localStorage.getItem('insutrace-outbox')"))
        assert len(queued) == 1 and queued[0]["key"] and queued[0]["state"] == "pending"
        assert ledger.size() == size
        p.shot("delivery-offline")
        p.context.set_offline(False)
        page.locator('#outbox li[data-state="sent"]').wait_for(timeout=20000)
        assert _types_since(ledger, size) == ["label.scan", "site.inspect"]
        assert ledger.entry(size).payload["verdict"] == "genuine"  # checked once back online
        assert page.evaluate("localStorage.getItem('insutrace-outbox')") == "[]"
        # sent again with the same idempotency key, the delivery is not written twice
        again = page.evaluate(
            """async (item) => { const r = await fetch(item.url, {method: 'POST',
                 headers: {'Content-Type': 'application/json', 'X-CSRF-Token': document
                 .getElementById('delivery').dataset.csrf}, body: JSON.stringify(item.body)});
                 return [r.status, await r.json()]; }""",
            {
                **queued[0],
                "body": {
                    **queued[0]["body"],
                    "scans": [
                        {"link": queued[0]["body"]["scans"][0]["link"], "verdict": "genuine"}
                    ],
                },
            },
        )
        assert again[0] == 201 and again[1]["seqs"] == [size, size + 1]
        assert ledger.size() == size + 2
        p.shot("delivery-sent")
        assert p.foreign() == []


def test_witnessed_sampling_with_a_message_beside_the_field(
    world: dict[str, Any], server: tuple[str, Services], ledger: Ledger
) -> None:
    base, services = server
    token = roles.account(services, world["w"]["supervisor"], "supervisor", "赵监理")
    with roles.chromium() as browser, roles.phone(browser, base, "site") as p:
        roles.sign_in(p, token)
        p.goto(f"/site/projects/{PROJECT}/sample")
        page = p.page
        page.fill("input[name=sample]", "WS-001")
        page.fill("input[name=quantity]", "两包")
        page.fill("input[name=sampler_name]", "王取样")
        size = ledger.size()
        page.get_by_role("button", name="记录见证取样 Record the sample").click()
        error = page.locator('[data-error-for="quantity"]')
        assert error.inner_text().startswith("此项填写有误")
        assert ledger.size() == size
        assert page.input_value("input[name=sample]") == "WS-001"  # what was typed stays
        p.shot("sample-refused")
        page.fill("input[name=quantity]", "2")
        page.get_by_role("button", name="记录见证取样 Record the sample").click()
        assert f"#{size}" in page.locator("#recorded").inner_text()
        entry = ledger.entry(size)
        assert entry.type == "site.sample" and entry.payload["witness"] == "赵监理"
        assert entry.payload["sampler"]["org"] == world["w"].id("contractor")
        assert p.fits()
        p.shot("sample-recorded")
        assert p.foreign() == []


def test_another_organisations_supervisor_is_refused_everywhere(
    world: dict[str, Any], server: tuple[str, Services], ledger: Ledger
) -> None:
    base, services = server
    token = roles.account(services, world["w"]["supervisor2"], "supervisor", "钱监理")
    size = ledger.size()
    with roles.chromium() as browser, roles.phone(browser, base, "site") as p:
        roles.sign_in(p, token)
        for path in (f"/site/projects/{PROJECT}", f"/site/projects/{PROJECT}/delivery",
                     f"/site/projects/{PROJECT}/sample"):  # fmt: skip
            response = p.goto(path)
            assert response.status == 403, path
            assert "无权访问" in p.text("#refused")
            assert "not party to project" in p.text("#refusal")
        p.shot("refused")
        p.goto("/site")
        assert p.page.locator(f'[data-project="{PROJECT}"]').count() == 0
        csrf = roles.csrf(p)
        link = _label_link(world, "000007").split("/01/", 1)[1]
        delivery = p.context.request.post(
            f"{base}/site/projects/{PROJECT}/delivery",
            data=json.dumps(
                {"key": "k2", "scans": [{"link": f"/01/{link}", "verdict": "genuine"}]}
            ),
            headers={"Content-Type": "application/json", "X-CSRF-Token": csrf},
        )
        assert delivery.status == 403
        assert "is not the supervisor or contractor of project" in delivery.json()["detail"]
        sample = roles.post_form(p, f"/site/projects/{PROJECT}/sample", {
            "csrf_token": csrf, "sample": "WS-X", "batch": world["batch"], "quantity": "1",
            "lab": world["w"].id("lab"), "sampler_name": "x", "sampler_org": world["w"].id("contractor"),
            "witness": "钱监理"})  # fmt: skip
        assert sample.status == 403
        # and without the form's CSRF token, even the project's own supervisor is refused
        no_token = p.context.request.post(
            f"{base}/site/projects/{PROJECT}/delivery",
            data="{}",
            headers={"Content-Type": "application/json"},
        )
        assert no_token.status == 403
        # signed out, the post is 401: the page keeps it in its outbox until a new sign-in
        stranger = browser.new_context()
        gone = stranger.request.post(f"{base}/site/projects/{PROJECT}/delivery", data="{}",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        assert gone.status == 401 and gone.json()["fields"][""].startswith("请先登录")
        stranger.close()
    assert ledger.size() == size


def test_the_camera_scans_a_label_inside_the_page(
    world: dict[str, Any], server: tuple[str, Services], ledger: Ledger, tmp_path: Path
) -> None:
    """Chromium's fake camera films a printed label's QR code; the page decodes it
    (BarcodeDetector where the browser has one, else the bundled jsQR) and shows its verdict."""
    base, services = server
    token = roles.account(services, world["w"]["supervisor"], "supervisor", "赵监理")
    video = _qr_video(tmp_path / "label.y4m", _label_link(world, "000008"))
    camera = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-video-capture={video}")  # fmt: skip
    with roles.chromium(*camera) as browser, roles.phone(browser, base, "site") as p:
        p.context.grant_permissions(["camera"], origin=base)
        roles.sign_in(p, token)
        p.goto(f"/site/projects/{PROJECT}/delivery")
        p.page.click("#start-camera")
        row = p.page.locator('#scans li[data-verdict="genuine"]')
        row.wait_for(timeout=20000)
        assert row.get_attribute("data-serial") == "000008"
        assert VERDICT_TEXT["genuine"]["zh"] in row.inner_text()
        decoder = p.page.get_attribute("#delivery", "data-decoder")
        assert decoder in ("BarcodeDetector", "jsQR")
        assert "扫码中" in p.text("#camera-state")
        p.shot(f"delivery-camera-{decoder}")
        assert p.foreign() == []
