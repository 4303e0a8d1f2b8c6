"""Shared by the accounts and clerk tests: an app over a seeded ledger, people who sign in,
and a TestClient that reads a page's CSRF token the way a browser's form would send it.
(In a browser: :mod:`browser_roles`.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import browser_roles as roles
import support
from fastapi.testclient import TestClient

from insutrace.api.accounts import Account
from insutrace.api.deps import Services

PASSWORD = roles.PASSWORD
make_app = roles.make_app
W = support.label_world()
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


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
