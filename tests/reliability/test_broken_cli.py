"""Broken config files through the CLI: ``regauth login`` and ``regauth logout`` on every corpus case.

Each → one stderr line naming the file and the problem, non-zero exit, the file byte-identical, and
logout never says "Removing".  The same corpus through Docker CLI 28 is recorded for the report
(docs/interop.md "Broken files": a truncated file + ``docker login`` wiped the entries;
https://github.com/docker/cli/issues/5075).  Module-level checks of the corpus are
tests/test_config_broken.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cliutil import venv_path
from tests.reliability.fakes import FakeServer, basic_registry
from tests.reliability.figures import record
from tests.reliability.procs import regauth_exe
from tests.support.brokenfiles import BrokenCase, corpus, privilege_drop_prefix, snapshot
from tests.support.require import require

USER, PASSWORD = "brokenuser", "broken-Login-Passw0rd"
CASES = [c for c in corpus(Path(tempfile.gettempdir())) if not (c.posix_only and sys.platform == "win32")]
LOGOUT_KEY = "127.0.0.1:5000"  # an entry of the corpus's valid document


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeServer]:
    """The registry the logins verify against (reached only by the cases whose file loads)."""
    with FakeServer(basic_registry(USER, PASSWORD)) as server:
        yield server


@dataclass(frozen=True)
class Outcome:
    """One command on one broken file."""

    case: str
    command: str
    path: Path
    code: int
    out: str
    err: str
    unchanged: bool
    leftovers: tuple[str, ...]


def _one(
    case: BrokenCase, command: list[str], stdin: str, env: dict[str, str], base: Path, label: str
) -> Outcome:
    directory = base / f"{case.name}-{label}"
    directory.mkdir()
    path = directory / "config.json"
    case.setup(path)
    prefix: list[str] = []
    if case.needs_unprivileged:
        prefix = privilege_drop_prefix() or []
    try:
        before = snapshot(path)
        try:
            proc = subprocess.run([*prefix, *command], input=stdin, capture_output=True, text=True,
                                  env=dict(env, DOCKER_CONFIG=str(directory)), timeout=12)  # fmt: skip
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:  # Docker blocks forever on a FIFO; killed by subprocess.run
            code, out, err = -9, "", "<hung: killed after 12 s>"
        after = snapshot(path)
        leftovers = tuple(n for n in os.listdir(directory) if ".tmp-" in n)
    finally:
        os.chmod(directory, 0o700)
        if case.name == "unreadable":
            os.chmod(path, 0o600)
    result = Outcome(case.name, label, path, code, out, err, before == after, leftovers)
    shutil.rmtree(directory, ignore_errors=True)  # the 50 MB case
    return result


def _run_corpus(exe: list[str], env: dict[str, str], base: Path, host: str) -> list[Outcome]:
    jobs = []
    for case in CASES:
        jobs.append((case, [*exe, "login", host, "-u", USER, "--password-stdin"], PASSWORD, "login"))
        jobs.append((case, [*exe, "logout", LOGOUT_KEY], "", "logout"))
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda job: _one(job[0], job[1], job[2], env, base, job[3]), jobs))


def _need_privilege_drop() -> None:
    if any(c.needs_unprivileged for c in CASES):
        require(privilege_drop_prefix() is not None, "setpriv is needed to test permission errors as root")


def _problems(outcome: Outcome, case: BrokenCase) -> list[str]:
    lines = [line for line in outcome.err.splitlines() if line.strip()]
    found: list[str] = []
    if outcome.code == 0:
        found.append("exit 0")
    if not outcome.unchanged:
        found.append("file changed")
    if outcome.leftovers:
        found.append(f"temp files left: {outcome.leftovers}")
    if "Traceback" in outcome.err:
        found.append("traceback")
    if len(lines) != 1:
        found.append(f"{len(lines)} stderr lines: {lines[:3]}")
    if str(outcome.path) not in outcome.err:
        found.append("stderr does not name the file")
    if case.expect and case.expect not in outcome.err:
        found.append(f"stderr lacks {case.expect!r}")
    if outcome.command == "logout" and "Removing" in outcome.out:
        found.append("logout said Removing")
    for secret in (*case.secrets, PASSWORD):
        if secret in outcome.out + outcome.err:
            found.append("secret in output")
    return found


def test_regauth_refuses_every_broken_file(
    isolated_env: object, tmp_path: Path, registry: FakeServer
) -> None:
    """docs/config-file.md "Loading", docs/interop.md "Broken files": one line naming file and problem,
    exit 1, file untouched."""
    _need_privilege_drop()
    env = dict(os.environ, PATH=venv_path())
    outcomes = _run_corpus([regauth_exe()], env, tmp_path, registry.host)
    by_name = {c.name: c for c in CASES}
    failures = {f"{o.case}/{o.command}": p for o in outcomes if (p := _problems(o, by_name[o.case]))}
    record(
        "broken files",
        "regauth",
        tests=len(outcomes),
        faults=len(outcomes),
        corrupted=sum(not o.unchanged for o in outcomes),
        secrets=sum(any(s in o.out + o.err for s in (*by_name[o.case].secrets, PASSWORD)) for o in outcomes),
        false_ok=sum(o.code == 0 for o in outcomes),
        note=f"{len(CASES)} cases x login, logout",
    )
    assert failures == {}


def test_missing_helper_logout_one_line(isolated_env: object, tmp_path: Path) -> None:
    """A credsStore naming a missing helper → logout fails with ONE line naming the file."""
    case = next(c for c in CASES if c.name == "creds_store_missing_helper")
    env = dict(os.environ, PATH=venv_path())
    outcome = _one(case, [regauth_exe(), "logout", LOGOUT_KEY], "", env, tmp_path, "logout")
    assert outcome.code != 0 and outcome.unchanged and "Removing" not in outcome.out
    assert _problems(outcome, case) == []


def test_docker_on_every_broken_file(
    isolated_env: object, tmp_path: Path, registry: FakeServer, docker_only_path: str
) -> None:
    """The corpus through Docker CLI 28: rewrites and false successes recorded, not asserted."""
    _need_privilege_drop()
    env = dict(os.environ, PATH=docker_only_path)
    outcomes = _run_corpus([os.path.join(docker_only_path, "docker")], env, tmp_path, registry.host)
    changed = [f"{o.case}/{o.command}" for o in outcomes if not o.unchanged]
    false_ok = [f"{o.case}/{o.command}" for o in outcomes if o.code == 0]
    hung = [f"{o.case}/{o.command}" for o in outcomes if o.code == -9]
    print(f"\nDocker hung on {hung}")
    by_name = {c.name: c for c in CASES}
    lost = sum(1 for o in outcomes if not o.unchanged and by_name[o.case].secrets)  # held credentials
    record(
        "broken files",
        "docker",
        tests=len(outcomes),
        faults=len(outcomes),
        corrupted=len(changed),
        lost=lost,
        false_ok=len(false_ok),
        note="rewritten: " + ", ".join(changed) + "; hung: " + ", ".join(hung),
    )
    print(f"\nDocker rewrote {len(changed)}: {changed}\nDocker exit 0 on {len(false_ok)}: {false_ok}")
