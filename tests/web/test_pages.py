"""What every signed-in page shares (:mod:`insutrace.api.pages`): nobody signed in is sent to
the sign-in page and back; another role is refused, Chinese first, naming whom the page or
the action is for; the clerk's and the lab's form refusals land beside their fields; and a
page for someone not signed in is sent compressed, a signed-in person's never."""

from __future__ import annotations

import gzip
from typing import Any
from urllib.parse import quote

import pytest
import support
from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.api.pages import ROLE_NAMES, FormPost
from insutrace.api.pages_common import FORM
from insutrace.api.web import CompressPublicPages
from insutrace.trace.domain.payloads import PayloadInvalid
from insutrace.trace.entrytype import ROLES
from insutrace.trace.errors import RuleViolation

P = support._load("insutrace_tests_web_people", "web/people.py")

PAGES = [
    "/maker",
    "/maker/batches/06941234500017.L1",
    "/lab",
    "/site",
    "/regulator",
    "/regulator/alerts",
    "/investigate",
    "/investigate/trace?kind=batch&id=X",
    "/account",
    "/admin/people",
    "/admin/accounts",
]


def test_every_role_has_a_name_a_person_reads() -> None:
    assert set(ROLE_NAMES) == set(ROLES)
    assert all(name and not name.isascii() for name in ROLE_NAMES.values())


@pytest.mark.parametrize("path", PAGES)
def test_nobody_signed_in_is_sent_to_sign_in_and_back(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/signin?next={quote(path, safe='')}"


def test_another_role_is_refused_chinese_first(
    app: Any, client: TestClient, services: Services, world: Any
) -> None:
    P.person(services, world, "lab", "testing_lab", "zhou.jiance")
    P.sign_in(client, "zhou.jiance")
    r = client.get("/maker")
    assert r.status_code == 403
    refusal = r.text.split('id="refusal">', 1)[1].split("</p>", 1)[0]
    zh = "此页面仅供生产企业使用（您的角色：检测机构）"
    en = "This page is for manufacturer; you are signed in as testing_lab"
    assert zh in refusal and en in refusal and refusal.index(zh) < refusal.index(en)
    r = client.get("/regulator")
    assert r.status_code == 403 and "此页面仅供监管部门、根认证机构使用" in r.text
    r = P.post_form(client, "/lab", "/maker/products", {"gtin": "06941234500017"})
    assert r.status_code == 403 and "此操作仅供生产企业使用" in r.text
    for path in ("/admin/people", "/admin/accounts"):  # not an administrator, not the authority
        assert client.get(path).status_code == 403
    assert client.get("/lab").status_code == 200  # the lab's own page


def test_a_fault_inside_a_list_is_put_beside_the_field_that_filled_it() -> None:
    names = ("conductivity", "density")  # the payload's results, in the order they were filled
    post = FormPost(Any, Any, ["number", "conductivity", "density"], "k", lists={"results": names})  # type: ignore[arg-type]  # fmt: skip
    faults = [
        {"pointer": "/payload/results/1/value", "detail": "not a number"},
        {"pointer": "/payload/number", "detail": "too long"},
    ]
    post.refused(PayloadInvalid("report.issue", faults))
    assert post.errors == {"density": "格式不符 · not a number", "number": "格式不符 · too long"}
    assert post.status == 422 and not post  # as the API answers it


def test_a_prefixed_form_keeps_its_prefix_and_a_rule_names_id_and_clause() -> None:
    post = FormPost(Any, Any, ["void_first", "void_count", "void_reason"], "", prefix="void_")  # type: ignore[arg-type]  # fmt: skip
    post.fault("count", "请输入正整数 · Enter a whole number")
    assert post.errors == {"void_count": "请输入正整数 · Enter a whole number"}
    assert post.status == 400 and post.key is None
    rule = RuleViolation("product.gtin", "gtin 06941234500018: the check digit should be 7")
    beside = FormPost(Any, Any, ["gtin", "name"], "abc")  # type: ignore[arg-type]
    beside.refused(rule)
    assert list(beside.errors) == ["gtin"] and beside.key == "web:abc"
    text = beside.errors["gtin"]  # Chinese first, the reason, the rule id and clause
    assert text.startswith("GTIN-14 格式或校验位错误 · gtin 06941234500018")
    assert text.endswith("[product.gtin (GS1 General Specifications §7.9.1)]")
    above = FormPost(Any, Any, ["first"], "")  # type: ignore[arg-type]
    above.refused(rule)
    assert list(above.errors) == [FORM] and above.status == 422


def test_pages_for_someone_not_signed_in_are_compressed_a_signed_in_persons_never(
    client: TestClient, services: Services, world: Any
) -> None:
    r = client.get("/blacklist", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"] and "失信名单" in r.text
    assert int(r.headers["content-length"]) < len(r.content) // 2  # sent compressed
    raw = client.get("/blacklist", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.text == r.text
    assert (
        client.get("/rules", headers={"accept-encoding": "gzip;q=0"}).headers.get(
            "content-encoding"
        )
        is None
    )
    api = client.get("/v1/rules", headers={"accept-encoding": "gzip"})
    assert api.status_code == 200 and "content-encoding" not in api.headers  # only pages
    P.person(services, world, "lab", "testing_lab", "zhou.jiance")
    P.sign_in(client, "zhou.jiance")
    page = client.get("/lab", headers={"accept-encoding": "gzip"})
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    assert "content-encoding" not in page.headers  # its CSRF token is never compressed
    blacklist = client.get("/blacklist", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in blacklist.headers


def test_a_small_page_is_not_worth_compressing() -> None:
    sent: list[dict[str, Any]] = []

    async def page(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"<p>", "more_body": True})
        await send({"type": "http.response.body", "body": b"ok</p>"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    import asyncio

    scope = {"type": "http", "headers": [(b"accept-encoding", b"gzip")]}
    asyncio.run(CompressPublicPages(page)(scope, None, send))  # type: ignore[arg-type]
    assert [m.get("body") for m in sent] == [None, b"<p>ok</p>"]
    assert (b"vary", b"Accept-Encoding") in sent[0]["headers"]
    assert not any(k == b"content-encoding" for k, _ in sent[0]["headers"])
    big, sent[:] = b"<p>" + "保温".encode() * 2000 + b"</p>", []

    async def large(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})  # fmt: skip
        await send({"type": "http.response.body", "body": big})

    asyncio.run(CompressPublicPages(large)(scope, None, send))  # type: ignore[arg-type]
    assert gzip.decompress(sent[1]["body"]) == big
    assert (b"content-encoding", b"gzip") in sent[0]["headers"]
