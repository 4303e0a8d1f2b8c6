"""The whole-chain domain: entry types, their rules and projections.

Every entry type is declared once, at the end of its handler's module
(:class:`~insutrace.trace.entrytype.EntryType`); this package assembles them into
:data:`REGISTRY`, which a ledger is given together with the admission checks
(``Ledger(store, types=REGISTRY, admission=ADMISSION)``). ``insutrace entry-types`` prints
the table of types, titles, signers, ownership and EPCIS events
(:func:`insutrace.trace.entrytable.entry_type_table`); the README carries the same table.

Every domain payload carries ``"schema": 1``; quantities are decimal strings in the batch's
unit (projection rows keep integer milli-units), dates ``YYYY-MM-DD`` judged in China
Standard Time against the entry's own time, documents by SHA-256 hex. A refused entry
raises ``RuleViolation(rule, reason, clause)``, ``Forbidden`` or ``MalformedInput`` and
leaves nothing behind. Rule ids are prefixed by their module's subject (``org.*``,
``batch.*``, ``custody.*``, ``inspect.*``, ``label.*`` …); read-side questions are in
:mod:`.queries`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from .. import actors
from ..actors import Handler
from ..entrytype import EntryType, Registry, superseding
from . import (
    affiliations,
    alerts,
    batches,
    buildings,
    corrections,
    credit,
    custody,
    design,
    existing,
    incidents,
    labels,
    measures,
    norms,
    orgs,
    payloads,
    permits,
    persons,
    products,
    projects,
    recall,
    reports,
    site,
)
from .admission import ADMISSION

__all__ = ["ADMISSION", "HANDLERS", "MODELS", "REGISTRY", "TYPES", "check_payload"]


def _report_issue() -> tuple[EntryType, ...]:
    """report.issue with the joint punishment of listed labs (issue 6): a report issued
    while its lab is listed does not qualify its batch (:func:`.credit.disqualify_reports`)."""
    return tuple(replace(t, handler=credit.disqualify_reports(t.handler)) for t in reports.TYPES)


def _batch_register() -> tuple[EntryType, ...]:
    """batch.register with the industry-list requirement a jurisdiction's policy may set
    (:func:`.norms.require_listing`; not required by default)."""
    return tuple(
        replace(t, handler=norms.require_listing(t.handler)) if t.name == "batch.register" else t
        for t in batches.TYPES
    )


def _site_sample() -> tuple[EntryType, ...]:
    """site.sample naming its sampler and witness as the persons assigned to the project
    (:func:`.persons.name_sample_persons`)."""
    return tuple(
        replace(t, handler=persons.name_sample_persons(t.handler)) if t.name == "site.sample" else t
        for t in site.TYPES
    )


_DOMAIN: tuple[EntryType, ...] = (
    *orgs.TYPES,
    *affiliations.TYPES,
    *products.TYPES,
    *_batch_register(),
    *_report_issue(),
    *custody.TYPES,
    *projects.TYPES,
    *_site_sample(),
    *buildings.TYPES,
    *recall.TYPES,
    *corrections.TYPES,
    *credit.TYPES,
    *permits.TYPES,
    *incidents.TYPES,
    *labels.TYPES,
    *design.TYPES,
    *measures.TYPES,
    *persons.TYPES,
    *existing.TYPES,
    *norms.TYPES,
    *alerts.TYPES,
)


def _core_key_types() -> tuple[EntryType, ...]:
    """The core's key.rotate, key.revoke and key.add with the payload models the API checks
    them by."""
    models = {
        "key.rotate": payloads.KeyRotate,
        "key.revoke": payloads.KeyRevoke,
        "key.add": payloads.KeyAdd,
    }
    return tuple(replace(t, payload=models[t.name]) for t in actors.TYPES if t.name in models)


TYPES: tuple[EntryType, ...] = superseding(actors.TYPES, *_core_key_types(), *_DOMAIN)
"""Every entry type the ledger admits: the core's log mechanics, with the domain's
``actor.register`` (an organisation with roles) in place of the core's, then the domain's."""

REGISTRY = Registry(TYPES, reads=orgs.rows_read)

HANDLERS: Mapping[str, Handler] = MappingProxyType({t.name: t.handler for t in TYPES})
"""The handler of every type by name (the admission checks are the ledger's to run)."""

MODELS: Mapping[str, type[BaseModel]] = MappingProxyType(
    {
        t.name: t.payload
        for t in TYPES
        if isinstance(t.payload, type) and issubclass(t.payload, BaseModel)
    }
)
"""The payload model of every type that declares one (every type the API writes)."""


def check_payload(type: str, payload: Any) -> BaseModel:
    """Validate a ``type`` entry's payload against its declared model
    (:class:`~.payloads.PayloadInvalid` names each bad member)."""
    return payloads.validate(MODELS[type], type, payload)
