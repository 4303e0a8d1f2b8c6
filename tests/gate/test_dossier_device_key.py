"""A dossier citing entries signed by a supervisor's device key (``key.add``) carries the
entry that added the key, and verifies offline; without that entry its signatures fail."""

from __future__ import annotations

import base64
import json

import pytest

from insutrace.trace.dossier import build_dossier, load_dossier, verify_dossier
from insutrace.trace.errors import VerificationError
from insutrace.trace.keys import Signer

from .conftest import GateWorld


def test_a_dossier_carries_the_device_key_its_entries_were_signed_with(world: GateWorld) -> None:
    world.project()  # registers the project parties, the supervisor among them
    org = world["supervisor"]
    phone = Signer.from_seed(org.actor, b"a supervisor's phone (test only)")
    payload = {"public_key": phone.public_b64, "holder": "zhao.jianli", "device": "phone"}
    added = world.append("key.add", payload, org).seq
    world.orgs["supervisor"] = phone  # from here on the supervisor signs on the phone
    project, _ = world.built_project()
    built = build_dossier(world.ledger, {"kind": "section", "id": f"{project}/N1"})
    keys = [json.loads(base64.b64decode(e["entry"]))["key"] for e in built["entries"]]
    assert phone.key_id in keys, "the section's back-trace cites an entry the phone signed"
    assert added in {e["seq"] for e in built["entries"]}
    check = verify_dossier(load_dossier(json.dumps(built, ensure_ascii=False)))
    assert check.cited == len(built["trace"]["entries"])
    without = {**built, "entries": [e for e in built["entries"] if e["seq"] != added]}
    with pytest.raises(VerificationError):
        verify_dossier(load_dossier(json.dumps(without, ensure_ascii=False)))
