"""Products: what an insulation product is, by its GTIN-14.

GB 50072-2021 §4.3.2(1) asks whether a B1 sandwich-panel core is thermosetting, so a
product records its polymer family and the thermoset flag, not only its type; the
two must agree (EPS and XPS are thermoplastic polystyrene; PU, PIR and phenolic
foams are thermosets; mineral and glass products are inorganic).

Projection row ``product``/<gtin14>::

    {gtin, manufacturer, name, name_en, type, core, polymer, thermosetting,
     standard, domain, seq}
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..entrytype import EntryType, Record, by_field, roles
from ..errors import MalformedInput, RuleViolation
from ..identifiers import build_digital_link, validate_gtin
from . import payloads
from .fields import reader
from .orgs import Role, acting_org

__all__ = [
    "GTIN_CLAUSE",
    "TYPES",
    "InsulationType",
    "Polymer",
    "register_product",
    "require_product",
]

GTIN_CLAUSE = "GS1 General Specifications §7.9.1"
POLYMER_CLAUSE = "GB 50072-2021 §4.3.2(1)"
DEFAULT_RESOLVER = "id.gs1.org"
_PROBE_GTIN = "09506000134352"


class InsulationType(StrEnum):
    EPS = "eps"  # 模塑聚苯板
    XPS = "xps"  # 挤塑聚苯板
    PU = "pu"  # 硬泡聚氨酯
    PIR = "pir"  # 聚异氰脲酸酯
    PHENOLIC = "phenolic"  # 酚醛泡沫
    ROCK_WOOL = "rock_wool"  # 岩棉
    GLASS_WOOL = "glass_wool"  # 玻璃棉
    FOAM_GLASS = "foam_glass"  # 泡沫玻璃
    AEROGEL = "aerogel"  # 气凝胶毡
    INORGANIC_MORTAR = "inorganic_mortar"  # 无机保温砂浆
    FOAMED_CEMENT = "foamed_cement"  # 发泡水泥板
    VACUUM_PANEL = "vacuum_panel"  # 真空绝热板
    COMPOSITE_PANEL = "composite_panel"  # 夹芯板 / 保温装饰一体板: see ``core``


class Polymer(StrEnum):
    POLYSTYRENE = "polystyrene"
    POLYURETHANE = "polyurethane"
    POLYISOCYANURATE = "polyisocyanurate"
    PHENOLIC = "phenolic"
    INORGANIC = "inorganic"


THERMOSET = {
    Polymer.POLYSTYRENE: False,
    Polymer.POLYURETHANE: True,
    Polymer.POLYISOCYANURATE: True,
    Polymer.PHENOLIC: True,
    Polymer.INORGANIC: False,
}
_FAMILY = {
    InsulationType.EPS: {Polymer.POLYSTYRENE},
    InsulationType.XPS: {Polymer.POLYSTYRENE},
    InsulationType.PU: {Polymer.POLYURETHANE},
    InsulationType.PIR: {Polymer.POLYISOCYANURATE},
    InsulationType.PHENOLIC: {Polymer.PHENOLIC},
    InsulationType.ROCK_WOOL: {Polymer.INORGANIC},
    InsulationType.GLASS_WOOL: {Polymer.INORGANIC},
    InsulationType.FOAM_GLASS: {Polymer.INORGANIC},
    InsulationType.AEROGEL: {Polymer.INORGANIC},
    InsulationType.INORGANIC_MORTAR: {Polymer.INORGANIC},
    InsulationType.FOAMED_CEMENT: {Polymer.INORGANIC},
    InsulationType.VACUUM_PANEL: {Polymer.INORGANIC},
}


def gtin14(value: str) -> str:
    """A GTIN checked and padded to 14 digits; RuleViolation ``product.gtin`` otherwise."""
    try:
        return validate_gtin(value)
    except MalformedInput as exc:
        raise RuleViolation("product.gtin", str(exc), GTIN_CLAUSE) from None


def _check_polymer(kind: InsulationType, core: InsulationType | None, polymer: Polymer) -> None:
    material = core or kind
    if polymer not in _FAMILY[material]:
        expected = " or ".join(sorted(_FAMILY[material]))
        raise RuleViolation(
            "product.polymer",
            f"{material} is {expected}, the payload says {polymer}",
            POLYMER_CLAUSE,
        )


def _core(kind: InsulationType, core: InsulationType | None, where: str) -> None:
    if (kind == InsulationType.COMPOSITE_PANEL) != (core is not None):
        raise MalformedInput(f"{where}.core: required for composite_panel and only for it")
    if core == InsulationType.COMPOSITE_PANEL:
        raise MalformedInput(f"{where}.core: expected an insulation material, got composite_panel")


def _domain(domain: str) -> str:
    """The Digital Link host for this product's batches (GS1's resolver if none)."""
    domain = domain or DEFAULT_RESOLVER
    build_digital_link(domain, _PROBE_GTIN)  # MalformedInput names a bad host
    return domain


def register_product(ctx: Context) -> None:
    """product.register, by its manufacturer: type, polymer, thermoset flag, GTIN-14."""
    maker = acting_org(ctx, Role.MANUFACTURER)
    p = reader(ctx)
    gtin = gtin14(p.text("gtin", max_len=14))
    if ctx.kv.get("product", gtin) is not None:
        raise RuleViolation("product.unique", f"GTIN {gtin} is already registered")
    kind = p.one("type", InsulationType)
    core = p.choice("core", InsulationType, optional=True)
    _core(kind, core, p.where)
    polymer = p.one("polymer", Polymer)
    _check_polymer(kind, core, polymer)
    thermoset = p.flag("thermosetting")
    if thermoset != THERMOSET[polymer]:
        raise RuleViolation(
            "product.thermoset",
            f"{polymer} is {'a thermoset' if THERMOSET[polymer] else 'not a thermoset'}, "
            f"the payload says thermosetting={str(thermoset).lower()}",
            POLYMER_CLAUSE,
        )
    row = {
        "gtin": gtin,
        "manufacturer": maker["uscc"],
        "name": p.text("name"),
        "name_en": p.text("name_en", optional=True),
        "type": kind,
        "core": core,
        "polymer": polymer,
        "thermosetting": thermoset,
        "standard": p.text("standard", max_len=80),
        "domain": _domain(p.text("domain", max_len=100, optional=True) or maker["domain"]),
        "seq": ctx.entry.seq,
    }
    ctx.kv.put("product", gtin, row)
    ctx.ref(f"product:{gtin}", f"org:{maker['uscc']}")


def require_product(ctx: Context, gtin: str) -> dict[str, Any]:
    row = ctx.kv.get("product", gtin14(gtin))
    if row is None:
        raise RuleViolation("product.known", f"no product with GTIN {gtin} is registered")
    return row


# -- entry types ---------------------------------------------------------------------

TYPES: tuple[EntryType, ...] = (
    EntryType(
        "product.register", "登记产品", "Register a product", register_product,
        roles("manufacturer"), "A manufacturer registers its product.",
        epcis=epcis.EventSpec("ADD", "creating_class_instance", None, epcis.product),
        records=(Record("product", by_field("gtin")),),
        payload=payloads.ProductRegister,
    ),
)  # fmt: skip
"""Products' entry types (:mod:`insutrace.trace.entrytype`)."""
