"""Scenario builders for the domain tests: organisations, products, batches, a site.

Every builder appends real entries through the ``ledger`` fixture (SQLite and
PostgreSQL, verified and rebuilt after each test). Identifiers are valid by
construction (USCC check character, GTIN check digit, CMA format); keys are the
test-only deterministic keys of ``signer_for``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import pytest

from insutrace.trace.errors import RuleViolation
from insutrace.trace.identifiers import gtin_check_digit, uscc_check_char
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger, Receipt
from insutrace.trace.policy import policy_ref

DOC = "ab" * 32  # a document's SHA-256 (content irrelevant here)
TODAY = "2026-11-22"  # the fixture clock's date in China Standard Time
POLICY = policy_ref("cn-national-2025", "2025.1")
B1 = "GB 8624 B1(B-s1,d0,t1)"


@contextmanager
def refused(rule: str, match: str | None = None) -> Iterator[None]:
    """Expect a RuleViolation with this rule id (and ``match`` literally in its message)."""
    with pytest.raises(RuleViolation, match=re.escape(match) if match else None) as info:
        yield
    assert info.value.rule == rule, info.value


def uscc(n: int) -> str:
    first17 = f"91320100MA{n:07d}"
    return first17 + uscc_check_char(first17)


def gtin(n: int) -> str:
    data = f"0690{n:09d}"
    return data + gtin_check_digit(data)


def results(
    cls: str = B1, conductivity: str = "0.030", density: str = "30", **extra: Any
) -> list[dict[str, Any]]:
    """Test results for combustion, conductivity and density (+ re-test extras)."""
    out: list[dict[str, Any]] = [
        {"property": "combustion", "standard": "GB 8624-2012", "class": cls},
        {"property": "thermal_conductivity", "standard": "GB/T 10294", "value": conductivity},
        {"property": "density", "standard": "GB/T 6343", "value": density},
    ]
    for prop, value in extra.items():
        out.append({"property": prop, "standard": "GB/T 8813", "value": value, "unit": "-"})
    return out


RETEST_EXTRAS = {
    "compressive_strength": "200",
    "water_absorption": "1.2",
    "tensile_strength_perpendicular": "0.15",
}


@dataclass
class World:
    """A ledger with helpers that write well-formed domain entries."""

    ledger: Ledger
    root: Signer
    signer_for: Callable[[str], Signer]
    orgs: dict[str, Signer] = field(default_factory=dict)
    numbers: count[int] = field(default_factory=lambda: count(1))

    def add(self, type: str, payload: dict[str, Any], signer: Signer) -> Receipt:
        return self.ledger.append(type, {"schema": 1, **payload}, signer)

    def next(self) -> int:
        return next(self.numbers)

    def org_payload(self, name: str, roles: list[str], **extra: Any) -> dict[str, Any]:
        code = uscc(len(self.orgs) + 1)
        payload = {
            "id": code,
            "public_key": self.signer_for(code).public_b64,
            "name": name,
            "roles": roles,
            "address": "江苏省南京市玄武区测试路1号",
            **extra,
        }
        if "testing_lab" in roles and "lab" not in extra:
            payload["lab"] = {"cma": "231502280012", "issued_on": "2023-05-10"}
        return payload

    def org(self, key: str, name: str, *roles: str, **extra: Any) -> Signer:
        payload = self.org_payload(name, list(roles), **extra)
        self.add("actor.register", payload, self.root)
        signer = self.signer_for(payload["id"])
        self.orgs[key] = signer
        return signer

    def __getitem__(self, key: str) -> Signer:
        return self.orgs[key]

    def id(self, key: str) -> str:
        return self.orgs[key].actor

    # -- products and batches ----------------------------------------------------

    def product(self, maker: str = "maker", **over: Any) -> str:
        code = gtin(self.next())
        payload = {
            "gtin": code,
            "name": "挤塑聚苯乙烯泡沫塑料板",
            "type": "xps",
            "polymer": "polystyrene",
            "thermosetting": False,
            "standard": "GB/T 10801.2-2018",
            **over,
        }
        self.add("product.register", payload, self[maker])
        return str(payload["gtin"])

    def batch(self, product: str, maker: str = "maker", qty: str = "1000", **over: Any) -> str:
        lot = over.pop("lot", f"L{self.next():04d}")
        payload = {
            "product": product,
            "lot": lot,
            "quantity": qty,
            "unit": "m2",
            "production_date": "2026-11-01",
            "declared_class": B1,
            "conductivity": "0.032",
            "density": "30",
            **over,
        }
        self.add("batch.register", payload, self[maker])
        return f"{product}.{lot}"

    def report(self, batch: str, lab: str = "lab", **over: Any) -> Receipt:
        payload = {
            "number": f"R{self.next():05d}",
            "batch": batch,
            "sample": "S1",
            "issued_on": "2026-11-10",
            "valid_until": "2027-11-09",
            "document": DOC,
            "standards": ["GB 8624-2012", "GB/T 10294-2008", "GB/T 6343-2009"],
            "results": results(),
            **over,
        }
        return self.add("report.issue", payload, self[lab])

    def qualified_batch(self, product: str, qty: str = "1000", **over: Any) -> str:
        batch = self.batch(product, qty=qty, **over)
        self.report(batch)
        return batch

    # -- custody -----------------------------------------------------------------

    def ship(self, sender: str, to: str, batch: str, qty: str, **over: Any) -> str:
        number = over.pop("number", f"D{self.next():05d}")
        payload = {
            "number": number,
            "to": self.id(to),
            "date": TODAY,
            "lines": [{"batch": batch, "unit": "m2", "quantity": qty}],
            **over,
        }
        self.add("custody.ship", payload, self[sender])
        return f"{self.id(sender)}|{number}"

    def receive(self, recipient: str, shipment: str, batch: str, qty: str, **over: Any) -> Receipt:
        payload = {
            "shipment": shipment,
            "date": TODAY,
            "lines": [{"batch": batch, "unit": "m2", "quantity": qty}] if qty else [],
            **over,
        }
        return self.add("custody.receive", payload, self[recipient])

    def deliver(self, sender: str, to: str, batch: str, qty: str, **over: Any) -> str:
        shipment = self.ship(sender, to, batch, qty, **over)
        self.receive(to, shipment, batch, qty)
        return shipment

    # -- projects ----------------------------------------------------------------

    def site_parties(self) -> None:
        """A contractor, a supervisor and an owner (once)."""
        if "contractor" not in self.orgs:
            self.org("contractor", "中建测试建设有限公司", "contractor")
            self.org("supervisor", "江苏测试工程监理有限公司", "supervisor")
            self.org("owner", "南京测试置业有限公司", "building_owner")

    def project(self, sections: list[dict[str, Any]] | None = None, **over: Any) -> str:
        self.site_parties()
        project_id = over.pop("id", f"P{self.next():03d}")
        design = {"use": "residential", "height_m": "80", **over.pop("design", {})}
        payload = {
            "id": project_id,
            "name": "测试住宅项目",
            "contractor": self.id("contractor"),
            "supervisor": self.id("supervisor"),
            "location": {"province": "江苏省", "city": "南京市", "address": "建邺区测试路8号"},
            "design": design,
            "policy": POLICY,
            "permit": {"number": "320105202611010101", "authority": "南京市建邺区住建局"},
            "sections": sections
            or [
                {
                    "id": "N1",
                    "name": "北立面",
                    "facade": "north",
                    "position": "external_wall",
                    "area_m2": "600",
                    "design_class": "B1(B)",
                }
            ],
            **over,
        }
        self.add("project.register", payload, self["owner"])
        return project_id

    def brief(self, project: str) -> None:
        for kind in ("technical_briefing", "risk_notification"):
            payload = {
                "project": project,
                "kind": kind,
                "date": TODAY,
                "attendees": ["张工", "李工"],
                "topics": ["防火隔离带施工", "动火作业管理"],
                "document": DOC,
            }
            self.add("site.briefing", payload, self["contractor"])

    def inspect(
        self, project: str, batch: str, label: str = "B1(B)级", accepted: bool = True
    ) -> Receipt:
        payload = {
            "project": project,
            "batch": batch,
            "date": TODAY,
            "label_class": label,
            "accepted": accepted,
        }
        return self.add("site.inspect", payload, self["supervisor"])

    def sample(self, project: str, batch: str, sample: str = "", qty: str = "2") -> str:
        sample = sample or f"WS{self.next():03d}"
        payload = {
            "project": project,
            "sample": sample,
            "batch": batch,
            "quantity": qty,
            "date": TODAY,
            "lab": self.id("lab"),
            "sampler": {"name": "王取样", "org": self.id("contractor")},
            "witness": "赵监理",
        }
        self.add("site.sample", payload, self["supervisor"])
        return sample

    def retest(self, project: str, sample: str, **over: Any) -> Receipt:
        payload = {
            "project": project,
            "sample": sample,
            "number": f"F{self.next():05d}",
            "date": TODAY,
            "document": DOC,
            "results": results(**RETEST_EXTRAS),
            **over,
        }
        return self.add("site.retest_result", payload, self["lab"])

    def on_site(self, project: str, batch: str, qty: str = "1000") -> None:
        """Deliver the batch to the project and pass its arrival inspection and re-test."""
        self.deliver("maker", "contractor", batch, qty, to_project=project)
        self.inspect(project, batch)
        self.retest(project, self.sample(project, batch))

    def install(
        self, project: str, batch: str, qty: str, area: str, section: str = "N1"
    ) -> Receipt:
        payload = {
            "project": project,
            "section": section,
            "batch": batch,
            "quantity": qty,
            "area_m2": area,
            "date": TODAY,
        }
        return self.add("site.install", payload, self["contractor"])

    def accept(self, project: str, role: str, measures: list[str] | None = None) -> Receipt:
        payload: dict[str, Any] = {"project": project, "date": TODAY, "document": DOC}
        if measures is not None:
            payload["measures"] = measures
        return self.add("project.accept", payload, self[role])


@pytest.fixture
def world(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> World:
    """A ledger with a manufacturer, a distributor and an accredited lab."""
    w = World(ledger, root, signer_for)
    w.org("maker", "江苏测试保温材料有限公司", "manufacturer", domain="insul.example.cn")
    w.org("dist", "南京测试建材贸易有限公司", "distributor")
    w.org("lab", "江苏省测试建设工程质量检测中心有限公司", "testing_lab")
    return w
