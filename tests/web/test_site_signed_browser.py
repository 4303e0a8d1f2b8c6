"""The supervisor's phone signs what it records (390 x 844, Chromium): enrol the phone's
key (key.add), record scans and the arrival inspection with no signal — each signed on
the phone as it is recorded — reopen the page with no network (the service worker serves
it), and, back online, the statements are logged as the phone signed them, by the device
key; a statement queued under a key revoked meanwhile is refused with its rule, Chinese
first. Also: a statement the page signs verifies, byte for byte, with the ledger's code."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import browser_roles as roles
import pytest
import support

from insutrace.api.deps import Services
from insutrace.trace.actors import device_keys, key_holder
from insutrace.trace.canonical import canonical
from insutrace.trace.clock import FixedClock, parse_time
from insutrace.trace.entry import Statement
from insutrace.trace.keys import Signer, decode_public, key_id_of
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.rules import catalogue

W = support.label_world()
PROJECT = "P-NJ-2026-018"
NAME = "赵监理"


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
    ledger.checkpoint()
    return {"w": w, "batch": batch}


@pytest.fixture
def server(
    tmp_path: Path, store_url: str, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner,
    world: dict[str, Any],
) -> Iterator[tuple[str, Services]]:  # fmt: skip
    with roles.served(tmp_path, store_url, clock, log_signer) as served:
        yield served


def _link(world: dict[str, Any], serial: str) -> str:
    return str(world["w"].label(world["batch"], serial))


def _enrol(p: roles.Phone, ledger: Ledger, username: str) -> str:
    """Enrol this phone's key on the delivery page; the key id the log now holds."""
    page = p.page
    p.goto(f"/site/projects/{PROJECT}/delivery")
    page.wait_for_selector('#sign-mode[data-why="none"]')
    assert "本机尚未登记密钥" in p.text("#sign-mode")
    size = ledger.size()
    page.fill("#device-name", "测试手机 test phone")
    p.shot("enrol")
    page.click("#enrol")
    page.wait_for_selector('#sign-mode[data-mode="device"]')
    added = ledger.entry(size)
    assert added.type == "key.add" and added.payload["holder"] == username
    kid = key_id_of(base64.b64decode(added.payload["public_key"]))
    assert kid in p.text("#sign-mode") and p.text("#sign-mode").startswith("本机签名")
    return kid


def _account_key(p: roles.Phone, kid: str) -> str:
    """What /account says of device key ``kid``, on the phone."""
    p.goto("/account")
    row = p.page.locator(f'#device-keys tr[data-key="{kid}"]')
    assert row.count() == 1
    return str(row.inner_text())


def _wait_kept(page: Any) -> None:
    """Until the service worker keeps this page (as the server rendered it last)."""
    page.wait_for_function(
        """async () => { const cache = await caches.open('insutrace-pages');
             return Boolean(await cache.match(location.href)); }""",
        timeout=20000,
    )


def test_a_statement_the_page_signs_verifies_with_the_ledgers_code(
    world: dict[str, Any], server: tuple[str, Services]
) -> None:
    base, services = server
    username = roles.account(services, world["w"]["supervisor"], "supervisor", NAME)
    payload = {
        "schema": 1,
        "note": '两包破损 "quoted" \\ back\nslash \u0001 \u2028 é 😀',
        "n": [0, -1, 2**53 - 1, 1.5, 1e21, 0.000001, True, None],
        "z": {"\u00e9": 1, "a": 2, "\U0001f600": 3, "\ufb01": 4, "B": {"y": [], "x": {}}},
    }
    with roles.chromium() as browser, roles.phone(browser, base, "site") as p:
        roles.sign_in(p, username)
        p.goto(f"/site/projects/{PROJECT}/delivery")
        out = p.page.evaluate(
            """async (payload) => {
                const key = await InsuSign.generate("test-person");
                const text = await InsuSign.sign("test-person", "org-x", "test.note", payload);
                const stored = await InsuSign.load("test-person");
                let exported = "refused";
                try { await crypto.subtle.exportKey("pkcs8", stored.privateKey); exported = "exported"; }
                catch (e) { exported = "refused"; }
                return {key, text, exported, canonical: InsuSign.canonical(payload)};
            }""",
            payload,
        )
    data = out["text"].encode()
    statement = Statement.from_bytes(data)  # refuses anything not RFC 8785 canonical
    assert canonical(json.loads(data)) == data
    assert out["canonical"].encode() == canonical(payload)
    assert statement.payload == json.loads(canonical(payload))
    public = decode_public(out["key"]["public"])
    assert statement.key == out["key"]["kid"] == key_id_of(base64.b64decode(out["key"]["public"]))
    assert public.verify(base64.b64decode(statement.sig), statement.signing_bytes()) is None
    assert out["exported"] == "refused"  # the private key never leaves WebCrypto
    parse_time(statement.time)


def test_the_phone_signs_offline_and_the_log_holds_its_signatures(
    world: dict[str, Any],
    server: tuple[str, Services],
    ledger: Ledger,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    base, services = server
    photo = tmp_path / "delivery.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)  # the bytes, not a picture
    supervisor = world["w"]["supervisor"]
    username = roles.account(services, supervisor, "supervisor", NAME)
    with roles.chromium() as browser, roles.phone(browser, base, "site/signed") as p:
        roles.sign_in(p, username)
        kid = _enrol(p, ledger, username)
        p.shot("enrolled")
        page = p.page
        _wait_kept(page)  # the first visit, kept by the service worker
        page.fill("#manual-link", _link(world, "000003"))
        page.click("#add-link")
        page.wait_for_selector('#scans li[data-verdict="genuine"]')
        size = ledger.size()
        p.context.set_offline(True)
        page.fill("#manual-link", _link(world, "000004"))
        page.click("#add-link")
        page.wait_for_selector("#scans li:nth-child(2)")
        page.wait_for_function(
            "document.querySelector('#scans li:nth-child(2)').textContent.includes('离线')"
        )
        page.select_option("#batch", world["batch"])
        page.fill("#counted", "300")
        page.set_input_files("#photos", str(photo))
        page.click("#record")
        page.locator("#done").wait_for(state="visible")
        assert "已保存在本机" in page.locator("#done").inner_text()
        (queued,) = json.loads(page.evaluate("localStorage.getItem('insutrace-outbox')"))
        assert queued["signed"] is True and queued["url"].endswith("/delivery/signed")
        assert len(queued["body"]["scans"]) == 1 and queued["body"]["inspection"]
        assert queued["body"]["unsigned"] == [{"link": queued["body"]["unsigned"][0]["link"]}]
        inspection = Statement.from_bytes(queued["body"]["inspection"].encode())
        assert (inspection.type, inspection.actor, inspection.key) == (
            "site.inspect",
            supervisor.actor,
            kid,
        )
        # reopened with no network: the service worker serves the page and its scripts
        page.reload()
        page.wait_for_selector('#sign-mode[data-mode="device"]')
        assert "进场扫码验收" in p.text("h1")
        assert "待发送 1 条" in page.locator("#pending").inner_text()
        assert "离线" in page.locator("#net").inner_text()
        assert "本机已签名" in page.locator('#outbox li[data-state="pending"]').inner_text()
        # a JSON answer is never served from the worker's cache
        verdict = page.evaluate(
            """async (link) => { try { await fetch(link, {headers: {Accept: 'application/json'}});
                 return 'answered'; } catch (e) { return 'no network'; } }""",
            "/01/" + _link(world, "000003").split("/01/", 1)[1],
        )
        assert verdict == "no network"
        assert ledger.size() == size
        p.shot("offline-reloaded")
        clock.tick(timedelta(minutes=2))  # the signal returns two minutes later
        p.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        sent = page.locator('#outbox li[data-state="sent"]')
        sent.wait_for(timeout=20000)
        entries = [ledger.entry(seq) for seq in range(size, ledger.size())]
        assert [e.type for e in entries] == ["label.scan", "label.scan", "site.inspect"]
        for entry in entries:
            assert (entry.actor, entry.key) == (supervisor.actor, kid)
            assert parse_time(entry.signed_time) < parse_time(entry.time)
        logged = entries[2]
        assert logged.statement_bytes() == queued["body"]["inspection"].encode()  # as signed
        assert parse_time(logged.time) - parse_time(logged.signed_time) >= timedelta(minutes=2)
        assert [e.payload["serial"] for e in entries[:2]] == ["000003", "000004"]
        assert {e.payload["verdict"] for e in entries[:2]} == {"genuine"}
        assert entries[0].payload["by"] == NAME
        digest = hashlib.sha256(photo.read_bytes()).hexdigest()  # hashed on the phone
        assert logged.payload["photos"] == [digest]
        assert services.blobs.get(digest) == photo.read_bytes()
        with ledger.store.read() as tx:
            assert key_holder(tx, kid)["holder"] == username  # type: ignore[index]
        receipt = sent.inner_text()
        assert receipt.startswith("已记录") and "本机签名" in receipt and NAME in receipt
        assert kid in receipt and sent.get_attribute("data-signed") == "device"
        assert page.evaluate("localStorage.getItem('insutrace-outbox')") == "[]"
        assert p.fits()
        p.shot("sent-signed-by-the-phone")
        assert p.foreign() == []
        # the person's own page lists the phone's key, live
        row = _account_key(p, kid)
        assert "测试手机 test phone" in row and kid in row
        assert "有效" in row and "Live" in row and "吊销" not in row
        assert p.fits()
        p.shot("account-device-key")


def test_a_statement_queued_under_a_revoked_key_is_refused_with_its_rule(
    world: dict[str, Any], server: tuple[str, Services], ledger: Ledger, clock: FixedClock
) -> None:
    base, services = server
    supervisor = world["w"]["supervisor"]
    username = roles.account(services, supervisor, "supervisor", NAME)
    with roles.chromium() as browser, roles.phone(browser, base, "site/signed") as p:
        roles.sign_in(p, username)
        kid = _enrol(p, ledger, username)
        page = p.page
        p.context.set_offline(True)
        page.select_option("#batch", world["batch"])
        page.fill("#counted", "300")
        page.click("#record")
        page.locator("#done").wait_for(state="visible")
        # the phone is reported lost: its organisation revokes the key
        ledger.append("key.revoke", {"key": kid, "reason": "phone lost"}, supervisor)
        size = ledger.size()
        p.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        refused = page.locator('#outbox li[data-state="refused"]')
        refused.wait_for(timeout=20000)
        text = refused.inner_text()
        zh = catalogue().get("key.device").zh  # type: ignore[union-attr]
        assert text.startswith("未能记录") and zh in text and "key.device" in text
        assert text.index(zh) < text.index("revoked")  # Chinese first, English beside
        assert ledger.size() == size
        p.shot("revoked-key-refused")
        p.goto(f"/site/projects/{PROJECT}/delivery")
        page.wait_for_selector('#sign-mode[data-why="revoked"]')
        assert p.text("#sign-mode").startswith("服务器代签：本机密钥已吊销")
        # and the person's own page says by which entry it was revoked
        row = _account_key(p, kid)
        assert f"已吊销（第 {size - 1} 条）" in row and f"Revoked by entry {size - 1}" in row
        p.shot("account-device-key-revoked")
    with ledger.store.read() as tx:
        (row,) = device_keys(tx, supervisor.actor, username)
    assert row["id"] == kid and row["ended"] == "revoked"


def test_without_a_secure_context_the_server_signs_and_the_page_says_so(
    world: dict[str, Any], server: tuple[str, Services], ledger: Ledger
) -> None:
    base, services = server
    supervisor = world["w"]["supervisor"]
    username = roles.account(services, supervisor, "supervisor", NAME)
    with roles.chromium() as browser, roles.phone(browser, base, "site/signed") as p:
        p.context.add_init_script(
            "Object.defineProperty(window, 'isSecureContext', {value: false})"
        )
        roles.sign_in(p, username)
        p.goto(f"/site/projects/{PROJECT}/delivery")
        page = p.page
        page.wait_for_selector('#sign-mode[data-why="insecure"]')
        assert p.text("#sign-mode").startswith("服务器代签：此连接不是安全连接")
        assert page.locator("#enrol-form").is_hidden()
        size = ledger.size()
        page.select_option("#batch", world["batch"])
        page.fill("#counted", "300")
        page.click("#record")
        page.locator("#done").wait_for(state="visible")
        entry = ledger.entry(size)
        assert entry.type == "site.inspect" and entry.key == supervisor.key_id
        services_author = services.accounts.authors([size])
        assert services_author[size]["username"] == username
        p.shot("server-signed-mode")


def test_signing_out_empties_the_pages_kept_for_use_offline(
    world: dict[str, Any], server: tuple[str, Services]
) -> None:
    base, services = server
    username = roles.account(services, world["w"]["supervisor"], "supervisor", NAME)
    with roles.chromium() as browser, roles.phone(browser, base, "site/signed") as p:
        roles.sign_in(p, username)
        p.goto(f"/site/projects/{PROJECT}/delivery")
        _wait_kept(p.page)
        p.goto("/signin")
        p.page.get_by_role("button", name="退出 Sign out").first.click()
        p.page.wait_for_load_state()
        p.context.set_offline(True)
        response = p.goto(f"/site/projects/{PROJECT}/delivery")
        assert response.status == 503
        assert p.text("body").startswith("无网络，此页面尚未在本机保存")
        assert NAME not in p.text("body")
        p.shot("offline-after-sign-out")
