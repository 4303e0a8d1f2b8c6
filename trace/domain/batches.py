"""Batches: one production lot of one product, registered by its manufacturer only.

A batch is identified by ``<gtin14>.<lot>`` (the GTIN has a fixed length, so the id
is unambiguous even when the lot contains dots) and carries a GS1 Digital Link URI
(``https://{domain}/01/{gtin}/10/{lot}?11=YYMMDD``). Its declared GB 8624 class is
parsed from the label string in any accepted market form and stored canonically.

Projection row ``batch``/<id>, quantities in milli-units of ``unit``::

    {id, gtin, lot, manufacturer, type, unit, produced, production_date,
     declared: {label, basic, sub}, conductivity, density, digital_link,
     reports[], qualified_by[], non_conforming[], recalled,
     in_transit, installed, sampled, destroyed, seq}

The manufacturer starts holding the whole quantity: row ``holding``/<id>|<uscc>|.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .. import epcis_map as epcis
from ..actors import Context
from ..combustion import BasicClass, CombustionClass, parse_class
from ..entry import Entry
from ..entrytype import EntryType, Record, roles
from ..errors import MalformedInput, RuleViolation
from ..identifiers import build_digital_link
from ..policy import NATIONAL, Policy, current_policy
from ..store.base import KV
from . import payloads
from .fields import Reader, decimal_text, local_date, reader
from .orgs import Role, acting_org
from .products import require_product

__all__ = [
    "BUCKETS",
    "CLASS_CLAUSE",
    "TYPES",
    "Unit",
    "batch_class",
    "batch_id",
    "class_ceiling",
    "parse_declared",
    "register_batch",
    "require_batch",
]

CLASS_CLAUSE = "GB 8624-2012 §4"
FLOOR_CLAUSE = "GB 55037-2022 §6.6.1"
BUCKETS = ("in_transit", "installed", "sampled", "destroyed")


class Unit(StrEnum):
    """Units a batch is counted in (EPCIS uom in brackets)."""

    M2 = "m2"  # MTK
    M3 = "m3"  # MTQ
    BOARD = "board"  # H87
    PANEL = "panel"  # H87


def batch_id(gtin: str, lot: str) -> str:
    return f"{gtin}.{lot}"


def parse_declared(label: str, rule: str) -> CombustionClass:
    """A GB 8624 label; RuleViolation ``rule`` with the parser's reason when it does not parse."""
    try:
        return parse_class(label)
    except MalformedInput as exc:
        raise RuleViolation(rule, str(exc), CLASS_CLAUSE) from None


def class_row(cls: CombustionClass) -> dict[str, str]:
    return {"label": cls.label(), "basic": cls.basic_class, "sub": cls.effective_sub_class}


def batch_class(batch: dict[str, Any]) -> CombustionClass:
    """The batch's declared class, re-parsed from its canonical label."""
    return parse_class(batch["declared"]["label"])


def _declared(p: Reader) -> CombustionClass:
    declared = parse_declared(p.text("declared_class", max_len=40), "batch.declared_class")
    if declared.basic_class == BasicClass.B3:
        raise RuleViolation(
            "batch.declared_class",
            f"declared class {declared.label()} (B3) is never allowed as building insulation",
            FLOOR_CLAUSE,
        )
    return declared


def class_ceiling(
    policy: Policy, product: dict[str, Any], cls: CombustionClass, where: str
) -> RuleViolation | None:
    """plausibility.class_ceiling (policy 2026.2 on): the refusal when ``cls`` is above the
    best class the product's material can reach (EPS, XPS, PU, PIR and phenolic foams are
    never A1/A2: they flame and lose mass in the GB/T 5464 furnace); None when it is not.
    A composite panel is judged by its own tests, not by its core."""
    rule = policy.optional("plausibility.class_ceiling")
    material = str(product.get("type", ""))
    if rule is None or material not in rule.values:
        return None
    ceiling = rule.minimum(material)
    if ceiling.at_least(cls.effective_sub_class):
        return None
    return RuleViolation(
        rule.id,
        f"{where} {cls.label()} is above what {material} ({product.get('polymer')}) can reach: "
        f"at best {ceiling}",
        rule.clause,
    )


def _link(product: dict[str, Any], lot: str, p: Reader) -> str:
    try:
        return build_digital_link(
            product["domain"], product["gtin"], lot=lot, production_date=p.date("production_date")
        )
    except MalformedInput as exc:
        raise MalformedInput(f"{p.where}: {exc}") from None


def register_batch(ctx: Context) -> None:
    """batch.register, by the product's manufacturer: lot, quantity, declared properties."""
    maker = acting_org(ctx, Role.MANUFACTURER)
    p = reader(ctx)
    product = require_product(ctx, p.text("product", max_len=14))
    if product["manufacturer"] != maker["uscc"]:
        raise RuleViolation(
            "batch.manufacturer",
            f"product {product['gtin']} is made by {product['manufacturer']}, "
            f"not by the signer {maker['uscc']}",
        )
    lot = p.text("lot", max_len=20)
    key = batch_id(product["gtin"], lot)
    if ctx.kv.get("batch", key) is not None:
        raise RuleViolation("batch.unique", f"lot {lot} of GTIN {product['gtin']} is registered")
    produced_on = p.date("production_date")
    if produced_on > local_date(ctx.time):
        raise RuleViolation(
            "batch.production_date",
            f"production_date {produced_on} is after the entry's date {local_date(ctx.time)}",
        )
    declared = _declared(p)
    ceiling = class_ceiling(
        current_policy(NATIONAL, local_date(ctx.time)), product, declared, "declared class"
    )
    if ceiling is not None:
        raise ceiling
    quantity = p.milli("quantity")
    row = {
        "id": key,
        "gtin": product["gtin"],
        "lot": lot,
        "manufacturer": maker["uscc"],
        "type": product["type"],
        "unit": p.one("unit", Unit),
        "produced": quantity,
        "production_date": produced_on.isoformat(),
        "declared": class_row(declared),
        "conductivity": decimal_text(p.decimal("conductivity", places=4)),
        "density": decimal_text(p.decimal("density", places=1)),
        "digital_link": _link(product, lot, p),
        "reports": [],
        "qualified_by": [],
        "non_conforming": [],
        "recalled": None,
        "seq": ctx.entry.seq,
        **{bucket: 0 for bucket in BUCKETS},
    }
    ctx.kv.put("batch", key, row)
    ctx.kv.put("holding", f"{key}|{maker['uscc']}|", {"qty": quantity})
    ctx.ref(f"batch:{key}", f"product:{product['gtin']}", f"org:{maker['uscc']}")


def require_batch(ctx: Context, key: str) -> dict[str, Any]:
    row = ctx.kv.get("batch", key)
    if row is None:
        raise RuleViolation("batch.known", f"no batch {key!r} is registered")
    ctx.ref(f"batch:{key}")
    return row


# -- entry types ---------------------------------------------------------------------


def _batch_of(entry: Entry) -> list[str]:
    return [f"{entry.payload.get('product')}.{entry.payload.get('lot')}"]


def _batch_maker(kv: KV, org: str, role: str, payload: Mapping[str, Any]) -> str | None:
    """Ownership of batch.register: the product must be the organisation's own."""
    product = payload.get("product")
    row = kv.get("product", product) if isinstance(product, str) else None
    if row is None or row.get("manufacturer") == org:
        return None
    return f"product {product} is made by {row.get('manufacturer')}, not by {org}"


TYPES: tuple[EntryType, ...] = (
    EntryType(
        "batch.register", "登记批次", "Register a batch", register_batch,
        roles("manufacturer"), "A manufacturer registers a batch of its product.",
        owner=_batch_maker, owner_doc="Only for products the organisation registered.",
        epcis=epcis.EventSpec("ADD", "commissioning", "active", epcis.commission),
        records=(Record("batch", _batch_of),),
        payload=payloads.BatchRegister,
    ),
)  # fmt: skip
"""Batches' entry types (:mod:`insutrace.trace.entrytype`)."""
