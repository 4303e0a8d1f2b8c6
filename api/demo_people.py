"""The demo's people: an administrator and a member of staff for every demo organisation
(and the root authority), with passwords generated on this install, listed with their
sign-ins in ``<home>/demo-accounts.txt`` (mode 0600).

Used by ``insutrace serve --demo-if-empty`` (``./run.sh``) right after the demo story is
written. The names are made up; the usernames are the demo's organisation keys
(``xps.clerk``, ``lab_js.tester`` …) so the README can name them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insutrace.api.accounts import ROLES, AccountStore, new_password

__all__ = ["STAFF", "DemoSignin", "create_demo_people", "write_signins"]

# role -> (username suffix, job title) of the member of staff each organisation gets
STAFF: dict[str, tuple[str, str]] = {
    "authority": ("registrar", "登记管理员 Registrar"),
    "manufacturer": ("clerk", "质量专员 Quality clerk"),
    "distributor": ("sales", "发货员 Dispatcher"),
    "testing_lab": ("tester", "检测工程师 Test engineer"),
    "contractor": ("foreman", "施工员 Site foreman"),
    "supervisor": ("supervisor", "监理工程师 Site supervisor"),
    "building_owner": ("owner", "业主代表 Owner's representative"),
    "regulator": ("inspector", "质量监督员 Quality inspector"),
    "investigator": ("investigator", "火灾调查员 Fire investigator"),
    "designer": ("designer", "设计负责人 Design lead"),
    "drawing_reviewer": ("reviewer", "审图工程师 Drawing reviewer"),
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_GIVEN = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
)


@dataclass(frozen=True)
class DemoSignin:
    name: str
    organisation: str
    role: str
    title: str
    username: str
    password: str


def _name(n: int) -> str:
    return (
        _SURNAMES[n % len(_SURNAMES)]
        + _GIVEN[(n * 7) % len(_GIVEN)]
        + _GIVEN[(n * 3 + 5) % len(_GIVEN)]
    )


def create_demo_people(
    accounts: AccountStore, orgs: Mapping[str, Mapping[str, Any]]
) -> list[DemoSignin]:
    """An administrator and one member of staff for the root authority and each of
    ``orgs`` (the demo's ``{key: {"uscc", "name", "roles"}}``)."""
    parties: list[tuple[str, str, str, str]] = [
        ("root", "root", "根认证机构 Root authority", "authority")
    ]
    for key, org in orgs.items():
        role = next((r for r in org.get("roles", []) if r in ROLES), None)
        if role is not None:
            parties.append((key.lower(), str(org["uscc"]), str(org.get("name", key)), role))
    made: list[DemoSignin] = []
    for n, (key, uscc, org_name, role) in enumerate(parties):
        suffix, title = STAFF[role]
        for username, admin, shown in (
            (f"{key}.admin", True, "管理员 Administrator"),
            (f"{key}.{suffix}", False, title),
        ):
            name = _name(2 * n + int(admin))
            password = new_password()
            accounts.create_person(uscc, role, name, username, password, title=shown, admin=admin)
            made.append(DemoSignin(name, org_name, role, shown, username, password))
    return made


def write_signins(path: Path, signins: list[DemoSignin]) -> None:
    """The sign-ins as a table a person reads, readable by the file's owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    lines = [
        "# InsuTrace demo sign-ins, generated on this install (demo only: not for real use)",
        "# 姓名 name | 单位 organisation | 角色 role | 职务 title | 用户名 username | 密码 password",
    ]
    lines += [
        " | ".join((s.name, s.organisation, s.role, s.title, s.username, s.password))
        for s in signins
    ]
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
