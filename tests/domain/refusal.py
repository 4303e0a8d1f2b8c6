"""A refusal that names its rule id and cites its clause (issue 11: both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from insutrace.trace.errors import RuleViolation


@contextmanager
def refused_with(rule: str, clause: str, match: str = "") -> Iterator[None]:
    """Expect a RuleViolation with this rule id whose clause contains ``clause``."""
    with pytest.raises(RuleViolation) as info:
        yield
    assert info.value.rule == rule, info.value
    assert clause in info.value.clause, info.value.clause
    assert match in info.value.reason, info.value.reason
