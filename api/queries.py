"""Paginated, filtered reads of the log through its entry references.

Filters combine with AND. A list endpoint of the ledger (``/v1/…``) refuses a query
parameter it does not declare, or one given twice, with a 400 problem naming it
(:func:`refuse_unknown_query`), and an entry ``type`` the ledger does not know
(:func:`check_type`): a misspelt filter never silently widens the answer.

 The first reference filter given (batch, org, project,
building — or, without one, the type) drives the scan through its index
(``Tx.refs``); the others are checked per candidate. Each request examines a bounded
number of candidates, so a page may hold fewer than ``limit`` items while ``next``
still points further: pagination is by cursor (``after``), never by offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from heapq import merge
from typing import Any

from fastapi import Request

from insutrace.api.authz import FILTERS
from insutrace.api.schemas import EntryPage, EntryPublic
from insutrace.trace.clock import parse_time
from insutrace.trace.errors import MalformedInput
from insutrace.trace.merkle import leaf_hash
from insutrace.trace.store.base import Tx

__all__ = ["EntryQuery", "check_type", "refuse_unknown_query", "run_query"]

SCAN_BUDGET = 2000
STRICT_PREFIX = "/v1/"
"""The ledger's own API: every query parameter there is declared by its route."""


def _declared(dependant: Any) -> Iterator[str]:
    for param in dependant.query_params:
        yield param.alias or param.name
    for sub in dependant.dependencies:
        yield from _declared(sub)


async def refuse_unknown_query(request: Request) -> None:
    """An app-wide dependency: on ``/v1/…`` routes, a query parameter the route does not
    declare, or one given more than once, is a 400 naming it (nothing is read or written)."""
    if not request.url.path.startswith(STRICT_PREFIX):
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = set(_declared(dependant))
    names = [name for name, _ in request.query_params.multi_items()]
    unknown = sorted({n for n in names if n not in known})
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise MalformedInput(
            f"unknown query parameter(s) {', '.join(repr(n[:40]) for n in unknown[:5])}; "
            f"this endpoint takes: {allowed}"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MalformedInput(f"query parameter {repeated[0][:40]!r} given more than once")


def check_type(types: Mapping[str, object], type: str | None) -> None:
    """A ``type`` filter names an entry type the ledger knows, else 400 naming it."""
    if type is not None and type not in types:
        raise MalformedInput(
            f"unknown entry type {type!r:.100}: expected one of {', '.join(sorted(types))}"
        )


@dataclass(frozen=True)
class EntryQuery:
    refs: dict[str, str]  # filter kind (see authz.FILTERS) → value
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int = -1
    limit: int = 100


def _utc(t: datetime | None) -> datetime | None:
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=UTC)


def _ref_names(kind: str, value: str) -> list[str]:
    return [pattern.format(value) for pattern in FILTERS[kind]]


def _candidates(tx: Tx, q: EntryQuery, budget: int) -> tuple[list[int], bool]:
    """Up to ``budget`` candidate seqs after ``q.after``; True if more may follow."""
    if q.refs:
        kind, value = next(iter(q.refs.items()))
        names = _ref_names(kind, value)
    elif q.type:
        names = [f"type:{q.type}"]
    else:
        size, _ = tx.head()
        stop = min(size, q.after + 1 + budget)
        return list(range(q.after + 1, stop)), stop < size
    streams = [tx.refs(name, after=q.after, limit=budget) for name in names]
    more = any(len(s) == budget for s in streams)
    seqs: list[int] = []
    for seq in merge(*streams):
        if not seqs or seqs[-1] != seq:
            seqs.append(seq)
    return seqs[:budget], more or len(seqs) > budget


def _has_ref(tx: Tx, names: list[str], seq: int) -> bool:
    return any(tx.refs(name, after=seq - 1, limit=1) == [seq] for name in names)


def _matches(tx: Tx, q: EntryQuery, seq: int, entry: dict[str, object]) -> bool:
    if q.type is not None and entry.get("type") != q.type:
        return False
    since, until = _utc(q.since), _utc(q.until)
    if since is not None or until is not None:
        when = parse_time(str(entry.get("time")))
        if (since is not None and when < since) or (until is not None and when >= until):
            return False
    drive = next(iter(q.refs), None)
    return all(
        _has_ref(tx, _ref_names(kind, value), seq)
        for kind, value in q.refs.items()
        if kind != drive
    )


def run_query(tx: Tx, q: EntryQuery) -> EntryPage:
    """One page of entries matching ``q``, oldest first."""
    seqs, more = _candidates(tx, q, max(SCAN_BUDGET, q.limit))
    items: list[EntryPublic] = []
    for i, seq in enumerate(seqs):
        body = tx.entries(seq, seq + 1)[0]
        entry = json.loads(body)
        if _matches(tx, q, seq, entry):
            items.append(EntryPublic(seq=seq, leaf=leaf_hash(body).hex(), entry=entry))
            if len(items) == q.limit:
                done = not more and i + 1 == len(seqs)
                return EntryPage(items=items, next=None if done else seq)
    return EntryPage(items=items, next=seqs[-1] if more and seqs else None)
