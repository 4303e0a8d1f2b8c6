"""The rule catalogue: every rule id that can refuse an entry or a gate stage, registered once.

Three sources, gathered into one table keyed by rule id:

- the ledger's own rules (identifiers registered once, mass balance, dates, the checks each
  entry type makes): clause, confidence and messages in ``catalogue/rules.json``;
- the permit gate's rules: clause, confidence and stages from
  :data:`~insutrace.trace.domain.gate.DEFAULT_RULES`, messages from the file;
- the policy rules (the GB 55037 §6.6 external-wall rows, GB 50016 §6.7, GB 50072, re-test
  frequency, credit periods): clause and confidence from every packaged policy file, newest
  version first, messages from the file, whose templates take the rule's values as fields.

Confidence follows the reference's tags: ``V`` read from the normative text (or, for a
ledger rule, defined by the ledger itself), ``S`` from a secondary source, ``U`` expected but
not confirmed. Where sources give one id different clauses (two policy versions, a policy
overriding a gate rule), every clause is kept in :attr:`RuleEntry.clauses`; the packaged
policy versions that carry a rule, with their effective dates, in :attr:`RuleEntry.policies`.

:func:`explain` is what :class:`~insutrace.trace.errors.RuleViolation` asks: the clause and the
Chinese and English message of a refusal. A rule id missing from the catalogue, a clause a
ledger rule's entry does not give, or a template field nobody supplies is a fault: the
refusal still carries what it has, and a watcher installed with :func:`watch_faults` (the
test suite's) hears of it.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .domain.gate import DEFAULT_RULES, STAGES
from .errors import MalformedInput, NotFound
from .policy import Confidence, Policy, PolicyValue, Rule, available_policies, load_policy

__all__ = [
    "CATALOGUE_FILE",
    "Catalogue",
    "RuleEntry",
    "catalogue",
    "explain",
    "watch_faults",
]

CATALOGUE_FILE = "catalogue/rules.json"
_PACKAGE = "insutrace.trace"
_SOURCES = ("ledger", "gate", "policy")
_WHEN_FIELDS = (
    "composite_min_layer_mm",
    "elderly_free_standing_or_area_over_m2",
    "height_over_m",
    "height_at_most_m",
)


@dataclass(frozen=True)
class RuleEntry:
    """One registered rule: where it comes from, what it cites and what it says."""

    id: str
    clause: str
    confidence: Confidence
    zh: str
    en: str
    applies: tuple[str, ...]
    source: str
    clauses: tuple[str, ...]
    defaults: Mapping[str, PolicyValue] = field(default_factory=dict, hash=False)
    # (policy id, version, effective date) of every packaged version carrying it, newest first
    policies: tuple[tuple[str, str, str], ...] = ()

    @property
    def fields(self) -> frozenset[str]:
        """The named fields the two templates use."""
        parsed = [*string.Formatter().parse(self.zh), *string.Formatter().parse(self.en)]
        return frozenset(name for _, name, _, _ in parsed if name)

    def admits(self, clause: str) -> bool:
        """True when ``clause`` is (part of) a clause some source gives this rule."""
        return any(clause in known for known in self.clauses)

    def message(self, fields: Mapping[str, object] | None = None) -> dict[str, str]:
        """The message in Chinese and English, templates filled from the defaults and
        ``fields``; a missing field is a fault and leaves that template unfilled."""
        values = {**self.defaults, **(fields or {})}
        return {"zh": self._fill(self.zh, values), "en": self._fill(self.en, values)}

    def _fill(self, template: str, values: Mapping[str, object]) -> str:
        try:
            return template.format_map(values)
        except (KeyError, ValueError) as exc:
            _fault(f"rule {self.id}: template {template!r} cannot be filled ({exc!r})")
            return template

    def to_json(self) -> dict[str, Any]:
        """The rule as ``GET /v1/rules`` serves it."""
        return {
            "id": self.id,
            "clause": self.clause,
            "clauses": list(self.clauses),
            "confidence": self.confidence.value,
            "source": self.source,
            "applies": list(self.applies),
            "policies": [
                {"id": pid, "version": version, "effective_date": day}
                for pid, version, day in self.policies
            ],
            **self.message(),
        }


@dataclass(frozen=True)
class Catalogue:
    """Every rule id once, in the file's order."""

    version: str
    rules: Mapping[str, RuleEntry] = field(hash=False)

    def __iter__(self) -> Iterator[RuleEntry]:
        return iter(self.rules.values())

    def get(self, rule_id: str) -> RuleEntry | None:
        return self.rules.get(rule_id)

    def rule(self, rule_id: str) -> RuleEntry:
        """The entry of ``rule_id``; NotFound when it is not registered."""
        entry = self.rules.get(rule_id)
        if entry is None:
            raise NotFound(f"rule catalogue {self.version}: no rule {rule_id!r}")
        return entry

    def differing_clauses(self) -> dict[str, tuple[str, ...]]:
        """The ids whose sources disagree on the clause, with every clause given."""
        return {e.id: e.clauses for e in self if len(e.clauses) > 1}


# --- the sources ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """What a gate default or a policy file says of one rule id."""

    clause: str
    confidence: Confidence
    applies: tuple[str, ...] = ()
    defaults: Mapping[str, PolicyValue] = field(default_factory=dict, hash=False)
    policy: tuple[str, str, str] | None = None  # the policy version saying it


def _gate_sources() -> dict[str, _Source]:
    """The permit gate's defaults: GateRule clause, confidence and stages."""
    return {
        rule.id: _Source(
            rule.clause,
            rule.confidence,
            (*(s.value for s in STAGES if s in rule.stages), "permit.decide"),
        )
        for rule in DEFAULT_RULES.values()
    }


def _policies() -> list[Policy]:
    """Every packaged policy version, newest first."""
    loaded = [load_policy(id, version) for id, version in available_policies()]
    return sorted(loaded, key=lambda p: (p.effective_date, p.version), reverse=True)


def _policy_rules(policy: Policy) -> Iterator[tuple[Rule, dict[str, PolicyValue]]]:
    """Each rule of the policy with its template fields (values, and a wall row's bounds)."""
    rows = {row.rule.id: row for row in policy.wall_table}
    for rule in policy.rules.values():
        defaults = dict(rule.values)
        row = rows.get(rule.id)
        if row is not None:
            bounds = {name: getattr(row.when, name) for name in _WHEN_FIELDS}
            defaults |= {k: v for k, v in bounds.items() if v is not None}
        yield rule, defaults


def _policy_sources() -> dict[str, list[_Source]]:
    """Every policy version's clause of each policy rule id, newest first."""
    found: dict[str, list[_Source]] = {}
    for policy in _policies():
        for rule, defaults in _policy_rules(policy):
            found.setdefault(rule.id, []).append(
                _Source(
                    rule.clause,
                    rule.confidence,
                    defaults=defaults,
                    policy=(policy.id, policy.version, policy.effective_date.isoformat()),
                )
            )
    return found


# --- the file ----------------------------------------------------------------------------


def _bad(where: str, expected: str, got: object) -> MalformedInput:
    return MalformedInput(f"rule catalogue {where}: expected {expected}, got {got!r:.60}")


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{where}.{key}", "a non-empty string", value)
    return value


def _texts(item: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(f"{where}.{key}", "a list of strings", value)
    return tuple(value)


def _read_file() -> tuple[str, list[Mapping[str, Any]]]:
    text = (resources.files(_PACKAGE) / CATALOGUE_FILE).read_text(encoding="utf-8")
    raw = json.loads(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise _bad(CATALOGUE_FILE, "an object with a rules list", raw)
    items = raw["rules"]
    if not all(isinstance(item, dict) for item in items):
        raise _bad(f"{CATALOGUE_FILE} rules", "a list of objects", items)
    return _text(raw, "version", CATALOGUE_FILE), items


def _own_source(item: Mapping[str, Any], where: str) -> _Source:
    """A ledger rule's clause and confidence, from the file."""
    value = item.get("confidence")
    if value not in {c.value for c in Confidence}:
        raise _bad(f"{where}.confidence", "V, S or U", value)
    return _Source(_text(item, "clause", where), Confidence(value), _texts(item, "applies", where))


def _sources_of(
    item: Mapping[str, Any], where: str, gate: dict[str, _Source], policy: dict[str, list[_Source]]
) -> list[_Source]:
    """The sources of one file entry, the authoritative first."""
    source, rule_id = item.get("source", "ledger"), item["id"]
    if source not in _SOURCES:
        raise _bad(f"{where}.source", "ledger, gate or policy", source)
    found = {
        "ledger": [_own_source(item, where)] if source == "ledger" else [],
        "gate": [gate[rule_id]] if rule_id in gate else [],
        "policy": policy.get(rule_id, []),
    }
    if not found[source]:
        raise _bad(f"{where}.source", f"a {source} rule {rule_id!r} to exist", None)
    others = [s for name in _SOURCES if name != source for s in found[name]]
    return [*found[source], *others]


def _entry(
    item: Mapping[str, Any], index: int, gate: dict[str, _Source], policy: dict[str, list[_Source]]
) -> RuleEntry:
    where = f"rules[{index}]"
    rule_id = _text(item, "id", where)
    sources = _sources_of(item, f"{where} ({rule_id})", gate, policy)
    first = sources[0]
    return RuleEntry(
        id=rule_id,
        clause=first.clause,
        confidence=first.confidence,
        zh=_text(item, "zh", where),
        en=_text(item, "en", where),
        applies=_texts(item, "applies", where) or first.applies,
        source=str(item.get("source", "ledger")),
        clauses=tuple(dict.fromkeys(s.clause for s in sources)),
        defaults=first.defaults,
        policies=tuple(s.policy for s in sources if s.policy is not None),
    )


def _check_complete(rules: Mapping[str, RuleEntry], *sources: Mapping[str, object]) -> None:
    missing = sorted({rule_id for source in sources for rule_id in source} - set(rules))
    if missing:
        raise _bad(CATALOGUE_FILE, "an entry for every gate and policy rule", missing)


@cache
def catalogue() -> Catalogue:
    """The catalogue: the file's entries completed from the gate defaults and every policy.

    MalformedInput names the first problem: a malformed entry, an id twice, a gate or policy
    rule without an entry, an entry claiming a source that has no such rule.
    """
    version, items = _read_file()
    gate, policy = _gate_sources(), _policy_sources()
    rules: dict[str, RuleEntry] = {}
    for index, item in enumerate(items):
        entry = _entry(item, index, gate, policy)
        if entry.id in rules:
            raise _bad(f"rules[{index}].id", "each id once", entry.id)
        rules[entry.id] = entry
    _check_complete(rules, gate, policy)
    return Catalogue(version, rules)


# --- what a refusal says -----------------------------------------------------------------

_watchers: list[Callable[[str], None]] = []


def watch_faults(watcher: Callable[[str], None] | None) -> None:
    """Report every catalogue fault to ``watcher`` (None: stop reporting)."""
    _watchers.clear()
    if watcher is not None:
        _watchers.append(watcher)


def _fault(problem: str) -> None:
    for watcher in _watchers:
        watcher(problem)


def explain(rule_id: str, clause: str, fields: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """The clause and ``{zh, en}`` message of a refusal of ``rule_id``.

    ``clause``, when given, narrows a ledger rule's citation and must be (part of) the
    catalogue's clause, else the catalogue's clause stands. For a gate or policy rule it is the
    clause of the policy applied (a jurisdiction's file may re-cite a rule) and stands as given.
    """
    entry = catalogue().get(rule_id)
    if entry is None:
        _fault(f"rule {rule_id!r} is not in the rule catalogue ({CATALOGUE_FILE})")
        return clause, {"zh": f"规则 {rule_id}", "en": f"rule {rule_id}"}
    if clause and entry.source == "ledger" and not entry.admits(clause):
        _fault(f"rule {rule_id}: clause {clause!r} is not part of {entry.clauses}")
        clause = ""
    return clause or entry.clause, entry.message(fields)
