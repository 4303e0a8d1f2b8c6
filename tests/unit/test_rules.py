"""The rule catalogue: every rule id once, what refusals take from it, and the error tree."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pytest

from insutrace.trace import errors
from insutrace.trace.domain import HANDLERS
from insutrace.trace.domain.fields import Reader
from insutrace.trace.domain.gate import DEFAULT_RULES
from insutrace.trace.entry import Entry
from insutrace.trace.errors import MalformedInput, RuleViolation
from insutrace.trace.policy import available_policies, load_policy
from insutrace.trace.rules import CATALOGUE_FILE, catalogue, watch_faults

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("trace", "api", "labels", "cli") for p in sorted((ROOT / d).rglob("*.py"))]

# Ids whose sources (the file, the gate defaults, each policy version) give different clauses,
# with every clause given. None today: a new policy version that re-cites a rule shows here.
DIFFERING_CLAUSES: dict[str, tuple[str, ...]] = {}


@contextmanager
def faults() -> Iterator[list[str]]:
    """The catalogue faults reported inside the block (the suite's watcher is put back)."""
    seen: list[str] = []
    watch_faults(seen.append)
    try:
        yield seen
    finally:
        watch_faults(None)


# -- the catalogue ------------------------------------------------------------------------


def test_the_file_names_each_rule_once() -> None:
    raw = json.loads((resources.files("insutrace.trace") / CATALOGUE_FILE).read_text("utf-8"))
    ids = [item["id"] for item in raw["rules"]]
    assert len(ids) == len(set(ids))
    assert list(catalogue().rules) == ids
    assert raw["version"] == catalogue().version


def test_gate_rules_come_from_the_gate_defaults() -> None:
    for rule in DEFAULT_RULES.values():
        entry = catalogue().rule(rule.id)
        assert (entry.source, entry.clause, entry.confidence) == (
            "gate",
            rule.clause,
            rule.confidence,
        )
        assert "permit.decide" in entry.applies
        assert {s.value for s in rule.stages} <= set(entry.applies)


def test_every_rule_of_every_policy_version_is_registered_with_its_clause() -> None:
    policies = [load_policy(id, version) for id, version in available_policies()]
    newest_first = sorted(policies, key=lambda p: (p.effective_date, p.version), reverse=True)
    seen: set[str] = set()
    for policy in newest_first:
        for rule in policy.rules.values():
            entry = catalogue().rule(rule.id)
            assert entry.source == "policy" and rule.clause in entry.clauses
            if rule.id not in seen:  # the newest version's clause and tag stand
                assert (entry.clause, entry.confidence) == (rule.clause, rule.confidence)
            seen.add(rule.id)
    assert seen == {e.id for e in catalogue() if e.source == "policy"}


def test_ids_whose_sources_disagree_on_the_clause() -> None:
    assert catalogue().differing_clauses() == DIFFERING_CLAUSES


def test_every_message_fills_from_its_defaults() -> None:
    with faults() as seen:
        for entry in catalogue():
            message = entry.message()
            assert message["zh"] and message["en"], entry.id
            assert "{" not in message["zh"] + message["en"], entry.id
            assert re.search(r"[\u4e00-\u9fff]", message["zh"]), f"{entry.id}: no Chinese"
    assert seen == []


def test_a_policy_rule_message_states_the_policy_values() -> None:
    entry = catalogue().rule("wall.row5.residential_27_to_100m")
    assert entry.clause == "GB 55037-2022 §6.6.6"
    assert entry.message() == {
        "zh": "建筑高度大于 27 m、不大于 100 m 的住宅建筑（无空腔）：外墙保温材料燃烧性能须达到 ≥B1",
        "en": "residential building over 27 m and up to 100 m, no cavity: external-wall "
        "insulation ≥B1",
    }


def test_an_unknown_rule_is_not_found() -> None:
    with pytest.raises(errors.NotFound, match=r"no rule 'no\.such'"):
        catalogue().rule("no.such")


# -- refusals take clause and message from the catalogue ------------------------------------


def test_a_refusal_carries_the_catalogue_clause_and_message() -> None:
    with faults() as seen:
        exc = RuleViolation("key.unique", "key 3f9c is already registered")
    assert seen == []
    entry = catalogue().rule("key.unique")
    assert (exc.rule, exc.reason, exc.clause) == (
        "key.unique",
        "key 3f9c is already registered",
        entry.clause,
    )
    assert exc.message == entry.message()
    assert str(exc) == f"key.unique: key 3f9c is already registered ({entry.clause})"


def test_a_raise_site_may_narrow_the_clause_to_a_part_of_the_catalogues() -> None:
    with faults() as seen:
        exc = RuleViolation("inspect.label_class", "unparsable", "GB 8624-2012 §4")
    assert (seen, exc.clause) == ([], "GB 8624-2012 §4")


def test_a_clause_the_catalogue_does_not_give_is_a_fault_and_the_catalogue_wins() -> None:
    with faults() as seen:
        exc = RuleViolation("install.recalled", "batch X is recalled", "GB 55015-2021 §6.2.1")
    assert exc.clause == catalogue().rule("install.recalled").clause
    assert len(seen) == 1 and "install.recalled" in seen[0]


def test_an_unregistered_rule_is_a_fault() -> None:
    with faults() as seen:
        exc = RuleViolation("no.such_rule", "refused")
    assert exc.rule == "no.such_rule" and exc.message["en"] == "rule no.such_rule"
    assert seen == ["rule 'no.such_rule' is not in the rule catalogue (catalogue/rules.json)"]


def test_a_policy_rule_keeps_the_clause_of_the_policy_applied() -> None:
    with faults() as seen:
        exc = RuleViolation(
            "wall.row5.residential_27_to_100m", "designed B2", "某省 §1 (provincial)"
        )
    assert (seen, exc.clause) == ([], "某省 §1 (provincial)")


def test_fields_override_a_template_default() -> None:
    with faults() as seen:
        exc = RuleViolation("wall.row5.residential_27_to_100m", "designed B2", required="A")
    assert seen == [] and exc.message["en"].endswith("external-wall insulation A")


# -- the static scan: every literal rule id the source uses is registered --------------------


def _rule_params() -> dict[str, list[str]]:
    """Name of every function in the source -> its parameter names (for positional args)."""
    params: dict[str, list[str]] = {"RuleViolation": ["rule", "message", "clause"]}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in node.args.posonlyargs + node.args.args]
                params.setdefault(
                    node.name, names[1:] if names[:1] in (["self"], ["cls"]) else names
                )
    params["GateRule"] = ["rule"]
    return params


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _rule_args(node: ast.Call, params: dict[str, list[str]]) -> Iterator[ast.expr]:
    names = params.get(_called(node), [])
    for name, arg in zip(names, node.args, strict=False):
        if name in ("rule", "rule_id"):
            yield arg
    yield from (k.value for k in node.keywords if k.arg in ("rule", "rule_id"))


def _check_tuples(node: ast.AST) -> Iterator[ast.expr]:
    """(rule, ok, why, clause) and (rule, reason, clause) tables: the first element."""
    if not (isinstance(node, ast.Tuple) and len(node.elts) >= 3):
        return
    first = node.elts[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return
    if re.fullmatch(r"[a-z_]+\.[a-z0-9_.]+", first.value) and first.value not in HANDLERS:
        yield first


def _literal_ids() -> Iterator[tuple[str, ast.expr]]:
    params = _rule_params()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                for arg in _rule_args(node, params):
                    yield where, arg
            for first in _check_tuples(node):
                yield where, first


def _pattern(arg: ast.expr) -> re.Pattern[str] | None:
    """A literal id as itself; an f-string as a pattern its values must match."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return re.compile(re.escape(arg.value))
    if isinstance(arg, ast.JoinedStr):
        parts = [
            re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z0-9_]+" for v in arg.values
        ]
        return re.compile("".join(parts))
    return None


def test_every_literal_rule_id_in_the_source_is_registered() -> None:
    registered = list(catalogue().rules)
    checked, unregistered = 0, []
    for where, arg in _literal_ids():
        pattern = _pattern(arg)
        if pattern is None:
            continue  # a variable: the runtime check of the test session covers it
        checked += 1
        if not any(pattern.fullmatch(rule_id) for rule_id in registered):
            unregistered.append(f"{where} {ast.unparse(arg)}")
    assert unregistered == []
    assert checked > 120  # the scan sees the raise sites, the gate and the check tables


def test_the_scan_would_catch_an_unregistered_id(tmp_path: Path) -> None:
    source = 'raise RuleViolation("no.such_rule", "x")\nRuleViolation(f"credit.{r}_nope", "x")\n'
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
    patterns = [_pattern(next(_rule_args(c, _rule_params()))) for c in calls]
    assert all(p is not None for p in patterns)
    assert not any(p.fullmatch(i) for p in patterns if p for i in catalogue().rules)


# -- input faults point at their field -----------------------------------------------------


def test_payload_readers_point_at_the_field() -> None:
    p = Reader({"sections": [{"a~b/c": 5}], "name": 3}, "project.register")
    with pytest.raises(MalformedInput) as err:
        p.objs("sections")[0].text("a~b/c")
    assert err.value.pointer == "/payload/sections/0/a~0b~1c"
    with pytest.raises(MalformedInput, match=r"project.register.name: expected") as err:
        p.text("name")
    assert err.value.pointer == "/payload/name"


def test_envelope_checks_point_at_the_member() -> None:
    good = {
        "v": 1,
        "seq": 0,
        "type": "log.genesis",
        "actor": "root",
        "key": "0" * 16,
        "time": "2026-11-22T08:00:00.000Z",
        "prev": "0" * 64,
        "payload": {},
        "sig": "",
    }
    cases = {
        "/actor": {k: v for k, v in good.items() if k != "actor"},
        "/seq": {**good, "seq": -1},
        "/key": {**good, "key": "xyz"},
        "/payload": {**good, "payload": []},
        "/time": {**good, "time": "yesterday"},
        "/v": {**good, "v": 2},
    }
    for pointer, obj in cases.items():
        with pytest.raises(MalformedInput) as err:
            Entry.from_json(obj)
        assert err.value.pointer == pointer, obj


# -- the error tree --------------------------------------------------------------------------


def test_the_base_error_is_never_raised_or_built_bare() -> None:
    bare = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and _called(node) == "LedgerError":
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bare == []


def test_the_docstring_tree_names_every_error_class_under_its_base() -> None:
    doc = errors.__doc__ or ""
    tree = doc.split("::", 1)[1].split("\n\n", 2)[1]
    names = re.findall(r"^\s*(?:[├└]── )?([A-Z]\w+)\s{2,}", tree, re.M)
    classes = [getattr(errors, n) for n in errors.__all__]
    assert sorted(names) == sorted(errors.__all__)
    for cls in classes:
        if cls is not errors.LedgerError:
            assert cls.__bases__ == (errors.LedgerError,), cls
