"""Rule: a missing real component fails the test in CI (CI=true) and skips it locally."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

__all__ = ["require", "require_module"]


def require(ok: bool, reason: str) -> None:
    """Fail (CI=true) or skip (locally) the current test unless ``ok`` holds."""
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    else:
        pytest.skip(reason)


def require_module(name: str) -> ModuleType:
    """Import ``name`` (a test dependency), failing in CI and skipping locally when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (pip install -e '.[test]')", pytrace=False)
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')", allow_module_level=True)
