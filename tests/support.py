"""Helpers shared across test folders (``tests/`` is on pytest's ``pythonpath`` but is not
a package): the refusal check, the label scenario module loaded by path, once per session,
and a uvicorn server in a thread for tests that need a real socket. The scenario builder
itself is :mod:`insutrace.demo.scenario`."""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn

from insutrace.trace.errors import RuleViolation

_TESTS = Path(__file__).parent


def _load(name: str, relative: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _TESTS / relative)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def label_world() -> ModuleType:
    """Label scenarios on a real ledger (tests/labels/world.py)."""
    return _load("insutrace_tests_label_world", "labels/world.py")


@contextmanager
def refused(rule: str, match: str | None = None) -> Iterator[None]:
    """Expect a RuleViolation with this rule id (and ``match`` literally in its message)."""
    with pytest.raises(RuleViolation, match=re.escape(match) if match else None) as info:
        yield
    assert info.value.rule == rule, info.value


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
