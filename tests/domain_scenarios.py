"""The domain tests' scenario builders (tests/domain/conftest.py) as an importable module,
for the gate and label tests that build on them. ``tests/`` is on pytest's ``pythonpath``
but is not a package, so the conftest is loaded by path, once per session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_NAME = "insutrace_tests_domain_scenarios"


def load() -> ModuleType:
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _NAME, Path(__file__).parent / "domain" / "conftest.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]
