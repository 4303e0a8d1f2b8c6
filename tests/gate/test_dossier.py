"""Dossiers: a back-trace whose every node, edge, fact and recall list is re-derived offline
from entries proven against one checkpoint; tampering with any of them is refused by name."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from insutrace.trace.backtrace import trace_section
from insutrace.trace.dossier import build_dossier, load_dossier, verify_dossier
from insutrace.trace.errors import MalformedInput, VerificationError

from .conftest import RETEST_EXTRAS, GateWorld, results

Dossier = dict[str, Any]


def recalled_world(world: GateWorld) -> dict[str, str]:
    """Project A: a batch installed on N1 (600 m²), accepted. Project B: the same batch
    fails its witnessed re-test (B2), and the manufacturer recalls it."""
    project, batch = world.built_project()
    world.decide_as_evaluated(project, "fire_acceptance")
    other = world.project()
    world.deliver("dist", "contractor", batch, "150", to_project=other)
    world.inspect(other, batch)
    sample = world.sample(other, batch)
    world.retest(other, sample, results=results(cls="B2(E)", **RETEST_EXTRAS))
    payload = {"batch": batch, "reason": "failed_retest", "sample": f"{other}|{sample}"}
    world.add("batch.recall", payload, world["maker"])
    return {"project": project, "batch": batch, "other": other, "sample": sample}


@pytest.fixture
def recalled(world: GateWorld) -> dict[str, str]:
    return recalled_world(world)


@pytest.fixture
def dossier(world: GateWorld, recalled: dict[str, str]) -> Dossier:
    query = {"kind": "section", "id": f"{recalled['project']}/N1"}
    built = build_dossier(world.ledger, query)
    return load_dossier(json.dumps(built, ensure_ascii=False))


def test_a_dossier_verifies_offline_and_is_the_ledgers_back_trace(
    world: GateWorld, recalled: dict[str, str], dossier: Dossier
) -> None:
    with world.ledger.store.read() as tx:
        live = trace_section(tx, recalled["project"], "N1").to_json()
    assert dossier["trace"] == json.loads(json.dumps(live))
    batch = next(n for n in dossier["trace"]["nodes"] if n["id"] == f"batch:{recalled['batch']}")
    assert batch["facts"]["recalled"] is True
    vkey = world.ledger.log_verifier().vkey()
    check = verify_dossier(dossier, vkey=vkey)
    assert check.pinned and check.cited == len(dossier["trace"]["entries"])
    assert check.checkpoint_size == world.ledger.latest_checkpoint().checkpoint.size
    seqs = {item["seq"] for item in dossier["entries"]}
    assert 0 in seqs and set(dossier["trace"]["entries"]) <= seqs
    assert len(seqs) < world.ledger.size()  # the support, not the whole log
    unpinned = verify_dossier(dossier)
    assert not unpinned.pinned and "not pinned" in unpinned.notes[0]


def _node(d: Dossier, node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in d["trace"]["nodes"] if n["id"] == node_id)
    return found


def _edge(d: Dossier, kind: str, to: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e for e in d["trace"]["edges"] if e["kind"] == kind and e["to"] == to
    )
    return found


def _recalled_to_false(d: Dossier, r: dict[str, str]) -> str:
    _node(d, f"batch:{r['batch']}")["facts"]["recalled"] = False
    return rf"node batch:{r['batch']}: field facts\.recalled: the dossier says False"


def _declared_a1(d: Dossier, r: dict[str, str]) -> str:
    _node(d, f"batch:{r['batch']}")["facts"]["declared"] = "A1"
    return rf"node batch:{r['batch']}: field facts\.declared: the dossier says 'A1'"


def _other_manufacturer(d: Dossier, r: dict[str, str]) -> str:
    _edge(d, "produced", f"batch:{r['batch']}")["from"] = "org:91320000MA1XXXXX0Y"
    return rf"-\[produced\]-> batch:{r['batch']}: field from: the dossier says 'org:91320000MA1X"


def _installed_area(d: Dossier, r: dict[str, str]) -> str:
    edge = next(
        e for e in d["trace"]["edges"]
        if e["kind"] == "installed" and e["from"].startswith("batch:")
    )  # fmt: skip
    edge["facts"]["area"] = 60000
    return r"-\[installed\]-> section:.*: field facts\.area: the dossier says 60000"


def _recall_wall_dropped(d: Dossier, r: dict[str, str]) -> str:
    notice = next(n for n in d["trace"]["recall"] if n["batch"] == r["batch"])
    notice["walls"] = []
    return rf"the recall list of batch {r['batch']}: field walls"


def _recall_reason(d: Dossier, r: dict[str, str]) -> str:
    notice = next(n for n in d["trace"]["recall"] if n["batch"] == r["batch"])
    notice["recalled"]["reason"] = "fraud"
    return rf"the recall list of batch {r['batch']}: field recalled\.reason"


def _retest_passed(d: Dossier, r: dict[str, str]) -> str:
    sample = next(n for n in d["trace"]["nodes"] if n["kind"] == "sample")
    sample["facts"]["class"] = "A1"
    return rf"node {sample['id']}: field facts\.class: the dossier says 'A1'"


def _report_class(d: Dossier, r: dict[str, str]) -> str:
    report = next(n for n in d["trace"]["nodes"] if n["kind"] == "report")
    report["facts"]["qualifies"] = not report["facts"]["qualifies"]
    return rf"node {report['id']}: field facts\.qualifies"


def _invented_node(d: Dossier, r: dict[str, str]) -> str:
    d["trace"]["nodes"].append(
        {"id": "org:X", "kind": "org", "key": "X", "facts": {"name": "X"}, "entries": [0]}
    )
    return "node org:X: not derived from the proven entries"


def _dropped_node(d: Dossier, r: dict[str, str]) -> str:
    d["trace"]["nodes"] = [n for n in d["trace"]["nodes"] if n["kind"] != "inspection"]
    return r"node inspection:.*: derived from the proven entries but missing from the dossier"


EDITS: dict[str, Callable[[Dossier, dict[str, str]], str]] = {
    "node attribute (recalled)": _recalled_to_false,
    "declared class": _declared_a1,
    "edge endpoint (manufacturer of produced)": _other_manufacturer,
    "quantity (installed area)": _installed_area,
    "recall list (walls)": _recall_wall_dropped,
    "recall list (reason)": _recall_reason,
    "test result (re-test class)": _retest_passed,
    "test result (report qualifies)": _report_class,
    "a node added": _invented_node,
    "a node removed": _dropped_node,
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_every_kind_of_edited_fact_is_refused_by_name(
    dossier: Dossier, recalled: dict[str, str], edit: str
) -> None:
    bad = copy.deepcopy(dossier)
    expected = EDITS[edit](bad, recalled)
    with pytest.raises(VerificationError, match=expected):
        verify_dossier(bad)
    verify_dossier(dossier)  # the unedited file still verifies


def _entry(dossier: Dossier, seq: int) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in dossier["entries"] if i["seq"] == seq)
    return found


def test_tampered_or_missing_entries_are_caught(world: GateWorld, dossier: Dossier) -> None:
    seq = dossier["trace"]["entries"][-1]
    bad = copy.deepcopy(dossier)
    data = base64.b64decode(_entry(bad, seq)["entry"]).replace(b'"schema":1', b'"schema":2')
    _entry(bad, seq)["entry"] = base64.b64encode(data).decode()
    with pytest.raises(VerificationError, match=f"entry {seq}: not in the log"):
        verify_dossier(bad)
    for text in ("签名", "not base64!"):  # not even ASCII, or outside the alphabet
        bad = copy.deepcopy(dossier)
        _entry(bad, seq)["entry"] = text
        with pytest.raises(MalformedInput, match=f"dossier: entry {seq} is not base64"):
            verify_dossier(bad)
    bad = copy.deepcopy(dossier)
    _entry(bad, seq)["proof"] = _entry(bad, seq)["proof"][:-1]
    with pytest.raises(VerificationError):
        verify_dossier(bad)
    bad = copy.deepcopy(dossier)
    bad["entries"] = [i for i in bad["entries"] if i["seq"] != seq]
    with pytest.raises(VerificationError, match=r"do not replay|the proven entries give"):
        verify_dossier(bad)
    bad = copy.deepcopy(dossier)
    bad["query"]["id"] = bad["query"]["id"].replace("/N1", "/S9")
    with pytest.raises(VerificationError, match="do not give the subject"):
        verify_dossier(bad)
    with pytest.raises(VerificationError, match="not the pinned key"):
        verify_dossier(dossier, vkey="other+01234567+AQID")
    with pytest.raises(MalformedInput):
        load_dossier(b"{}")


def test_a_missing_key_entry_breaks_the_signature_check(world: GateWorld, dossier: Dossier) -> None:
    bad = copy.deepcopy(dossier)
    registers = f'"id":"{world.id("regulator")}"'.encode()
    bad["entries"] = [
        i for i in bad["entries"] if registers not in base64.b64decode(i["entry"]) or i["seq"] == 0
    ]
    with pytest.raises(VerificationError, match="the entry registering key"):
        verify_dossier(bad)


@pytest.mark.parametrize(
    "query",
    [{"kind": "building", "id": "?"}, {"kind": "batch", "id": "?"}, {"kind": "label", "id": "?"}],
)
def test_every_query_kind_builds_a_dossier_that_verifies(
    world: GateWorld, recalled: dict[str, str], query: dict[str, str]
) -> None:
    with world.ledger.store.read() as tx:
        project = tx.get("project", recalled["project"])
        batch = tx.get("batch", recalled["batch"])
    assert project is not None and batch is not None
    ident = {"building": project["building"], "batch": recalled["batch"],
             "label": batch["digital_link"]}[query["kind"]]  # fmt: skip
    built = build_dossier(world.ledger, {**query, "id": ident})
    check = verify_dossier(load_dossier(json.dumps(built)))
    assert check.cited == len(built["trace"]["entries"]) > 0
