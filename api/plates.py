"""Wall identification plates (标识化管理) built from a building's record in the ledger.

The plate of a façade lists what the ledger knows was put there and is finished: sections
installed on a project both the supervisor and the owner accepted (dated by the later
acceptance), and sections of an existing building recorded by a survey (dated by the
survey). Installations of one batch into one section are one row; a row whose batch is
recalled or non-conforming leads with that mark (:func:`~insutrace.trace.domain.read.
building_standing`), so a plate never presents it as sound. Its QR opens the
building's public page, ``https://{resolver}/buildings/{id}``. Names are cut to what the
plate prints (``insutrace.labels.model``) with an ellipsis.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from insutrace.labels.model import WallPlateContent, WallPlateRow
from insutrace.trace.domain.queries import wall_identification
from insutrace.trace.domain.read import building_standing
from insutrace.trace.entry import Entry
from insutrace.trace.errors import MalformedInput, NotFound, RuleViolation
from insutrace.trace.store.base import Tx

__all__ = ["NON_CONFORMING", "RECALLED", "facade_name", "plate_content", "plate_rows"]

RECALLED = "【已召回 recalled】"
NON_CONFORMING = "【不合格 non-conforming】"

POSITIONS = {
    "external_wall": "外墙外保温",
    "internal": "内保温",
    "sandwich_core": "夹芯保温",
    "roof": "屋面保温",
    "door_core": "门芯保温",
}
FACADES = {"north": "北立面 North", "south": "南立面 South", "east": "东立面 East",
           "west": "西立面 West"}  # fmt: skip
TYPES = {
    "eps": "模塑聚苯板 EPS",
    "xps": "挤塑聚苯板 XPS",
    "pu": "硬泡聚氨酯 PU",
    "pir": "聚异氰脲酸酯 PIR",
    "phenolic": "酚醛泡沫 Phenolic",
    "rock_wool": "岩棉 Rock wool",
    "glass_wool": "玻璃棉 Glass wool",
    "foam_glass": "泡沫玻璃 Foam glass",
    "aerogel": "气凝胶毡 Aerogel",
    "inorganic_mortar": "无机保温砂浆 Mortar",
    "foamed_cement": "发泡水泥板 Foamed cement",
    "vacuum_panel": "真空绝热板 VIP",
    "composite_panel": "夹芯板 Sandwich panel",
    "unknown": "未知 Unknown",
}


def fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when cut."""
    text = " ".join(str(text).split()) or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def facade_name(facade: str) -> str:
    return fit(FACADES.get(facade, facade), 24)


def _org_name(tx: Tx, uscc: str, limit: int) -> str:
    org = tx.get("org", uscc)
    return fit(org["name"] if org else uscc, limit)


def _accepted_on(tx: Tx, project: dict[str, Any] | None) -> date | None:
    """The date of the later of the two acceptances, or None while not accepted."""
    if project is None or project["status"] != "accepted":
        return None
    days = []
    for seq in project["accepted"].values():
        payload = Entry.from_bytes(tx.entries(seq, seq + 1)[0]).payload
        days.append(date.fromisoformat(str(payload["date"])))
    return max(days)


def _flags(tx: Tx, building_id: str, day: date) -> dict[tuple[str, str, str], str]:
    """(project, section, batch) -> the mark a plate row of a flagged wall leads with."""
    return {
        (w["project"], w["section"], w["batch"]): RECALLED if w["recalled"] else NON_CONFORMING
        for w in building_standing(tx, building_id, day)["flagged"]
    }


def _installed_rows(
    tx: Tx, records: list[dict[str, Any]], flags: dict[tuple[str, str, str], str]
) -> list[WallPlateRow]:
    rows: dict[tuple[str, str, str], WallPlateRow] = {}
    for r in records:
        project = tx.get("project", r["project"])
        accepted = _accepted_on(tx, project)
        if accepted is None or project is None:
            continue
        section = project["sections"].get(r["section"], {}).get("name", r["section"])
        rows.setdefault(
            (r["project"], r["section"], r["batch"]),
            WallPlateRow(
                position=fit(f"{section} {POSITIONS.get(r['position'], r['position'])}", 24),
                product=fit(
                    flags.get((r["project"], r["section"], r["batch"]), "") + r["product"], 24
                ),
                combustion_class=fit(r["class"], 24),
                manufacturer=_org_name(tx, r["manufacturer"], 32),
                contractor=_org_name(tx, r["contractor"], 32),
                date=accepted,
                date_kind="accepted",
            ),
        )
    return list(rows.values())


def _surveyed_rows(building: dict[str, Any], records: list[dict[str, Any]]) -> list[WallPlateRow]:
    surveyed = date.fromisoformat(building["survey"]["date"]) if building.get("survey") else None
    return [
        WallPlateRow(
            position=fit(POSITIONS.get(r["position"], r["position"]), 24),
            product=fit(TYPES.get(r["type"], r["type"]), 24),
            combustion_class=fit(r["class"], 24),
            manufacturer=fit(r["manufacturer"], 32),
            contractor=fit(r["contractor"], 32),
            date=surveyed,
            date_kind="surveyed",
        )
        for r in records
        if r.get("source") == "survey" and surveyed is not None
    ]


def plate_rows(
    tx: Tx, building_id: str, day: date
) -> tuple[dict[str, Any], dict[str, list[WallPlateRow]]]:
    """The building row and, per façade, the rows its plate prints (maybe none yet); a row
    whose batch is recalled or non-conforming on ``day`` leads with that mark."""
    record = wall_identification(tx, building_id)
    building = record["building"]
    flags = _flags(tx, building_id, day)
    out = {}
    for facade, records in sorted(record["facades"].items()):
        installed = [r for r in records if r.get("source") != "survey"]
        out[facade] = _surveyed_rows(building, records) + _installed_rows(tx, installed, flags)
    return building, out


def plate_content(
    tx: Tx, building_id: str, facade: str | None, resolver: str, day: date
) -> WallPlateContent:
    """The plate of one façade (the only one when ``facade`` is None), as of ``day``."""
    building, facades = plate_rows(tx, building_id, day)
    if not facades:
        raise RuleViolation(
            "plate.finished", f"building {building_id} has no insulation on record yet"
        )
    if facade is None:
        if len(facades) != 1:
            names = ", ".join(facades) or "none"
            raise MalformedInput(f"facade: building {building_id} has façades {names}; name one")
        facade = next(iter(facades))
    if facade not in facades:
        raise NotFound(f"building {building_id} has no façade {facade!r}")
    rows = facades[facade]
    if not rows:
        raise RuleViolation(
            "plate.finished",
            f"façade {facade} of building {building_id} has no accepted or surveyed insulation "
            "yet: a plate identifies a finished façade",
        )
    return WallPlateContent(
        building_name=fit(building["name"], 32),
        address=fit(building["address"], 48),
        facade=facade_name(facade),
        rows=tuple(rows),
        record_url=f"https://{resolver}/buildings/{quote(building_id, safe='')}",
    )
