"""Entry-type declarations: each type is declared once, beside its handler.

An :class:`EntryType` says everything the rest of the system needs of one type: its
bilingual title, payload schema version, handler, who may sign it through the API and the
ownership rule binding the payload to the signer's organisation, its EPCIS 2.0 mapping
(:mod:`insutrace.trace.epcis_map`), the records a dossier may cite it for, and whether the
domain's admission checks run before its handler. A :class:`Registry` is the immutable
collection a ledger admits; the API's write rules, the EPCIS export, the dossier verifier
and the documentation table (:mod:`insutrace.trace.entrytable`) all read it.

This module knows no domain: roles are plain strings (:data:`ROLES`), ownership rules read
projection rows through :class:`~insutrace.trace.store.base.KV`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .entry import Entry
from .epcis_map import EventMapping
from .store.base import KV

if TYPE_CHECKING:  # actors declares its types with this module: no import cycle at run time
    from .actors import Context, Handler

__all__ = [
    "AUTHORITY",
    "ORGANISATION_ROLES",
    "ROLES",
    "AdmissionCheck",
    "EntryType",
    "Owner",
    "Record",
    "RecordKeys",
    "Registry",
    "RowsRead",
    "by_actor",
    "by_field",
    "by_fields",
    "party",
    "roles",
    "superseding",
]

AUTHORITY = "authority"
"""The account role of the root authority's staff (the log's ``root`` actor)."""

ROLES = (
    AUTHORITY,
    "manufacturer",
    "distributor",
    "testing_lab",
    "contractor",
    "supervisor",
    "building_owner",
    "regulator",
    "investigator",
    "designer",
    "drawing_reviewer",
)
"""Every role an account can have: the domain's organisation roles
(``insutrace.trace.domain.orgs.Role``) and the root authority's staff."""

ORGANISATION_ROLES = frozenset(ROLES) - {AUTHORITY}
"""Every role but the root authority's staff."""


def roles(*names: str) -> frozenset[str]:
    """The signer roles of a declaration."""
    return frozenset(names)


Owner = Callable[[KV, str, str, Mapping[str, Any]], str | None]
"""``(kv, org, role, payload) -> reason | None``: None when ``org`` (acting in ``role``)
owns what the payload names, else why it does not."""
AdmissionCheck = Callable[["Context"], None]
"""A rule run before the handler of every admitted type; refuses by raising."""
RecordKeys = Callable[[Entry], Iterable[str]]
RowsRead = Callable[[str, str, Mapping[str, Any]], Iterable[tuple[str, str]]]
"""``(actor, type, payload) -> [(kind, key), …]``: projection rows admitting such a write
reads (a hint; see :meth:`Registry.rows_read`)."""


@dataclass(frozen=True)
class Record:
    """A record (projection kind and keys) an entry creates or changes; a dossier node of
    this kind may cite the entry only when its key is among ``keys(entry)``."""

    kind: str
    keys: RecordKeys


@dataclass(frozen=True)
class EntryType:
    """One entry type, declared once (issue 9)."""

    name: str
    title_zh: str
    title_en: str
    handler: Handler
    signers: frozenset[str]
    signers_doc: str
    epcis: EventMapping | None
    records: tuple[Record, ...]
    owner: Owner | None = None
    owner_doc: str = ""
    admitted: bool = True
    schema: int = 1
    payload: type | None = None
    """The typed payload model (a pydantic class, :mod:`insutrace.trace.domain.payloads`):
    the API's request schema and the check of every payload before admission."""
    fields: str = ""
    """The payload's fields besides ``schema`` for a type without a payload model."""

    def payload_fields(self) -> str:
        """The payload's fields besides ``schema`` (``?`` optional), from the model if any."""
        model_fields = getattr(self.payload, "model_fields", None)
        if not isinstance(model_fields, dict):
            return self.fields
        names = [
            (info.alias or name) + ("" if info.is_required() else "?")
            for name, info in model_fields.items()
        ]
        return ", ".join(n for n in names if n.rstrip("?") != "schema")

    def __post_init__(self) -> None:
        unknown = self.signers - set(ROLES)
        if unknown:
            raise ValueError(f"{self.name}: unknown signer roles {sorted(unknown)}")

    def record_keys(self, entry: Entry, kind: str) -> set[str]:
        """The keys of the ``kind`` records ``entry`` (of this type) creates or changes."""
        return {key for r in self.records if r.kind == kind for key in r.keys(entry)}


class Registry(Mapping[str, EntryType]):
    """Entry types by name, in declaration order; built once, never changed."""

    def __init__(self, types: Iterable[EntryType], *, reads: RowsRead | None = None) -> None:
        self._reads = reads
        self._types: dict[str, EntryType] = {}
        for t in types:
            if t.name in self._types:
                raise ValueError(f"entry type {t.name} is declared twice")
            self._types[t.name] = t

    def __getitem__(self, name: str) -> EntryType:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def rows_read(self, actor: str, type: str, payload: Any) -> list[tuple[str, str]]:
        """The projection rows admitting a ``type`` write by ``actor`` is expected to read:
        the records its type creates or changes, and what the registry's ``reads`` names
        for every write (e.g. the signer's organisation). A hint for reading a batch's rows
        at once: a row left out is read when asked for, one named needlessly costs nothing
        but its read, so a payload the rules will refuse yields what it can."""
        declared = self._types.get(type)
        if declared is None or not isinstance(payload, Mapping):
            return []
        rows: list[tuple[str, str]] = []
        proposed = cast(Entry, _Proposed(actor, type, payload))
        for record in declared.records:
            try:
                rows.extend((record.kind, key) for key in record.keys(proposed))
            except (AttributeError, KeyError, TypeError, ValueError):
                continue
        if self._reads is not None:
            rows.extend(self._reads(actor, type, payload))
        return rows

    def record_kinds(self) -> frozenset[str]:
        """Every record kind some declared type creates or changes."""
        return frozenset(r.kind for t in self._types.values() for r in t.records)


@dataclass(frozen=True)
class _Proposed:
    """What a record's keys are computed from before the entry exists: its signer, type
    and payload (the members :data:`RecordKeys` functions read)."""

    actor: str
    type: str
    payload: Mapping[str, Any]


def superseding(base: Iterable[EntryType], *types: EntryType) -> tuple[EntryType, ...]:
    """``base`` with the types of the same name replaced by ``types``, the rest appended."""
    new = {t.name: t for t in types}
    kept = tuple(new.pop(t.name, t) for t in base)
    return (*kept, *new.values())


# -- record keys --------------------------------------------------------------------------


def by_field(*names: str) -> RecordKeys:
    """The record is keyed by one of the payload fields ``names`` (whichever are present)."""

    def keys(entry: Entry) -> Iterable[str]:
        return [str(v) for v in (entry.payload.get(n) for n in names) if v is not None]

    return keys


def by_fields(*names: str) -> RecordKeys:
    """The record is keyed ``<field>|<field>…`` by the payload fields ``names``."""

    def keys(entry: Entry) -> Iterable[str]:
        return ["|".join(str(entry.payload.get(n)) for n in names)]

    return keys


def by_actor(name: str) -> RecordKeys:
    """The record is keyed ``<actor>|<payload field>`` (a document numbered by its author)."""

    def keys(entry: Entry) -> Iterable[str]:
        return [f"{entry.actor}|{entry.payload.get(name)}"]

    return keys


# -- ownership ----------------------------------------------------------------------------


def party(kind: str, field: str, *columns: str, when_role: str | None = None) -> Owner:
    """The ``kind`` row the payload's ``field`` names must list the organisation in one of
    ``columns``. A row that does not exist is left to the domain (its precise rule id)."""

    def check(kv: KV, org: str, role: str, payload: Mapping[str, Any]) -> str | None:
        if when_role is not None and role != when_role:
            return None
        key = payload.get(field)
        row = kv.get(kind, key) if isinstance(key, str) else None
        if row is None or org in (row.get(c) for c in columns):
            return None
        return f"{org} is not the {' or '.join(columns)} of {kind} {key}"

    return check
