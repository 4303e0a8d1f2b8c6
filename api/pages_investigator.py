"""The investigator's pages: a back-trace as a page, and its dossier.

    GET /investigate                                      the form: what to trace from
    GET /investigate/trace?kind=&id=&downstream=          the back-trace: the chain drawn
                                                          (server-rendered SVG), upstream
                                                          records and the recall list
    GET /investigate/dossier.{json,html,pdf}?kind=&id=    the dossier: every cited entry
                                                          proven against one checkpoint

``kind`` is ``wall`` (``PROJECT/SECTION``), ``building``, ``label`` (its GS1 Digital Link),
``batch`` (``GTIN14.LOT``) or ``incident``. Who may trace what is the API's read table
(:func:`insutrace.api.authz.authorize_read`): a wall by its project's parties, a building
by its owner, a batch or label by the batch's parties; regulators, investigators and the
authority trace anything, and they alone an incident.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from insutrace.api.accounts import Account
from insutrace.api.deps import Services, ServicesDep
from insutrace.api.pages import FormErrors, denied, page, read, signed_in
from insutrace.api.problems import classify
from insutrace.render.chain import display_name, role_of
from insutrace.render.dossier_html import render_html
from insutrace.render.dossier_pdf import render_dossier_pdf
from insutrace.render.svg import render_svg
from insutrace.trace.backtrace import (
    batch_of_label,
    trace_batch,
    trace_building,
    trace_incident,
    trace_label,
    trace_section,
)
from insutrace.trace.dossier import build_dossier
from insutrace.trace.errors import Forbidden, LedgerError, MalformedInput, NotFound
from insutrace.trace.store.base import Tx

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

KINDS = {
    "wall": "墙体 Wall (项目/部位 PROJECT/SECTION)",
    "building": "建筑 Building",
    "label": "标签 Label (链接 link)",
    "batch": "批次 Batch (GTIN.LOT)",
    "incident": "事故 Incident",
}
NODE_KINDS = {
    "org": "单位 Organisation",
    "product": "产品 Product",
    "batch": "批次 Batch",
    "report": "检验报告 Report",
    "project": "项目 Project",
    "section": "墙体部位 Wall section",
    "building": "建筑 Building",
    "inspection": "进场验收 Inspection",
    "sample": "见证取样 Sample",
    "acceptance": "竣工验收 Acceptance",
    "permit": "许可决定 Permit",
    "incident": "事故 Incident",
    "listing": "失信名单 Listing",
}


def _scope(kind: str, value: str) -> dict[str, str]:
    """The read check of a trace (the API's table): what its subject belongs to."""
    if kind == "wall":
        project, _, section = value.partition("/")
        if not project or not section:
            raise MalformedInput("墙体请写成 项目/部位 a wall is PROJECT/SECTION", "/payload/id")
        return {"project": project}
    if kind == "building":
        return {"building": value}
    if kind == "batch":
        return {"batch": value}
    if kind == "label":
        return {"batch": batch_of_label(value)[0]}
    if kind == "incident":
        return {}
    raise MalformedInput(f"kind must be one of {', '.join(KINDS)}", "/payload/kind")


def _trace(tx: Tx, kind: str, value: str, downstream: bool) -> dict[str, Any]:
    if kind == "wall":
        project, _, section = value.partition("/")
        return trace_section(tx, project, section, downstream=downstream).to_json()
    if kind == "building":
        return trace_building(tx, value, downstream=downstream).to_json()
    if kind == "label":
        return trace_label(tx, value).to_json()
    if kind == "batch":
        return trace_batch(tx, value).to_json()
    return trace_incident(tx, value, downstream=downstream).to_json()


async def _traced(
    services: Services, account: Account, kind: str, value: str, downstream: bool
) -> dict[str, Any]:
    scope = _scope(kind, value)
    trace: dict[str, Any] = await read(services, account, scope, _trace, kind, value, downstream)
    return trace


def _form(
    request: Request, account: Account, kind: str, value: str, errors: FormErrors, status: int
) -> Response:
    context = {"kinds": KINDS, "kind": kind, "value": value, "errors": errors, "trace": None}
    return page(request, "investigate.html", account, context, status)


@router.get("/investigate", response_model=None)
async def investigate(request: Request, services: ServicesDep) -> Response:
    account = signed_in(services, request)
    return _form(request, account, "wall", "", FormErrors(), 200)


Kind = Annotated[str, Query(max_length=20)]
Value = Annotated[str, Query(max_length=400)]


@router.get("/investigate/trace", response_model=None)
async def trace_page(
    request: Request, services: ServicesDep, kind: Kind = "", id: Value = "",
    downstream: Annotated[str, Query(max_length=5)] = "1",
) -> Response:  # fmt: skip
    account = signed_in(services, request)
    value = id.strip()
    errors = FormErrors()
    if not value:
        errors.add("id", "请填写追溯对象", "Name what to trace from")
        return _form(request, account, kind, value, errors, 400)
    try:
        trace = await _traced(services, account, kind, value, downstream != "0")
    except Forbidden as exc:
        return denied(request, account, exc)
    except (MalformedInput, NotFound) as exc:
        field = "kind" if getattr(exc, "pointer", "") == "/payload/kind" else "id"
        errors.add(field, "无法追溯：" if isinstance(exc, NotFound) else "此项填写有误：", str(exc))
        return _form(request, account, kind, value, errors, classify(exc)[0])
    nodes = sorted(
        trace["nodes"],
        key=lambda n: (
            list(NODE_KINDS).index(n["kind"]) if n["kind"] in NODE_KINDS else 99,
            n["id"],
        ),
    )
    rows = [
        {
            **n,
            "role": role_of(n),
            "name": display_name(n),
            "kind_name": NODE_KINDS.get(n["kind"], n["kind"]),
        }
        for n in nodes
    ]
    context = {
        "kinds": KINDS,
        "kind": kind,
        "value": value,
        "errors": errors,
        "trace": trace,
        "nodes": rows,
        "svg": render_svg(trace),
        "query": request.url.query,
    }
    return page(request, "investigate.html", account, context)


@router.get("/investigate/dossier.{fmt}", response_model=None)
async def dossier(
    request: Request, services: ServicesDep, fmt: str, kind: Kind = "", id: Value = "",
    downstream: Annotated[str, Query(max_length=5)] = "1",
) -> Response:  # fmt: skip
    account = signed_in(services, request)
    if fmt not in ("json", "html", "pdf"):
        return denied(request, account, NotFound(f"no dossier format {fmt!r}"))
    try:
        trace = await _traced(services, account, kind, id.strip(), downstream != "0")
        query = {
            "kind": "section" if kind == "wall" else kind,
            "id": id.strip(),
            "downstream": downstream != "0",
        }
        made = await run_in_threadpool(build_dossier, services.ledger, query)
    except LedgerError as exc:
        return denied(request, account, exc)
    name = f"dossier-{trace['subject']['kind']}"
    if fmt == "json":
        body = json.dumps(made, ensure_ascii=False, indent=2, sort_keys=True).encode()
        kind_type = "application/json"
    elif fmt == "html":
        body = render_html(made).encode()
        kind_type = "text/html; charset=utf-8"
    else:
        body = await run_in_threadpool(render_dossier_pdf, made)
        kind_type = "application/pdf"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
        "Cache-Control": "private, no-cache",
    }
    return Response(body, media_type=kind_type, headers=headers)
