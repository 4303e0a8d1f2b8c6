"""Dossiers: every cited entry proven against one checkpoint, verified offline; HTML and PDF."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from insutrace.render.dossier_html import render_html
from insutrace.render.dossier_pdf import render_dossier_pdf
from insutrace.trace.backtrace import trace_section
from insutrace.trace.dossier import build_dossier, load_dossier, verify_dossier
from insutrace.trace.errors import MalformedInput, VerificationError

from .conftest import GateWorld


@pytest.fixture
def dossier(world: GateWorld) -> dict[str, Any]:
    project, _ = world.built_project()
    world.decide_as_evaluated(project, "fire_acceptance")
    with world.ledger.store.read() as tx:
        trace = trace_section(tx, project, "N1").to_json()
    built = build_dossier(world.ledger, trace)
    return load_dossier(json.dumps(built, ensure_ascii=False))


def test_a_dossier_verifies_offline(world: GateWorld, dossier: dict[str, Any]) -> None:
    vkey = world.ledger.log_verifier().vkey()
    check = verify_dossier(dossier, vkey=vkey)
    assert check.pinned and check.cited == len(dossier["trace"]["entries"])
    assert check.checkpoint_size == world.ledger.latest_checkpoint().checkpoint.size
    seqs = {item["seq"] for item in dossier["entries"]}
    assert 0 in seqs and set(dossier["trace"]["entries"]) <= seqs
    unpinned = verify_dossier(dossier)
    assert not unpinned.pinned and "not pinned" in unpinned.notes[0]


def _entry(dossier: dict[str, Any], seq: int) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in dossier["entries"] if i["seq"] == seq)
    return found


def test_tampering_is_caught(world: GateWorld, dossier: dict[str, Any]) -> None:
    seq = dossier["trace"]["entries"][-1]
    bad = copy.deepcopy(dossier)
    data = base64.b64decode(_entry(bad, seq)["entry"]).replace(b'"schema":1', b'"schema":2')
    _entry(bad, seq)["entry"] = base64.b64encode(data).decode()
    with pytest.raises(VerificationError, match=f"entry {seq}: not in the log"):
        verify_dossier(bad)
    bad = copy.deepcopy(dossier)
    _entry(bad, seq)["proof"] = _entry(bad, seq)["proof"][:-1]
    with pytest.raises(VerificationError):
        verify_dossier(bad)
    bad = copy.deepcopy(dossier)
    bad["entries"] = [i for i in bad["entries"] if i["seq"] != seq]
    with pytest.raises(VerificationError, match="does not prove"):
        verify_dossier(bad)
    bad = copy.deepcopy(dossier)
    node = next(n for n in bad["trace"]["nodes"] if n["kind"] == "batch")
    node["key"] = node["key"] + "X"
    with pytest.raises(VerificationError, match="records it"):
        verify_dossier(bad)
    with pytest.raises(VerificationError, match="not the pinned key"):
        verify_dossier(dossier, vkey="other+01234567+AQID")
    with pytest.raises(MalformedInput):
        load_dossier(b"{}")


def test_a_missing_key_entry_breaks_the_signature_check(
    world: GateWorld, dossier: dict[str, Any]
) -> None:
    bad = copy.deepcopy(dossier)
    registers = f'"id":"{world.id("regulator")}"'.encode()
    bad["entries"] = [
        i for i in bad["entries"] if registers not in base64.b64decode(i["entry"]) or i["seq"] == 0
    ]
    with pytest.raises(VerificationError, match="the entry registering key"):
        verify_dossier(bad)


def test_html_and_pdf_are_bilingual(dossier: dict[str, Any]) -> None:
    page = render_html(dossier)
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    for text in ("保温材料追溯调查卷宗", "Insulation back-trace dossier", "制造商", "Manufacturer",
                 "召回清单", "recall list", "verify-dossier"):  # fmt: skip
        assert text in page
    pdf = render_dossier_pdf(dossier)
    assert pdf.startswith(b"%PDF") and b"WenQuanYiMicroHei" in pdf and b"/FontFile2" in pdf
