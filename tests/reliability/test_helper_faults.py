"""Helper faults: hangs, crashes, garbage, echoes, missing or not executable.

Each → exit 1 with one clear line, no traceback, no secret, config.json unchanged, bounded time (a hung
helper and its grandchild are killed after ``REGAUTH_HELPER_TIMEOUT``).  One broken ``credHelpers``
entry never breaks logins to other registries nor ``get_credentials`` for them.
Reference: docs/credential-stores.md (helper protocol; Go's client has no timeout),
docs/credential-helpers.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from regauth import get_credentials
from tests.cliutil import venv_path
from tests.reliability.fakes import FakeServer, basic_registry
from tests.reliability.figures import record
from tests.reliability.procs import regauth_exe

FAKES = Path(__file__).resolve().parent.parent / "fakehelpers"
USER, SECRET = "helperuser", "Helper-S3cret-9f2a"
HELPER_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeServer]:
    """A Basic registry accepting USER/SECRET."""
    with FakeServer(basic_registry(USER, SECRET)) as server:
        yield server


@pytest.fixture
def helper_path(tmp_path: Path) -> str:
    """PATH with the fake helpers, a non-executable helper and the venv."""
    extra = tmp_path / "bin"
    extra.mkdir()
    noexec = extra / "docker-credential-fakenoexec"
    shutil.copy(FAKES / "docker-credential-fakecrash", noexec)
    noexec.chmod(0o644)
    return os.pathsep.join([str(FAKES), str(extra), venv_path()])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


CASES = {
    "fakehang": "did not answer",
    "fakecrash": "exit status 3",
    "fakeecho": "rejected",
    "fakenoexec": "not executable",
    "regauth-no-such-helper": "not found",
}


@pytest.mark.parametrize("command", ["login", "logout"])
@pytest.mark.parametrize("helper", [*CASES, "fakegarbage"])
def test_faulty_helper(
    helper: str,
    command: str,
    helper_path: str,
    isolated_env: object,
    docker_config_dir: Path,
    tmp_path: Path,
    registry: FakeServer,
) -> None:
    """One line, exit 1, no traceback, no secret, file unchanged, the hung helper's process group killed."""
    pidfile = tmp_path / "pid"
    env = dict(
        os.environ, PATH=helper_path, REGAUTH_HELPER_TIMEOUT=str(HELPER_TIMEOUT), FAKE_PIDFILE=str(pidfile)
    )
    config = docker_config_dir / "config.json"
    config.write_text(json.dumps({"auths": {registry.host: {}}, "credsStore": helper}))
    before = config.read_bytes()
    argv = [regauth_exe(), "login", registry.host, "-u", USER, "--password-stdin"]
    if command == "logout":
        argv = [regauth_exe(), "logout", registry.host]
    start = time.monotonic()
    done = subprocess.run(argv, input=SECRET, capture_output=True, text=True, env=env, timeout=60)
    took = time.monotonic() - start
    output = done.stdout + done.stderr
    record(
        "helper faults",
        "regauth",
        faults=1,
        secrets=output.count(SECRET),
        corrupted=int(config.read_bytes() != before),
        false_ok=int(done.returncode == 0 and helper != "fakegarbage"),
        note=f"{helper}/{command}",
    )
    assert SECRET not in output
    assert "Traceback" not in output, output
    if helper == "fakegarbage":
        # store and erase ignore stdout: exit 0 means done, as for Docker (logout never asks get)
        assert done.returncode == 0, output
        return
    assert done.returncode == 1, output
    assert config.read_bytes() == before
    assert "Removing" not in done.stdout
    expected = CASES[helper]
    assert expected in done.stderr, done.stderr
    assert took < HELPER_TIMEOUT * 2 + 8, f"took {took:.1f}s"
    if helper == "fakehang":
        grandchild = int(pidfile.read_text())
        deadline = time.monotonic() + 5
        while _alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(grandchild), "the helper's grandchild survived"


def test_broken_cred_helper_entry_is_isolated(
    helper_path: str,
    isolated_env: object,
    docker_config_dir: Path,
    registry: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """credHelpers: a crashing and a missing helper for other hosts never break this registry."""
    monkeypatch.setenv("PATH", helper_path)
    config = docker_config_dir / "config.json"
    config.write_text(json.dumps({
        "auths": {"broken.example": {}, "gone.example": {}},
        "credHelpers": {"broken.example": "fakecrash", "gone.example": "regauth-no-such-helper",
                        "hang.example": "fakehang"},
    }))  # fmt: skip
    env = dict(os.environ)
    argv = [regauth_exe(), "login", registry.host, "-u", USER, "--password-stdin"]
    login = subprocess.run(argv, input=SECRET,
                           capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert login.returncode == 0, login.stderr
    got = get_credentials(registry.host, config=str(docker_config_dir))
    assert got is not None and (got.username, got.password) == (USER, SECRET)
    logout = subprocess.run([regauth_exe(), "logout", registry.host], capture_output=True, text=True, env=env,
                            timeout=60)  # fmt: skip
    assert logout.returncode == 0, logout.stderr
    assert "Removing" in logout.stdout
    data = json.loads(config.read_text())
    assert registry.host not in data["auths"]
    assert set(data["auths"]) == {"broken.example", "gone.example"}
    record("helper faults", "regauth", tests=3, faults=3, note="broken credHelpers entries isolated")
