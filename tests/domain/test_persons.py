"""Issue 11 item 9: named persons with a keyed, privacy-preserving identifier; credit
listings that name persons with their unit (joint punishment), found by the blacklist query."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from insutrace.trace.domain.persons import (
    PersonKey,
    national_id_problem,
    person_credit_status,
    persons_listed,
    project_persons,
)
from insutrace.trace.errors import MalformedInput

from .conftest import DOC, POLICY, TODAY, World, refused
from .refusal import refused_with

KEY = PersonKey(b"k" * 32)
# GB 11643-1999 numbers: 17 digits, ISO 7064 MOD 11-2 check character.
WITNESS_ID = "11010519491231002X"  # the standard's own example
PM_ID = "440524188001010014"


def test_the_national_id_check_character_is_iso_7064() -> None:
    assert national_id_problem(WITNESS_ID) is None and national_id_problem(PM_ID) is None
    assert "check character" in str(national_id_problem("110105194912310021"))
    assert "date of birth" in str(national_id_problem("110105194913310029"))


def test_the_person_id_is_a_keyed_hash_stable_under_one_key() -> None:
    pid = KEY.person_id(WITNESS_ID)
    assert pid == KEY.person_id(WITNESS_ID.lower()) and len(pid) == 42 and pid.startswith("P-")
    assert pid != PersonKey(b"j" * 32).person_id(WITNESS_ID)
    assert WITNESS_ID not in pid
    with pytest.raises(MalformedInput, match="check character"):
        KEY.person_id("110105194912310021")


@pytest.fixture
def site(world: World) -> str:
    return world.project(id="P-PS")


def register(world: World, who: str, number: str, name: str, role: str) -> str:
    pid = KEY.person_id(number)
    world.append("person.register", {"person": pid, "name": name, "role": role}, who)
    return pid


def test_a_witness_belongs_to_the_supervisor_or_the_owner(world: World, site: str) -> None:
    with refused_with("person.role_org", "住建部令第57号", "a witness belongs to"):
        register(world, "contractor", WITNESS_ID, "赵见证", "witness")
    register(world, "supervisor", WITNESS_ID, "赵见证", "witness")


def test_one_id_one_name(world: World, site: str) -> None:
    register(world, "supervisor", WITNESS_ID, "赵见证", "witness")
    with refused("person.name"):
        register(world, "owner", WITNESS_ID, "钱见证", "witness")
    register(world, "owner", WITNESS_ID, "赵见证", "witness")  # a second employer, same person


def test_persons_are_assigned_to_a_project_by_their_employer(world: World, site: str) -> None:
    witness = register(world, "supervisor", WITNESS_ID, "赵见证", "witness")
    assign = {"project": site, "person": witness, "role": "witness"}
    with refused("person.assign_party"):
        world.append("person.assign", assign, "contractor")
    world.append("person.assign", assign, "supervisor")
    with world.ledger.store.read() as tx:
        (row,) = project_persons(tx, site)
    assert (row["name"], row["role"], row["org"]) == ("赵见证", "witness", world.id("supervisor"))


def listing(world: World, person: str, **over: Any) -> dict[str, Any]:
    return {
        "person": person,
        "org": world.id("contractor"),
        "role": "project_manager",
        "list": "mohurd_bad_record",
        "policy": POLICY,
        "decision": {"number": "JSZJ-2026-07", "date": "2026-11-01", "document": DOC},
        "min_date": "2027-05-01",
        "max_date": "2027-11-01",
        "reason": "项目经理对使用不合格保温材料负直接责任",
        **over,
    }


@pytest.fixture
def authority(world: World) -> str:
    world.org("regulator", "江苏省住房和城乡建设厅", "regulator")
    world.append("credit.authorize", {"authority": world.id("regulator"), "lists": ["mohurd_bad_record"]}, "root")  # fmt: skip
    return "regulator"


def test_a_listed_person_is_on_the_blacklist_with_the_unit(
    world: World, site: str, authority: str
) -> None:
    pm = register(world, "contractor", PM_ID, "周经理", "project_manager")
    world.append("person.list", listing(world, pm), authority)
    day = date.fromisoformat(TODAY)
    with world.ledger.store.read() as tx:
        (listed,) = persons_listed(tx, day)
        by_name = person_credit_status(tx, "周经理", day)
        after = person_credit_status(tx, pm, date(2027, 11, 1))
    assert listed["person"] == pm and listed["units"] == [world.id("contractor")]
    assert listed["joint_punishment"] and by_name == [listed]
    assert after[0]["status"] == "clear" and len(after[0]["history"]) == 1


def test_a_listed_person_may_not_be_assigned(world: World, site: str, authority: str) -> None:
    pm = register(world, "contractor", PM_ID, "周经理", "project_manager")
    world.append("person.list", listing(world, pm), authority)
    with refused_with("person.listed", "建设工程质量管理条例 Art. 72", "周经理"):
        world.append("person.assign", {"project": site, "person": pm, "role": "project_manager"}, "contractor")  # fmt: skip


def test_a_person_listing_keeps_the_list_period(world: World, site: str, authority: str) -> None:
    pm = register(world, "contractor", PM_ID, "周经理", "project_manager")
    with refused("credit.period"):
        world.append("person.list", listing(world, pm, min_date="2026-12-01"), authority)
    with refused("person.listing_unit"):
        world.append("person.list", listing(world, pm, org=world.id("supervisor")), authority)
    with refused("person.known"):
        world.append("person.list", listing(world, KEY.person_id(WITNESS_ID)), authority)


def test_a_sample_names_the_assigned_witness_and_sampler(world: World, site: str) -> None:
    """Once witnesses are named in writing to the project, a sample's witness is one of them
    (建建〔2000〕211号) and the sample row records the person ids."""
    product = world.product()
    batch = world.qualified_batch(product)
    world.deliver("maker", "contractor", batch, "100", to_project=site)
    world.inspect(site, batch)
    world.sample(site, batch, "WS0")  # no one assigned yet: names stay as given
    witness = register(world, "supervisor", WITNESS_ID, "赵见证", "witness")
    sampler = register(world, "contractor", PM_ID, "王取样", "sampler")
    world.append("person.assign", {"project": site, "person": witness, "role": "witness"}, "supervisor")  # fmt: skip
    world.append("person.assign", {"project": site, "person": sampler, "role": "sampler"}, "contractor")  # fmt: skip
    with refused_with("person.witness_assigned", "建建〔2000〕211号", "赵监理"):
        world.sample(site, batch, "WS1")  # the builder's default witness 赵监理 is not assigned
    world.sample(site, batch, "WS2", witness="赵见证")
    with world.ledger.store.read() as tx:
        row = tx.get("sample", f"{site}|WS2")
        before = tx.get("sample", f"{site}|WS0")
    assert row is not None and before is not None
    assert (row["witness"]["person"], row["sampler"]["person"]) == (witness, sampler)
    assert "person" not in before["witness"]


def test_registered_and_assigned_once(world: World, site: str) -> None:
    witness = register(world, "supervisor", WITNESS_ID, "赵见证", "witness")
    with refused_with("person.unique", "InsuTrace ledger rule"):
        register(world, "supervisor", WITNESS_ID, "赵见证", "witness")
    assign = {"project": site, "person": witness, "role": "witness"}
    world.append("person.assign", assign, "supervisor")
    with refused_with("person.unique", "InsuTrace ledger rule"):
        world.append("person.assign", assign, "supervisor")


def test_a_sample_names_an_assigned_sampler(world: World, site: str) -> None:
    batch = world.qualified_batch(world.product())
    world.deliver("maker", "contractor", batch, "100", to_project=site)
    world.inspect(site, batch)
    sampler = register(world, "contractor", PM_ID, "钱取样", "sampler")
    world.append("person.assign", {"project": site, "person": sampler, "role": "sampler"}, "contractor")  # fmt: skip
    with refused_with("person.sampler_assigned", "住建部令第57号", "王取样"):
        world.sample(site, batch, "WS1")  # the builder's default sampler 王取样
    world.sample(site, batch, "WS2", sampler={"name": "钱取样", "org": world.id("contractor")})
