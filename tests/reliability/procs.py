"""Process helpers for the reliability suite: start many CLIs at once, sample a file while they run.

Rule: every process we start is waited for or killed by its own pid; nothing is killed by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Done", "FileSampler", "regauth_exe", "run_all", "try_parse"]


def regauth_exe() -> str:
    """The ``regauth`` console script of this interpreter's environment."""
    name = "regauth.exe" if os.name == "nt" else "regauth"
    path = os.path.join(os.path.dirname(sys.executable), name)
    return path if os.path.exists(path) else "regauth"


@dataclass(frozen=True)
class Done:
    """How one process ended."""

    argv: tuple[str, ...]
    code: int
    out: str
    err: str


def run_all(
    commands: Sequence[tuple[Sequence[str], str]],
    env: dict[str, str],
    *,
    timeout: float = 120,
) -> list[Done]:
    """Start every ``(argv, stdin)`` at once, feed stdin, wait for all; kill stragglers by pid."""
    procs: list[subprocess.Popen[str]] = []
    for argv, _stdin in commands:
        procs.append(
            subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    results: list[Done | None] = [None] * len(procs)

    def finish(index: int) -> None:
        proc = procs[index]
        try:
            out, err = proc.communicate(commands[index][1], timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += "\n<killed: timed out>"
        results[index] = Done(tuple(proc.args), proc.returncode, out, err)  # type: ignore[arg-type]

    threads = [threading.Thread(target=finish, args=(i,), daemon=True) for i in range(len(procs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 30)
    return [r for r in results if r is not None]


def try_parse(raw: bytes) -> bool:
    """True if ``raw`` is a JSON object (what any reader of config.json needs)."""
    try:
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False


@dataclass
class FileSampler:
    """Reads ``path`` in a loop while running; counts reads that were not a JSON object."""

    path: Path
    reads: int = 0
    unparseable: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                raw = None
            except OSError:
                raw = b""
            if raw is not None:
                self.reads += 1
                if not try_parse(raw):
                    self.unparseable += 1
            time.sleep(0.002)

    def __enter__(self) -> FileSampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
