"""Schemathesis against the app's own OpenAPI, in-process: no 5xx, no response off-schema.

Every operation gets positive and negative cases (a bounded number each, so the run stays
well under a minute), with and without a token. The checks: not a server error, status
code documented, content type documented, body conforming to the documented schema.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import World

EXAMPLES = int(os.environ.get("INSUTRACE_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(operation: Any, mode: GenerationMode, tokens: list[dict[str, str]]) -> int:
    """Run the checks on generated cases of one operation; return how many were sent."""
    sent = [0]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), auth=st.sampled_from(tokens))
    def run(case: Any, auth: dict[str, str]) -> None:
        sent[0] += 1
        case.call_and_validate(headers=auth, checks=CHECKS)

    with contextlib.suppress(Unsatisfiable):  # no negative case for an operation without inputs
        run()
    return sent[0]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_and_no_response_off_schema(
    app: FastAPI, world: World, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tokens = [{}, world["authority"].auth, world["manufacturer"].auth, world["regulator"].auth]
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            sent += _fuzz(operation, mode, tokens)
        except Exception as exc:  # collect every failing operation, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)
    assert sent >= 100, f"only {sent} cases were sent"
