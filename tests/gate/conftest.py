"""Scenario builders for the permit gate, credit listings, back-tracing and dossiers.

Extends the scenario builder (:class:`insutrace.demo.scenario.Scenario`) with a regulator authorised to publish credit listings, an investigator, listings,
permit decisions and a complete accepted project. Every test runs on SQLite and
PostgreSQL and ends with the whole-ledger verify + rebuild check of ``make_ledger``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support import refused

from insutrace.demo.scenario import DOC, POLICY, RETEST_EXTRAS, TODAY, Scenario, results, uscc
from insutrace.trace.domain.gate import Evaluation, Stage, evaluate
from insutrace.trace.keys import Signer
from insutrace.trace.ledger import Ledger, Receipt
from insutrace.trace.policy import Policy, load_policy

__all__ = [
    "DOC",
    "MEASURES",
    "POLICY",
    "RETEST_EXTRAS",
    "TODAY",
    "GateWorld",
    "refused",
    "results",
    "uscc",
]

MEASURES = ["door_window_fire_integrity", "fire_barrier_belt", "protective_layer"]
DAY = date.fromisoformat(TODAY)


class GateWorld(Scenario):
    """The scenario builder plus regulators, listings, decisions and whole projects."""

    def authorities(self) -> None:
        """A regulator authorised for every credit list, and an investigator (once)."""
        if "regulator" in self.orgs:
            return
        self.org("regulator", "南京市住房和城乡建设局", "regulator")
        self.org("investigator", "南京市消防救援支队火灾调查科", "investigator")
        lists = ["ndrc_ordinary", "ndrc_serious", "samr_serious_illegal", "mohurd_bad_record"]
        self.add("credit.authorize", {"authority": self.id("regulator"), "lists": lists}, self.root)

    def listing(self, subject: str, list_type: str = "ndrc_serious", **over: Any) -> str:
        """Publish ``subject`` (a world key or a USCC) on a list; return the listing id."""
        self.authorities()
        number = over.pop("number", f"XY{self.next():04d}")
        payload = {
            "subject": self.orgs[subject].actor if subject in self.orgs else subject,
            "list": list_type,
            "policy": POLICY,
            "decision": {"number": number, "date": TODAY, "document": DOC},
            "min_date": "2027-11-22",
            "max_date": "2028-11-22",
            "reason": "出具虚假检测报告",
            **over,
        }
        self.add("credit.list", payload, self["regulator"])
        return f"{self.id('regulator')}|{number}"

    def decide(
        self, project: str, stage: str, outcome: str = "pass", rules: list[str] | None = None,
        **over: Any,
    ) -> Receipt:  # fmt: skip
        self.authorities()
        payload = {
            "project": project,
            "stage": stage,
            "outcome": outcome,
            "rules": rules or [],
            "number": f"JD{self.next():04d}",
            **over,
        }
        return self.append("permit.decide", payload, self["regulator"])

    def evaluate(
        self, project: str, stage: str, on: date = DAY, policy: Policy | None = None
    ) -> Evaluation:
        with self.ledger.store.read() as tx:
            return evaluate(tx, project, Stage(stage), on=on, policy=policy)

    def decide_as_evaluated(self, project: str, stage: str) -> Evaluation:
        """Record the decision the evaluation asks for; return the evaluation."""
        found = self.evaluate(project, stage)
        self.decide(project, stage, found.outcome.value, found.refused_rules)
        return found

    def built_project(self, accept: bool = True, **over: Any) -> tuple[str, str]:
        """An 80 m residential project (N1 600 m² B1) built with one qualified batch
        delivered through the distributor, inspected, re-tested, installed, accepted."""
        batch = self.qualified_batch(self.product())
        project = self.project(**over)
        self.brief(project)
        self.deliver("maker", "dist", batch, "1000")
        self.deliver("dist", "contractor", batch, "800", to_project=project)
        self.inspect(project, batch)
        self.retest(project, self.sample(project, batch))
        self.install(project, batch, "600", "600")
        if accept:
            self.accept(project, "supervisor", MEASURES)
            self.accept(project, "owner")
        return project, batch


@pytest.fixture
def world(ledger: Ledger, root: Signer, signer_for: Callable[[str], Signer]) -> GateWorld:
    """A ledger with a manufacturer, a distributor, an accredited lab and a regulator."""
    w = GateWorld(ledger, root, signer_for)
    w.trade_parties()
    w.authorities()
    return w


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary directory: policy paths in payloads are at most 60 characters."""
    path = Path(tempfile.mkdtemp(prefix="itp", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def edited_policy(tmp_path: Path, version: str, edit: Callable[[dict[str, Any]], None]) -> str:
    """A copy of the national policy, edited, under a new version; returns its path."""
    from importlib import resources

    text = (resources.files("insutrace.trace") / "policies/cn-national-2025/2025.1.json").read_text(
        "utf-8"
    )
    data = json.loads(text)
    data["version"] = version
    edit(data)
    path = tmp_path / f"{version}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def rule_of(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    for item in [*data["external_wall_table"], *data["rules"]]:
        if item["id"] == rule_id:
            found: dict[str, Any] = item
            return found
    raise KeyError(rule_id)


def national() -> Policy:
    return load_policy("cn-national-2025", "2025.1")
