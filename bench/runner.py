"""Rule: ``python -m bench`` starts what it needs, runs the cases, prints one table, stops it all."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.cases import CASES, DEFAULT_CASES, Context, build
from bench.envs import Environment, install_regauth
from bench.harness import CaseResult, run_case

__all__ = ["COMMAND", "format_counters", "format_table", "machine", "main", "markdown"]

COMMAND = "make bench   # or: .venv/bin/python -m bench --python /usr/bin/python3 [--runs 15] [--cases ...]"
_COUNTERS = (
    ("connections", "TCP conns"),
    ("tls_handshakes", "TLS hs"),
    ("registry_requests", "registry reqs"),
    ("token_requests", "token reqs"),
)


def _ms(value: float) -> str:
    return f"{value * 1000:.1f}"


def _triple(times: list[float]) -> str:
    if not times:
        return "-"
    ordered = sorted(times)
    mid = (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    )
    return f"{_ms(ordered[0])} / {_ms(mid)} / {_ms(ordered[-1])}"


def _verdict(result: CaseResult) -> str:
    if result.error is not None:
        return "ERROR"
    met = result.met
    if met is None:
        return ""
    return "met" if met else "MISSED"


def _rows(results: Sequence[CaseResult]) -> list[list[str]]:
    rows = []
    for r in results:
        rows.append(
            [
                r.case.name,
                f"{r.a.label}: {_triple(r.a.times)}",
                f"{r.b.label}: {_triple(r.b.times)}",
                f"{r.ratio:.2f}" if r.ratios else "-",
                f"≤ {r.case.target:g}" if r.case.target is not None else "",
                _verdict(r),
                str(len(r.ratios)),
            ]
        )
    return rows


_HEADER = [
    "case",
    "A min / median / max (ms)",
    "B (reference) min / median / max (ms)",
    "A/B",
    "target",
    "",
    "pairs",
]


def format_table(results: Sequence[CaseResult]) -> str:
    """Plain-text table: one row per case; A/B is the median of the per-pair ratios."""
    rows = [_HEADER, *_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in results:
        if r.error is not None:
            lines.append(f"{r.case.name}: ERROR {r.error}")
    return "\n".join(lines)


def format_counters(results: Sequence[CaseResult]) -> str:
    """Per-login connection/handshake/request counts (median per run) for cases that probe."""
    lines = []
    for r in results:
        for side in (r.a, r.b):
            if not side.counters:
                continue
            parts = [f"{title} {side.per_run(key):g}" for key, title in _COUNTERS if key in side.counters]
            lines.append(f"{r.case.name} [{side.label}] per login: " + ", ".join(parts))
    return "\n".join(lines)


def markdown(results: Sequence[CaseResult], info: dict[str, str], args: str) -> str:
    """The README's Performance section: table, counters, machine, command."""
    out = [
        "## Performance",
        "",
        "Whole-process wall time (start-up included), regauth (A) and the reference (B) run",
        "alternately in the same session; A/B is the median of the per-pair ratios. Times in ms",
        "(min / median / max).",
        "",
        "| case | " + " | ".join(h for h in _HEADER[1:] if h) + " | |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in _rows(results):
        verdict = row[5]
        out.append("| " + " | ".join([*row[:5], row[6], verdict]) + " |")
    counters = format_counters(results)
    if counters:
        out += [
            "",
            "Over the emulated link (connections via the delay proxies, requests from the",
            "server logs):",
            "",
            "```text",
            counters,
            "```",
        ]
    out += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), ""]
    out += [
        "Reproduce:",
        "",
        "```sh",
        COMMAND,
        "```",
        "",
        f"This table: `python -m bench {args}`.".rstrip(),
        "",
    ]
    return "\n".join(out)


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0] if done.stdout or done.stderr else "?"


def _interpreter(bin_dir: str | None) -> str:
    """The interpreter behind regauth's console script: path and version."""
    script = Path(bin_dir or Path(sys.executable).parent) / "regauth"
    try:
        shebang = script.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return platform.python_version()
    python = shebang.removeprefix("#!").strip().split()[0]
    real = os.path.realpath(python)
    return f"{_version([python, '--version']).removeprefix('Python ')} ({real})"


def machine(bin_dir: str | None = None) -> dict[str, str]:
    """What the numbers were measured on (``bin_dir``: where regauth's console scripts are)."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "date": datetime.date.today().isoformat(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": f"{cpu} x{os.cpu_count()}",
        "regauth's python": _interpreter(bin_dir),
    }
    if hasattr(os, "getloadavg"):  # not on Windows
        info["load avg (1 min)"] = f"{os.getloadavg()[0]:.1f}"
    docker = shutil.which("docker")
    if docker:
        info["docker"] = _version([docker, "--version"])
    helper = shutil.which("docker-credential-pass")
    if helper:
        info["go helpers"] = _version([helper, "version"])
    return info


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench``; returns 1 if a case failed to run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of regauth against Docker CLI and the Go credential helpers.",
    )
    parser.add_argument("--runs", type=int, default=15, help="timed pairs per case (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed pairs first (default 2)")
    parser.add_argument(
        "--cases",
        default=",".join(DEFAULT_CASES),
        help="comma-separated case names (default: all): " + ", ".join(CASES),
    )
    parser.add_argument(
        "--python",
        metavar="INTERPRETER",
        help="run regauth under this interpreter: a throwaway venv of it gets a regular install of "
        "this checkout (default: the console scripts of the interpreter running the bench)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write a README Performance section")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be ≥ 1 and --warmup ≥ 0")

    started = time.perf_counter()
    load_before = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"
    results: list[CaseResult] = []
    with Environment() as env:
        bin_dir = install_regauth(args.python, env.path("regauth-venv")) if args.python else None
        ctx = Context(env, bin_dir)
        for name in names:
            try:
                case = build(ctx, name)
            except Exception as exc:  # a component failed to start: report, go on
                print(f"bench: {name}: set-up failed: {exc}", file=sys.stderr)
                continue
            runs = min(args.runs, case.runs) if case.runs else args.runs
            warmup = min(args.warmup, 1) if case.runs else args.warmup
            result = run_case(case, runs, warmup)
            results.append(result)
            status = f"ratio {result.ratio:.2f}" if result.ratios else "no data"
            print(
                f"bench: {name}: {status}" + (f" ({result.error})" if result.error else ""),
                file=sys.stderr,
                flush=True,
            )
        info = machine(bin_dir)  # before the temp dir (and the venv in it) goes
    elapsed = time.perf_counter() - started
    if "load avg (1 min)" in info:
        info["load avg (1 min)"] = f"{load_before} at start, {info['load avg (1 min)']} at end"
    print()
    print(format_table(results))
    counters = format_counters(results)
    if counters:
        print()
        print(counters)
    print()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"total bench time: {elapsed:.1f} s")
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"machine": info, "seconds": elapsed, "cases": [r.to_json() for r in results]},
                indent=2,
            ),
            encoding="utf-8",
        )
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, info, shown), encoding="utf-8")
    failed = len(names) - sum(1 for r in results if r.error is None)
    return 1 if failed else 0
