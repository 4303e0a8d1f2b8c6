"""The campaign's ledger views: hazard ledgers of existing buildings and organisations
(JSON and CSV), a project's design changes, measures and persons, the persons on credit
lists, and the person identifier.

    GET  /v1/buildings/{id}/hazard-ledger             its owner; regulators … : the four
                                                      lists, supervised hazards, signage
    GET  /v1/buildings/{id}/hazard-ledger/{list}.csv  one list as CSV (Chinese-first
                                                      headings): hazards, rectification,
                                                      closed, responsibility
    GET  /v1/orgs/{uscc}/hazard-ledger                the organisation itself; regulators …
    GET  /v1/orgs/{uscc}/hazard-ledger/{list}.csv
    GET  /v1/projects/{id}/campaign                   its parties; regulators … : design
                                                      changes, sections in force, measures,
                                                      persons
    GET  /v1/public/blacklist/persons                 public: persons on a credit list in
                                                      effect, with their units
    GET  /v1/public/persons/credit?q=                 public: by person id or name
    POST /v1/persons/identifier                       any account: the person id of a
                                                      national ID number (docs/persons.md)
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from insutrace.api.authz import authorize_read
from insutrace.api.deps import AccountDep, ServicesDep
from insutrace.api.problems import PROBLEM_RESPONSES
from insutrace.trace.domain.design import design_changes
from insutrace.trace.domain.existing import hazard_ledger, ledger_table, org_hazard_ledger
from insutrace.trace.domain.fields import local_date
from insutrace.trace.domain.measures import project_measures
from insutrace.trace.domain.persons import (
    PersonKey,
    person_credit_status,
    persons_listed,
    project_persons,
)
from insutrace.trace.domain.read import design_in_force
from insutrace.trace.errors import Forbidden, NotFound
from insutrace.trace.store.base import KV

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["ledgers"], responses=PROBLEM_RESPONSES)
Id = Annotated[str, Path(min_length=1, max_length=200)]
ListName = Literal["hazards", "rectification", "closed", "responsibility"]
On = Annotated[date | None, Query(description="Day (default: today, CST).")]


def _read(services: ServicesDep, fn: Any, *args: Any) -> Any:
    def run() -> Any:
        with services.ledger.store.read() as tx:
            return fn(tx, *args)

    return run_in_threadpool(run)


def _today(services: ServicesDep, on: date | None) -> date:
    return on or local_date(services.ledger.clock.now())


def _csv(headings: list[str], rows: list[list[str]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(headings)
    writer.writerows(rows)
    return Response(
        out.getvalue().encode("utf-8-sig"),  # the BOM lets spreadsheets read the Chinese
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- hazard ledgers ----------------------------------------------------------------------------


def _building_ledger(kv: KV, account: Any, building: str, day: date) -> dict[str, Any]:
    if kv.get("building", building) is None:
        raise NotFound(f"no building {building!r}")
    authorize_read(kv, account, {"building": building})
    return hazard_ledger(kv, building, day)


def _org_ledger(kv: KV, account: Any, org: str, day: date) -> dict[str, Any]:
    if kv.get("org", org) is None:
        raise NotFound(f"no organisation {org!r}")
    if not account.reads_everything and account.org != org:
        raise Forbidden(f"{account.org} reads its own hazard ledger, not {org}'s")
    return org_hazard_ledger(kv, org, day)


@router.get("/buildings/{building}/hazard-ledger", response_model=dict[str, Any])
async def building_hazard_ledger(
    services: ServicesDep, account: AccountDep, building: Id, on: On = None
) -> dict[str, Any]:
    """隐患清单, 整改清单, 销号清单, 责任清单 of a building; its hazards under listed
    supervision (挂牌督办) and whether its insulation class sign is posted and current."""
    found: dict[str, Any] = await _read(
        services, _building_ledger, account, building, _today(services, on)
    )
    return found


@router.get("/buildings/{building}/hazard-ledger/{name}.csv", response_class=Response)
async def building_hazard_csv(
    services: ServicesDep, account: AccountDep, building: Id, name: ListName, on: On = None
) -> Response:
    """One of the building's four lists as CSV (UTF-8, Chinese-first headings)."""
    ledger = await _read(services, _building_ledger, account, building, _today(services, on))
    headings, rows = ledger_table(ledger, name)
    return _csv(headings, rows, f"{building}-{name}.csv")


@router.get("/orgs/{uscc}/hazard-ledger", response_model=dict[str, Any])
async def org_hazard(
    services: ServicesDep, account: AccountDep, uscc: Id, on: On = None
) -> dict[str, Any]:
    """The four lists across every building the organisation owns."""
    found: dict[str, Any] = await _read(services, _org_ledger, account, uscc, _today(services, on))
    return found


@router.get("/orgs/{uscc}/hazard-ledger/{name}.csv", response_class=Response)
async def org_hazard_csv(
    services: ServicesDep, account: AccountDep, uscc: Id, name: ListName, on: On = None
) -> Response:
    """One of the organisation's four lists as CSV."""
    ledger = await _read(services, _org_ledger, account, uscc, _today(services, on))
    headings, rows = ledger_table(ledger, name)
    return _csv(headings, rows, f"{uscc}-{name}.csv")


# -- a project's campaign facts -----------------------------------------------------------------


def _campaign(kv: KV, account: Any, project: str) -> dict[str, Any]:
    row = kv.get("project", project)
    if row is None:
        raise NotFound(f"no project {project!r}")
    authorize_read(kv, account, {"project": project})
    return {
        "project": project,
        "design_in_force": {sid: design_in_force(kv, row, sid) for sid in sorted(row["sections"])},
        "design_changes": design_changes(kv, project),
        "measures": project_measures(kv, project),
        "persons": project_persons(kv, project),
    }


@router.get("/projects/{project}/campaign", response_model=dict[str, Any])
async def project_campaign(
    services: ServicesDep, account: AccountDep, project: Id
) -> dict[str, Any]:
    """The project's design changes and each section's design in force, its ancillary fire
    measures with their documents, and the persons assigned to it."""
    found: dict[str, Any] = await _read(services, _campaign, account, project)
    return found


# -- persons -----------------------------------------------------------------------------------


@router.get("/public/blacklist/persons", response_model=list[dict[str, Any]], tags=["public"])
async def blacklisted_persons(services: ServicesDep, on: On = None) -> list[dict[str, Any]]:
    """Persons on a credit list in effect on ``on``, each with the units named with them."""
    found: list[dict[str, Any]] = await _read(services, persons_listed, _today(services, on))
    return found


@router.get("/public/persons/credit", response_model=list[dict[str, Any]], tags=["public"])
async def person_credit(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Person id or name.")],
    on: On = None,
) -> list[dict[str, Any]]:
    """Credit status and listing history of persons, by person id or (part of) a name."""
    found: list[dict[str, Any]] = await _read(
        services, person_credit_status, q, _today(services, on)
    )
    return found


class NationalId(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    national_id: str = Field(
        min_length=18, max_length=18, description="GB 11643-1999 citizen identity number."
    )


class PersonIdentifier(BaseModel):
    person: str = Field(description="P- and 40 hex digits: the id to put in entries.")


@router.post("/persons/identifier", response_model=PersonIdentifier)
async def person_identifier(
    services: ServicesDep, account: AccountDep, body: NationalId
) -> PersonIdentifier:
    """The person id of a national ID number under this ledger's person key; the number is
    checked (ISO 7064 MOD 11-2) and neither stored nor logged."""
    key = await run_in_threadpool(PersonKey.at, services.settings.keys_dir / "person.key")
    return PersonIdentifier(person=key.person_id(body.national_id))
