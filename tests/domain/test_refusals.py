"""The remaining rules, each refused once here (their accepted cases run in the scenarios)."""

from __future__ import annotations

from insutrace.trace.actors import Context
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.errors import RuleViolation
from insutrace.trace.ledger import Ledger

from .conftest import DOC, TODAY, World, gtin, refused


def test_references_to_unknown_records_are_refused(world: World) -> None:
    with refused("product.known", "no product with GTIN"):
        world.batch(gtin(9999))
    product = world.product()
    with refused("product.unique"):
        world.product(gtin=product)
    with refused("org.known", "is not a registered organisation"):
        world.add(
            "custody.ship",
            {"number": "D1", "to": "91320100MA0000099X", "date": TODAY},
            world["maker"],
        )
    world.site_parties()
    with refused("project.known"):
        world.brief("NO-SUCH-PROJECT")
    with refused("custody.shipment", "expected <shipper>|<no>"):
        world.receive("dist", "nobody|1", "x", "")
    with refused("building.known"):
        world.add("building.inspect", {"building": "NOWHERE"}, world["maker"])
    with refused("retest.sample", "no sample"):
        world.add("site.retest_result", {"project": world.project(), "sample": "S9"}, world["lab"])


def test_shipment_lines_and_sites(world: World) -> None:
    a, b = world.batch(world.product()), world.batch(world.product())
    shipment = world.ship("maker", "dist", a, "10")
    with refused("custody.line", "carries no batch"):
        world.receive("dist", shipment, b, "1")
    project = world.project()
    with refused("custody.site", "neither contractor nor owner"):
        world.ship("maker", "dist", a, "1", to_project=project)


def test_dates_after_the_entrys_own_are_refused(world: World) -> None:
    project = world.project()
    payload = {
        "project": project,
        "kind": "technical_briefing",
        "date": "2026-11-23",
        "attendees": ["张工"],
        "topics": ["交底"],
        "document": DOC,
    }
    with refused("site.date", "after the entry's date"):
        world.add("site.briefing", payload, world["contractor"])
    survey = {"date": "2027-01-01", "surveyor": "某检测中心", "document": DOC}
    building = {"id": "B1", "name": "某楼", "owner": world.id("owner"), "address": "某路1号",
                "use": "residential", "height_m": "20", "survey": survey, "facades": []}  # fmt: skip
    with refused("building.date"):
        world.add("building.register_survey", building, world["owner"])


def test_installation_names_an_existing_section(world: World) -> None:
    batch = world.qualified_batch(world.product())
    project = world.project()
    world.brief(project)
    world.on_site(project, batch)
    with refused("install.section", "has no section S9"):
        world.install(project, batch, "1", "1", section="S9")


def test_rectification_numbers_dates_and_projects(world: World) -> None:
    world.site_parties()
    world.org("regulator", "南京市住房和城乡建设局", "regulator")
    project = world.project()
    defect = {"id": "D1", "kind": "cracking", "facade": "north", "location": "3层", "severity": "minor"}  # fmt: skip
    world.add("building.inspect", {"building": project, "date": TODAY, "inspector": "郑华",
                                   "facades": ["north"], "document": DOC, "defects": [defect]}, world["owner"])  # fmt: skip
    order = {"building": project, "number": "ZG-1", "date": TODAY, "deadline": "2027-01-01",
             "defects": ["D1"], "measures": "修补"}  # fmt: skip
    world.add("rectification.order", order, world["regulator"])
    with refused("rectification.unique"):
        world.add("rectification.order", order, world["regulator"])
    done = {"building": project, "number": "ZG-1", "date": "2026-11-21", "document": DOC}
    with refused("rectification.date", "precedes the order"):
        world.add("rectification.complete", done, world["owner"])
    with refused("rectification.project", "is not on this building"):
        world.add(
            "rectification.complete", {**done, "date": TODAY, "project": "P9"}, world["owner"]
        )
    world.add("rectification.complete", {**done, "date": TODAY, "project": project}, world["owner"])


def test_corrected_values_are_checked_like_new_ones(world: World) -> None:
    batch = world.batch(world.product())
    with world.ledger.store.read() as tx:
        seq = tx.get("batch", batch)["seq"]  # type: ignore[index]
    payload = {"corrects": seq, "target": {"kind": "batch", "id": batch}, "reason": "笔误",
               "set": {"production_date": "2027-01-01"}}  # fmt: skip
    with refused("correct.value", "is in the future"):
        world.add("entry.correct", payload, world["maker"])


def test_admission_checks_run_before_every_domain_handler(world: World) -> None:
    """The extension point the credit-blacklist module uses: checks given to the ledger."""
    listed = world.id("maker")

    def blacklist(ctx: Context) -> None:
        if ctx.entry.actor == listed:
            raise RuleViolation(
                "credit.manufacturer_listed", f"{listed} is on a serious-dishonesty list"
            )

    base = world.ledger
    guarded = Ledger(
        base.store,
        log_signer=base.log_signer,
        clock=base.clock,
        types=REGISTRY,
        admission=(*ADMISSION, blacklist),
    )
    with refused("credit.manufacturer_listed"):
        world.on(guarded).product()
    world.product()
