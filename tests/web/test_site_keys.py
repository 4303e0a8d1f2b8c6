"""A supervisor's device key from the server's side: enrolling it (CSRF, key.add naming the
person), the signed delivery refused unless each statement is signed by a live device key
the signed-in person holds, the person named as its signer (one answer for both ways a page
writes), deactivation revoking the person's device keys, and the service worker served at
the root, its version following the scripts it caches."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import support
from fastapi.testclient import TestClient

from insutrace.api import pages_site
from insutrace.api.deps import Services
from insutrace.api.person_writes import entry_authors
from insutrace.trace.actors import device_keys
from insutrace.trace.clock import format_time
from insutrace.trace.entry import Statement, new_statement_id
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

P = support._load("insutrace_tests_web_people", "web/people.py")
W = P.W
PROJECT = "P-NJ-2026-018"
DELIVERY = f"/site/projects/{PROJECT}/delivery"
_CSRF = re.compile(r'data-csrf="([^"]*)"')
_SIGNING = re.compile(r'data-signing="([^"]*)"')


@pytest.fixture
def world(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> Any:
    w = W.LabelWorld(ledger, root, signer_for)
    w.trade_parties()
    cases = w.six_cases()
    genuine = W.scan_fields(cases["genuine"])
    batch = f"{genuine['gtin']}.{genuine['lot']}"
    w.project(id=PROJECT)
    w.deliver("maker", "dist", batch, "400")
    w.deliver("dist", "contractor", batch, "300", to_project=PROJECT)
    w.batch_id = batch
    return w  # the app, services and client of tests/web/conftest.py are made over it


def _supervisor(services: Services, world: Any, client: TestClient, username: str) -> str:
    """Sign ``username`` in as the project's supervisor; the delivery page's CSRF token."""
    P.person(services, world, "supervisor", "supervisor", username, name="赵监理")
    P.sign_in(client, username)
    found = _CSRF.search(client.get(DELIVERY).text)
    assert found is not None
    return found.group(1)


def _post(client: TestClient, path: str, body: Any, token: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-CSRF-Token"] = token
    return client.post(path, content=json.dumps(body), headers=headers)


def _phone(seed: str, org: str) -> Signer:
    return Signer.from_seed(org, f"phone {seed}".encode())


def _enrol(client: TestClient, token: str, phone: Signer) -> Any:
    body = {"public_key": phone.public_b64, "device": "测试手机"}
    return _post(client, "/site/device-key", body, token)


def _inspection(
    ledger: Ledger, world: Any, signer: Signer, project: str = PROJECT, **more: Any
) -> str:
    payload = {
        **more,
        "schema": 1,
        "project": project,
        "batch": world.batch_id,
        "date": "2026-11-22",
        "label_class": "B1(B-s1,d0,t1)",
        "accepted": True,
        "counted": "300",
    }
    statement = Statement(
        type="site.inspect",
        actor=signer.actor,
        key=signer.key_id,
        time=format_time(ledger.clock.now()),
        payload=payload,
        id=new_statement_id(),
    )
    return statement.signed(signer).to_bytes().decode()


def test_enrolling_the_phones_key_adds_it_for_the_person_signed_in(
    client: TestClient, services: Services, world: Any, ledger: Ledger
) -> None:
    token = _supervisor(services, world, client, "zhao.jianli")
    org = world.id("supervisor")
    phone = _phone("1", org)
    size = ledger.size()
    assert _enrol(client, None, phone).status_code == 403  # no CSRF token: nothing written
    bad = _post(client, "/site/device-key", {"public_key": "xyz", "device": "d"}, token)
    assert bad.status_code == 400 and bad.json()["fields"][""].startswith("此项填写有误")
    assert ledger.size() == size
    r = _enrol(client, token, phone)
    assert r.status_code == 201 and r.json()["key"] == phone.key_id
    added = ledger.entry(r.json()["seq"])
    assert (added.type, added.actor) == ("key.add", org)
    assert added.payload == {
        "public_key": phone.public_b64,
        "holder": "zhao.jianli",
        "device": "测试手机",
    }
    again = _enrol(client, token, phone)
    assert again.status_code == 422 and "key.unique" in again.json()["detail"]
    signing = _SIGNING.search(client.get(DELIVERY).text)
    assert signing is not None
    shown = json.loads(html.unescape(signing.group(1)))
    assert shown["keys"] == [phone.key_id] and shown["person"] == "zhao.jianli"
    assert shown["org"] == org and shown["name"] == "赵监理"
    # signed out, the enrolment is 401 (the page keeps nothing to send)
    assert TestClient(client.app).post("/site/device-key", content="{}").status_code == 401


def test_a_signed_delivery_is_logged_only_from_the_persons_live_device_key(
    client: TestClient, services: Services, world: Any, ledger: Ledger
) -> None:
    token = _supervisor(services, world, client, "zhao.jianli")
    org = world.id("supervisor")
    phone, other = _phone("2", org), _phone("3", org)
    assert _enrol(client, token, phone).status_code == 201
    P.person(services, world, "supervisor", "supervisor", "qian.jianli")
    theirs = {"public_key": other.public_b64, "holder": "qian.jianli", "device": "d"}
    ledger.append("key.add", theirs, world["supervisor"])
    signed = f"{DELIVERY}/signed"
    size = ledger.size()
    cases = {
        "another person's device key": _inspection(ledger, world, other),
        "the organisation's own key": _inspection(ledger, world, world["supervisor"]),
    }
    for case, text in cases.items():
        r = _post(client, signed, {"key": "k1", "statements": [text]}, token)
        assert r.status_code == 422, case
        assert r.json()["fields"][""].startswith("本机密钥已吊销或不属于当前登录人员"), case
    elsewhere = _inspection(ledger, world, phone, project="P-OTHER-1")
    r = _post(client, signed, {"key": "k1", "statements": [elsewhere]}, token)
    assert r.status_code == 400
    r = _post(
        client, signed, {"key": "k1", "statements": [cases["the organisation's own key"]]}, None
    )
    assert r.status_code == 403
    unsigned = {"key": "k1", "statements": [], "unsigned": [{"link": "/01/x"}]}
    assert _post(client, signed, unsigned, token).status_code == 400
    assert ledger.size() == size
    text = _inspection(ledger, world, phone)
    r = _post(client, signed, {"key": "k2", "statements": [text]}, token)
    assert r.status_code == 201, r.text
    (receipt,) = r.json()["signed"]
    assert receipt["seq"] == size and receipt["signed"] == "device"
    assert (receipt["name"], receipt["username"], receipt["key"]) == (
        "赵监理",
        "zhao.jianli",
        phone.key_id,
    )
    assert ledger.entry(size).statement_bytes() == text.encode()
    again = _post(client, signed, {"key": "k2", "statements": [text]}, token)
    assert again.status_code == 200 and again.json()["seqs"] == [size]
    assert ledger.size() == size + 1
    # one answer for both ways a page writes: the server-signed entry names its person too
    server = _post(client, DELIVERY, {"key": "k3", "inspection": {
        "batch": world.batch_id, "label_class": "B1(B-s1,d0,t1)", "accepted": True}}, token)  # fmt: skip
    assert server.status_code == 201, server.text
    seq = server.json()["seqs"][0]
    authors = entry_authors(services, [ledger.entry(size), ledger.entry(seq)])
    assert authors[size]["signed"] == "device" and authors[size]["username"] == "zhao.jianli"
    assert authors[seq] == {
        "name": "赵监理",
        "username": "zhao.jianli",
        "org": org,
        "signed": "server",
    }


def _deactivated_from(
    app: Any, client: TestClient, services: Services, world: Any, ledger: Ledger,
    *, seed: str, admin: str, page: str, action: str,
) -> tuple[Signer, int]:  # fmt: skip
    """zhao.jianli enrols a phone (from ``seed``), then the administrator ``admin``
    deactivates them on ``page`` (POST to ``action``, ``{id}`` their account id): the
    phone and the seq of the first entry the deactivation wrote. The answer says one key was revoked,
    and the log holds that key ended by that entry."""
    token = _supervisor(services, world, client, "zhao.jianli")
    org = world.id("supervisor")
    phone = _phone(seed, org)
    assert _enrol(client, token, phone).status_code == 201
    zhao = services.accounts.by_username("zhao.jianli")
    assert zhao is not None
    with TestClient(app) as office:
        P.sign_in(office, admin)
        size = ledger.size()
        r = P.post_form(office, page, action.format(id=zhao.id), {"active": "0"})
        assert r.status_code == 200 and "设备密钥已吊销 1 个" in r.text
    with ledger.store.read() as tx:
        (row,) = device_keys(tx, org, "zhao.jianli")
    assert row["until"] == size + 1
    return phone, size


def test_deactivating_a_person_revokes_their_device_keys(
    app: Any, client: TestClient, services: Services, world: Any, ledger: Ledger
) -> None:
    admin = P.person(services, world, "supervisor", "supervisor", "sun.admin", admin=True)
    phone, size = _deactivated_from(
        app, client, services, world, ledger,
        seed="4", admin="sun.admin", page="/admin/people", action="/admin/people/{id}/active",
    )  # fmt: skip
    revoked = ledger.entry(size)
    assert (revoked.type, revoked.payload["key"]) == ("key.revoke", phone.key_id)
    assert services.accounts.authors([size])[size]["username"] == admin.person.username


def test_the_authority_deactivating_a_person_revokes_their_device_keys_too(
    app: Any, client: TestClient, services: Services, world: Any, ledger: Ledger
) -> None:
    """Deactivated from the root authority's account list (not their organisation's
    people page), a person's device keys are revoked all the same: signed by their
    organisation's key, which enrolled them, and recorded as the authority's doing."""
    services.accounts.create_person(
        "root", "authority", "根管理员", "root.admin", P.PASSWORD, admin=True
    )
    phone, size = _deactivated_from(
        app, client, services, world, ledger,
        seed="5", admin="root.admin", page="/admin/accounts",
        action="/admin/accounts/{id}/active",
    )  # fmt: skip
    revoked = ledger.entry(size)
    org = world.id("supervisor")
    assert (revoked.type, revoked.actor, revoked.payload["key"]) == (
        "key.revoke",
        org,
        phone.key_id,
    )
    assert services.accounts.authors([size])[size]["username"] == "root.admin"


def test_a_person_sees_their_device_keys_on_their_account_page(
    app: Any, client: TestClient, services: Services, world: Any, ledger: Ledger
) -> None:
    """/account lists the person's device keys as the log has them: each one's device,
    key id, first entry it signs and state, live or revoked by which entry."""
    token = _supervisor(services, world, client, "zhao.jianli")
    assert "尚未登记设备密钥" in client.get("/account").text
    org = world.id("supervisor")
    old, new = _phone("6", org), _phone("7", org)
    assert _enrol(client, token, old).status_code == 201
    assert _enrol(client, token, new).status_code == 201
    zhao = services.accounts.by_username("zhao.jianli")
    assert zhao is not None
    size = ledger.size()
    world.append("key.revoke", {"key": old.key_id}, "supervisor")
    page = client.get("/account").text
    rows = dict(re.findall(r'<tr data-key="([0-9a-f]{16})">(.*?)</tr>', page, re.S))
    assert set(rows) == {old.key_id, new.key_id}
    assert f"已吊销（第 {size} 条）" in rows[old.key_id]
    assert "有效" in rows[new.key_id] and "已吊销" not in rows[new.key_id]


def test_the_service_worker_is_served_at_the_root_and_follows_its_scripts(
    client: TestClient, services: Services, world: Any
) -> None:
    r = client.get("/sw.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    digest = hashlib.sha256()
    for name in ("sw.js", *pages_site.CACHED_ASSETS):
        digest.update((pages_site.STATIC / name).read_bytes())
    assert f'var VERSION = "{digest.hexdigest()[:16]}";' in r.text
    assert '"/site-assets/sign.js"' in r.text and "__ASSETS__" not in r.text
    for name in pages_site.CACHED_ASSETS:
        assert client.get(f"/site-assets/{name}").status_code == 200
    # a site page names its person for the worker, which keeps one person's pages only
    _supervisor(services, world, client, "zhao.jianli")
    zhao = services.accounts.by_username("zhao.jianli")
    assert zhao is not None
    assert client.get(DELIVERY).headers["x-insutrace-person"] == str(zhao.id)
    assert client.get("/site").headers["x-insutrace-person"] == str(zhao.id)


def test_a_changed_script_is_a_new_service_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("sw.js", *pages_site.CACHED_ASSETS):
        (tmp_path / name).write_bytes((pages_site.STATIC / name).read_bytes())
    monkeypatch.setattr(pages_site, "STATIC", tmp_path)
    pages_site._service_worker.cache_clear()
    first = pages_site._service_worker()
    (tmp_path / "sign.js").write_bytes(b"/* changed */" + (tmp_path / "sign.js").read_bytes())
    pages_site._service_worker.cache_clear()
    second = pages_site._service_worker()
    pages_site._service_worker.cache_clear()
    version = re.compile(rb'var VERSION = "([0-9a-f]{16})";')
    assert version.search(first) and version.search(second)
    assert version.search(first).group(1) != version.search(second).group(1)  # type: ignore[union-attr]


def test_a_signed_inspections_photos_are_sent_with_it(
    client: TestClient, services: Services, world: Any, ledger: Ledger
) -> None:
    token = _supervisor(services, world, client, "zhao.jianli")
    phone = _phone("5", world.id("supervisor"))
    assert _enrol(client, token, phone).status_code == 201
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    digest = hashlib.sha256(photo).hexdigest()
    url = "data:image/png;base64," + base64.b64encode(photo).decode()
    text = _inspection(ledger, world, phone, photos=[digest])
    signed = f"{DELIVERY}/signed"
    size = ledger.size()
    missing = _post(client, signed, {"key": "p1", "statements": [text]}, token)
    assert missing.status_code == 400 and "cited but was not sent" in missing.json()["detail"]
    other = "data:image/png;base64," + base64.b64encode(photo + b"x").decode()
    stray = _post(client, signed, {"key": "p1", "statements": [text], "photos": [other]}, token)
    assert stray.status_code == 400 and "no statement cites it" in stray.json()["detail"]
    assert ledger.size() == size and not services.blobs.has(digest)
    r = _post(client, signed, {"key": "p1", "statements": [text], "photos": [url]}, token)
    assert r.status_code == 201 and services.blobs.get(digest) == photo
    assert ledger.entry(size).payload["photos"] == [digest]
