"""``python -m fuzz --seconds N``: the long fuzzing campaign (``make fuzz``, FUZZ_SECONDS).

Rule: bounded by wall time; exit 1 if any target raised something other than regauth's own errors.
A third of the time runs the hypothesis properties of tests/reliability/test_fuzz_props.py with a
large example budget; the rest is shared by the atheris harnesses (fuzz_parsers: helper output,
config loader; fuzz_core: challenge, token response, address, login flow), each in its own process.
Without atheris the hypothesis properties get all the time and fuzz_core runs its fallback mutator.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def _hypothesis(seconds: float, examples: int) -> tuple[int, list[str]]:
    """Run every property repeatedly until ``seconds`` are spent; (rounds, failures)."""
    os.environ["REGAUTH_FUZZ_EXAMPLES"] = str(examples)
    sys.path.insert(0, str(ROOT))
    from tests.reliability import test_fuzz_props as props

    properties = [
        props.test_helper_output_bytes,
        props.test_helper_output_round_trip,
        props.test_config_arbitrary_bytes,
        props.test_config_json_documents,
        props.test_helper_store_get_on_garbage,
    ]
    deadline = time.monotonic() + seconds
    rounds = 0
    failures: list[str] = []
    while time.monotonic() < deadline and not failures:
        for prop in properties:
            try:
                prop()
            except Exception as exc:  # a falsifying example: report it, stop this phase
                failures.append(f"{prop.__name__}: {type(exc).__name__}: {exc}")
            if time.monotonic() >= deadline:
                break
        rounds += 1
    print(
        f"hypothesis: {rounds} rounds x {len(properties)} properties x up to {examples} examples, "
        f"{props.COUNT['inputs']} inputs, {len(failures)} failures"
    )
    return rounds, failures


def _atheris_jobs(seconds: int, artifacts: Path) -> list[tuple[str, list[str]]]:
    flags = [f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}/", "-rss_limit_mb=2048"]
    jobs = [
        (f"fuzz_parsers:{name}", [sys.executable, "-m", "fuzz.fuzz_parsers", name, *flags])
        for name in ("helper_output", "config_load")
    ]
    core = ROOT / "fuzz" / "fuzz_core.py"
    if core.exists():
        jobs.append(("fuzz_core", [sys.executable, str(core), *flags]))
    return jobs


def main(argv: list[str] | None = None) -> int:
    """Run the campaign; 0 when nothing was found."""
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="wall-time budget (default 600)")
    parser.add_argument("--examples", type=int, default=5000, help="hypothesis examples per property call")
    args = parser.parse_args(argv)
    have_atheris = importlib.util.find_spec("atheris") is not None
    hyp_seconds = args.seconds / 3 if have_atheris else args.seconds
    _, failures = _hypothesis(hyp_seconds, args.examples)
    if not have_atheris:
        print("atheris is not installed (pip install atheris): atheris harnesses skipped")
        core = ROOT / "fuzz" / "fuzz_core.py"
        if core.exists():
            fallback = subprocess.run([sys.executable, str(core), "-atheris_runs=20000"], cwd=ROOT)
            if fallback.returncode != 0:
                failures.append(f"fuzz_core fallback: exit {fallback.returncode}")
    else:
        artifacts = Path(tempfile.mkdtemp(prefix="regauth-fuzz-artifacts-"))
        jobs = _atheris_jobs(0, artifacts)
        each = max(10, int((args.seconds - hyp_seconds) / max(1, len(jobs))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src")]))
        for name, cmd in _atheris_jobs(each, artifacts):
            print(f"atheris {name}: {each} s")
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            summary = [line for line in done.stderr.splitlines() if line.startswith(("Done ", "#"))]
            print("  " + (summary[-1] if summary else "(no libFuzzer summary)"))
            if done.returncode != 0:
                failures.append(
                    f"{name}: exit {done.returncode}; artifacts in {artifacts}\n"
                    + "\n".join(done.stderr.splitlines()[-25:])
                )
    for failure in failures:
        print(f"FOUND: {failure}", file=sys.stderr)
    print("fuzz: " + ("no failures" if not failures else f"{len(failures)} failure(s)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
