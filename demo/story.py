"""A realistic, generated scenario for an empty ledger: ``insutrace demo``.

Everything is a function of the seed and the start date, so the same ledger keys give
byte-identical entries: organisations get Chinese names drawn from the seed, valid
unified social credit codes (GB 32100-2015, with a valid GB 11714 organisation code
inside), CMA numbers and GS1 China GTINs; every entry carries an explicit time on a
fixed timeline (never the wall clock). Organisation keys are derived from the seed:
**demo-only keys, never for production**. Every entry is written through the scenario
builder (:class:`insutrace.demo.scenario.Scenario`) with the story's own values.

The story (2025 建筑保温材料安全隐患全链条整治行动):

* four manufacturers (XPS and graphite EPS boards, rock wool, PIR sandwich panels,
  glass wool), two distributors, two accredited labs, four contractors, two supervision
  companies, owners, regulators and a fire-rescue investigator;
* a small community-centre retrofit below the quota, filed locally, accepted;
* an ~80 m high-rise residence (≥ B1, fire barrier belts, three witnessed re-tests per
  10,000 m²) where one XPS batch fails its witnessed re-test (tested B2(E) against a
  declared B1): the regulator recalls it; the recall lists the distributor and the
  contractors still holding it and the community centre's walls it went into; the
  rest goes back up the chain and is destroyed, replacement batches finish the job;
* a cold store with PIR sandwich panels (GB 50072-2021: B1 core, thermoset);
* an indoor ice rink open to the public (A class, special fire design expected);
* two existing buildings registered from surveys, inspected by their owners, with
  rectification orders (one completed late, one open) and a correction of a record.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from insutrace.demo.scenario import OMIT, POLICY, Scenario
from insutrace.trace.domain.fields import decimal_text, local_date
from insutrace.trace.domain.persons import PersonKey
from insutrace.trace.errors import Conflict
from insutrace.trace.identifiers import (
    USCC_ALPHABET,
    build_digital_link,
    gtin_check_digit,
    uscc_check_char,
)
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger

__all__ = ["DEFAULT_SEED", "DEFAULT_START", "DemoOutcome", "build_demo"]

DEFAULT_SEED = 2025
DEFAULT_START = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)  # Monday 09:00 CST
_STEP = timedelta(minutes=7)
_TRADE_NAMES = [
    ("华泰", "Huatai"),
    ("金陵", "Jinling"),
    ("恒远", "Hengyuan"),
    ("瑞丰", "Ruifeng"),
    ("永固", "Yonggu"),
    ("宏达", "Hongda"),
    ("鑫源", "Xinyuan"),
    ("天衡", "Tianheng"),
    ("博安", "Bo'an"),
    ("汇通", "Huitong"),
    ("盛景", "Shengjing"),
    ("润泽", "Runze"),
    ("嘉禾", "Jiahe"),
    ("信诚", "Xincheng"),
    ("同创", "Tongchuang"),
    ("凯升", "Kaisheng"),
    ("东岳", "Dongyue"),
    ("海晟", "Haisheng"),
    ("中远", "Zhongyuan"),
    ("安澜", "Anlan"),
    ("和信", "Hexin"),
    ("长乐", "Changle"),
    ("明德", "Mingde"),
    ("正泰", "Zhengtai"),
]
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


# product key -> manufacturer key; GS1 item reference; (name, type, core, polymer, thermoset,
# product standard)
_ITEMS = {"xps": "xps", "eps": "xps", "rockwool": "rockwool", "pir": "panels", "glasswool": "glasswool"}  # fmt: skip
_ITEM_REFS = {"xps": 101, "eps": 205, "rockwool": 15, "pir": 3100, "glasswool": 48}
_PRODUCTS: dict[str, tuple[str, str, str | None, str, bool, str]] = {
    "xps": ("B1级挤塑聚苯乙烯泡沫塑料板 XPS-X250", "xps", None, "polystyrene", False, "GB/T 10801.2-2018"),
    "eps": ("B1级石墨模塑聚苯板 GEPS-033", "eps", None, "polystyrene", False, "GB/T 10801.1-2021"),
    "rockwool": ("外墙外保温用岩棉板 TR15", "rock_wool", None, "inorganic", False, "GB/T 25975-2018"),
    "pir": ("冷库用聚异氰脲酸酯(PIR)夹芯板 PIR-150", "composite_panel", "pir", "polyisocyanurate", True, "GB/T 23932-2009"),
    "glasswool": ("离心玻璃棉板 GW-48", "glass_wool", None, "inorganic", False, "GB/T 13350-2017"),
}  # fmt: skip
_DECLARED = {
    "xps": ("B1(B-s1,d0,t1)", "0.030", "32"),
    "eps": ("B1(C-s2,d0,t1)", "0.033", "20"),
    "rockwool": ("A(A1)", "0.040", "140"),
    "pir": ("B1(B-s1,d0,t1)", "0.022", "45"),
    "glasswool": ("A(A2-s1,d0,t1)", "0.038", "48"),
}
_UNITS = {"pir": "panel"}
_STANDARDS = ["GB 8624-2012", "GB/T 10294-2008", "GB/T 6343-2009"]
# GB 8624-2012 table 2: the methods behind an A-class result (policy plausibility.a_class_methods)
_A_METHODS = {"A1": ["GB/T 5464-2010", "GB/T 14402-2007"], "A2": ["GB/T 14402-2007", "GB/T 20284-2006"]}  # fmt: skip


def _report_standards(declared: str) -> list[str]:
    """The methods a factory report lists: the three campaign properties, plus the A-class
    methods for an A1 or A2 product."""
    sub = "A1" if "A1" in declared else "A2" if "A2" in declared else ""
    return [*_STANDARDS, *_A_METHODS.get(sub, [])]


def _gb11714_check(first8: str) -> str:
    """GB 11714-1997 organisation code check character (positions 9-17 of a USCC)."""
    total = sum(int(c, 36) * w for c, w in zip(first8, _GB11714_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


@dataclass
class DemoOutcome:
    """What the demo created: demo-only signers by USCC and the ids worth looking at."""

    signers: dict[str, Signer] = field(default_factory=dict)
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)
    buildings: dict[str, str] = field(default_factory=dict)
    batches: dict[str, str] = field(default_factory=dict)
    recalled: list[str] = field(default_factory=list)
    entries: int = 0

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (without keys)."""
        return {
            "orgs": self.orgs,
            "projects": self.projects,
            "buildings": self.buildings,
            "batches": self.batches,
            "recalled": self.recalled,
            "entries": self.entries,
        }


class _Demo(Scenario):
    """The story's writer: the scenario builder with a seeded generator and a timeline."""

    now: datetime  # the demo always keeps its own timeline

    def __init__(self, ledger: Ledger, root: Signer, seed: int, start: datetime) -> None:
        def signer_for(uscc: str) -> Signer:
            return Signer.from_seed(uscc, f"insutrace-demo-only:{seed}:{uscc}".encode())

        super().__init__(ledger, root, signer_for, now=start, step=_STEP)
        self.seed = seed
        self.rng = random.Random(seed)
        self.start = start
        self.names = self.rng.sample(_TRADE_NAMES, len(_TRADE_NAMES))
        self.out = DemoOutcome()
        self.gtins: dict[str, str] = {}
        self._serial = self.rng.randint(100, 600)

    def serial(self) -> int:
        """Document serial numbers: seeded start, then consecutive (so never repeated)."""
        self._serial += 1
        return self._serial

    # -- timeline -----------------------------------------------------------------

    def day(self, offset: int) -> None:
        """Move to 09:00 CST of day ``start + offset`` (never backwards)."""
        target = self.start + timedelta(days=offset)
        self.now = max(self.now, target)

    def date_before(self, days: int) -> str:
        return (local_date(self.now) - timedelta(days=days)).isoformat()

    def doc(self) -> str:
        """A document's SHA-256 (the demo has no blob bytes: a seeded stand-in)."""
        return f"{self.rng.getrandbits(256):064x}"

    # -- identifiers ------------------------------------------------------------

    def uscc(self, region: str, organ: bool = False) -> str:
        """A GB 32100 code: companies (91) have an "MA…" organisation code, organs (11) digits."""
        if organ:
            body = "".join(self.rng.choice("0123456789") for _ in range(8))
        else:
            body = "MA" + "".join(self.rng.choice(_ORG_CODE_CHARS) for _ in range(6))
        org_code = body + _gb11714_check(body)
        first17 = ("11" if organ else "91") + region + org_code
        code = first17 + uscc_check_char(first17)
        return code if all(c in USCC_ALPHABET for c in code) else self.uscc(region, organ)

    def gtin(self, company: str, item: int) -> str:
        data = f"69{company}{item:05d}"
        return "0" + data + gtin_check_digit(data)

    def cma(self, authority: str, years_before: int) -> tuple[str, str]:
        year = self.start.year - years_before
        issued = date(year, self.rng.randint(2, 11), self.rng.randint(1, 28))
        number = f"{year % 100:02d}{authority}0228{self.rng.randint(1, 9999):04d}"
        return number, issued.isoformat()

    # -- organisations ------------------------------------------------------------

    def register(self, key: str, pattern: str, roles: list[str], region: str, **extra: Any) -> None:
        """An organisation named from the seeded trade names, with a seeded credit code."""
        cn, en = self.names.pop()
        name, name_en = pattern.format(cn, en).split("|")
        code = self.uscc(region, extra.pop("organ", False))
        self.org(key, name, *roles, code=code, name_en=name_en, **extra)
        self.out.signers[code] = self[key]
        self.out.orgs[key] = {"uscc": code, "name": name, "name_en": name_en, "roles": roles}

    def organisations(self) -> None:
        self.day(0)
        org = self.register
        org("xps", "江苏{0}新型建材有限公司|Jiangsu {1} New Building Materials Co., Ltd.",
            ["manufacturer"], "320115", address="江苏省南京市江宁区秣陵街道工业园8号",
            domain="xps.demo.insutrace.cn")  # fmt: skip
        org("rockwool", "河北{0}岩棉制品有限公司|Hebei {1} Rock Wool Products Co., Ltd.",
            ["manufacturer"], "130105", address="河北省石家庄市新华区赵陵铺镇工业街16号")  # fmt: skip
        org("panels", "山东{0}冷链板材有限公司|Shandong {1} Cold-Chain Panels Co., Ltd.",
            ["manufacturer"], "370211", address="山东省青岛市黄岛区前湾港路288号")  # fmt: skip
        org("glasswool", "浙江{0}节能科技有限公司|Zhejiang {1} Energy-Saving Technology Co., Ltd.",
            ["manufacturer"], "330106", address="浙江省杭州市西湖区转塘科技园12号")  # fmt: skip
        org("dist_nj", "南京{0}建材贸易有限公司|Nanjing {1} Building Materials Trading Co., Ltd.",
            ["distributor"], "320106", address="江苏省南京市鼓楼区建宁路66号")  # fmt: skip
        org("dist_qd", "青岛{0}保温材料经销有限公司|Qingdao {1} Insulation Distribution Co., Ltd.",
            ["distributor"], "370203", address="山东省青岛市市北区重庆南路99号")  # fmt: skip
        self.labs()
        self.builders()
        self.authorities()
        self.affiliations()

    def affiliations(self) -> None:
        """The Qingdao distributor is the panel maker's sales company: declared by the maker
        (org.affiliate), so neither could act as the other's independent check."""
        extract = hashlib.sha256(f"demo:{self.seed}:营业执照及股权结构".encode()).hexdigest()
        self.add("org.affiliate", {"org": self.id("panels"), "affiliate": self.id("dist_qd"),
                                   "relation": "same_group", "date": self.today,
                                   "document": extract}, "panels")  # fmt: skip

    def labs(self) -> None:
        cma_js, issued_js = self.cma("10", 2)
        self.register("lab_js", "江苏省{0}建设工程质量检测中心有限公司|Jiangsu {1} Construction Quality Testing Center Co., Ltd.",
                 ["testing_lab"], "320102", address="江苏省南京市玄武区中山东路300号",
                 lab={"cma": cma_js, "issued_on": issued_js})  # fmt: skip
        cma_nat, issued_nat = self.cma("00", 3)
        self.register("lab_nat", "国家{0}建筑材料质量检验检测中心有限公司|National {1} Building Materials Testing Center Co., Ltd.",
                 ["testing_lab"], "110108", address="北京市海淀区西三环北路58号",
                 lab={"cma": cma_nat, "issued_on": issued_nat})  # fmt: skip

    def builders(self) -> None:
        org = self.register
        org("cscec", "中建{0}工程局有限公司|China Construction {1} Engineering Bureau Co., Ltd.",
            ["contractor"], "320105", address="江苏省南京市建邺区江东中路311号")  # fmt: skip
        org("local_builder", "南京{0}建筑安装工程有限公司|Nanjing {1} Building Installation Co., Ltd.",
            ["contractor"], "320102", address="江苏省南京市玄武区北京东路41号")  # fmt: skip
        org("coldchain_builder", "青岛{0}冷链工程有限公司|Qingdao {1} Cold-Chain Engineering Co., Ltd.",
            ["contractor"], "370211", address="山东省青岛市黄岛区长江中路216号")  # fmt: skip
        org("zj_builder", "浙江{0}建设集团有限公司|Zhejiang {1} Construction Group Co., Ltd.",
            ["contractor"], "330106", address="浙江省杭州市西湖区文三路90号")  # fmt: skip
        org("supervisor_js", "江苏{0}工程监理咨询有限公司|Jiangsu {1} Construction Supervision Co., Ltd.",
            ["supervisor"], "320104", address="江苏省南京市秦淮区中华路50号")  # fmt: skip
        org("supervisor_sd", "山东{0}建设监理有限公司|Shandong {1} Construction Supervision Co., Ltd.",
            ["supervisor"], "370202", address="山东省青岛市市南区香港中路18号")  # fmt: skip
        org("owner_res", "南京{0}置业有限公司|Nanjing {1} Real Estate Co., Ltd.",
            ["building_owner"], "320105", address="江苏省南京市建邺区庐山路158号")  # fmt: skip
        org("owner_cold", "青岛{0}冷链物流有限公司|Qingdao {1} Cold-Chain Logistics Co., Ltd.",
            ["building_owner"], "370211", address="山东省青岛市黄岛区保税港区北京路6号")  # fmt: skip
        org("owner_rink", "杭州{0}体育发展有限公司|Hangzhou {1} Sports Development Co., Ltd.",
            ["building_owner"], "330106", address="浙江省杭州市西湖区之江路1号")  # fmt: skip
        org("owner_street", "南京市玄武区{0}街道办事处|Xuanwu District {1} Sub-district Office",
            ["building_owner"], "320102", address="江苏省南京市玄武区龙蟠路12号", organ=True)  # fmt: skip
        org("owner_estate", "南京{0}物业管理有限公司|Nanjing {1} Property Management Co., Ltd.",
            ["building_owner"], "320106", address="江苏省南京市鼓楼区湖南路8号")  # fmt: skip
        org("owner_mall", "南京{0}商业管理有限公司|Nanjing {1} Commercial Management Co., Ltd.",
            ["building_owner"], "320104", address="江苏省南京市秦淮区中山南路1号")  # fmt: skip

    def authorities(self) -> None:
        # Government organs carry USCCs starting "11"; their trade-name slot is unused.
        self.names.append(("", ""))
        self.register("mohurd_nj", "南京市住房和城乡建设局{0}|Nanjing Housing and Urban-Rural Development Bureau{1}",
                 ["regulator"], "320100", address="江苏省南京市建邺区江东中路265号", organ=True)  # fmt: skip
        self.names.append(("", ""))
        self.register("mohurd_xw", "南京市玄武区住房和城乡建设局{0}|Xuanwu District Housing and Construction Bureau{1}",
                 ["regulator"], "320102", address="江苏省南京市玄武区珠江路666号", organ=True)  # fmt: skip
        self.names.append(("", ""))
        self.register("fire_nj", "南京市消防救援支队{0}|Nanjing Fire and Rescue Detachment{1}",
                 ["investigator"], "320100", address="江苏省南京市秦淮区龙蟠中路311号", organ=True)  # fmt: skip

    # -- products, batches, reports -------------------------------------------------

    def products(self) -> None:
        self.day(3)
        company = {k: f"{self.rng.randint(10000, 99999)}" for k in _ITEMS.values()}
        self.gtins = {key: self.gtin(company[maker], _ITEM_REFS[key]) for key, maker in _ITEMS.items()}  # fmt: skip
        for key, (name, kind, core, polymer, thermoset, standard) in _PRODUCTS.items():
            self.product(
                _ITEMS[key], gtin=self.gtins[key], name=name, type=kind, polymer=polymer,
                thermosetting=thermoset, standard=standard, core=core or OMIT,
            )  # fmt: skip

    def lot(self, label: str, maker: str, key: str, qty: str) -> str:
        """A batch of product ``key`` made today, as the story names it ``label``."""
        cls, conductivity, density = _DECLARED[key]
        batch = self.batch(
            self.gtins[key], maker, qty,
            lot=f"{self.today.replace('-', '')[2:]}-{self.serial():03d}",
            unit=_UNITS.get(key, "m2"),
            production_date=self.date_before(self.rng.randint(1, 4)),
            declared_class=f"GB 8624 {cls}", conductivity=conductivity, density=density,
        )  # fmt: skip
        self.out.batches[label] = batch
        return batch

    def results(self, key: str, cls: str | None = None, combustion_lab: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        declared, conductivity, density = _DECLARED[key]
        measured = Decimal(conductivity) - Decimal("0.001") * self.rng.randint(0, 2)
        burn: dict[str, Any] = {
            "property": "combustion",
            "standard": "GB 8624-2012",
            "class": cls or declared,
        }
        if combustion_lab:
            burn["lab"] = self.id(combustion_lab)
        return [
            burn,
            {"property": "thermal_conductivity", "standard": "GB/T 10294-2008", "value": decimal_text(measured)},
            {"property": "density", "standard": "GB/T 6343-2009", "value": density},
        ]  # fmt: skip

    def factory_report(self, lab: str, batch: str, key: str, **over: Any) -> None:
        """A year-long factory test report by ``lab``, numbered by the lab's series."""
        series = "JS" if lab == "lab_js" else "GJ"
        self.report(
            batch, lab,
            number=f"{series}{local_date(self.now):%Y}-BW{self.serial():04d}",
            sample=f"YP{self.rng.randint(10000, 99999)}",
            issued_on=self.today,
            valid_until=(local_date(self.now) + timedelta(days=364)).isoformat(),
            document=self.doc(),
            results=over.pop("results", None) or self.results(key),
            standards=_report_standards(_DECLARED[key][0]),
            **over,
        )  # fmt: skip

    def produce(self, label: str, maker: str, key: str, qty: str, lab: str) -> str:
        batch = self.lot(label, maker, key, qty)
        self.now += timedelta(days=2)
        self.factory_report(lab, batch, key)
        return batch

    # -- custody ------------------------------------------------------------------

    def line(self, batch: str, qty: str) -> dict[str, str]:
        unit = "panel" if batch.startswith(self.gtins["pir"]) else "m2"
        return {"batch": batch, "unit": unit, "quantity": qty}

    def hand_over(self, sender: str, to: str, lines: list[tuple[str, str]], project: str | None = None) -> None:  # fmt: skip
        """A delivery note to ``to`` (for ``project``'s site), received the next morning."""
        number = f"SH{local_date(self.now):%y%m%d}{self.serial():03d}"
        shipment = self.shipment(
            sender, to, lines, number=number, document=self.doc(), to_project=project or OMIT
        )
        self.now += timedelta(hours=20)
        self.receipt(to, shipment, lines)

    # -- projects -----------------------------------------------------------------

    def site(self, label: str, owner: str, contractor: str, supervisor: str, **fields: Any) -> str:  # fmt: skip
        """A project the story names ``label``; ``fields`` as the owner files them."""
        building = str(fields.get("building", fields["id"]))
        fields.setdefault("permit", OMIT)
        project_id = self.project(parties=(owner, contractor, supervisor), **fields)
        self.out.projects[label] = project_id
        self.out.buildings[label] = building
        return project_id

    def brief(self, project: str, contractor: str = "contractor") -> None:
        topics = {
            "technical_briefing": ["保温板粘贴与锚固工艺", "防火隔离带设置", "抹面层厚度控制"],
            "risk_notification": ["动火作业与保温材料隔离", "施工现场可燃物清理", "高处作业防坠落"],
        }
        for kind, items in topics.items():
            attendees = ["项目经理 陈建国", "技术负责人 刘伟", "班组长 孙强"]
            self.briefing(
                project, kind, contractor, attendees=attendees, topics=items, document=self.doc()
            )

    def arrival(self, project: str, supervisor: str, batch: str, key: str) -> None:
        label = re.sub(r"-s\d,d\d(,t\d)?", "", _DECLARED[key][0])  # as printed on the board
        self.inspect(project, batch, f"{label}级", supervisor=supervisor)

    def witnessed(self, project: str, witness: str, contractor: str, batch: str, lab: str, qty: str) -> str:  # fmt: skip
        """A sample the contractor takes under the supervisor's witness, for ``lab``."""
        return self.sample(
            project, batch, f"JZ{local_date(self.now):%y%m%d}-{self.serial():03d}", qty,
            parties=(witness, contractor, lab),
            sampler={"name": "取样员 周敏", "org": self.id(contractor)}, witness="见证员 吴刚",
        )  # fmt: skip

    def retest_of(self, project: str, lab: str, sample: str, key: str, cls: str | None = None, walls: bool = True) -> None:  # fmt: skip
        results = self.results(key, cls)
        results += [
            {"property": "compressive_strength", "standard": "GB/T 8813-2020", "value": "250", "unit": "kPa"},
            {"property": "water_absorption", "standard": "GB/T 8810-2005", "value": "1.1", "unit": "%"},
        ]  # fmt: skip
        if walls:
            results.append({"property": "tensile_strength_perpendicular", "standard": "JGJ 144-2019", "value": "0.18", "unit": "MPa"})  # fmt: skip
        if cls is not None:
            results[0]["conforms"] = False
        number = f"FY{local_date(self.now):%Y}-{self.serial():04d}"
        self.retest(project, sample, lab, number=number, document=self.doc(), results=results)

    def site_checks(self, project: str, parties: tuple[str, str, str], batches: list[tuple[str, str]], sample_qty: str, walls: bool = True) -> None:  # fmt: skip
        contractor, supervisor, lab = parties
        for batch, key in batches:
            self.arrival(project, supervisor, batch, key)
        samples = [
            self.witnessed(project, supervisor, contractor, b, lab, sample_qty) for b, _ in batches
        ]
        self.now += timedelta(days=6)
        for (_, key), sample in zip(batches, samples, strict=True):
            self.retest_of(project, lab, sample, key, walls=walls)

    def install_plan(self, project: str, contractor: str, section: str, plan: list[tuple[str, Decimal]], per_unit: Decimal, chunk: Decimal) -> None:  # fmt: skip
        """Install ``plan`` [(batch, area)] into ``section`` in daily chunks of ``chunk`` m²."""
        for batch, area in plan:
            for part in _chunks(area, chunk):
                qty = (part / per_unit).quantize(Decimal("0.001"), rounding=ROUND_CEILING)
                self.install(project, batch, decimal_text(qty), decimal_text(part), section, contractor)  # fmt: skip
                self.now += timedelta(days=1)

    def acceptance(self, project: str, supervisor: str, owner: str, measures: list[str]) -> None:
        """The supervisor's acceptance (attesting ``measures``), the owner's two days later."""
        self.accept(project, supervisor, measures, document=self.doc())
        self.now += timedelta(days=2)
        self.accept(project, owner, document=self.doc())


def _chunks(total: Decimal, size: Decimal) -> Iterator[Decimal]:
    while total > 0:
        part = min(total, size)
        yield part
        total -= part


def _sections(*rows: tuple[str, str, str, str, str, str]) -> list[dict[str, str]]:
    keys = ("id", "name", "facade", "position", "area_m2", "design_class")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _location(province: str, city: str, address: str) -> dict[str, str]:
    return {"province": province, "city": city, "address": address}


# -- the story ----------------------------------------------------------------------


def _measures(d: _Demo, project: str) -> list[str]:
    """The measures the policy asks the supervisor to attest (from the projection)."""
    with d.ledger.store.read() as tx:
        row = tx.get("project", project)
    return sorted(row["measures_required"]) if row else []


def _held(d: _Demo, batch: str, holder: str, site: str) -> Decimal:
    with d.ledger.store.read() as tx:
        row = tx.get("holding", f"{batch}|{d.id(holder)}|{site}")
    return Decimal(row["qty"] if row else 0) / 1000


def _allocate(
    sections: list[tuple[str, Decimal]], stock: list[tuple[str, Decimal]], per_unit: Decimal
) -> list[tuple[str, str, Decimal]]:
    """Fill sections in order from batches in order: [(section, batch, area)]."""
    plan, left = [], [(b, q * per_unit) for b, q in stock]
    for sid, area in sections:
        while area > 0:
            batch, capacity = left[0]
            take = min(area, capacity)
            plan.append((sid, batch, take))
            area -= take
            left[0] = (batch, capacity - take)
            if left[0][1] == 0:
                left.pop(0)
    return plan


def _install_all(
    d: _Demo, project: str, contractor: str, plan: list[tuple[str, str, Decimal]], per_unit: Decimal, chunk: Decimal
) -> None:  # fmt: skip
    for sid, batch, area in plan:
        d.install_plan(project, contractor, sid, [(batch, area)], per_unit, chunk)


def _small_project(d: _Demo) -> None:
    """A community centre retrofit below the quota (限额以下), filed locally (属地备案)."""
    d.day(28)
    x1 = d.produce("xps_recalled", "xps", "xps", "3000", "lab_js")
    d.day(32)
    d.hand_over("xps", "dist_nj", [(x1, "3000")])
    d.day(40)
    project = d.site(
        "community_centre", "owner_street", "local_builder", "supervisor_js",
        id="XW-2025-BA-0117", name="玄武区锁金村社区服务中心外墙保温改造",
        location=_location("江苏省", "南京市", "玄武区锁金村路18号"),
        design={"use": "public", "height_m": "12.6"}, below_quota=True,
        sections=_sections(("S", "南立面", "south", "external_wall", "260", "B1(B)"),
                           ("N", "北立面", "north", "external_wall", "120", "B1(B)")),
    )  # fmt: skip
    d.day(42)
    d.add(
        "project.file",
        {"project": project, "number": "XWBA-2025-0117", "date": d.today},
        "mohurd_xw",
    )
    d.day(45)
    d.brief(project, "local_builder")
    d.day(48)
    d.hand_over("dist_nj", "local_builder", [(x1, "400")], project)
    d.site_checks(project, ("local_builder", "supervisor_js", "lab_js"), [(x1, "xps")], "2")
    plan = _allocate([("S", Decimal(260)), ("N", Decimal(120))], [(x1, Decimal(398))], Decimal(1))
    _install_all(d, project, "local_builder", plan, Decimal(1), Decimal(130))
    d.acceptance(project, "supervisor_js", "owner_street", _measures(d, project))


def _high_rise_start(d: _Demo) -> tuple[str, dict[str, str]]:
    d.day(60)
    project = d.site(
        "high_rise", "owner_res", "cscec", "supervisor_js",
        id="JY-2025-0231", name="建邺区河西南部G18地块住宅项目1号楼",
        location=_location("江苏省", "南京市", "建邺区江东南路188号"),
        design={"use": "residential", "height_m": "79.8"},
        permit={"number": "320105202503150101", "authority": "南京市建邺区行政审批局"},
        sections=_sections(("N1", "北立面", "north", "external_wall", "3100", "B1(B)"),
                           ("S1", "南立面", "south", "external_wall", "3400", "B1(B)"),
                           ("E1", "东立面", "east", "external_wall", "1850", "B1(B)"),
                           ("W1", "西立面", "west", "external_wall", "1850", "B1(B)"),
                           ("FB", "各层防火隔离带", "all-facades", "external_wall", "620", "A(A1)")),
    )  # fmt: skip
    d.day(80)
    batches = {"x2": d.produce("xps_2", "xps", "xps", "3600", "lab_js")}
    batches["r1"] = d.produce("rockwool_1", "rockwool", "rockwool", "1000", "lab_nat")
    d.day(86)
    d.brief(project, "cscec")
    d.hand_over("rockwool", "dist_nj", [(batches["r1"], "1000")])
    return project, batches


def _recall(d: _Demo, project: str, x1: str) -> None:
    """X1 fails its witnessed re-test on the high-rise: recalled, returned, destroyed."""
    d.day(88)
    d.hand_over("dist_nj", "cscec", [(x1, "1500")], project)
    d.arrival(project, "supervisor_js", x1, "xps")
    sample = d.witnessed(project, "supervisor_js", "cscec", x1, "lab_js", "2")
    d.now += timedelta(days=6)
    d.retest_of(project, "lab_js", sample, "xps", cls="GB 8624 B2(E)")
    d.day(100)
    d.add("batch.recall", {"batch": x1, "reason": "failed_retest", "sample": f"{project}|{sample}",
                           "note": "见证取样复验燃烧性能为B2(E)级，低于标称B1级"}, "mohurd_nj")  # fmt: skip
    d.out.recalled.append(x1)
    d.day(104)
    original = f"{d.id('dist_nj')}|" + _shipment_number(d, x1, "cscec")
    back = f"TH{local_date(d.now):%y%m%d}01"
    d.add("custody.return", {"number": back, "shipment": original, "date": d.today, "reason": "批次召回退货",
                             "lines": [d.line(x1, "1498")]}, "cscec")  # fmt: skip
    d.receipt("dist_nj", f"{d.id('cscec')}|{back}", [(x1, "1498")])
    d.day(106)
    d.hand_over("dist_nj", "xps", [(x1, "2598")])
    d.day(110)
    d.add("custody.destroy", {"date": d.today, "reason": "召回批次集中销毁", "document": d.doc(),
                              "lines": [d.line(x1, "2598")]}, "xps")  # fmt: skip


def _shipment_number(d: _Demo, batch: str, to: str) -> str:
    with d.ledger.store.read() as tx:
        for key, row in tx.scan("shipment", f"{d.id('dist_nj')}|"):
            if row["to"] == d.id(to) and batch in row["lines"]:
                return key.split("|", 1)[1]
    raise LookupError(f"no shipment of {batch} to {to}")


def _high_rise_finish(d: _Demo, project: str, batches: dict[str, str]) -> None:
    d.day(105)
    batches["x3"] = d.produce("xps_3", "xps", "xps", "3600", "lab_js")
    batches["x4"] = d.produce("xps_4", "xps", "xps", "3600", "lab_js")
    x5 = d.lot("xps_5", "xps", "xps", "2000")
    d.now += timedelta(days=2)
    d.factory_report(
        "lab_js", x5, "xps", results=d.results("xps", combustion_lab="lab_nat")
    )  # not qualifying
    d.factory_report("lab_js", x5, "xps")
    xps = [batches["x2"], batches["x3"], batches["x4"], x5]
    d.day(112)
    d.hand_over("xps", "cscec", [(b, "3600" if b != x5 else "2000") for b in xps], project)
    d.hand_over("dist_nj", "cscec", [(batches["r1"], "800")], project)
    checks = [(b, "xps") for b in xps] + [(batches["r1"], "rockwool")]
    d.site_checks(project, ("cscec", "supervisor_js", "lab_js"), checks, "2")
    walls = [(s, Decimal(a)) for s, a in (("N1", 3100), ("S1", 3400), ("E1", 1850), ("W1", 1850))]
    stock = [(b, _held(d, b, "cscec", project)) for b in xps]
    _install_all(d, project, "cscec", _allocate(walls, stock, Decimal(1)), Decimal(1), Decimal(900))
    belt = _allocate([("FB", Decimal(620))], [(batches["r1"], Decimal(798))], Decimal(1))
    _install_all(d, project, "cscec", belt, Decimal(1), Decimal(310))
    d.acceptance(project, "supervisor_js", "owner_res", _measures(d, project))


def _cold_store(d: _Demo) -> None:
    """PIR sandwich panels in a cold store (GB 50072-2021 §4.3.2: B1 core, thermoset)."""
    d.day(120)
    project = d.site(
        "cold_store", "owner_cold", "coldchain_builder", "supervisor_sd",
        id="QD-HD-2025-0088", name="前湾冷链物流园2号低温冷库",
        location=_location("山东省", "青岛市", "黄岛区前湾港路288号"),
        design={"use": "cold_storage", "height_m": "18.5"},
        permit={"number": "370211202506020301", "authority": "青岛西海岸新区行政审批服务局"},
        sections=_sections(("W", "冷间外墙", "perimeter", "sandwich_core", "2415", "B1(B)"),
                           ("R", "冷间屋面", "roof", "sandwich_core", "1725", "B1(B)")),
    )  # fmt: skip
    c1 = d.produce("pir_1", "panels", "pir", "220", "lab_nat")
    c2 = d.produce("pir_2", "panels", "pir", "180", "lab_nat")
    d.day(130)
    d.hand_over("panels", "dist_qd", [(c1, "220"), (c2, "180")])
    d.brief(project, "coldchain_builder")
    d.hand_over("dist_qd", "coldchain_builder", [(c1, "220"), (c2, "180")], project)
    d.site_checks(project, ("coldchain_builder", "supervisor_sd", "lab_nat"), [(c1, "pir"), (c2, "pir")], "1", walls=False)  # fmt: skip
    panel = Decimal("11.5")
    plan = _allocate([("W", Decimal(2415)), ("R", Decimal(1725))], [(c1, Decimal(219)), (c2, Decimal(179))], panel)  # fmt: skip
    _install_all(d, project, "coldchain_builder", plan, panel, Decimal(460))
    d.acceptance(project, "supervisor_sd", "owner_cold", _measures(d, project))


def _ice_rink(d: _Demo) -> None:
    """An indoor ice rink open to the public: 人员密集场所 by policy, A class throughout."""
    d.day(150)
    project = d.site(
        "ice_rink", "owner_rink", "zj_builder", "supervisor_js",
        id="HZ-XH-2025-0305", name="之江冰上运动中心",
        location=_location("浙江省", "杭州市", "西湖区之江路1号"),
        design={"use": "ice_snow_venue", "height_m": "23.5", "public_open": True},
        permit={"number": "330106202507110201", "authority": "杭州市西湖区住房和城乡建设局"},
        sections=_sections(("E", "东立面", "east", "external_wall", "1400", "A(A1)"),
                           ("W", "西立面", "west", "external_wall", "1400", "A(A1)"),
                           ("RF", "屋面", "roof", "roof", "3600", "A(A2)")),
    )  # fmt: skip
    rock = [d.produce(f"rockwool_{i}", "rockwool", "rockwool", "1500", "lab_nat") for i in (2, 3)]
    glass = [
        d.produce(f"glasswool_{i}", "glasswool", "glasswool", "2000", "lab_nat") for i in (1, 2)
    ]
    d.day(160)
    d.brief(project, "zj_builder")
    d.hand_over("rockwool", "zj_builder", [(b, "1500") for b in rock], project)
    d.hand_over("glasswool", "zj_builder", [(b, "2000") for b in glass], project)
    checks = [(b, "rockwool") for b in rock] + [(b, "glasswool") for b in glass]
    d.site_checks(project, ("zj_builder", "supervisor_js", "lab_nat"), checks, "2")
    walls = _allocate([("E", Decimal(1400)), ("W", Decimal(1400))], [(b, Decimal(1498)) for b in rock], Decimal(1))  # fmt: skip
    roof = _allocate([("RF", Decimal(3600))], [(b, Decimal(1998)) for b in glass], Decimal(1))
    _install_all(d, project, "zj_builder", walls + roof, Decimal(1), Decimal(700))
    d.acceptance(project, "supervisor_js", "owner_rink", _measures(d, project))


def _survey_facades(rows: list[tuple[str, str, str, str, int, str]]) -> list[dict[str, Any]]:
    return [
        {"facade": f, "position": "external_wall", "insulation_type": t, "class": c,
         "manufacturer": m, "contractor": "不详(原施工单位已注销)", "installed_year": y, "area_m2": a}
        for f, t, c, m, y, a in rows
    ]  # fmt: skip


def _existing_buildings(d: _Demo) -> None:
    """Two buildings with no history here: surveys, owners' inspections, rectification."""
    d.day(170)
    estate = {"id": "GL-HNL-008-03", "name": "颐和苑小区3号楼", "owner": d.id("owner_estate"),
              "address": "江苏省南京市鼓楼区湖南路8号颐和苑3号楼", "use": "residential", "height_m": "54.3",
              "survey": {"date": d.today, "surveyor": d.out.orgs["lab_js"]["name"], "document": d.doc()},
              "facades": _survey_facades([("north", "eps", "B2", "不详", 2011, "2100"),
                                          ("south", "eps", "B2", "不详", 2011, "2350"),
                                          ("east", "eps", "B2", "不详", 2011, "980"),
                                          ("west", "eps", "B2", "不详", 2011, "980")])}  # fmt: skip
    d.add("building.register_survey", estate, "owner_estate")
    mall = {"id": "QH-ZSN-001", "name": "中山南路商业综合体", "owner": d.id("owner_mall"),
            "address": "江苏省南京市秦淮区中山南路1号", "use": "public", "height_m": "36",
            "survey": {"date": d.today, "surveyor": d.out.orgs["lab_js"]["name"], "document": d.doc()},
            "facades": _survey_facades([("south", "rock_wool", "A(A1)", "河北某岩棉厂", 2016, "4200"),
                                        ("west", "rock_wool", "A(A1)", "河北某岩棉厂", 2016, "2600")])}  # fmt: skip
    d.add("building.register_survey", mall, "owner_mall")
    d.day(175)
    _inspect(d, "owner_estate", "GL-HNL-008-03", [
        ("D1", "detachment", "north", "12-14层北立面保温层脱落约6 m²", "critical"),
        ("D2", "missing_fire_barrier_belt", "east", "东立面未设置层间防火隔离带", "major")])  # fmt: skip
    _inspect(d, "owner_mall", "QH-ZSN-001", [
        ("D1", "cracking", "south", "南立面抹面层网状开裂", "minor"),
        ("D2", "hollowing", "west", "西立面3-5层空鼓", "major")])  # fmt: skip
    d.day(178)
    _order(d, "GL-HNL-008-03", "NJZJ-ZG-2025-031", ["D1", "D2"], 45, "拆除脱落部位，采用A级岩棉板修复并增设防火隔离带")  # fmt: skip
    _order(d, "QH-ZSN-001", "NJZJ-ZG-2025-032", ["D2"], 60, "空鼓部位切割重做并加设锚栓")
    d.now += timedelta(
        days=50
    )  # the estate's order (45 days) is completed late, the mall's on time
    d.add("rectification.complete", {"building": "GL-HNL-008-03", "number": "NJZJ-ZG-2025-031",
                                     "date": d.today, "document": d.doc()}, "owner_estate")  # fmt: skip
    d.add("rectification.complete", {"building": "QH-ZSN-001", "number": "NJZJ-ZG-2025-032",
                                     "date": d.today, "document": d.doc()}, "owner_mall")  # fmt: skip


def _inspect(d: _Demo, owner: str, building: str, defects: list[tuple[str, str, str, str, str]]) -> None:  # fmt: skip
    payload = {
        "building": building,
        "date": d.today,
        "inspector": "安全员 郑华",
        "facades": sorted({f for _, _, f, _, _ in defects}),
        "document": d.doc(),
        "defects": [
            {"id": i, "kind": k, "facade": f, "location": loc, "severity": s}
            for i, k, f, loc, s in defects
        ],
    }
    d.add("building.inspect", payload, owner)


def _order(d: _Demo, building: str, number: str, defects: list[str], days: int, measures: str) -> None:  # fmt: skip
    deadline = (local_date(d.now) + timedelta(days=days)).isoformat()
    payload = {"building": building, "number": number, "date": d.today, "deadline": deadline,
               "defects": defects, "measures": measures}  # fmt: skip
    d.add("rectification.order", payload, "mohurd_nj")


def _recalled_walls(d: _Demo) -> None:
    """The community centre holds the recalled XPS: the owner inspects, the regulator orders."""
    d.day(112)
    _inspect(d, "owner_street", "XW-2025-BA-0117", [
        ("D1", "other", "south", "南立面保温板属召回批次(复验燃烧性能不合格)", "major")])  # fmt: skip
    _order(d, "XW-2025-BA-0117", "XWZJ-ZG-2025-007", ["D1"], 90, "拆除召回批次保温板，按B1级以上合格产品重新施工")  # fmt: skip


# -- the campaign's further facts: design change, measures, persons, hazard ledgers, norms ------

DEMO_PERSON_KEY = b"insutrace-demo-only person key, never a real one"
"""The demo's person key (docs/persons.md): a real ledger's is random, under keys/."""


def _national_id(region: str, born: str, serial: int) -> str:
    """A GB 11643-1999 identity number of the demo (region, birth date, serial, check)."""
    first17 = f"{region}{born}{serial:03d}"
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]  # fmt: skip


def _people(d: _Demo) -> dict[str, str]:
    """Named persons: a project manager and a sampler of the builder, a witness of the
    supervisor, the estate's safety manager, and the project manager of a listed builder."""
    key = PersonKey(DEMO_PERSON_KEY)
    rows = {
        "pm": ("local_builder", "钱建国", "project_manager", _national_id("320102", "19800315", 1), "建[2015]32000123"),
        "sampler": ("local_builder", "王取样", "sampler", _national_id("320104", "19910722", 2), None),
        "witness": ("supervisor_js", "赵监理", "witness", _national_id("320106", "19851103", 3), "监理32007788"),
        "safety": ("owner_estate", "孙安全", "safety_manager", _national_id("320106", "19790418", 4), None),
        "listed_pm": ("cscec", "周某某", "project_manager", _national_id("320105", "19761201", 5), "建[2012]32000456"),
    }  # fmt: skip
    ids = {}
    for label, (org, name, role, number, cert) in rows.items():
        ids[label] = key.person_id(number)
        payload = {"person": ids[label], "name": name, "role": role}
        d.add("person.register", {**payload, "certificate": cert} if cert else payload, org)
    return ids


def _retrofit(d: _Demo, people: dict[str, str]) -> str:
    """The estate re-insulates its north façade: a design change to A-class rock wool, the
    barrier belts, protective layer and windows recorded with their documents."""
    project = d.site(
        "retrofit", "owner_estate", "local_builder", "supervisor_js",
        id="GL-2025-GZ-0042", name="颐和苑小区3号楼外墙保温改造", building="GL-HNL-008-03",
        location=_location("江苏省", "南京市", "鼓楼区湖南路8号"),
        design={"use": "residential", "height_m": "54.3"},
        permit={"number": "320106202510080101", "authority": "南京市鼓楼区行政审批局"},
        sections=_sections(("N", "北立面", "north", "external_wall", "2100", "B1(B)"),
                           ("S", "南立面", "south", "external_wall", "2350", "B1(B)")),
    )  # fmt: skip
    for label, org in (("pm", "local_builder"), ("sampler", "local_builder"), ("witness", "supervisor_js")):  # fmt: skip
        role = {"pm": "project_manager"}.get(label, label)
        d.add("person.assign", {"project": project, "person": people[label], "role": role}, org)
    d.now += timedelta(days=1)
    d.add("design.change", {"project": project, "number": "BG-GZ-001", "section": "N",
                            "design_class": "A(A1)", "material": "rock_wool",
                            "reason": "北立面临近商业裙房，改用A级岩棉板 north façade over the podium: A-class rock wool",
                            "document": d.doc(), "designer": d.id("designer"),
                            "reviewer": d.id("drawing_reviewer")}, "owner_estate")  # fmt: skip
    d.now += timedelta(days=2)
    for who in ("designer", "drawing_reviewer"):
        d.add("design.approve", {"project": project, "number": "BG-GZ-001", "date": d.today,
                                 "document": d.doc()}, who)  # fmt: skip
    belt = d.produce("rockwool_belt", "rockwool", "rockwool", "300", "lab_nat")
    d.now += timedelta(days=1)
    measures: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "M1",
            "fire_barrier_belt",
            "S",
            {"barrier": {"batch": belt, "class": "A(A1)", "height_mm": "300", "floors": 18}},
        ),
        (
            "M2",
            "protective_layer",
            "S",
            {
                "protective_layer": {
                    "ground_floor_mm": "15",
                    "other_floors_mm": "6",
                    "material": "抗裂砂浆复合耐碱网格布",
                }
            },
        ),
        (
            "M3",
            "door_window",
            "S",
            {
                "door_window": {
                    "integrity_h": "0.5",
                    "openings": 126,
                    "certificate": "GJ-2025-10-0077",
                }
            },
        ),
    ]
    for mid, kind, sid, facts in measures:
        d.add("measure.record", {"project": project, "id": mid, "kind": kind, "section": sid,
                                 "date": d.today, "document": d.doc(), **facts}, "local_builder")  # fmt: skip
    # the north façade's A-class rock wool is delivered, labelled, and waits on site for the
    # supervisor's arrival inspection (the delivery session to try in the browser)
    north = d.produce("rockwool_retrofit", "rockwool", "rockwool", "2200", "lab_nat")
    _issue_labels(d, "rockwool", north, "SN000001", 60)
    d.now += timedelta(days=1)
    d.hand_over("rockwool", "local_builder", [(north, "2200")], project)
    return project


def _hazard_ledger(d: _Demo, people: dict[str, str]) -> None:
    """The estate's hazard ledger: one hazard closed with evidence, one open under
    rectification, one major hazard under listed supervision; the class sign posted."""
    b = "GL-HNL-008-03"
    hazards = [
        ("H1", "protective_layer_detached", "general", "北立面12-14层抹面层脱落", 20),
        ("H2", "protective_layer_cracked", "general", "南立面3-6层抹面层开裂", 60),
        ("H3", "protective_layer_spalled", "major", "东立面保温层外露，B2级EPS直接暴露", 90),
    ]
    for hid, kind, severity, where, _ in hazards:
        d.add("hazard.record", {"building": b, "id": hid, "date": d.today, "source": "facade_inspection",
                                "kind": kind, "severity": severity, "location": where,
                                "description": f"高层外墙保温定期检查发现：{where}", "document": d.doc()},
              "owner_estate")  # fmt: skip
    d.now += timedelta(days=1)
    for hid, _, _, _, days in hazards:
        deadline = (local_date(d.now) + timedelta(days=days)).isoformat()
        d.add("hazard.assign", {"building": b, "hazard": hid, "person": people["safety"],
                                "date": d.today, "deadline": deadline,
                                "measures": "铲除空鼓脱落部位，按原构造修复并复查"}, "owner_estate")  # fmt: skip
    d.add("hazard.supervise", {"building": b, "hazard": "H3", "number": "NJXF-GP-2025-09",
                               "date": d.today, "deadline": (local_date(d.now) + timedelta(days=120)).isoformat(),
                               "document": d.doc()}, "mohurd_nj")  # fmt: skip
    d.add("signage.post", {"building": b, "id": "SIGN-1", "location": "一层主入口及各单元门厅",
                           "class": "B2", "date": d.today, "photo": d.doc()}, "owner_estate")  # fmt: skip
    d.now += timedelta(days=14)
    d.add("hazard.close", {"building": b, "hazard": "H1", "date": d.today, "evidence": d.doc(),
                           "note": "修复完成，复查合格"}, "owner_estate")  # fmt: skip


def _listings_and_norms(d: _Demo, people: dict[str, str]) -> None:
    """A project manager listed with the unit (joint punishment); the XPS maker's standing
    on the local industry list."""
    d.add("credit.authorize", {"authority": d.id("mohurd_nj"), "lists": ["mohurd_bad_record"]}, "root")  # fmt: skip
    decided = d.today
    d.add("person.list", {"person": people["listed_pm"], "org": d.id("cscec"), "role": "project_manager",
                          "list": "mohurd_bad_record", "policy": POLICY,
                          "decision": {"number": "NJZJ-BL-2025-014", "date": decided, "document": d.doc()},
                          "min_date": (local_date(d.now) + timedelta(days=184)).isoformat(),
                          "max_date": (local_date(d.now) + timedelta(days=365)).isoformat(),
                          "reason": "使用复验不合格保温材料，项目经理负直接责任 directly responsible for installing a failed batch"},
          "mohurd_nj")  # fmt: skip
    d.add("norms.list", {"manufacturer": d.id("xps"), "list": "南京市建筑保温材料行业清单",
                         "number": "宁工信〔2025〕88号", "date": d.today, "standing": "listed",
                         "document": d.doc()}, "miit_nj")  # fmt: skip


def _campaign_facts(d: _Demo) -> None:
    d.day(240)
    d.register("designer", "江苏{0}建筑设计研究院有限公司|Jiangsu {1} Architectural Design Institute Co., Ltd.",
               ["designer"], "320106", address="江苏省南京市鼓楼区虎踞路99号")  # fmt: skip
    d.register("drawing_reviewer", "江苏{0}施工图审查中心有限公司|Jiangsu {1} Construction Drawing Review Center Co., Ltd.",
               ["drawing_reviewer"], "320104", address="江苏省南京市秦淮区建康路3号")  # fmt: skip
    d.names.append(("", ""))
    d.register("miit_nj", "南京市工业和信息化局{0}|Nanjing Bureau of Industry and Information Technology{1}",
               ["regulator"], "320100", address="江苏省南京市玄武区北京东路41号", organ=True)  # fmt: skip
    people = _people(d)
    _retrofit(d, people)
    _hazard_ledger(d, people)
    _listings_and_norms(d, people)


LABEL_RESOLVER = "id.insutrace.local"  # the default INSUTRACE_RESOLVER


def _issue_labels(d: _Demo, maker: str, batch: str, first: str, count: int) -> None:
    """label.issue: the batch's serials (unique per GTIN) are on record before printing."""
    signer = d[maker]
    d.add("label.issue", {"batch": batch, "first": first, "count": count,
                          "resolver": LABEL_RESOLVER, "key": signer.key_id}, maker)  # fmt: skip


def _scan(d: _Demo, project: str, scanner: str, maker: str, batch: str, serial: str, verdict: str) -> None:  # fmt: skip
    """label.scan of a label as printed: its URI signed by the manufacturer (labels.codec)."""
    gtin, lot = batch.split(".", 1)
    uri = build_digital_link(LABEL_RESOLVER, gtin, lot=lot, serial=serial)
    signer = d[maker]
    sig = base64.urlsafe_b64encode(signer.sign(uri.encode())).rstrip(b"=").decode()
    d.add("label.scan", {"project": project, "gtin": gtin, "lot": lot, "serial": serial,
                         "key": signer.key_id, "sig": sig, "verdict": verdict,
                         "by": "现场监理扫码 site supervisor"}, scanner)  # fmt: skip


def _labels_on_site(d: _Demo, high_rise: str, cold_store: str, batches: dict[str, str]) -> None:
    """Genuine labels scanned on the high-rise; one of them copied onto the cold store's
    site (a clone alert for the regulators); a label of the recalled batch found on site."""
    x2, x1 = batches["x2"], d.out.batches["xps_recalled"]
    _issue_labels(d, "xps", x2, "SN000121", 240)
    for serial in ("SN000121", "SN000122", "SN000123"):
        _scan(d, high_rise, "supervisor_js", "xps", x2, serial, "genuine")
    _scan(d, cold_store, "supervisor_sd", "xps", x2, "SN000122", "genuine")
    _scan(d, high_rise, "supervisor_js", "xps", x1, "SN000007", "recalled")


def _correction(d: _Demo, project_seq: int) -> None:
    """The owner corrects a typo in the high-rise's address: a new entry, nothing edited."""
    d.day(182)
    d.add("entry.correct", {"corrects": project_seq, "target": {"kind": "project", "id": "JY-2025-0231"},
                            "reason": "地址门牌号录入错误", "set": {"location": _location(
                                "江苏省", "南京市", "建邺区江东南路198号")}}, "owner_res")  # fmt: skip


def _project_seq(d: _Demo, project: str) -> int:
    with d.ledger.store.read() as tx:
        row = tx.get("project", project)
    return int(row["seq"]) if row else -1


def build_demo(
    ledger: Ledger,
    root_signer: Signer,
    *,
    seed: int = DEFAULT_SEED,
    start: datetime | None = None,
) -> DemoOutcome:
    """Fill an empty ledger (genesis only) with the scenario; same seed and start, same entries.

    ``start`` (default 2025-01-06 09:00 CST) anchors the fixed timeline; the demo never
    reads a clock. Returns the demo-only signers and the ids of what it created.
    """
    if ledger.size() != 1:
        raise Conflict(f"the demo needs an empty ledger (genesis only); this one has {ledger.size()} entries")  # fmt: skip
    d = _Demo(ledger, root_signer, seed, (start or DEFAULT_START).astimezone(UTC))
    d.organisations()
    d.products()
    _small_project(d)
    project, batches = _high_rise_start(d)
    _issue_labels(d, "xps", d.out.batches["xps_recalled"], "SN000001", 120)
    _recall(d, project, d.out.batches["xps_recalled"])
    _recalled_walls(d)
    _high_rise_finish(d, project, batches)
    _cold_store(d)
    _labels_on_site(d, project, d.out.projects["cold_store"], batches)
    _ice_rink(d)
    _existing_buildings(d)
    _correction(d, _project_seq(d, project))
    _campaign_facts(d)
    d.out.entries = d.written
    return d.out
