"""Issue 11 item 11: a manufacturer's standing on the industry list (行业规范条件), which a
jurisdiction's policy may require for batch registration (not required by default)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from insutrace.trace.domain import ADMISSION, REGISTRY, batches
from insutrace.trace.domain.norms import (
    POLICY_RULE,
    jurisdiction_policies,
    listed_on,
    norms_required,
    require_listing,
)
from insutrace.trace.entrytype import Registry, superseding
from insutrace.trace.ledger import Ledger
from insutrace.trace.policy import Confidence, Policy, Rule, current_policy

from .conftest import DOC, TODAY, World, refused
from .refusal import refused_with

CLAUSE = "南京市建筑保温材料行业清单管理办法 §5 (example jurisdiction rule)"


def requiring() -> Policy:
    base = current_policy("cn-national-2025", date.fromisoformat(TODAY))
    rule = Rule(
        POLICY_RULE, CLAUSE, Confidence.UNCONFIRMED, {"required_for_batch_registration": True}
    )
    return replace(base, rules={**base.rules, POLICY_RULE: rule})


@pytest.fixture
def strict(world: World) -> World:
    """The same ledger with a jurisdiction policy that requires the standing."""
    register = next(t for t in batches.TYPES if t.name == "batch.register")
    guarded = replace(register, handler=require_listing(register.handler, lambda _r, _d: [requiring()]))  # fmt: skip
    base = world.ledger
    ledger = Ledger(base.store, log_signer=base.log_signer, clock=base.clock,
                    types=Registry(superseding(REGISTRY.values(), guarded)), admission=ADMISSION)  # fmt: skip
    world.org("miit", "南京市工业和信息化局", "regulator")
    return world.on(ledger)


def standing(world: World, standing: str = "listed", **over: Any) -> None:
    payload = {"manufacturer": world.id("maker"), "list": "南京市建筑保温材料行业清单",
               "number": f"宁工信〔2026〕{world.next()}号", "date": TODAY, "standing": standing,
               "document": DOC, **over}  # fmt: skip
    world.append("norms.list", payload, "miit")


def test_no_packaged_policy_requires_the_standing() -> None:
    day = date.fromisoformat(TODAY)
    policies = jurisdiction_policies("320100", day)
    assert policies and not any(norms_required(p) for p in policies)
    assert norms_required(requiring())


def test_a_policy_requiring_the_standing_refuses_an_unlisted_maker(strict: World) -> None:
    product = strict.product()
    with refused_with("norms.required", "", CLAUSE):
        strict.batch(product)
    standing(strict)
    strict.batch(product)  # listed: registered


def test_a_removed_maker_is_refused_again(strict: World) -> None:
    product = strict.product()
    standing(strict)
    standing(strict, "removed")
    with refused("norms.required"):
        strict.batch(product)
    with strict.ledger.store.read() as tx:
        assert listed_on(tx, strict.id("maker"), date.fromisoformat(TODAY)) is None


def test_only_a_listed_maker_is_removed(strict: World) -> None:
    with refused("norms.not_listed"):
        standing(strict, "removed")
    with refused("org.role"):
        standing(strict, manufacturer=strict.id("lab"))


def test_by_default_an_unlisted_maker_registers_batches(world: World) -> None:
    world.batch(world.product())


def test_notice_dates_follow_each_other(strict: World) -> None:
    with refused_with("norms.date", "InsuTrace ledger rule"):
        standing(strict, date="2099-01-01")
    standing(strict)
    with refused_with("norms.date", "InsuTrace ledger rule"):
        standing(strict, "removed", date="2020-01-01")
    standing(strict, "removed")
