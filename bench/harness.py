"""Rule: whole-process wall time (perf_counter around subprocess.run), A and B alternated per pair.

Each case has a subject side (A, normally regauth) and a reference side (B, normally Docker or a Go
helper).  After ``warmup`` untimed pairs, ``runs`` pairs are timed; the order inside a pair flips
every iteration (AB, BA, AB, …) so that slow drift hits both sides alike.  Set-up of a run
(re-seeding ``config.json``, resetting counters) happens outside the timed region.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["Case", "CaseResult", "RunError", "Side", "SideResult", "run_case"]

Probe = Callable[[], Mapping[str, int]]


class RunError(RuntimeError):
    """A timed command failed (wrong exit code or output)."""


@dataclass
class Side:
    """One command to time: argv, environment, stdin, untimed set-up and checks."""

    label: str
    argv: list[str]
    env: dict[str, str]
    stdin: bytes = b""
    prepare: Callable[[], None] | None = None
    expect_rc: int = 0
    expect_stdout: bytes | None = None  # a substring the stdout must hold
    probe: Probe | None = None  # cumulative counters, read before and after each timed run
    settle: float = 0.0  # seconds to wait (untimed) before reading the probe after a run
    redact: tuple[bytes, ...] = ()  # secrets to blank out of error reports


@dataclass
class Case:
    """A pair of sides to compare; ``target`` is the issue's ratio bound (A/B ≤ target)."""

    name: str
    title: str
    a: Side
    b: Side
    target: float | None = None
    runs: int | None = None  # overrides the global --runs (capped by it)
    note: str = ""


@dataclass
class SideResult:
    """Timings of one side (seconds) and per-run counter deltas."""

    label: str
    times: list[float] = field(default_factory=list)
    counters: dict[str, list[int]] = field(default_factory=dict)

    @property
    def min(self) -> float:
        """Fastest run."""
        return min(self.times)

    @property
    def median(self) -> float:
        """Median run."""
        return statistics.median(self.times)

    @property
    def max(self) -> float:
        """Slowest run."""
        return max(self.times)

    def per_run(self, key: str) -> float:
        """Median of a counter's per-run deltas."""
        return float(statistics.median(self.counters[key]))


@dataclass
class CaseResult:
    """Both sides and the per-pair ratios A/B."""

    case: Case
    a: SideResult
    b: SideResult
    ratios: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def ratio(self) -> float:
        """Median of the per-pair ratios A/B."""
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool | None:
        """Whether the target holds (None: no target or no data)."""
        if self.case.target is None or not self.ratios:
            return None
        return self.ratio <= self.case.target

    def to_json(self) -> dict[str, object]:
        """A JSON-serialisable summary (times in seconds)."""

        def side(s: SideResult) -> dict[str, object]:
            out: dict[str, object] = {"label": s.label, "times": s.times}
            if s.times:
                out.update(min=s.min, median=s.median, max=s.max)
            if s.counters:
                out["counters_per_run"] = {k: s.per_run(k) for k in s.counters}
            return out

        return {
            "name": self.case.name,
            "title": self.case.title,
            "target": self.case.target,
            "a": side(self.a),
            "b": side(self.b),
            "ratios": self.ratios,
            "ratio_median": self.ratio if self.ratios else None,
            "met": self.met,
            "error": self.error,
        }


def _run_once(side: Side, result: SideResult | None) -> float:
    """Prepare (untimed), time one process, check it; record counter deltas when ``result``."""
    if side.prepare is not None:
        side.prepare()
    before = dict(side.probe()) if side.probe is not None and result is not None else {}
    start = time.perf_counter()
    done = subprocess.run(side.argv, input=side.stdin, capture_output=True, env=side.env, timeout=120)
    elapsed = time.perf_counter() - start
    if done.returncode != side.expect_rc or (
        side.expect_stdout is not None and side.expect_stdout not in done.stdout
    ):
        tail_bytes = done.stdout[-300:] + b" | " + done.stderr[-600:]
        for secret in side.redact:
            tail_bytes = tail_bytes.replace(secret, b"<redacted>")
        tail = tail_bytes.decode(errors="replace")
        raise RunError(f"{side.label}: exit {done.returncode} (want {side.expect_rc}): {tail}")
    if result is not None:
        result.times.append(elapsed)
        if side.probe is not None:
            if side.settle:
                time.sleep(side.settle)
            after = side.probe()
            for key, value in after.items():
                result.counters.setdefault(key, []).append(value - before.get(key, 0))
    return elapsed


def run_case(case: Case, runs: int, warmup: int) -> CaseResult:
    """Warm up, then time ``runs`` alternating pairs; errors end the case and are recorded."""
    result = CaseResult(case, SideResult(case.a.label), SideResult(case.b.label))
    try:
        for _ in range(warmup):
            _run_once(case.a, None)
            _run_once(case.b, None)
        for i in range(runs):
            if i % 2 == 0:
                ta = _run_once(case.a, result.a)
                tb = _run_once(case.b, result.b)
            else:
                tb = _run_once(case.b, result.b)
                ta = _run_once(case.a, result.a)
            result.ratios.append(ta / tb)
    except (RunError, subprocess.TimeoutExpired, OSError, RuntimeError) as exc:
        result.error = str(exc)
    return result
