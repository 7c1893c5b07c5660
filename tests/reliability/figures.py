"""Figures the reliability tests record for the report.  Rule: append-only JSON lines, never asserted.

A test calls :func:`record` with what it measured; when ``REGAUTH_RELIABILITY_FIGURES`` names a file
(set by ``python -m tests.reliability.report``) one JSON line is appended to it, else nothing happens.
:func:`full` tells a test whether to run the long budget (the report) or the CI slice.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

__all__ = ["FIGURES_ENV", "FULL_ENV", "Figure", "budget", "full", "record"]

FIGURES_ENV = "REGAUTH_RELIABILITY_FIGURES"
FULL_ENV = "REGAUTH_RELIABILITY_FULL"


@dataclass(frozen=True)
class Figure:
    """One measurement: which part, which implementation, and the counts."""

    part: str
    impl: str  # "regauth" or "docker"
    tests: int = 1
    faults: int = 0
    lost: int = 0
    corrupted: int = 0
    secrets: int = 0
    false_ok: int = 0  # success reported although nothing (or the wrong thing) happened
    note: str = ""


def full() -> bool:
    """True when the long budget is asked for (the report command sets it)."""
    return os.environ.get(FULL_ENV, "") not in ("", "0")


def budget(ci: int, report: int) -> int:
    """``report`` under the report command, else ``ci``; ``REGAUTH_RELIABILITY_SCALE`` multiplies it."""
    value = report if full() else ci
    scale = float(os.environ.get("REGAUTH_RELIABILITY_SCALE", "1") or 1)
    return max(1, int(value * scale))


def record(
    part: str,
    impl: str,
    *,
    tests: int = 1,
    faults: int = 0,
    lost: int = 0,
    corrupted: int = 0,
    secrets: int = 0,
    false_ok: int = 0,
    note: str = "",
) -> Figure:
    """Append one figure to the figures file (if the report asked for one); return it."""
    figure = Figure(part, impl, tests, faults, lost, corrupted, secrets, false_ok, note)
    target = os.environ.get(FIGURES_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(figure)) + "\n")
    return figure
