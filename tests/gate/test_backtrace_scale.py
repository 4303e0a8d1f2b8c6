"""A back-trace reads what is related to its subject, never more as the log grows.

Counted as rows: each projection row read by key, each row a prefix scan returns (and
the scan itself), each entry reference. A wall's back-trace and its batch's recall list
read the same rows, and answer the same, after two more projects with their own batches
are built on the same manufacturer, distributor, lab and product; the recall list of a
batch reads one placed row more per wall it went into, and nothing more.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, cast

from insutrace.trace.backtrace import trace_section
from insutrace.trace.domain.read import recall_list
from insutrace.trace.store.base import Tx

from .conftest import GateWorld


class Counting:
    """A read transaction that counts the rows the questions asked of it read."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.rows = 0

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        self.rows += 1
        return self.tx.get(kind, key)

    def scan(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        found = self.tx.scan(kind, prefix)
        self.rows += 1 + len(found)
        return found

    def refs(self, ref: str, after: int = -1, limit: int = 100, descending: bool = False) -> list[int]:  # fmt: skip
        found = self.tx.refs(ref, after, limit, descending)
        self.rows += 1 + len(found)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)


def _read(world: GateWorld, question: Any, *args: str) -> tuple[int, Any]:
    with world.ledger.store.read() as tx:
        counting = Counting(tx)
        answer = question(cast(Tx, counting), *args)
        return counting.rows, answer.to_json() if hasattr(answer, "to_json") else answer


def test_a_wall_and_its_recall_list_read_the_same_rows_as_the_log_grows(world: GateWorld) -> None:
    project, batch = world.built_project()
    wall_rows, wall = _read(world, trace_section, project, "N1")
    recall_rows, recall = _read(world, recall_list, batch)
    assert wall["recall"] == [recall] and wall_rows > recall_rows > 0
    before = world.ledger.size()
    world.built_project()
    world.built_project(accept=False)
    assert world.ledger.size() > before + 20
    assert _read(world, trace_section, project, "N1") == (wall_rows, wall)
    assert _read(world, recall_list, batch) == (recall_rows, recall)


def test_a_recall_list_reads_one_row_more_per_wall(world: GateWorld) -> None:
    sections = [
        {"id": f"S{i}", "name": f"墙 {i}", "facade": f"f{i}", "position": "external_wall",
         "area_m2": "100", "design_class": "B1(B)"}
        for i in range(4)
    ]  # fmt: skip
    batch = world.qualified_batch(world.product())
    project = world.project(sections=sections)
    world.brief(project)
    world.deliver("maker", "dist", batch, "1000")
    world.deliver("dist", "contractor", batch, "800", to_project=project)
    world.inspect(project, batch)
    world.retest(project, world.sample(project, batch))
    counts = []
    for i in range(4):
        world.install(project, batch, "100", "100", f"S{i}")
        rows, notice = _read(world, recall_list, batch)
        assert [w["section"] for w in notice["walls"]] == [f"S{j}" for j in range(i + 1)]
        counts.append(rows)
    assert [b - a for a, b in pairwise(counts)] == [1, 1, 1], counts
