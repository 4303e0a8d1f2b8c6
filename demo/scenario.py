"""The one scenario builder: well-formed domain entries written through a real ledger.

The demo story (:mod:`insutrace.demo.story`), the tests and the benchmarks all build
through :class:`Scenario`. Identifiers are valid by construction: unified social credit
codes carry their GB 32100-2015 check character, GTINs their GS1 check digit, labs a CMA
number. Every payload has the builder's defaults, and every keyword a caller gives
replaces or adds a field, so a story can say exactly what it needs (entry bytes are RFC
8785 canonical JSON, so the order of fields never matters); the keyword ``OMIT`` leaves a
default field out.

Time: without ``now`` the ledger's clock stamps the entries and payload dates are the
fixed ``today``; with ``now`` the scenario keeps its own timeline (each entry is stamped
``now``, which then moves by ``step``) and payload dates follow it in China Standard Time.

Writing: :meth:`Scenario.add` appends at once, or, inside :meth:`Scenario.bulk`, gathers
entries and admits them a chunk per transaction (``Ledger.append_batch``: every domain
handler still runs on every entry).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import count
from typing import Any

from insutrace.trace.domain.fields import local_date
from insutrace.trace.identifiers import gtin_check_digit, uscc_check_char
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger, Receipt
from insutrace.trace.policy import policy_ref

__all__ = [
    "B1",
    "DOC",
    "OMIT",
    "POLICY",
    "RETEST_EXTRAS",
    "TODAY",
    "Scenario",
    "gtin",
    "results",
    "section",
    "uscc",
]

DOC = "ab" * 32  # a document's SHA-256 where the content does not matter
TODAY = "2026-11-22"  # the payload date when the scenario keeps no timeline of its own
POLICY = policy_ref("cn-national-2025", "2025.1")
B1 = "GB 8624 B1(B-s1,d0,t1)"
ADDRESS = "江苏省南京市玄武区测试路1号"
RETEST_EXTRAS = {
    "compressive_strength": "200",
    "water_absorption": "1.2",
    "tensile_strength_perpendicular": "0.15",
}
Item = tuple[str, dict[str, Any], Signer]


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()  # as a keyword's value: leave the default field out of the payload


def _fields(defaults: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` updated by ``over``, without the fields ``over`` gives as ``OMIT``."""
    return {k: v for k, v in {**defaults, **over}.items() if v is not OMIT}


def uscc(n: int) -> str:
    """The ``n``-th company code (GB 32100-2015: "91", Nanjing, an "MA…" organisation code)."""
    first17 = f"91320100MA{n:07d}"
    return first17 + uscc_check_char(first17)


def gtin(n: int) -> str:
    """The ``n``-th GTIN-14 under a GS1 China prefix (690), with its check digit."""
    data = f"0690{n:09d}"
    return data + gtin_check_digit(data)


def results(
    cls: str = B1, conductivity: str = "0.030", density: str = "30", **extra: str
) -> list[dict[str, Any]]:
    """Test results for combustion (GB 8624), conductivity and density, plus re-test extras."""
    out: list[dict[str, Any]] = [
        {"property": "combustion", "standard": "GB 8624-2012", "class": cls},
        {"property": "thermal_conductivity", "standard": "GB/T 10294", "value": conductivity},
        {"property": "density", "standard": "GB/T 6343", "value": density},
    ]
    for prop, value in extra.items():
        out.append({"property": prop, "standard": "GB/T 8813", "value": value, "unit": "-"})
    return out


class Scenario:
    """A ledger with helpers that write well-formed domain entries, organisations by key."""

    def __init__(
        self,
        ledger: Ledger,
        root: Signer,
        signer_for: Callable[[str], Signer],
        *,
        now: datetime | None = None,
        step: timedelta = timedelta(0),
    ) -> None:
        self.ledger = ledger
        self.root = root
        self.signer_for = signer_for
        self.orgs: dict[str, Signer] = {}
        self.numbers = count(1)
        self.now = now
        self.step = step
        self.written = 0
        self._pending: list[Item] | None = None
        self._chunk = 1000

    def on(self, ledger: Ledger) -> Scenario:
        """The same parties and numbering, writing to ``ledger`` (e.g. one with other checks)."""
        other = copy.copy(self)
        other.ledger = ledger
        return other

    # -- writing -----------------------------------------------------------------

    def signer_of(self, who: Signer | str) -> Signer:
        """A signer itself, ``"root"`` for the root authority, else an organisation's key."""
        if isinstance(who, Signer):
            return who
        return self.root if who == "root" else self.orgs[who]

    def append(self, type: str, payload: dict[str, Any], who: Signer | str) -> Receipt:
        """Append one entry now (after any gathered ones) and return its receipt."""
        self.flush()
        signer = self.signer_of(who)
        receipt = self.ledger.append(type, {"schema": 1, **payload}, signer, time=self.now)
        if self.now is not None:
            self.now += self.step
        self.written += 1
        return receipt

    def add(self, type: str, payload: dict[str, Any], who: Signer | str) -> None:
        """Write one entry: at once, or gathered while a :meth:`bulk` load is open."""
        if self._pending is None:
            self.append(type, payload, who)
            return
        self._pending.append((type, {"schema": 1, **payload}, self.signer_of(who)))
        self.written += 1
        if len(self._pending) >= self._chunk:
            self.flush()

    def flush(self) -> None:
        """Admit the gathered entries in one transaction."""
        if self._pending:
            self.ledger.append_batch(self._pending)
            self._pending.clear()

    @contextmanager
    def bulk(self, chunk: int = 1000) -> Iterator[None]:
        """Gather the entries written inside and admit them ``chunk`` per transaction."""
        if self.now is not None:
            raise ValueError("a bulk load takes the ledger's clock; this scenario has its own")
        self._pending, self._chunk = [], chunk
        try:
            yield
            self.flush()
        finally:
            self._pending = None

    def next(self) -> int:
        """A fresh number for default ids and document numbers; every builder that has a
        numbered default draws one even when the caller gives the value."""
        return next(self.numbers)

    @property
    def today(self) -> str:
        """The payload date: the timeline's day in China Standard Time, else ``TODAY``."""
        return TODAY if self.now is None else local_date(self.now).isoformat()

    # -- organisations -----------------------------------------------------------

    def org_payload(
        self, name: str, roles: list[str], code: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """An ``actor.register`` payload; a lab without ``lab`` gets a valid CMA record."""
        code = code or uscc(len(self.orgs) + 1)
        defaults: dict[str, Any] = {
            "id": code,
            "public_key": extra.pop("public_key", None) or self.signer_for(code).public_b64,
            "name": name,
            "roles": roles,
            "address": ADDRESS,
        }
        if "testing_lab" in roles:
            defaults["lab"] = {"cma": "231502280012", "issued_on": "2023-05-10"}
        return _fields(defaults, extra)

    def org(
        self, key: str, name: str, *roles: str, code: str | None = None, **extra: Any
    ) -> Signer:
        """Register an organisation (signed by the root authority) under ``key``; its key
        is ``signer_for(code)``, asked once."""
        code = code or uscc(len(self.orgs) + 1)
        signer = self.signer_for(code)
        payload = self.org_payload(name, list(roles), code, public_key=signer.public_b64, **extra)
        self.add("actor.register", payload, self.root)
        self.orgs[key] = signer
        return signer

    def trade_parties(self, **maker: Any) -> None:
        """The default manufacturer (``maker``, extra fields ``maker``), distributor
        (``dist``) and accredited lab (``lab``)."""
        self.org(
            "maker", "江苏测试保温材料有限公司", "manufacturer", domain="insul.example.cn", **maker
        )
        self.org("dist", "南京测试建材贸易有限公司", "distributor")
        self.org("lab", "江苏省测试建设工程质量检测中心有限公司", "testing_lab")

    def __getitem__(self, key: str) -> Signer:
        return self.orgs[key]

    def id(self, key: str) -> str:
        """The credit code of the organisation ``key``."""
        return self.orgs[key].actor

    # -- products, batches, reports ------------------------------------------------

    def product(self, maker: str = "maker", **over: Any) -> str:
        """``product.register`` (an XPS board unless ``over`` says otherwise); its GTIN."""
        defaults = {
            "name": "挤塑聚苯乙烯泡沫塑料板",
            "type": "xps",
            "polymer": "polystyrene",
            "thermosetting": False,
            "standard": "GB/T 10801.2-2018",
        }
        payload = _fields(defaults, {"gtin": over.pop("gtin", gtin(self.next())), **over})
        self.add("product.register", payload, maker)
        return str(payload["gtin"])

    def batch(self, product: str, maker: str = "maker", qty: str = "1000", **over: Any) -> str:
        """``batch.register`` of a lot of ``product``; the batch id ``GTIN.lot``."""
        lot = over.pop("lot", f"L{self.next():04d}")
        defaults = {
            "product": product,
            "lot": lot,
            "quantity": qty,
            "unit": "m2",
            "production_date": "2026-11-01",
            "declared_class": B1,
            "conductivity": "0.032",
            "density": "30",
        }
        self.add("batch.register", _fields(defaults, over), maker)
        return f"{product}.{lot}"

    def report(self, batch: str, lab: str = "lab", **over: Any) -> None:
        """``report.issue``: a factory (type) test report on ``batch`` by an accredited lab."""
        defaults = {
            "number": over.pop("number", f"R{self.next():05d}"),
            "batch": batch,
            "sample": "S1",
            "issued_on": "2026-11-10",
            "valid_until": "2027-11-09",
            "document": DOC,
            "standards": ["GB 8624-2012", "GB/T 10294-2008", "GB/T 6343-2009"],
            "results": results(),
        }
        self.add("report.issue", _fields(defaults, over), lab)

    def qualified_batch(self, product: str, qty: str = "1000", **over: Any) -> str:
        """A batch with a qualifying report."""
        batch = self.batch(product, qty=qty, **over)
        self.report(batch)
        return batch

    # -- custody -------------------------------------------------------------------

    def line(self, batch: str, qty: str) -> dict[str, str]:
        """One shipment line (square metres)."""
        return {"batch": batch, "unit": "m2", "quantity": qty}

    def shipment(self, sender: str, to: str, lines: list[tuple[str, str]], **over: Any) -> str:
        """``custody.ship`` of ``lines`` [(batch, quantity)]; the shipment id."""
        number = over.pop("number", f"D{self.next():05d}")
        defaults = {
            "number": number,
            "to": self.id(to),
            "date": self.today,
            "lines": [self.line(b, q) for b, q in lines],
        }
        self.add("custody.ship", _fields(defaults, over), sender)
        return f"{self.id(sender)}|{number}"

    def ship(self, sender: str, to: str, batch: str, qty: str, **over: Any) -> str:
        """``custody.ship`` of one batch; the shipment id."""
        return self.shipment(sender, to, [(batch, qty)], **over)

    def receipt(
        self, recipient: str, shipment: str, lines: list[tuple[str, str]], **over: Any
    ) -> None:
        """``custody.receive`` of ``lines`` of ``shipment``."""
        defaults = {
            "shipment": shipment,
            "date": self.today,
            "lines": [self.line(b, q) for b, q in lines],
        }
        self.add("custody.receive", _fields(defaults, over), recipient)

    def receive(self, recipient: str, shipment: str, batch: str, qty: str, **over: Any) -> None:
        """``custody.receive`` of one batch (no lines when ``qty`` is empty)."""
        self.receipt(recipient, shipment, [(batch, qty)] if qty else [], **over)

    def deliver(self, sender: str, to: str, batch: str, qty: str, **over: Any) -> str:
        """Ship and receive in full; the shipment id."""
        shipment = self.ship(sender, to, batch, qty, **over)
        self.receive(to, shipment, batch, qty)
        return shipment

    # -- projects and sites --------------------------------------------------------

    def site_parties(self) -> None:
        """The default contractor, supervisor and owner (once)."""
        if "contractor" not in self.orgs:
            self.org("contractor", "中建测试建设有限公司", "contractor")
            self.org("supervisor", "江苏测试工程监理有限公司", "supervisor")
            self.org("owner", "南京测试置业有限公司", "building_owner")

    def project(
        self,
        sections: list[dict[str, Any]] | None = None,
        *,
        parties: tuple[str, str, str] = ("owner", "contractor", "supervisor"),
        **over: Any,
    ) -> str:
        """``project.register`` by the owner of ``parties`` (owner, contractor, supervisor;
        the default ones are registered on first use); the project id."""
        owner, contractor, supervisor = parties
        if contractor not in self.orgs:
            self.site_parties()
        project_id = str(over.pop("id", f"P{self.next():03d}"))
        defaults = {
            "id": project_id,
            "name": "测试住宅项目",
            "contractor": self.id(contractor),
            "supervisor": self.id(supervisor),
            "location": {"province": "江苏省", "city": "南京市", "address": "建邺区测试路8号"},
            "design": {"use": "residential", "height_m": "80", **over.pop("design", {})},
            "policy": POLICY,
            "permit": {"number": "320105202611010101", "authority": "南京市建邺区住建局"},
            "sections": sections or [section("N1", "北立面", "north", "600")],
        }
        self.add("project.register", _fields(defaults, over), owner)
        return project_id

    def briefing(
        self, project: str, kind: str, contractor: str = "contractor", **over: Any
    ) -> None:
        """``site.briefing`` of ``kind`` (technical briefing or risk notification)."""
        defaults = {
            "project": project,
            "kind": kind,
            "date": self.today,
            "attendees": ["张工", "李工"],
            "topics": ["防火隔离带施工", "动火作业管理"],
            "document": DOC,
        }
        self.add("site.briefing", _fields(defaults, over), contractor)

    def brief(self, project: str, contractor: str = "contractor") -> None:
        """The technical briefing and the risk notification before work starts."""
        for kind in ("technical_briefing", "risk_notification"):
            self.briefing(project, kind, contractor)

    def inspect(
        self,
        project: str,
        batch: str,
        label: str = "B1(B)级",
        accepted: bool = True,
        supervisor: str = "supervisor",
    ) -> None:
        """``site.inspect``: the arrival inspection of ``batch`` by the supervisor."""
        payload = {
            "project": project,
            "batch": batch,
            "date": self.today,
            "label_class": label,
            "accepted": accepted,
        }
        self.add("site.inspect", payload, supervisor)

    def sample(
        self,
        project: str,
        batch: str,
        sample: str = "",
        qty: str = "2",
        *,
        parties: tuple[str, str, str] = ("supervisor", "contractor", "lab"),
        **over: Any,
    ) -> str:
        """``site.sample``: a sample taken by the contractor, witnessed and recorded by the
        supervisor, for the lab of ``parties`` (supervisor, contractor, lab); its id."""
        supervisor, contractor, lab = parties
        sample = sample or f"WS{self.next():03d}"
        defaults = {
            "project": project,
            "sample": sample,
            "batch": batch,
            "quantity": qty,
            "date": self.today,
            "lab": self.id(lab),
            "sampler": {"name": "王取样", "org": self.id(contractor)},
            "witness": "赵监理",
        }
        self.add("site.sample", _fields(defaults, over), supervisor)
        return sample

    def retest(self, project: str, sample: str, lab: str = "lab", **over: Any) -> None:
        """``site.retest_result`` of a witnessed sample by the lab."""
        defaults = {
            "project": project,
            "sample": sample,
            "number": over.pop("number", f"F{self.next():05d}"),
            "date": self.today,
            "document": DOC,
            "results": results(**RETEST_EXTRAS),
        }
        self.add("site.retest_result", _fields(defaults, over), lab)

    def on_site(self, project: str, batch: str, qty: str = "1000", sender: str = "maker") -> None:
        """Deliver the batch to the project and pass its arrival inspection and re-test."""
        self.deliver(sender, "contractor", batch, qty, to_project=project)
        self.inspect(project, batch)
        self.retest(project, self.sample(project, batch))

    def install(
        self,
        project: str,
        batch: str,
        qty: str,
        area: str,
        section: str = "N1",
        contractor: str = "contractor",
    ) -> None:
        """``site.install`` of ``qty`` of ``batch`` over ``area`` m² of ``section``."""
        payload = {
            "project": project,
            "section": section,
            "batch": batch,
            "quantity": qty,
            "area_m2": area,
            "date": self.today,
        }
        self.add("site.install", payload, contractor)

    def accept(
        self, project: str, role: str, measures: list[str] | None = None, **over: Any
    ) -> None:
        """``project.accept`` by ``role`` (the supervisor attests ``measures``)."""
        defaults: dict[str, Any] = {"project": project, "date": self.today, "document": DOC}
        if measures is not None:
            defaults["measures"] = measures
        self.add("project.accept", _fields(defaults, over), role)


def section(sid: str, name: str, facade: str, area: str, **over: str) -> dict[str, Any]:
    """One wall section of a project: an external wall of design class B1(B) by default."""
    defaults = {
        "id": sid,
        "name": name,
        "facade": facade,
        "position": "external_wall",
        "area_m2": area,
        "design_class": "B1(B)",
    }
    return _fields(defaults, over)
