"""The demo scenario: an empty ledger filled reproducibly, quickly, with the whole story."""

from __future__ import annotations

from pathlib import Path

import pytest
import support
from databases import migrated_sqlite

from insutrace.demo.story import build_demo
from insutrace.trace.clock import FixedClock
from insutrace.trace.domain import ADMISSION, REGISTRY
from insutrace.trace.domain.queries import open_rectifications, wall_identification
from insutrace.trace.domain.read import recall_list
from insutrace.trace.errors import Conflict
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.store import open_store

from ..conftest import ORIGIN, START


def test_demo_fills_an_empty_ledger_and_tells_the_story(ledger: Ledger, root: Signer) -> None:
    # How fast is a benchmark's question, not an assertion here: `time insutrace demo`.
    out = build_demo(ledger, root, start=support.DEMO_START)
    with ledger.store.read() as tx:
        projects = {k: r["status"] for k, r in tx.scan("project")}
        notice = recall_list(tx, out.recalled[0])
        rink = tx.get("project", out.projects["ice_rink"])
        survey = wall_identification(tx, out.buildings.get("estate", "GL-HNL-008-03"))
        still_open = open_rectifications(tx)
    retrofit = projects.pop(out.projects["retrofit"])  # under way: a design change in force
    assert set(projects.values()) == {"accepted"} and len(projects) == 4
    assert retrofit == "registered"
    assert notice["walls"] and notice["holders"] and notice["recalled"]["reason"] == "failed_retest"
    assert rink is not None and rink["required"]["roof"]["label"] == "A"
    assert survey["building"]["source"] == "survey"
    assert [o["building"] for o in still_open] == [out.projects["community_centre"]]
    assert all(len(code) == 18 for code in out.signers)


def test_demo_is_reproducible(
    ledger: Ledger, root: Signer, log_signer: NoteSigner, tmp_path: Path
) -> None:
    build_demo(ledger, root, seed=7, start=support.DEMO_START)
    other = Ledger(
        open_store(migrated_sqlite(tmp_path / "again.db")),
        log_signer=log_signer,
        clock=FixedClock(START),
        types=REGISTRY,
        admission=ADMISSION,
    )
    other.initialize(root, origin=ORIGIN)
    build_demo(other, root, seed=7, start=support.DEMO_START)
    assert list(ledger.store.iter_entries()) == list(other.store.iter_entries())
    other.store.close()
    with pytest.raises(Conflict, match="needs an empty ledger"):
        build_demo(ledger, root, seed=7, start=support.DEMO_START)
