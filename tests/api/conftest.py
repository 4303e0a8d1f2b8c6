"""The API over a real ledger on SQLite and PostgreSQL (the shared ``store_url`` fixtures).

``world`` registers one organisation per role in the log (test-only keys from
``signer_for``), opens an account for each, and gives the root authority and the
"server" organisations server-held keys. The ledger fixture re-verifies the whole log
and rebuilds the projections after every test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import support
from fastapi import FastAPI
from fastapi.testclient import TestClient

from insutrace.api.accounts import ROLES
from insutrace.api.app import create_app
from insutrace.api.deps import Services
from insutrace.trace.clock import FixedClock, format_time
from insutrace.trace.entry import GENESIS_PREV, Entry
from insutrace.trace.identifiers import uscc_check_char
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger
from insutrace.trace.note import NoteSigner
from insutrace.trace.settings import Settings

MASTER_KEY = "test-only master key, not a secret: 0123456789abcdef"
ORG_ROLES = tuple(r for r in ROLES if r != "authority")


def uscc(n: int) -> str:
    """A valid unified social credit code (GB 32100-2015) for test organisation ``n``."""
    first17 = f"91110000MA{n:07d}"
    return first17 + uscc_check_char(first17)


def org_payload(org: str, role: str, public_b64: str) -> dict[str, Any]:
    """An actor.register payload the domain accepts (the core ignores the extra members)."""
    payload: dict[str, Any] = {
        "schema": 1,
        "id": org,
        "name": f"Test {role} {org[-4:]}",
        "public_key": public_b64,
        "roles": [role],
        "address": "北京市朝阳区测试路1号",
    }
    if role == "testing_lab":
        payload["lab"] = {"cma": "241100000001", "issued_on": "2024-03-01"}
    return payload


@dataclass
class Party:
    """An organisation with a role, its client-held key and an account token."""

    org: str
    role: str
    signer: Signer
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    ledger: Ledger
    services: Services
    clock: FixedClock
    parties: dict[str, Party] = field(default_factory=dict)

    def __getitem__(self, role: str) -> Party:
        return self.parties[role]

    def sign(self, signer: Signer, type: str, payload: dict[str, Any]) -> bytes:
        """An entry signed by ``signer`` at the current head (client-held key)."""
        with self.ledger.store.read() as tx:
            size, leaf = tx.head()
        entry = Entry(
            seq=size,
            type=type,
            actor=signer.actor,
            key=signer.key_id,
            time=format_time(self.clock.now()),
            prev=leaf.hex() if size else GENESIS_PREV,
            payload=payload,
        )
        return entry.signed(signer).to_bytes()

    def hold_key(self, party: Party) -> None:
        """Give the server the party's key (so server-signed writes work for it)."""
        vault = self.services.require_vault()
        self.services.accounts.store_key(vault, party.signer)


@pytest.fixture
def settings(tmp_path: Path, store_url: str, log_signer: NoteSigner) -> Settings:
    home = tmp_path / "home"
    given = os.environ.get("INSUTRACE_EPCIS_SCHEMA")
    schema = Path(given) if given else support.SHARED / support.EPCIS_SCHEMA
    if schema.is_file():  # GS1's schema, installed as EPCIS capture needs it
        (home / "epcis").mkdir(parents=True)
        shutil.copy(schema, home / "epcis" / "EPCIS-JSON-Schema.json")
    return Settings(
        home=home,
        database_url=store_url,
        origin=log_signer.name,
        master_key=MASTER_KEY,
    )


@pytest.fixture
def app(
    settings: Settings, ledger: Ledger, clock: FixedClock, log_signer: NoteSigner
) -> Iterator[FastAPI]:
    app = create_app(settings, clock=clock, log_signer=log_signer)
    yield app
    services: Services = app.state.services  # also closed by the lifespan, if it ran
    services.accounts.close()
    services.ledger.store.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def services(app: FastAPI) -> Services:
    s: Services = app.state.services
    return s


@pytest.fixture
def world(
    ledger: Ledger,
    services: Services,
    clock: FixedClock,
    root: Signer,
    signer_for: Callable[[str], Signer],
) -> World:
    w = World(ledger, services, clock)
    _, token = services.accounts.create_account("root", "authority", "Root authority staff")
    w.parties["authority"] = Party("root", "authority", root, token)
    services.accounts.store_key(services.require_vault(), root)
    registrations = []
    for n, role in enumerate(ORG_ROLES, start=1):
        org = uscc(n)
        signer = signer_for(org)
        registrations.append(("actor.register", org_payload(org, role, signer.public_b64), root))
        _, token = services.accounts.create_account(org, role, f"{role} staff")
        w.parties[role] = Party(org, role, signer, token)
    ledger.append_batch(registrations)
    ledger.checkpoint()
    return w


@pytest.fixture
def grow(
    ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]
) -> Callable[[int], None]:
    """``grow(n)``: register n more organisations (in batches), then sign a checkpoint."""
    made = [0]

    def grow(n: int) -> None:
        items = []
        for i in range(made[0], made[0] + n):
            org = uscc(1000 + i)
            payload = org_payload(org, "manufacturer", signer_for(org).public_b64)
            items.append(("actor.register", payload, root))
        made[0] += n
        for start in range(0, n, 100):
            ledger.append_batch(items[start : start + 100])
        ledger.checkpoint()

    return grow
