"""People sign in as people: passwords (argon2id), an optional TOTP second factor,
server-side sessions behind an HttpOnly cookie, CSRF tokens on forms, login CSRF refused,
sign-in rate-limited per account and per address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest
import support
from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.api.sessions import COOKIE, MAX_PER_ACCOUNT, MAX_PER_IP

P = support._load("insutrace_tests_web_people", "web/people.py")
PASSWORD, W, csrf, person, post_form, sign_in = (
    P.PASSWORD,
    P.W,
    P.csrf,
    P.person,
    P.post_form,
    P.sign_in,
)


def test_a_password_is_stored_as_an_argon2id_hash(services: Services, world: Any) -> None:
    clerk = person(services, world, "maker", "manufacturer", "li.zhiliang", title="质量专员")
    with services.accounts.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT password FROM api_account WHERE id = ?", (clerk.id,)
        ).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert services.accounts.check_password("li.zhiliang", PASSWORD) == clerk
    assert services.accounts.check_password("li.zhiliang", PASSWORD + "x") is None
    assert services.accounts.check_password("nobody.here", PASSWORD) is None
    assert clerk.person is not None and clerk.person.title == "质量专员"


def test_sign_in_opens_a_server_side_session_behind_an_httponly_cookie(
    client: TestClient, services: Services, world: Any
) -> None:
    clerk = person(services, world, "maker", "manufacturer", "li.zhiliang")
    r = client.post("/signin", data={"username": "LI.ZhiLiang ", "password": PASSWORD},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    session_id = client.cookies[COOKIE]
    assert len(session_id) >= 43 and PASSWORD not in session_id and "itk_" not in session_id
    with services.accounts.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT id FROM api_session").scalars().all()
    assert stored and session_id not in stored  # only its SHA-256 is kept
    assert "已登录" in client.get("/signin").text
    assert services.sessions.count(clerk.id) == 1
    # sign-out needs the form's token; then the session is gone from the server
    assert client.post("/signout", data={}, follow_redirects=False).status_code == 403
    r = post_form(client, "/signin", "/signout", {})
    assert r.status_code == 303
    assert services.sessions.count(clerk.id) == 0
    client.cookies.set(COOKIE, session_id)
    assert "已登录" not in client.get("/signin").text


def test_the_cookie_is_secure_over_tls_or_behind_a_trusted_proxy(
    app: Any, services: Services, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    person(services, world, "maker", "manufacturer", "li.zhiliang")
    form = {"username": "li.zhiliang", "password": PASSWORD}
    with TestClient(app, base_url="https://testserver") as tls:
        r = tls.post("/signin", data=form, follow_redirects=False)
        assert "Secure" in r.headers["set-cookie"]
    with TestClient(app) as proxied:
        headers = {"X-Forwarded-Proto": "https"}
        r = proxied.post("/signin", data=form, headers=headers, follow_redirects=False)
        assert "Secure" not in r.headers["set-cookie"]  # not trusted unless configured
        monkeypatch.setenv("INSUTRACE_TRUST_FORWARDED_PROTO", "1")
        r = proxied.post("/signin", data=form, headers=headers, follow_redirects=False)
        assert "Secure" in r.headers["set-cookie"]


def test_a_sign_in_posted_from_another_site_is_refused(
    client: TestClient, services: Services, world: Any
) -> None:
    person(services, world, "maker", "manufacturer", "li.zhiliang")
    form = {"username": "li.zhiliang", "password": PASSWORD}
    for header in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}):
        r = client.post("/signin", data=form, headers=header, follow_redirects=False)
        assert r.status_code == 403 and "拒绝跨站登录请求" in r.text
        assert COOKIE not in client.cookies
    r = client.post("/signin", data=form, headers={"Origin": "http://testserver"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303


def test_empty_fields_are_named_beside_the_field(client: TestClient) -> None:
    r = client.post("/signin", data={"username": "", "password": ""})
    assert r.status_code == 400
    assert 'id="error-username">请输入用户名' in r.text
    assert 'id="error-password">请输入密码' in r.text


def test_a_forged_or_missing_csrf_token_is_refused(
    client: TestClient, services: Services, world: Any
) -> None:
    person(services, world, "maker", "manufacturer", "li.zhiliang")
    sign_in(client, "li.zhiliang")
    token = csrf(client.get("/signin").text)
    r = client.post("/signout", data={"csrf_token": token[:-2] + "xx"})
    assert r.status_code == 403 and "表单已过期或来源不明" in r.text
    r = client.post(
        "/signout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403 and "拒绝跨站提交" in r.text
    # another person's session has another token
    person(services, world, "dist", "distributor", "wang.fahuo")
    with TestClient(client.app) as other:
        sign_in(other, "wang.fahuo")
        assert csrf(other.get("/signin").text) != token
        assert other.post("/signout", data={"csrf_token": token}).status_code == 403


def test_sign_in_is_rate_limited_per_account(
    client: TestClient, services: Services, world: Any
) -> None:
    person(services, world, "maker", "manufacturer", "li.zhiliang")
    for _ in range(MAX_PER_ACCOUNT):
        r = client.post("/signin", data={"username": "li.zhiliang", "password": "guess guess"})
        assert r.status_code == 401
    r = client.post("/signin", data={"username": "li.zhiliang", "password": PASSWORD})
    assert r.status_code == 429
    assert "该账号登录失败次数过多" in r.text and "Too many failed sign-ins" in r.text
    assert COOKIE not in client.cookies


def test_sign_in_is_rate_limited_per_address(
    client: TestClient, services: Services, world: Any
) -> None:
    person(services, world, "maker", "manufacturer", "li.zhiliang")
    for n in range(MAX_PER_IP):
        r = client.post("/signin", data={"username": f"guess{n:03d}", "password": "guess guess"})
        assert r.status_code == 401
    r = client.post("/signin", data={"username": "li.zhiliang", "password": PASSWORD})
    assert r.status_code == 429 and "此网络地址登录失败次数过多" in r.text


def test_a_person_with_totp_needs_the_code(
    client: TestClient, services: Services, world: Any
) -> None:
    clerk = person(services, world, "maker", "manufacturer", "li.zhiliang")
    secret = pyotp.random_base32()
    services.accounts.set_totp(clerk.id, secret)
    form = {"username": "li.zhiliang", "password": PASSWORD}
    r = client.post("/signin", data=form)
    assert r.status_code == 401 and 'id="error-code">请输入动态验证码' in r.text
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 500000) % 1000000:06d}"
    r = client.post("/signin", data={**form, "code": wrong})
    assert r.status_code == 401 and "动态验证码错误" in r.text
    r = client.post("/signin", data={**form, "code": pyotp.TOTP(secret).now()},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303


def test_a_deactivated_person_is_signed_out_everywhere(
    client: TestClient, services: Services, world: Any
) -> None:
    clerk = person(services, world, "maker", "manufacturer", "li.zhiliang")
    sign_in(client, "li.zhiliang")
    services.accounts.set_active(clerk.id, False)
    assert "已登录" not in client.get("/signin").text
    r = client.post("/signin", data={"username": "li.zhiliang", "password": PASSWORD})
    assert r.status_code == 401


def _new_password(html: str) -> str:
    return html.split('id="new-password"', 1)[1].split('class="mono">', 1)[1].split("<", 1)[0]


def test_the_administrator_adds_resets_and_deactivates_people(
    app: Any, client: TestClient, services: Services, world: Any
) -> None:
    person(services, world, "maker", "manufacturer", "zhang.admin", admin=True)
    sign_in(client, "zhang.admin")
    r = post_form(client, "/admin/people", "/admin/people",
                  {"name": "", "username": "Bad Name!", "password": "short"})  # fmt: skip
    assert r.status_code == 400
    assert 'id="error-name">请输入姓名' in r.text and 'id="error-username">用户名需' in r.text
    assert 'id="error-password">密码需' in r.text
    assert [p.person.username for p in services.accounts.people(world.id("maker"))] == [
        "zhang.admin"
    ]
    r = post_form(client, "/admin/people", "/admin/people",
                  {"name": "李质量", "title": "质量专员", "username": "li.zhiliang"})  # fmt: skip
    assert r.status_code == 200 and "已添加 李质量" in r.text
    first = _new_password(r.text)
    r = post_form(client, "/admin/people", "/admin/people",
                  {"name": "另一人", "username": "li.zhiliang"})  # fmt: skip
    assert r.status_code == 409 and "用户名 li.zhiliang 已被使用" in r.text
    clerk = services.accounts.by_username("li.zhiliang")
    assert clerk is not None and clerk.role == "manufacturer" and clerk.org == world.id("maker")
    with TestClient(app) as other:
        sign_in(other, "li.zhiliang", first)
        assert other.get("/admin/people").status_code == 403  # not an administrator
        r = post_form(client, "/admin/people", f"/admin/people/{clerk.id}/reset", {})
        second = _new_password(r.text)
        assert second != first and "已重置" in r.text
        assert "已登录" not in other.get("/signin").text  # the reset ended their session
        assert services.accounts.check_password("li.zhiliang", first) is None
        sign_in(other, "li.zhiliang", second)
        r = post_form(client, "/admin/people", f"/admin/people/{clerk.id}/active", {"active": "0"})
        assert r.status_code == 200 and "已停用 李质量" in r.text
        assert "已登录" not in other.get("/signin").text
        r = other.post("/signin", data={"username": "li.zhiliang", "password": second})
        assert r.status_code == 401


def test_an_administrator_cannot_touch_another_organisations_people(
    app: Any, client: TestClient, services: Services, world: Any
) -> None:
    person(services, world, "maker", "manufacturer", "zhang.admin", admin=True)
    victim = person(services, world, "dist", "distributor", "wang.fahuo")
    sign_in(client, "zhang.admin")
    for action, data in (
        (f"/admin/people/{victim.id}/reset", {}),
        (f"/admin/people/{victim.id}/active", {"active": "0"}),
    ):
        r = post_form(client, "/admin/people", action, data)
        assert r.status_code == 403 and "不能管理其他单位的人员" in r.text
    assert services.accounts.check_password("wang.fahuo", PASSWORD) is not None
    assert "wang.fahuo" not in client.get("/admin/people").text
    assert client.get("/admin/accounts").status_code == 403  # not the authority


def test_the_authority_deactivates_accounts_and_revokes_tokens_in_the_browser(
    client: TestClient, services: Services, world: Any
) -> None:
    services.accounts.create_person(
        "root", "authority", "根管理员", "root.admin", PASSWORD, admin=True
    )
    machine, token = services.accounts.create_account(world.id("maker"), "manufacturer", "ERP")
    sign_in(client, "root.admin")
    page = client.get("/admin/accounts").text
    assert f'data-account="{machine.id}"' in page and "机器账号 machine" in page
    r = post_form(client, "/admin/accounts", f"/admin/accounts/{machine.id}/revoke", {})
    assert "已吊销 ERP 的 1 个令牌" in r.text
    assert services.accounts.authenticate(token) is None
    r = post_form(
        client, "/admin/accounts", f"/admin/accounts/{machine.id}/active", {"active": "0"}
    )
    assert "已停用" in r.text and not services.accounts.account(machine.id).active
    me = services.accounts.by_username("root.admin")
    assert me is not None
    r = post_form(client, "/admin/accounts", f"/admin/accounts/{me.id}/active", {"active": "0"})
    assert r.status_code == 400 and "不能停用自己的账号" in r.text


def test_a_person_turns_on_totp_from_their_account_page(
    client: TestClient, services: Services, world: Any
) -> None:
    clerk = person(services, world, "maker", "manufacturer", "li.zhiliang")
    sign_in(client, "li.zhiliang")
    page = client.get("/account").text
    secret = page.split('id="totp-secret">', 1)[1].split("<", 1)[0]
    r = post_form(client, "/account", "/account/totp",
                  {"action": "enable", "secret": secret, "code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})  # fmt: skip
    assert r.status_code == 400 and 'id="error-code">验证码与密钥不符' in r.text
    assert not services.accounts.account(clerk.id).person.totp  # type: ignore[union-attr]
    r = post_form(client, "/account", "/account/totp",
                  {"action": "enable", "secret": secret, "code": pyotp.TOTP(secret).now()})  # fmt: skip
    assert r.status_code == 200 and "已启用动态验证码" in r.text
    assert services.accounts.check_totp(clerk.id, pyotp.TOTP(secret).now())


def test_docs_pages_name_only_assets_the_app_serves(client: TestClient) -> None:
    import re

    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        urls = re.findall(r'(?:src|href)=["\']?([^"\' >]+)', html)
        urls += re.findall(r"url: ['\"]([^'\"]+)", html) + re.findall(
            r"spec-url=['\"]([^'\"]+)", html
        )
        assert urls, page
        assert not [u for u in urls if "//" in u], (page, urls)
        for url in urls:
            assert client.get(url).status_code == 200, url
    bundle = client.get("/static/docs/redoc.standalone.js").content
    assert b"cdn.redoc.ly" not in bundle and b"fonts.googleapis" not in client.get("/redoc").content


def test_the_demo_lists_its_peoples_sign_ins_readable_by_the_owner_only(
    services: Services, world: Any, tmp_path: Path
) -> None:
    from insutrace.api.demo_people import create_demo_people, write_signins

    orgs = {
        "maker": {
            "uscc": world.id("maker"),
            "name": "江苏测试保温材料有限公司",
            "roles": ["manufacturer"],
        },
        "lab": {"uscc": world.id("lab"), "name": "检测中心", "roles": ["testing_lab"]},
    }
    made = create_demo_people(services.accounts, orgs)
    assert [s.username for s in made] == [
        "root.admin", "root.registrar", "maker.admin", "maker.clerk", "lab.admin", "lab.tester",
    ]  # fmt: skip
    path = tmp_path / "demo-accounts.txt"
    write_signins(path, made)
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text(encoding="utf-8").splitlines()
    clerk = next(line for line in lines if "| maker.clerk |" in line).split(" | ")
    assert clerk[1:4] == ["江苏测试保温材料有限公司", "manufacturer", "质量专员 Quality clerk"]
    signed = services.accounts.check_password("maker.clerk", clerk[5])
    assert signed is not None and signed.org == world.id("maker") and not signed.manages_people
    admin = services.accounts.by_username("maker.admin")
    assert admin is not None and admin.manages_people
    assert len({s.password for s in made}) == len(made)  # generated, one each
