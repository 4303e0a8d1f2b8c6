"""The regulator's pages.

    GET  /regulator                              every project, with links to its gate
    GET  /regulator/projects/{id}/gate?stage=    the permit gate of one stage as a page: the
                                                 decision in Chinese (pass or refuse), each
                                                 finding with its rule, clause, the entries it
                                                 rests on and the property that failed
    POST /regulator/projects/{id}/gate           record the decision (``permit.decide``)
    GET  /regulator/alerts?kind=&status=         the alerts inbox: clone, overscan,
                                                 counterfeit, failed re-tests, credit proposals
    GET  /regulator/alerts.csv?kind=&status=     the same as CSV (Chinese-first headings)
    GET  /regulator/alert?id=                    one alert and its lifecycle
    POST /regulator/alert                        acknowledge, assign, close (``alert.*``)

The gate is :func:`insutrace.trace.domain.gate.evaluate`; the inbox is
:func:`insutrace.trace.domain.read.alert_inbox`.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from insutrace.api.accounts import Account
from insutrace.api.csrf import require_csrf
from insutrace.api.deps import ServicesDep
from insutrace.api.pages import (
    FormErrors,
    denied,
    form_errors,
    page,
    read,
    signed_in,
    write,
)
from insutrace.api.pages_site import rule_text
from insutrace.api.problems import classify
from insutrace.api.web import today
from insutrace.trace.domain.gate import STAGE_NAMES, STAGES, Stage, decisions, evaluate
from insutrace.trace.domain.read import (
    ALERT_KINDS,
    ALERT_STATUSES,
    alert_inbox,
    alert_of,
    failed_properties,
    project_list,
)
from insutrace.trace.domain.reports import Property
from insutrace.trace.errors import Forbidden, LedgerError, NotFound
from insutrace.trace.store.base import Tx

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

ROLES = ("regulator", "authority")
ALERT_ROLES = ("regulator", "investigator", "authority")
PROPERTY_NAMES = {
    Property.COMBUSTION: "燃烧性能 combustion",
    Property.THERMAL_CONDUCTIVITY: "导热系数 thermal conductivity",
    Property.DENSITY: "密度 density",
    Property.COMPRESSIVE_STRENGTH: "压缩强度 compressive strength",
    Property.WATER_ABSORPTION: "吸水率 water absorption",
    Property.TENSILE_STRENGTH: "垂直于板面方向的抗拉强度 tensile strength",
    Property.DIMENSIONAL_STABILITY: "尺寸稳定性 dimensional stability",
    Property.SMOKE_TOXICITY: "烟气毒性 smoke toxicity",
}
KIND_NAMES = {
    "clone": "克隆标识 clone",
    "overscan": "超发扫码 overscan",
    "counterfeit": "假冒标识 counterfeit",
    "retest": "复验不合格 failed re-test",
    "credit": "失信惩戒建议 credit proposal",
}
STATUS_NAMES = {
    "open": "待处理 open",
    "acknowledged": "已确认 acknowledged",
    "assigned": "已指派 assigned",
    "closed": "已关闭 closed",
}
STEP_TYPES = {"acknowledge": "alert.acknowledge", "assign": "alert.assign", "close": "alert.close"}
_PROPERTIES = {p.value for p in Property}
CSV_HEADINGS = [
    "编号 id",
    "类别 kind",
    "状态 status",
    "日期 date",
    "批次 batch",
    "序列号 serial",
    "企业 organisation",
    "项目 projects",
    "原因 reason",
    "承办人 assignee",
    "条目 entries",
]


def _gate(tx: Tx, project_id: str, stage: Stage, on: date) -> dict[str, Any]:
    row = tx.get("project", project_id)
    if row is None:
        raise NotFound(f"no project {project_id!r}")
    evaluation = evaluate(tx, project_id, stage, on=on)
    findings = [
        {
            **f.to_json(),
            "zh": rule_text(f.rule),
            "properties": [
                PROPERTY_NAMES.get(Property(p), p) if p in _PROPERTIES else p
                for p in ([] if f.ok else failed_properties(tx, f.entries))
            ],
        }
        for f in evaluation.findings
    ]
    return {
        "project": row,
        "evaluation": evaluation.to_json(),
        "findings": sorted(findings, key=lambda f: f["ok"]),
        "decided": decisions(tx, project_id).get(stage.value),
    }


@router.get("/regulator", response_model=None)
async def projects(request: Request, services: ServicesDep) -> Response:
    account = signed_in(services, request, *ROLES)
    rows = await read(services, account, {}, project_list)
    return page(
        request, "regulator_projects.html", account, {"projects": rows, "stages": STAGE_NAMES}
    )


def _stage(value: str) -> Stage:
    return Stage(value) if value in {s.value for s in STAGES} else Stage.FIRE_DESIGN_REVIEW


async def _gate_page(
    request: Request, services: Any, account: Account, project: str, stage: Stage,
    errors: FormErrors, number: str = "", status: int = 200,
) -> Response:  # fmt: skip
    try:
        found = await read(
            services, account, {"project": project}, _gate, project, stage, today(services)
        )
    except (Forbidden, NotFound) as exc:
        return denied(request, account, exc)
    context = {
        **found,
        "stage": stage.value,
        "stages": STAGE_NAMES,
        "errors": errors,
        "number": number,
        "recorded": request.query_params.get("recorded"),
    }
    return page(request, "regulator_gate.html", account, context, status)


@router.get("/regulator/projects/{project}/gate", response_model=None)
async def gate_page(
    request: Request, services: ServicesDep, project: str,
    stage: Annotated[str, Query(max_length=40)] = "fire_design_review",
) -> Response:  # fmt: skip
    account = signed_in(services, request, *ROLES)
    return await _gate_page(request, services, account, project, _stage(stage), FormErrors())


@router.post("/regulator/projects/{project}/gate", response_model=None)
async def decide(
    request: Request,
    services: ServicesDep,
    project: str,
    stage: Annotated[str, Form(max_length=40)],
    outcome: Annotated[str, Form(max_length=10)],
    rules: Annotated[str, Form(max_length=2000)] = "",
    number: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Record the decision the page showed: its outcome and refused rules, and the decision
    document's number. The ledger checks them against the gate again (``permit.outcome``)."""
    account = signed_in(services, request, "regulator")
    await require_csrf(request)
    chosen = _stage(stage)
    payload: dict[str, Any] = {
        "schema": 1,
        "project": project,
        "stage": chosen.value,
        "outcome": outcome,
        "rules": sorted({r for r in rules.split(",") if r}),
        "number": number.strip(),
    }
    try:
        receipt = await run_in_threadpool(write, services, account, "permit.decide", payload, None)
    except LedgerError as exc:
        errors = form_errors(exc, {"number": "number", "outcome": "", "rules": ""}, {})
        return await _gate_page(
            request, services, account, project, chosen, errors, number.strip(), classify(exc)[0]
        )
    target = f"/regulator/projects/{quote(project, safe='')}/gate?stage={chosen.value}&recorded={receipt.seq}"
    return RedirectResponse(target, status_code=303)


# -- alerts -----------------------------------------------------------------------------------


def _filters(kind: str, status: str) -> tuple[str | None, str | None]:
    return (kind if kind in ALERT_KINDS else None, status if status in ALERT_STATUSES else None)


@router.get("/regulator/alerts", response_model=None)
async def inbox(
    request: Request,
    services: ServicesDep,
    kind: Annotated[str, Query(max_length=20)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    account = signed_in(services, request, *ALERT_ROLES)
    k, s = _filters(kind, status)
    rows = await read(services, account, {}, alert_inbox, today(services), kind=k, status=s)
    context = {
        "alerts": rows,
        "kind": k or "",
        "status": s or "",
        "kinds": KIND_NAMES,
        "statuses": STATUS_NAMES,
        "query": f"kind={k or ''}&status={s or ''}",
    }
    return page(request, "regulator_alerts.html", account, context)


@router.get("/regulator/alerts.csv", response_model=None)
async def inbox_csv(
    request: Request,
    services: ServicesDep,
    kind: Annotated[str, Query(max_length=20)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    account = signed_in(services, request, *ALERT_ROLES)
    k, s = _filters(kind, status)
    rows = await read(services, account, {}, alert_inbox, today(services), kind=k, status=s)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(CSV_HEADINGS)
    for a in rows:
        writer.writerow(
            [
                a["id"],
                KIND_NAMES[a["kind"]],
                STATUS_NAMES[a["status"]],
                a["date"],
                a["batch"] or "",
                a["serial"] or "",
                a["org"] or "",
                " ".join(a["projects"]),
                a["reason"],
                a["assignee"] or "",
                " ".join(str(s) for s in a["entries"]),
            ]
        )
    body = "\ufeff" + out.getvalue()  # a BOM, so that spreadsheet programs read UTF-8
    headers = {
        "Content-Disposition": 'attachment; filename="alerts.csv"',
        "Cache-Control": "private, no-cache",
    }
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)


async def _alert_page(
    request: Request, services: Any, account: Account, alert_id: str, errors: FormErrors,
    form: dict[str, str], status: int = 200,
) -> Response:  # fmt: skip
    found = await read(services, account, {}, alert_of, alert_id, today(services))
    if found is None:
        return denied(request, account, NotFound(f"no alert {alert_id!r}"))
    context = {
        "alert": found,
        "kinds": KIND_NAMES,
        "statuses": STATUS_NAMES,
        "errors": errors,
        "form": form,
        "recorded": request.query_params.get("recorded"),
    }
    return page(request, "regulator_alert.html", account, context, status)


@router.get("/regulator/alert", response_model=None)
async def alert_page(
    request: Request, services: ServicesDep, id: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    account = signed_in(services, request, *ALERT_ROLES)
    return await _alert_page(request, services, account, id, FormErrors(), {})


@router.post("/regulator/alert", response_model=None)
async def alert_step(
    request: Request,
    services: ServicesDep,
    alert: Annotated[str, Form(max_length=200)],
    step: Annotated[str, Form(max_length=20)],
    assignee: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    account = signed_in(services, request, "regulator", "investigator")
    await require_csrf(request)
    form = {"assignee": assignee.strip(), "note": note.strip(), "step": step}
    type = STEP_TYPES.get(step)
    payload: dict[str, Any] = {"schema": 1, "alert": alert}
    if form["note"]:
        payload["note"] = form["note"]
    if step == "assign":
        payload["assignee"] = form["assignee"]
    try:
        if type is None:
            raise Forbidden(f"no such step {step!r}")
        receipt = await run_in_threadpool(write, services, account, type, payload, None)
    except LedgerError as exc:
        field = {"note": f"{step}_note", "assignee": "assignee"}
        rules = {"alert.order": f"{step}_note", "alert.closed": f"{step}_note"}
        errors = form_errors(exc, field, rules)
        return await _alert_page(request, services, account, alert, errors, form, classify(exc)[0])
    target = f"/regulator/alert?id={quote(alert, safe='')}&recorded={receipt.seq}"
    return RedirectResponse(target, status_code=303)
