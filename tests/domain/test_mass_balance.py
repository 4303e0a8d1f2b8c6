"""Rule 5, as a property: random custody sequences never break mass balance.

For every batch, after every entry (accepted or refused):
produced = held + in transit + installed + consumed by sampling + destroyed,
no holding or transit line is negative, and the batch's running totals agree
with the detailed rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from insutrace.trace.domain.queries import mass_balance
from insutrace.trace.errors import Forbidden, RuleViolation

from .conftest import TODAY, World

PARTIES = ("maker", "dist", "contractor")
# (from, to, to the project site); the contractor always ships from the project site
ROUTES = [
    ("maker", "dist", False),
    ("maker", "contractor", True),
    ("dist", "contractor", True),
    ("dist", "maker", False),
    ("contractor", "dist", False),
    ("maker", "contractor", False),
]
quantity = st.integers(min_value=1, max_value=120).map(lambda n: str(Decimal(n) / 4))
ship = st.tuples(st.just("ship"), st.sampled_from(ROUTES), quantity)
to_site = ("maker", "contractor", True)
opening = st.one_of(
    st.tuples(quantity).map(
        lambda q: [("ship", to_site, q[0]), ("receive", 0, None, None), ("site_checks",)]
    ),
    st.tuples(quantity).map(lambda q: [("ship", ("maker", "dist", False), q[0])]),
)
ops = st.one_of(
    ship,
    st.tuples(
        st.just("receive"),
        st.integers(0, 5),
        st.none() | quantity,
        st.sampled_from([None, "short", "lost"]),
    ),
    st.tuples(st.just("return"), st.integers(0, 5), quantity),
    st.tuples(st.just("destroy"), st.sampled_from(PARTIES), quantity, st.booleans()),
    st.tuples(st.just("site_checks")),
    st.tuples(st.just("sample"), quantity),
    st.tuples(st.just("install"), quantity),
)


class Driver:
    """Turns generated operations into entries; refusals are expected and harmless."""

    def __init__(self, world: World, project: str, batch: str) -> None:
        self.w, self.project, self.batch = world, project, batch
        self.shipments: list[str] = []

    def line(self, qty: str) -> list[dict[str, str]]:
        return [{"batch": self.batch, "unit": "m2", "quantity": qty}]

    def run(self, op: tuple[Any, ...]) -> None:
        getattr(self, op[0])(*op[1:])

    def ship(self, route: tuple[str, str, bool], qty: str) -> None:
        src, dst, to_project = route
        extra = {"to_project": self.project} if to_project else {}
        if src == "contractor":
            extra["from_project"] = self.project
        self.shipments.append(self.w.ship(src, dst, self.batch, qty, **extra))

    def _shipment(self, i: int) -> tuple[str, dict[str, Any]] | None:
        if not self.shipments:
            return None
        key = self.shipments[i % len(self.shipments)]
        with self.w.ledger.store.read() as tx:
            row = tx.get("shipment", key)
        return (key, row) if row else None

    def receive(self, i: int, qty: str | None, close: str | None) -> None:
        """Receive ``qty`` (None: all that remains) of the i-th shipment, maybe closing it."""
        found = self._shipment(i)
        if found:
            key, row = found
            if qty is None:
                line = row["lines"][self.batch]
                rest = line["shipped"] - line["received"] - line["short"] - line["written_off"]
                qty = str(Decimal(rest) / 1000) if rest else ""
            extra = {"close": True, "discrepancy": {"kind": close, "note": "n"}} if close else {}
            to = next(k for k in PARTIES if self.w.id(k) == row["to"])
            self.w.receive(to, key, self.batch, qty, **extra)

    def back(self, i: int, qty: str) -> None:
        found = self._shipment(i)
        if found:
            key, row = found
            to = next(k for k in PARTIES if self.w.id(k) == row["to"])
            number = f"TH{self.w.next()}"
            payload = {
                "number": number,
                "shipment": key,
                "date": TODAY,
                "reason": "退货",
                "lines": self.line(qty),
            }
            self.w.add("custody.return", payload, self.w[to])
            self.shipments.append(f"{self.w.id(to)}|{number}")

    def destroy(self, holder: str, qty: str, on_site: bool) -> None:
        payload = {"date": TODAY, "reason": "报废", "lines": self.line(qty)}
        if on_site:
            payload["project"] = self.project
        self.w.add("custody.destroy", payload, self.w[holder])

    def site_checks(self) -> None:
        self.w.inspect(self.project, self.batch)
        self.w.retest(self.project, self.w.sample(self.project, self.batch, qty="0.25"))

    def sample(self, qty: str) -> None:
        self.w.sample(self.project, self.batch, qty=qty)

    def install(self, qty: str) -> None:
        self.w.install(self.project, self.batch, qty, qty)


setattr(Driver, "return", Driver.back)


def check(world: World, batch: str) -> None:
    with world.ledger.store.read() as tx:
        balance = mass_balance(tx, batch)
    assert balance["balanced"], balance
    assert balance["totals_agree"], balance


def test_random_custody_sequences_keep_mass_balance(world: World) -> None:
    sections = [{"id": "N1", "name": "北立面", "facade": "north", "position": "external_wall",
                 "area_m2": "100000", "design_class": "B1(B)"}]  # fmt: skip
    project = world.project(sections=sections)
    world.brief(project)
    product = world.product()

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(opening, st.lists(ops, min_size=1, max_size=12))
    def run(first: list[tuple[Any, ...]], then: list[tuple[Any, ...]]) -> None:
        batch = world.qualified_batch(product, qty="60")
        driver = Driver(world, project, batch)
        for op in first + then:
            size = world.ledger.size()
            try:
                driver.run(op)
            except (RuleViolation, Forbidden):
                assert world.ledger.size() == size  # refused: nothing written
            check(world, batch)

    run()
