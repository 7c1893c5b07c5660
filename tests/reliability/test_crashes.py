"""Crashes at the process level: SIGKILL a saving ``regauth login``/``logout`` at random moments.

After every kill, ``config.json`` must be byte-for-byte the complete old or the complete new version,
and the leftovers (lock file, temp files) must never block the next run.  The kill moment is drawn
from a window calibrated on an unkilled run, so most kills land late in the process (the save).
Module-level kills are tests/test_config_concurrency.py; this file kills whole processes.  Docker CLI
28 is killed the same way for the report (docs/config-file.md: temp file + rename, no lock).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cliutil import venv_path
from tests.reliability.fakes import FakeServer, basic_registry
from tests.reliability.figures import budget, record
from tests.reliability.procs import regauth_exe

USER, PASSWORD = "crashuser", "crash-Passw0rd"
VICTIM = "victim.example"


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeServer]:
    """A Basic registry for the login runs."""
    with FakeServer(basic_registry(USER, PASSWORD)) as server:
        yield server


def _old_bytes() -> bytes:
    auths = {f"keep-{i:02d}.example": {"auth": "a2VlcDprZWVwcGFzcw=="} for i in range(40)}
    auths[VICTIM] = {"auth": "dmljdGltOnB3"}
    data = {"auths": dict(sorted(auths.items())), "psFormat": "table", "unknownTopLevel": {"keep": [1, 2]}}
    return json.dumps(data, indent="\t").encode()


@dataclass
class Tally:
    """What the kills found."""

    kills: int = 0
    old: int = 0
    new: int = 0
    torn: int = 0
    blocked: int = 0
    stray_temps: int = 0
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _run(argv: list[str], stdin: str, env: dict[str, str], timeout: float = 60) -> tuple[int, float]:
    start = time.monotonic()
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
    return proc.returncode, time.monotonic() - start


def _kill_loop(
    argv: list[str], stdin: str, env: dict[str, str], directory: Path, runs: int, seed: int, tally: Tally
) -> None:
    path = directory / "config.json"
    old = _old_bytes()
    path.write_bytes(old)
    code, duration = _run(argv, stdin, env)
    assert code == 0
    new = path.read_bytes()
    assert new != old
    rng = random.Random(seed)
    for index in range(runs):
        path.write_bytes(old)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, text=True, env=env)  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        time.sleep(rng.uniform(0.3 * duration, 1.15 * duration))
        if sys.platform == "win32":  # pragma: no cover
            proc.kill()
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        now = path.read_bytes()
        temps = [p.name for p in directory.iterdir() if ".tmp-" in p.name]
        with tally.lock:
            tally.kills += 1
            if now == old:
                tally.old += 1
            elif now == new:
                tally.new += 1
            else:
                tally.torn += 1
                tally.problems.append(f"torn file after kill {index}: {now[:80]!r}")
            tally.stray_temps = max(tally.stray_temps, len(temps))
        if index % 10 == 9:  # the next unkilled run is never blocked by what the kills left
            path.write_bytes(old)
            code, _took = _run(argv, stdin, env, timeout=max(30.0, duration * 20))
            if code != 0 or path.read_bytes() != new:
                with tally.lock:
                    tally.blocked += 1
                    tally.problems.append(f"run after kill {index} failed: exit {code}")


def _campaign(argvs: list[tuple[list[str], str]], env: dict[str, str], base: Path, runs: int) -> Tally:
    tally = Tally()
    threads = []
    for worker in range(2):  # two cores: two kill loops on separate configs
        for job, (argv, stdin) in enumerate(argvs):
            directory = base / f"w{worker}-{job}"
            directory.mkdir()
            wenv = dict(env, DOCKER_CONFIG=str(directory))
            share = runs // (2 * len(argvs))
            threads.append(
                threading.Thread(
                    target=_kill_loop, args=(argv, stdin, wenv, directory, share, 1000 * worker + job, tally)
                )
            )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def _report(tool: str, tally: Tally) -> None:
    """Record the campaign for the reliability report and print it."""
    record(
        "crashes",
        tool,
        tests=tally.kills,
        faults=tally.kills,
        lost=tally.blocked,
        corrupted=tally.torn,
        note=f"old {tally.old}, new {tally.new}, max stray temps {tally.stray_temps}",
    )
    print(
        f"\n{tool} kills: {tally.kills}: old {tally.old}, new {tally.new}, torn {tally.torn}, "
        f"blocked {tally.blocked}"
    )


def test_regauth_sigkill_mid_save(isolated_env: object, tmp_path: Path, registry: FakeServer) -> None:
    """docs/config-file.md, crash mid-save: always the old or new file, never torn, never blocked."""
    env = dict(os.environ, PATH=venv_path())
    runs = budget(100, 1000)
    exe = regauth_exe()
    tally = _campaign(
        [
            ([exe, "logout", VICTIM], ""),
            ([exe, "login", registry.host, "-u", USER, "--password-stdin"], PASSWORD),
        ],
        env, tmp_path, runs,
    )  # fmt: skip
    _report("regauth", tally)
    assert tally.problems == []
    assert tally.kills >= runs - 4
    assert tally.old > 0, "no kill landed before the save"


def test_docker_sigkill_mid_save(
    isolated_env: object, tmp_path: Path, registry: FakeServer, docker_only_path: str
) -> None:
    """The same kills on Docker CLI 28 (file store): recorded, not asserted."""
    env = dict(os.environ, PATH=docker_only_path)
    runs = budget(100, 1000)
    docker = os.path.join(docker_only_path, "docker")
    tally = _campaign(
        [([docker, "logout", VICTIM], ""),
         ([docker, "login", registry.host, "-u", USER, "--password-stdin"], PASSWORD)],
        env, tmp_path, runs,
    )  # fmt: skip
    _report("docker", tally)
