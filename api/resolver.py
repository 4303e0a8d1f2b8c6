"""A GS1-Conformant resolver for the GS1 Digital Links the products carry.

    GET|HEAD|OPTIONS /01/{gtin}[/10/{lot}[/21/{serial}]][?linkType=…]   the resolver
    GET|HEAD         /pages/01/{gtin}                                   product page
    GET|HEAD         /pages/01/{gtin}/10/{lot}                          lot page (JSON too)
    GET|HEAD         /pages/01/{gtin}/10/{lot}/21/{serial}?k=&s=        label page
    GET              /.well-known/gs1resolver                           resolver description

What it answers (GS1-Conformant Resolver 1.2.0, GS1 Digital Link URI Syntax 1.4; facts and
their sources in the interfaces reference, §1):

* The path is read raw and parsed as a Digital Link with primary key 01: a GTIN-8/12/13/14
  with its check digit (padded to 14 digits), then the qualifiers in the fixed order
  ``22, 10, 21`` or the alternative ``235``; each value percent-decoded (``+`` is a literal
  plus in the path), 1-20 characters (28 for 235) of GS1 CSET 82. Any fault is **400**;
  another primary key is **404** (not supported here); a GTIN the ledger does not know is
  **404**. An unknown qualifier value (an unregistered lot) walks up to the GTIN's links.
* No ``linkType``: **307** to the default link (the page of the most granular level the
  ledger knows), the request's query string passed on. ``?linkType=linkset`` (or ``all``)
  or ``Accept: application/linkset+json``: **200**, the RFC 9264 linkset, one context
  object per level, most granular first (a browser asking for the linkset gets it as a
  page). ``Accept: application/json`` alone is not taken as a linkset request: it follows
  the default link (a label's JSON verdict). ``?linkType=gs1:pip`` (CURIE or any of the three
  namespace IRIs): **307** to that link of the most granular level having one; **404** when
  no level has it.
* Every answer carries CORS headers (any origin; GET, HEAD, OPTIONS) and a ``Link`` to the
  linkset; ``OPTIONS`` answers **204**. Error states are never 200: a problem (RFC 9457)
  for a program, a bilingual page for a browser.

Every fact the pages show comes from the read model (:func:`~insutrace.trace.domain.read.
product_record`, :func:`~insutrace.trace.domain.read.lot_record`,
:func:`~insutrace.trace.domain.labels.label_record`); the linkset asks
:func:`~insutrace.trace.domain.read.resolver_item` which levels the ledger knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from insutrace.api.deps import Services, ServicesDep
from insutrace.api.problems import classify, problem_response
from insutrace.api.web import error_page, render, today
from insutrace.trace.domain.read import lot_record, product_record, resolver_item
from insutrace.trace.errors import LedgerError, MalformedInput, NotFound
from insutrace.trace.identifiers import CSET82, validate_gtin
from insutrace.trace.rules import explain
from insutrace.trace.store.base import Tx

__all__ = [
    "LINKSET",
    "LINK_TYPES",
    "PAGES",
    "DigitalLinkPath",
    "accept_rank",
    "has_serial",
    "headless",
    "parse_link_path",
    "router",
]

router = APIRouter(include_in_schema=False)

PAGES = "/pages"
"""Where the pages the resolver redirects to live: ``/pages`` + the Digital Link path."""
LINKSET = "application/linkset+json"
JSON_LD = "application/ld+json"
HTML = "text/html"
VOC = "https://gs1.org/voc/"
"""The namespace the linkset's link-type IRIs are written in (interfaces reference §1.4)."""
_NAMESPACES = ("https://gs1.org/voc/", "https://ref.gs1.org/voc/", "https://www.gs1.org/voc/")
CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
METHODS = "GET, HEAD, OPTIONS"
SYNTAX_RULE = "resolver.syntax"
"""The catalogue rule a malformed Digital Link cites (answered with 400)."""

LINK_TYPES = (
    "defaultLink",
    "pip",
    "certificationInfo",
    "traceability",
    "recallStatus",
    "verificationService",
    "masterData",
)
"""The GS1 link types this resolver emits (GS1 Web Vocabulary, all ratified)."""
LINK_TYPE_NAMES = {
    "defaultLink": "默认链接",
    "pip": "产品信息",
    "certificationInfo": "检验报告",
    "traceability": "追溯",
    "recallStatus": "召回状态",
    "verificationService": "核验服务",
    "masterData": "主数据",
}
"""The Chinese name of each link type, for the linkset's page."""

_PRIMARY_KEYS = frozenset(
    [
        "00",
        "01",
        "253",
        "255",
        "401",
        "402",
        "410",
        "411",
        "412",
        "413",
        "414",
        "415",
        "417",
        "8003",
        "8004",
        "8006",
        "8010",
        "8013",
        "8017",
        "8018",
    ]
)
_QUALIFIER_MAX = {"22": 20, "10": 20, "21": 20, "235": 28}
_SEQUENCES = (("22", "10", "21"), ("235",))
"""The qualifier paths of key 01: ``22, 10, 21`` in this order, each optional, or ``235``
(GS1 syntax dictionary ``dlpkey=22,10,21|235``)."""
_PCHAR = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+")
_DATE_ATTRIBUTES = frozenset({"11", "13", "15", "16", "17"})  # YYMMDD data attributes
_YYMMDD = re.compile(r"[0-9]{2}(?:0[1-9]|1[0-2])(?:[0-2][0-9]|3[01])")


@dataclass(frozen=True)
class DigitalLinkPath:
    """A parsed Digital Link path of primary key 01: the GTIN-14 and its qualifiers in
    path order (AI → decoded value)."""

    gtin: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default=())

    def value(self, ai: str) -> str | None:
        return dict(self.qualifiers).get(ai)

    def levels(self) -> list[DigitalLinkPath]:
        """This path and every shorter one up to the GTIN, most granular first."""
        return [
            DigitalLinkPath(self.gtin, self.qualifiers[:n])
            for n in range(len(self.qualifiers), -1, -1)
        ]

    def path(self) -> str:
        """The canonical path: 14-digit GTIN, each value percent-encoded (GS1 URIescape:
        every byte outside A-Z a-z 0-9 - . _ ~ as %HH)."""
        parts = ["", "01", self.gtin]
        for ai, value in self.qualifiers:
            parts += [ai, quote(value, safe="")]
        return "/".join(parts)


def _decode(ai: str, raw: str) -> str:
    if _PCHAR.fullmatch(raw) is None:
        raise MalformedInput(f"AI ({ai}): {raw!r:.60} is not a percent-encoded path segment")
    try:
        value = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise MalformedInput(f"AI ({ai}): {raw!r:.60} is not UTF-8 after decoding") from None
    if "\x00" in value:
        raise MalformedInput(f"AI ({ai}): a percent-encoded NUL is not allowed")
    return value


def _check_value(ai: str, value: str) -> str:
    limit = _QUALIFIER_MAX[ai]
    if not 1 <= len(value) <= limit:
        raise MalformedInput(f"AI ({ai}): expected 1-{limit} characters, got {len(value)}")
    bad = sorted(set(value) - CSET82)
    if bad:
        raise MalformedInput(f"AI ({ai}): characters outside GS1 CSET 82: {bad!r:.60}")
    return value


def _check_order(ais: list[str]) -> None:
    for sequence in _SEQUENCES:
        positions = [sequence.index(ai) if ai in sequence else -1 for ai in ais]
        if -1 not in positions and positions == sorted(set(positions)):
            return
    raise MalformedInput(
        f"qualifiers {'/'.join(ais)} after AI (01): expected 22, 10, 21 in this order "
        "(each optional) or 235 (GS1 Digital Link URI Syntax, dlpkey of AI 01)"
    )


def parse_link_path(raw_path: str) -> DigitalLinkPath:
    """Parse ``/01/{gtin}[/{ai}/{value}…][/]`` (the raw, still percent-encoded path).

    MalformedInput (400) for any syntax fault; NotFound (404) for a valid primary key other
    than 01, which this resolver does not serve."""
    segments = raw_path.split("/")[1:]
    if len(segments) > 1 and segments[-1] == "":
        segments = segments[:-1]  # a trailing slash is tolerated
    if not segments or len(segments) % 2:
        raise MalformedInput(f"path {raw_path!r:.80}: expected /01/{{gtin}}[/{{ai}}/{{value}}…]")
    key = segments[0]
    if key != "01":
        if key in _PRIMARY_KEYS:
            raise NotFound(f"primary key AI ({key}) is not served by this resolver (only 01)")
        raise MalformedInput(f"path {raw_path!r:.80}: {key!r:.12} is not a GS1 primary key")
    gtin = _decode("01", segments[1])
    try:
        gtin = validate_gtin(gtin)
    except MalformedInput as exc:
        raise MalformedInput(f"AI (01): {exc}") from None
    pairs = list(zip(segments[2::2], segments[3::2], strict=True))
    unknown = [ai for ai, _ in pairs if ai not in _QUALIFIER_MAX]
    if unknown:
        raise MalformedInput(f"AI ({unknown[0]:.8}) is not a qualifier of AI (01)")
    _check_order([ai for ai, _ in pairs])
    qualifiers = tuple((ai, _check_value(ai, _decode(ai, raw))) for ai, raw in pairs)
    return DigitalLinkPath(gtin, qualifiers)


@dataclass
class _Query:
    link_type: str | None = None
    passed_on: list[tuple[str, str]] = field(default_factory=list)


def _parse_query(query: str) -> _Query:
    """``linkType`` (name read case-insensitively), data attributes checked (YYMMDD dates),
    every other pair passed on to the redirect target."""
    out = _Query()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            raise MalformedInput("query: a NUL is not allowed")
        if name.lower() == "linktype":
            out.link_type = value
            continue
        if name in _DATE_ATTRIBUTES and _YYMMDD.fullmatch(value) is None:
            raise MalformedInput(f"data attribute AI ({name}): expected YYMMDD, got {value!r:.20}")
        out.passed_on.append((name, value))
    return out


def accept_rank(accept: str, *media: str) -> float:
    """The highest quality (RFC 9110 §12.5.1) ``accept`` gives any of ``media``."""
    best = 0.0
    for part in accept.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, val = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        if kind.lower() in media:
            best = max(best, q)
    return best


def _wants_linkset(request: Request, link_type: str | None) -> bool:
    if link_type in ("linkset", "all"):
        return True
    accept = request.headers.get("accept", "")
    linkset = accept_rank(accept, LINKSET, JSON_LD)
    return linkset > 0 and linkset >= accept_rank(accept, HTML, "application/xhtml+xml")


def _prefers_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    html = accept_rank(accept, HTML, "application/xhtml+xml")
    return html > 0 and html >= accept_rank(accept, "application/json", "application/problem+json")


def _short_type(link_type: str) -> str | None:
    """``gs1:pip`` or its IRI in any of the three namespace spellings → ``pip``."""
    if link_type.startswith("gs1:"):
        return link_type[4:]
    for namespace in _NAMESPACES:
        if link_type.startswith(namespace):
            return link_type[len(namespace) :]
    return None


# -- the links of each level --------------------------------------------------------------------


def _link(href: str, title: str, kind: str = HTML, **extra: Any) -> dict[str, Any]:
    return {"href": href, "title": title, "type": kind, "hreflang": ["zh", "en"], **extra}


def _level_links(base: str, level: DigitalLinkPath, item: dict[str, Any] | None) -> dict[str, Any]:
    """Link type → links at one level, for the item the ledger knows (empty if none)."""
    ais = tuple(ai for ai, _ in level.qualifiers)
    page = base + PAGES + level.path()
    if ais == ():
        if item is None:
            return {}
        return {
            "pip": [_link(page, "产品信息 Product information")],
            "verificationService": [_link(base + "/check", "核验标识 Verify a label")],
            "masterData": [
                _link(
                    f"{base}/v1/products/{level.gtin}",
                    "产品主数据 Product master data",
                    "application/json",
                    public=False,
                )
            ],
        }
    if ais == ("10",):
        if item is None or item["batch"] is None:
            return {}
        return {
            "pip": [_link(page, "批次信息 Lot information")],
            "certificationInfo": [_link(page + "#report", "检验报告 Factory test report")],
            "traceability": [_link(page + "#custody", "流转记录 Chain of custody")],
            "recallStatus": [_link(page, "召回状态 Recall status", "application/json")],
        }
    if ais == ("10", "21"):
        return {
            "pip": [_link(page, "标识核验 Label verification")],
            "verificationService": [_link(page, "标识核验 Label verification")],
        }
    return {}  # CPV (22) and third-party serials (235) are not recorded in this ledger


def _description(level: DigitalLinkPath, item: dict[str, Any] | None) -> str:
    ais = tuple(ai for ai, _ in level.qualifiers)
    if item is None:
        return f"未登记的标识 Label not in the ledger: GTIN {level.gtin}"
    if ais == ("10", "21") and item["batch"] is None:
        return f"{item['product']} 未登记的批号 unregistered lot {level.value('10')}"
    if ais == ():
        return str(item["product"])
    if ais == ("10",):
        return f"{item['product']} 批号 lot {level.value('10')}"
    return str(item["description"])


@dataclass
class _Resolution:
    anchor_base: str
    levels: list[tuple[DigitalLinkPath, dict[str, Any]]]  # most granular first
    descriptions: dict[str, str]

    def linkset(self) -> dict[str, Any]:
        contexts = []
        for level, links in self.levels:
            anchor = self.anchor_base + level.path()
            body: dict[str, Any] = {"anchor": anchor, "itemDescription": self.descriptions[anchor]}
            for name, found in links.items():
                body[VOC + name] = found
            contexts.append(body)
        return {"linkset": contexts}

    def find(self, short: str) -> list[dict[str, Any]] | None:
        """The links of type ``short`` at the most granular level having one."""
        for _, links in self.levels:
            if short in links:
                return list(links[short])
        return None


class _ReadOnce:
    """A read transaction whose projection rows are each read once: a page's read model
    asks for the same batch, report or organisation several times (a label page: 27 reads,
    12 of them repeats), and within one read transaction (a snapshot) the answer is the
    same each time. Only for read-only use: the rows handed out are shared."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx
        self._rows: dict[tuple[str, str], dict[str, Any] | None] = {}

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        try:
            return self._rows[kind, key]
        except KeyError:
            row = self._rows[kind, key] = self._tx.get(kind, key)
            return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


def read_once(tx: Tx) -> Tx:
    """``tx`` with each projection row read at most once (:class:`_ReadOnce`)."""
    return cast(Tx, _ReadOnce(tx))


def _resolution(services: Services, base: str, link: DigitalLinkPath) -> _Resolution:
    lot, serial = link.value("10"), link.value("21")
    direct = not any(ai in ("22", "235") for ai, _ in link.qualifiers)
    with services.ledger.store.read() as tx:
        item = resolver_item(
            read_once(tx), link.gtin, lot if direct else None, serial if direct else None
        )
    levels: list[tuple[DigitalLinkPath, dict[str, Any]]] = []
    descriptions: dict[str, str] = {}
    for level in link.levels():
        links = _level_links(base, level, item)
        if not links:
            continue
        default = links["pip"][0]
        links = {"defaultLink": [{"href": default["href"], "title": default["title"]}], **links}
        levels.append((level, links))
        descriptions[base + level.path()] = _description(level, item)
    if not levels:
        raise NotFound(f"GTIN {link.gtin} is not registered in this ledger")
    return _Resolution(base, levels, descriptions)


# -- responses ------------------------------------------------------------------------------


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _cors(response: Response, request: Request) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = METHODS
    asked = request.headers.get("access-control-request-headers")
    response.headers["Access-Control-Allow-Headers"] = asked or "Accept, Accept-Language"
    response.headers["Access-Control-Expose-Headers"] = "Link, Location, Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    response.headers["Vary"] = "Accept, Accept-Language"
    return response


def _linkset_pointer(base: str, link: DigitalLinkPath) -> str:
    return f'<{base}{link.path()}?linkType=linkset>; rel="linkset"; type="{LINKSET}"'


def _error(request: Request, exc: LedgerError) -> Response:
    status, slug = classify(exc)
    if _prefers_html(request):
        response: Response = error_page(request, exc, status)
    else:
        extra: dict[str, Any] = {}
        if isinstance(exc, MalformedInput):
            clause, message = explain(SYNTAX_RULE, "", {})
            extra = {"rule": SYNTAX_RULE, "clause": clause, "message": message}
        response = problem_response(status, slug, str(exc), request.url.path, **extra)
    return _cors(response, request)


def _target(href: str, passed_on: list[tuple[str, str]]) -> str:
    if not passed_on:
        return href
    url, hash_, fragment = href.partition("#")
    joined = url + ("&" if "?" in url else "?") + urlencode(passed_on)
    return joined + hash_ + fragment


def headless(request: Request, response: Response) -> Response:
    """The response without its body for a HEAD request (same status and headers)."""
    if request.method != "HEAD":
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(status_code=response.status_code, headers=headers)


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    return bytes(raw).decode("latin-1").split("?", 1)[0]


def has_serial(request: Request) -> bool:
    """True when the page path (``/pages`` + a Digital Link path) names a serial (AI 21)."""
    try:
        return parse_link_path(_raw_path(request)[len(PAGES) :]).value("21") is not None
    except LedgerError:
        return False


async def _answer(request: Request, services: Services) -> Response:
    base = _base(request)
    link = parse_link_path(_raw_path(request))
    query = _parse_query(request.url.query)
    if request.method == "OPTIONS":
        response = Response(status_code=204, headers={"Allow": METHODS})
        response.headers["Link"] = _linkset_pointer(base, link)
        return response
    found = await run_in_threadpool(_resolution, services, base, link)
    pointer = _linkset_pointer(base, link)
    if _wants_linkset(request, query.link_type) and _prefers_html(request):
        page_context = {
            "linkset": found.linkset()["linkset"],
            "anchor": base + link.path(),
            "link_type_name": lambda iri: LINK_TYPE_NAMES.get(iri.rsplit("/", 1)[-1], ""),
        }
        response = render(request, "linkset.html", page_context)
        response.headers["Link"] = pointer
        return response
    if _wants_linkset(request, query.link_type):
        json_ld = accept_rank(request.headers.get("accept", ""), JSON_LD) > accept_rank(
            request.headers.get("accept", ""), LINKSET
        )
        response = JSONResponse(found.linkset(), media_type=JSON_LD if json_ld else LINKSET)
        context = f'<{CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="{JSON_LD}"'
        response.headers["Link"] = f"{pointer}, {context}"
        response.headers["Cache-Control"] = "no-cache"
        return response
    short = "defaultLink"
    if query.link_type is not None:
        short = _short_type(query.link_type) or ""
        if short not in LINK_TYPES:
            raise NotFound(f"link type {query.link_type!r:.80} is not known to this resolver")
    links = found.find(short)
    if not links:
        raise NotFound(f"no {query.link_type} link for {link.path()}")
    if len(links) > 1:  # several links that cannot be told apart: the client chooses
        body = {"linkset": [{"anchor": base + link.path(), VOC + short: links}]}
        response = JSONResponse(body, status_code=300, media_type=LINKSET)
    else:
        response = Response(status_code=307)
        response.headers["Location"] = _target(links[0]["href"], query.passed_on)
    response.headers["Link"] = pointer
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.api_route("/01/{rest:path}", methods=["GET", "HEAD", "OPTIONS"], response_model=None)
async def resolve(request: Request, services: ServicesDep, rest: str) -> Response:
    """Resolve a GS1 Digital Link (see the module docstring)."""
    try:
        response = await _answer(request, services)
    except LedgerError as exc:
        return headless(request, _error(request, exc))
    return headless(request, _cors(response, request))


# -- the pages the links name -----------------------------------------------------------------


def _page_record(services: Services, link: DigitalLinkPath, day: date) -> dict[str, Any]:
    with services.ledger.store.read() as tx:
        lot = link.value("10")
        if lot is None:
            return product_record(read_once(tx), link.gtin, day)
        return lot_record(read_once(tx), link.gtin, lot, day)


async def page(request: Request, services: Services) -> Response:
    """The product or lot page of ``/pages/01/{gtin}[/10/{lot}]``; the label page of a path
    with a serial is :mod:`insutrace.api.label_routes`' (called by the caller)."""
    try:
        link = parse_link_path(_raw_path(request)[len(PAGES) :])
        if [ai for ai, _ in link.qualifiers] not in ([], ["10"]):
            raise NotFound(f"no page for {link.path()}: pages name a GTIN or a GTIN and a lot")
        record = await run_in_threadpool(_page_record, services, link, today(services))
    except LedgerError as exc:
        return headless(request, _error(request, exc))
    name = "lot.html" if link.value("10") is not None else "product.html"
    if not _prefers_html(request) and accept_rank(
        request.headers.get("accept", ""), "application/json"
    ):
        response: Response = JSONResponse(record, headers={"Cache-Control": "no-cache"})
    else:
        context = {
            "record": record,
            "resolver": _base(request) + link.path(),
            "product_link": f"{_base(request)}/01/{link.gtin}",
            "segment": lambda value: quote(value, safe=""),
        }
        response = render(request, name, context)
    response.headers["Link"] = _linkset_pointer(_base(request), link)
    response.headers["Vary"] = "Accept"
    return headless(request, response)


@router.get("/.well-known/gs1resolver", response_model=None)
async def description(request: Request) -> Response:
    """The resolver description file (GS1-Conformant Resolver 1.2.0 §description file)."""
    base = _base(request)
    body = {
        "name": "InsuTrace 建筑保温材料追溯 resolver",
        "resolverRoot": base,
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": VOC, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "jsonLdContextLocation": CONTEXT,
        "supportedContextValuesEnumerated": [],
    }
    response = JSONResponse(body, headers={"Cache-Control": "max-age=3600"})
    return _cors(response, request)
