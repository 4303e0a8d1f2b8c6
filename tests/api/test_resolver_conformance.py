"""The GS1 Digital Link resolver against the checks GS1 publishes for conformant resolvers.

Each test reimplements one check of GS1's resolver test suite (gs1/GS1DL-resolver-testsuite,
``GS1DigitalLinkResolverTestSuite.js``; its ids in brackets) from the GS1-Conformant Resolver
standard 1.2.0 text as the interfaces reference (§1) records it, on a real ledger: a product
with a qualified, shipped lot and issued labels. The linkset schema is written here from the
constraints of gs1/linkset ``gs1-linkset-schema.json`` (reference §1.3).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import jsonschema
import pytest
import support
from fastapi.testclient import TestClient

from insutrace.api.deps import Services
from insutrace.api.resolver import parse_link_path
from insutrace.trace.domain.fields import local_date
from insutrace.trace.domain.read import lot_record
from insutrace.trace.errors import MalformedInput, NotFound

W = support.label_world()
BASE = "http://testserver"
LINKSET = "application/linkset+json"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
NAMESPACES = ("https://gs1.org/voc/", "https://ref.gs1.org/voc/", "https://www.gs1.org/voc/")
LINK_OBJECT = {
    "type": "object",
    "required": ["href", "title"],
    "additionalProperties": False,
    "properties": {
        "href": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "type": {"type": "string"},
        "hreflang": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z]{2}(-[A-Z]{2})?$"},
        },
        "context": {"type": "array"},
        "fwqs": {"type": "boolean"},
        "public": {"type": "boolean"},
    },
}
SCHEMA = {
    "type": "object",
    "required": ["linkset"],
    "additionalProperties": False,
    "properties": {
        "linkset": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["anchor", "itemDescription"],
                "properties": {
                    "anchor": {"type": "string", "pattern": "^https?://"},
                    "itemDescription": {"type": "string"},
                },
                "additionalProperties": {"type": "array", "items": LINK_OBJECT},
            },
        }
    },
}


@pytest.fixture
def item(lw: Any) -> dict[str, str]:
    """A product with a qualified lot (labels issued, shipped once) and a second, bare lot."""
    gtin = lw.product(name_en="XPS board")
    batch = lw.qualified_batch(gtin)
    lw.issue(batch, count=5)
    lw.deliver("maker", "dist", batch, "100")
    bare = lw.batch(gtin, lot="A/B+C")
    label = lw.label(batch, "000001")
    return {"gtin": gtin, "lot": batch.split(".", 1)[1], "batch": batch, "bare": bare,
            "label": label}  # fmt: skip


@pytest.fixture
def lw(ledger: Any, root: Any, signer_for: Any) -> Any:
    w = W.LabelWorld(ledger, root, signer_for)
    w.trade_parties(name_en="Jiangsu Test Insulation Co., Ltd.")
    return w


def dl(item: dict[str, str], *, lot: bool = False, serial: str | None = None) -> str:
    path = f"/01/{item['gtin']}"
    if lot or serial:
        path += f"/10/{quote(item['lot'], safe='')}"
    if serial:
        path += f"/21/{serial}"
    return path


def get(client: TestClient, path: str, **kw: Any) -> Any:
    return client.get(path, follow_redirects=False, **kw)


def linkset(client: TestClient, path: str) -> dict[str, Any]:
    r = get(client, path, params={"linkType": "linkset"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def links_of(context: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {k: v for k, v in context.items() if k not in ("anchor", "itemDescription")}


# -- the URI ----------------------------------------------------------------------------------


def test_syntax_faults_are_400_never_200(client: TestClient, item: dict[str, str]) -> None:
    """[reportWith400, noErrorWith200] a syntactically invalid Digital Link is 400 with a
    problem naming the rule resolver.syntax (a bilingual page for a browser), never 200."""
    gtin = item["gtin"]
    bad_check = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)
    broken = [
        dl(item) + "/foo",  # the suite's own broken link: a good one with /foo appended
        f"/01/{bad_check}",  # check digit
        f"/01/{gtin[:-2]}",  # 12 digits whose last is not their check digit
        f"/01/{gtin}/10/L1/22/CPV",  # 22 after 10: the order 22, 10, 21 is fixed
        f"/01/{gtin}/21/S1/10/L1",
        f"/01/{gtin}/235/T1/10/L1",  # 235 never mixes with the 22/10/21 chain
        f"/01/{gtin}/10/" + "L" * 21,  # AI 10 is X..20
        f"/01/{gtin}/10/%E4%B8%AD",  # outside CSET 82
        f"/01/{gtin}/10/L%00",  # percent-encoded NUL
        f"/01/{gtin}/99/X",  # 99 is no qualifier of 01
        f"/01/{gtin}?17=271340",  # data attribute 17 is YYMMDD
    ]
    for path in broken:
        r = get(client, path)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), path
        assert r.json()["rule"] == "resolver.syntax" and r.json()["message"]["zh"]
        assert r.headers["access-control-allow-origin"] == "*"
        page = get(client, path, headers=BROWSER)
        assert page.status_code == 400 and "无法识别的标识" in page.text, path


def test_the_path_parser_follows_the_uri_syntax() -> None:
    """GTIN-8/12/13 padded to 14 digits; 22, 10, 21 each optional in that order, or 235;
    ``+`` in a path is a literal plus; %2F decodes to a slash inside a value."""
    assert parse_link_path("/01/9506000134352").gtin == "09506000134352"
    assert parse_link_path("/01/09506000134352/").gtin == "09506000134352"
    link = parse_link_path("/01/09506000134352/22/C1/21/A%2FB+C")
    assert link.qualifiers == (("22", "C1"), ("21", "A/B+C"))
    assert link.path() == "/01/09506000134352/22/C1/21/A%2FB%2BC"
    assert parse_link_path("/01/09506000134352/235/" + "T" * 28).value("235") == "T" * 28
    for bad in ("/01/09506000134352/235/" + "T" * 29, "/01/09506000134353", "/01"):
        with pytest.raises(MalformedInput):
            parse_link_path(bad)
    with pytest.raises(NotFound):  # a GS1 key this resolver does not serve
        parse_link_path("/414/9520123456788")


def test_unknown_gtin_is_404(client: TestClient, item: dict[str, str]) -> None:
    """A valid Digital Link of a GTIN the ledger never registered is 404, not 200."""
    r = get(client, "/01/09520123456788")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")
    assert get(client, "/01/09520123456788", headers=BROWSER).status_code == 404


# -- methods and headers ----------------------------------------------------------------------


def test_cors_and_methods(client: TestClient, item: dict[str, str]) -> None:
    """[corsCheck, methodsCheck, linkOnRedirect] OPTIONS answers with CORS headers naming
    GET, HEAD and OPTIONS and a Link to the linkset; every answer allows any origin."""
    r = client.options(dl(item, lot=True), headers={"Origin": "https://scanner.example"})
    assert r.status_code == 204
    methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "HEAD", "OPTIONS"} <= methods
    assert r.headers["access-control-allow-origin"] == "*"
    assert 'rel="linkset"' in r.headers["link"]
    assert f"<{BASE}{dl(item, lot=True)}?linkType=linkset>" in r.headers["link"]
    for path in (dl(item), dl(item, lot=True) + "?linkType=linkset"):
        assert get(client, path).headers["access-control-allow-origin"] == "*"
    assert "Link" in get(client, dl(item)).headers["access-control-expose-headers"]


def test_head_answers_like_get(client: TestClient, item: dict[str, str]) -> None:
    """HEAD: the status and Location of GET, no body."""
    for path in (dl(item), dl(item, lot=True) + "?linkType=gs1:traceability"):
        g, h = get(client, path), client.head(path, follow_redirects=False)
        assert h.status_code == g.status_code == 307
        assert h.headers["location"] == g.headers["location"] and h.content == b""
    h = client.head(dl(item) + "?linkType=linkset")
    assert h.status_code == 200 and h.content == b""


def test_no_legacy_link_headers(client: TestClient, item: dict[str, str]) -> None:
    """[legacyLinkHeaders] the Link header points at the linkset; it lists no gs1: links."""
    for path in (dl(item), dl(item, lot=True) + "?linkType=linkset"):
        assert 'rel="gs1:' not in get(client, path).headers["link"]


def test_description_file(client: TestClient) -> None:
    """[rdFile] /.well-known/gs1resolver: resolverRoot and supportedPrimaryKeys (mandatory),
    the gs1: prefix with its namespace, whether linkset can be the default link type."""
    r = client.get("/.well-known/gs1resolver")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["resolverRoot"] == BASE
    assert body["supportedPrimaryKeys"] == ["01"]
    assert {"namespace": "https://gs1.org/voc/", "prefix": "gs1:"} in body["supportedLinkType"]
    assert body["linkTypeDefaultCanBeLinkset"] is False
    assert r.headers["access-control-allow-origin"] == "*"


# -- the linkset ------------------------------------------------------------------------------


def test_linkset_is_served_not_redirected(client: TestClient, item: dict[str, str]) -> None:
    """[ltLinksetNoRedirect, ltAllNoRedirect, ltAcceptHeader, declaredContentType,
    linksetJsonldCheck] ``linkType=linkset``, ``linkType=all`` and ``Accept:
    application/linkset+json`` each get 200 and the linkset as application/linkset+json,
    with the JSON-LD context in the Link header."""
    path = dl(item, lot=True)
    answers = [
        get(client, path, params={"linkType": "linkset"}),
        get(client, path, params={"linkType": "all"}),
        get(client, path, params={"linkType": "all"}, headers={"Accept": LINKSET}),
        get(client, path, headers={"Accept": LINKSET}),
        get(client, path, params={"LINKTYPE": "linkset"}),  # the name read case-insensitively
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == LINKSET
        assert 'rel="http://www.w3.org/ns/json-ld#context"' in r.headers["link"]
        assert r.json() == answers[0].json()


def test_linkset_validates_against_the_gs1_schema(client: TestClient, item: dict[str, str]) -> None:
    """[validLinkset] every level's linkset validates; GS1 link types only, from the one
    namespace emitted."""
    for path in (dl(item), dl(item, lot=True), dl(item, serial="000001"), dl(item) + "/10/KL8G"):
        body = linkset(client, path)
        jsonschema.validate(body, SCHEMA)
        for context in body["linkset"]:
            assert all(k.startswith("https://gs1.org/voc/") for k in links_of(context)), path


def test_one_context_per_level_anchored_at_the_request_uri(
    client: TestClient, item: dict[str, str]
) -> None:
    """A qualified URI's linkset holds one context object per level up to the GTIN, most
    granular first, each anchored at the request URI of that level (no query string)."""
    body = linkset(client, dl(item, serial="000001") + "?k=x")
    anchors = [c["anchor"] for c in body["linkset"]]
    assert anchors == [BASE + dl(item, serial="000001"), BASE + dl(item, lot=True), BASE + dl(item)]
    serial, lot, product = body["linkset"]
    assert "https://gs1.org/voc/verificationService" in serial
    assert "https://gs1.org/voc/certificationInfo" in lot
    assert "https://gs1.org/voc/recallStatus" in lot
    assert "https://gs1.org/voc/traceability" in lot
    assert "https://gs1.org/voc/pip" in product
    assert item["lot"] in lot["itemDescription"]


def test_exactly_one_default_link(client: TestClient, item: dict[str, str]) -> None:
    """[defaultLinkExists, singleDefaulLink] each context has exactly one gs1:defaultLink
    with href and title only, and its target also appears under a descriptive type."""
    for path in (dl(item), dl(item, lot=True), dl(item, serial="000001")):
        for context in linkset(client, path)["linkset"]:
            default = context["https://gs1.org/voc/defaultLink"]
            assert len(default) == 1 and set(default[0]) == {"href", "title"}
            hrefs = {
                link["href"]
                for name, found in links_of(context).items()
                if not name.endswith("defaultLink")
                for link in found
            }
            assert default[0]["href"] in hrefs
            assert "https://gs1.org/voc/defaultLinkMulti" not in context


# -- redirection ------------------------------------------------------------------------------


def test_plain_get_redirects_to_the_default(client: TestClient, item: dict[str, str]) -> None:
    """[defaultTarget] a GET without linkType redirects (307) to the default link of the
    most granular level; the Link header points at the linkset."""
    for path in (dl(item), dl(item, lot=True), dl(item, serial="000001")):
        default = linkset(client, path)["linkset"][0]["https://gs1.org/voc/defaultLink"][0]
        r = get(client, path)
        assert r.status_code == 307 and r.headers["location"] == default["href"], path
        assert 'rel="linkset"' in r.headers["link"]


def test_every_link_type_redirects_to_its_href(client: TestClient, item: dict[str, str]) -> None:
    """[loFor…] every link type in the linkset redirects to its href, asked for as a CURIE
    or as an IRI in any of the three namespace spellings."""
    path = dl(item, lot=True)
    body = linkset(client, path)
    seen: dict[str, str] = {}
    for context in reversed(body["linkset"]):  # the most granular level wins
        for name, found in links_of(context).items():
            seen[name.rsplit("/", 1)[-1]] = found[0]["href"]
    assert {"pip", "certificationInfo", "traceability", "recallStatus"} <= set(seen)
    for short, href in seen.items():
        for asked in (f"gs1:{short}", *(ns + short for ns in NAMESPACES)):
            r = get(client, path, params={"linkType": asked})
            assert r.status_code == 307 and r.headers["location"] == href, asked


def test_query_string_is_passed_on(client: TestClient, item: dict[str, str]) -> None:
    """[qsPassedOn] the request's other query pairs go on to the target, before a fragment;
    a label's k and s reach its page."""
    r = get(client, dl(item), params={"foo": "bar"})
    assert r.headers["location"].endswith("?foo=bar")
    r = get(client, dl(item, lot=True), params={"linkType": "gs1:certificationInfo", "foo": "b"})
    assert r.headers["location"] == f"{BASE}/pages{dl(item, lot=True)}?foo=b#report"
    uri, query = item["label"].split("?", 1)
    r = get(client, urlsplit(uri).path + "?" + query)
    assert r.status_code == 307
    assert r.headers["location"] == f"{BASE}/pages{urlsplit(uri).path}?{query}"


def test_unavailable_link_type_is_404(client: TestClient, item: dict[str, str]) -> None:
    """[specificLinkTypeNotFound] a link type the item lacks (or no such type at all) is
    404, not the default."""
    for asked in ("gs1:nosuchlt", "gs1:certificationInfo", "https://example.com/voc/pip"):
        r = get(client, dl(item), params={"linkType": asked})
        assert r.status_code == 404, asked
        assert "location" not in r.headers


def test_trailing_slash_is_tolerated(client: TestClient, item: dict[str, str]) -> None:
    """[trailingSlash] with or without a trailing slash, the same answer."""
    for path in (dl(item), dl(item, lot=True)):
        with_slash, without = get(client, path + "/"), get(client, path)
        assert with_slash.status_code == without.status_code == 307
        assert with_slash.headers["location"] == without.headers["location"]


def test_unknown_qualifier_walks_up(client: TestClient, item: dict[str, str]) -> None:
    """[basicWalkUp] an unregistered lot (the suite asks for /10/KL8G) answers with the
    GTIN's links, not 404; so do a CPV and a third-party serial the ledger does not record."""
    for tail in ("/10/KL8G", "/22/CPV1", "/235/TPX1", "/21/S1"):
        r = get(client, dl(item) + tail)
        assert r.status_code == 307, (tail, r.text)
        assert r.headers["location"] == f"{BASE}/pages{dl(item)}"


def test_gtin13_resolves_as_gtin14(client: TestClient, item: dict[str, str]) -> None:
    """GTIN-13 is padded to 14 digits: same target, anchors in the 14-digit form."""
    assert item["gtin"].startswith("0")
    short = "/01/" + item["gtin"][1:]
    assert get(client, short).headers["location"] == get(client, dl(item)).headers["location"]
    assert linkset(client, short)["linkset"][0]["anchor"] == BASE + dl(item)


def test_percent_encoded_lot(client: TestClient, item: dict[str, str]) -> None:
    """A lot holding / and + (CSET 82) resolves by its percent-encoded path; ``+`` in a
    path is a literal plus, so ``A/B+C`` is found as written."""
    r = get(client, f"{dl(item)}/10/A%2FB+C")
    assert r.status_code == 307
    assert r.headers["location"] == f"{BASE}/pages{dl(item)}/10/A%2FB%2BC"
    page = client.get(r.headers["location"], headers=BROWSER)
    assert page.status_code == 200 and "A/B+C" in page.text


# -- the pages the links name --------------------------------------------------------------


def test_lot_page_shows_the_read_models_standing(
    client: TestClient, item: dict[str, str], services: Services, lw: Any
) -> None:
    """The lot page (the default link of a lot) is Chinese first and says what
    :func:`lot_record` says; its JSON (the recallStatus link) is that record; once the
    batch is recalled, both say so."""
    r = client.get(dl(item, lot=True), headers=BROWSER)
    assert r.status_code == 200 and r.url.path == f"/pages{dl(item, lot=True)}"
    assert "检验报告有效" in r.text and 'data-standing="qualified"' in r.text
    day = local_date(services.ledger.clock.now())
    with services.ledger.store.read() as tx:
        record = lot_record(tx, item["gtin"], item["lot"], day)
    assert record["report"] is not None and record["report"]["number"] in r.text
    assert record["custody"] and record["custody"][0]["to"]["name"] in r.text
    status = client.get(dl(item, lot=True), params={"linkType": "gs1:recallStatus"},
                        headers={"Accept": "application/json"})  # fmt: skip
    assert status.status_code == 200 and status.json() == record
    assert status.json()["recalled"] is None
    lw.recall(item["batch"])
    r = client.get(dl(item, lot=True), headers=BROWSER)
    assert 'data-standing="recalled"' in r.text and "批次已召回" in r.text
    status = client.get(f"/pages{dl(item, lot=True)}", headers={"Accept": "application/json"})
    assert status.json()["recalled"]["reason"] == "fraud"


def test_product_page_lists_lots(client: TestClient, item: dict[str, str]) -> None:
    """The product page (the GTIN's default link): the product and each registered lot with
    its standing; a bare lot is not qualified."""
    r = client.get(dl(item), headers=BROWSER)
    assert r.status_code == 200 and r.url.path == f"/pages{dl(item)}"
    assert "挤塑聚苯乙烯泡沫塑料板" in r.text and "XPS board" in r.text
    assert f'data-lot="{item["lot"]}"' in r.text and 'data-lot="A/B+C"' in r.text
    assert r.text.count("报告有效 Qualified") == 1 and "无有效报告 Not qualified" in r.text


def test_label_link_reaches_its_verdict(client: TestClient, item: dict[str, str]) -> None:
    """The label's signed Digital Link, followed, ends on its verdict page (genuine)."""
    uri, query = item["label"].split("?", 1)
    r = client.get(urlsplit(uri).path + "?" + query, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["verdict"] == "genuine"
    page = client.get(urlsplit(uri).path + "?" + query, headers=BROWSER)
    assert 'data-verdict="genuine"' in page.text
    assert client.get(f"/pages/01/{item['gtin']}/21/000001").status_code == 400


def test_a_browser_asking_for_the_linkset_gets_it_as_a_page(
    client: TestClient, item: dict[str, str]
) -> None:
    """The linkset asked for with ``text/html`` preferred is rendered as a page (SHOULD):
    the same contexts and links as the JSON, titles in Chinese first; 200, never a redirect."""
    path = dl(item, lot=True)
    body = linkset(client, path)
    page = get(client, path, params={"linkType": "linkset"}, headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for context in body["linkset"]:
        assert f'data-anchor="{context["anchor"]}"' in page.text
        for links in links_of(context).values():
            assert all(link["title"] in page.text for link in links)
    assert "检验报告 Factory test report" in page.text
