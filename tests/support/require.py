"""Rule: a missing real component fails the test in CI (CI=true) and skips it locally."""

from __future__ import annotations

import os

import pytest

__all__ = ["require"]


def require(ok: bool, reason: str) -> None:
    """Fail (CI=true) or skip (locally) the current test unless ``ok`` holds."""
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    else:
        pytest.skip(reason)
