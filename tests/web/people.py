"""Shared by the accounts and clerk tests: an app over a seeded ledger, people who sign in,
and a TestClient that reads a page's CSRF token the way a browser's form would send it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser_roles as roles
import support
from fastapi.testclient import TestClient

from insutrace.api.accounts import Account
from insutrace.api.app import create_app
from insutrace.api.deps import Services
from insutrace.trace.clock import FixedClock
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings

MASTER_KEY = "test-only master key, not a secret: 0123456789abcdef"
PASSWORD = "correct horse battery"
W = support.label_world()
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def make_app(tmp_path: Path, store_url: str, clock: FixedClock, log_signer: NoteSigner) -> Any:
    settings = Settings(home=tmp_path / "home", database_url=store_url, origin=log_signer.name,
                        master_key=MASTER_KEY)  # fmt: skip
    return create_app(settings, clock=clock, log_signer=log_signer)


def close(app: Any) -> None:
    services: Services = app.state.services
    services.accounts.close()
    services.ledger.store.close()


def person(
    services: Services, world: Any, key: str, role: str, username: str, **extra: Any
) -> Account:
    """A person of the world's organisation ``key``; the organisation's key is held by the
    server (so the person's forms can write)."""
    org = world.id(key)
    vault = services.require_vault()
    if world[key].key_id not in services.accounts.held_key_ids(org):
        services.accounts.store_key(vault, world[key])
    name = extra.pop("name", f"{username} 测试")
    return services.accounts.create_person(org, role, name, username, PASSWORD, **extra)


def csrf(html: str) -> str:
    found = _TOKEN.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    r = client.post("/signin", data={"username": username, "password": password},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text


def post_form(client: TestClient, page: str, action: str, data: dict[str, str], **kw: Any) -> Any:
    """GET ``page``, then POST ``data`` to ``action`` with the page's CSRF token."""
    token = csrf(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False, **kw)


def client_for(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


# -- the browser --------------------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = roles.PHONE


def chromium() -> Iterator[Any]:
    """Chromium (Debian's), driven by Playwright (``browser_roles.chromium``)."""
    with roles.chromium() as browser:
        yield browser


def phone(browser: Any, base: str) -> Any:
    """A phone-sized page that may reach ``base`` only: any other request is aborted and
    recorded in ``page.outside`` (the pages make none)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")  # fmt: skip
    page = context.new_page()
    page.outside = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            page.outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return page


def shot(page: Any, folder: str, name: str, *, full: bool = True) -> None:
    """A screenshot of the page (the whole page, or the screen when ``full`` is False);
    the page is as wide as the phone, never wider."""
    out = ARTIFACTS / folder
    out.mkdir(parents=True, exist_ok=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, name
    page.screenshot(path=str(out / f"{name}.png"), full_page=full)


def browser_sign_in(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/signin")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="登录 Sign in").click()
