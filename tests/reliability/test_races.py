"""Races at the process level: 64 concurrent CLIs on one config.json, regauth vs Docker CLI 28.

Half the processes log in to distinct (fake, loopback) registries, the other half log out of other
entries.  Figures: updates lost (a login missing or a logged-out entry still there) and unparseable
files (read in a loop while the processes run, and at the end).  Reference: docs/interop.md,
"Concurrent writers" (64 concurrent ``docker logout``: 59-60 lost).  regauth's figures are asserted
(0/0), Docker's recorded.
The module-level races are tests/test_config_concurrency.py; this file drives whole processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cliutil import venv_path
from tests.reliability.fakes import FakeServer, basic_registry
from tests.reliability.figures import budget, record
from tests.reliability.procs import FileSampler, regauth_exe, run_all, try_parse
from tests.support.gpg import pass_env  # noqa: F401
from tests.support.require import require

PROCESSES = 64
USER, PASSWORD = "raceuser", "race-Passw0rd-not-leaked"


@pytest.fixture(scope="module")
def registries() -> Iterator[list[FakeServer]]:
    """One cheap Basic registry per port, enough for every login of a round."""
    servers = [FakeServer(basic_registry(USER, PASSWORD)) for _ in range(PROCESSES)]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def _old_keys(count: int, round_: int) -> list[str]:
    return [f"old-{round_}-{i:02d}.example" for i in range(count)]


def _seed(path: Path, old: list[str], extra: dict[str, Any]) -> None:
    auths = {key: {"auth": "b2xkOm9sZHBhc3M="} for key in old}  # old:oldpass
    path.write_text(json.dumps({"auths": auths, "unknownTopLevel": {"keep": True}, **extra}, indent="\t"))


def _commands(exe: list[str], servers: list[FakeServer], old: list[str]) -> list[tuple[list[str], str]]:
    cmds: list[tuple[list[str], str]] = []
    for server, key in zip(servers, old, strict=True):
        cmds.append(([*exe, "login", server.host, "-u", USER, "--password-stdin"], PASSWORD))
        cmds.append(([*exe, "logout", key], ""))
    return cmds


def _race_round(
    exe: list[str],
    env: dict[str, str],
    config: Path,
    servers: list[FakeServer],
    round_: int,
    extra: dict[str, Any] | None = None,
) -> tuple[int, int, int, list[str]]:
    """One round; returns (lost, unparseable, failed processes, problems)."""
    half = len(servers)
    old = _old_keys(half, round_)
    path = config / "config.json"
    _seed(path, old, extra or {})
    with FileSampler(path) as sampler:
        results = run_all(_commands(exe, servers, old), env)
    raw = path.read_bytes()
    unparseable = sampler.unparseable + (0 if try_parse(raw) else 1)
    problems = [
        f"exit {r.code}: {' '.join(r.argv[1:3])}: {r.err.strip()[-300:]}" for r in results if r.code != 0
    ]
    lost = half * 2
    if try_parse(raw):
        auths = json.loads(raw).get("auths", {})
        lost = sum(1 for s in servers if s.host not in auths) + sum(1 for k in old if k in auths)
    return lost, unparseable, len(problems), problems


def test_regauth_64_concurrent_logins_and_logouts(
    isolated_env: object, docker_config_dir: Path, registries: list[FakeServer]
) -> None:
    """Docker loses most concurrent updates (docs/interop.md); regauth loses none, never tears the file."""
    env = dict(os.environ, PATH=venv_path())
    rounds = budget(1, 10)
    half = registries[: PROCESSES // 2]
    totals = [0, 0, 0]
    for round_ in range(rounds):
        lost, unparseable, failed, problems = _race_round(
            [regauth_exe()], env, docker_config_dir, half, round_
        )
        assert failed == 0, problems[:3]
        totals[0] += lost
        totals[1] += unparseable
        cfg = json.loads((docker_config_dir / "config.json").read_text())
        assert cfg["unknownTopLevel"] == {"keep": True}
    record(
        "races",
        "regauth",
        tests=rounds,
        faults=rounds * PROCESSES,
        lost=totals[0],
        corrupted=totals[1],
        note=f"{rounds} rounds x {PROCESSES} processes, file store",
    )
    assert totals[:2] == [0, 0]


def test_docker_64_concurrent_logins_and_logouts(
    isolated_env: object, docker_config_dir: Path, registries: list[FakeServer], docker_only_path: str
) -> None:
    """The same rounds with Docker CLI 28 (file store): figures recorded, not asserted (docs/interop.md)."""
    env = dict(os.environ, PATH=docker_only_path)
    rounds = budget(1, 10)
    half = registries[: PROCESSES // 2]
    totals = [0, 0]
    docker = os.path.join(docker_only_path, "docker")
    for round_ in range(rounds):
        lost, unparseable, _failed, _ = _race_round([docker], env, docker_config_dir, half, round_)
        totals[0] += lost
        totals[1] += unparseable
    record(
        "races",
        "docker",
        tests=rounds,
        faults=rounds * PROCESSES,
        lost=totals[0],
        corrupted=totals[1],
        note=f"{rounds} rounds x {PROCESSES} processes, file store",
    )
    print(f"\nDocker: {totals[0]} of {rounds * PROCESSES} updates lost, {totals[1]} unparseable reads")


HELPER_PROCESSES = 16


def _helper_keys(helper: str, env: dict[str, str]) -> set[str]:
    proc = subprocess.run([f"docker-credential-{helper}", "list"], input=b"", capture_output=True, env=env,
                          timeout=60, check=True)  # fmt: skip
    return set(json.loads(proc.stdout))


def _helper_round(
    exe: list[str], helper: str, env: dict[str, str], config: Path, servers: list[FakeServer], round_: int
) -> tuple[int, int, list[str]]:
    old = _old_keys(len(servers), round_)
    for key in old:
        payload = json.dumps({"ServerURL": key, "Username": "old", "Secret": "oldpass"}).encode()
        subprocess.run([f"docker-credential-{helper}", "store"], input=payload, env=env, check=True,
                       capture_output=True, timeout=60)  # fmt: skip
    path = config / "config.json"
    path.write_text(json.dumps({"auths": {k: {} for k in old}, "credsStore": helper}))
    with FileSampler(path) as sampler:
        results = run_all(_commands(exe, servers, old), env)
    raw = path.read_bytes()
    unparseable = sampler.unparseable + (0 if try_parse(raw) else 1)
    problems = [
        f"exit {r.code}: {' '.join(r.argv[1:3])}: {r.err.strip()[-300:]}" for r in results if r.code != 0
    ]
    in_helper = _helper_keys(helper, env)
    auths = json.loads(raw).get("auths", {}) if try_parse(raw) else {}
    lost = sum(1 for s in servers if s.host not in auths or s.host not in in_helper)
    lost += sum(1 for k in old if k in auths or k in in_helper)
    for key in in_helper:  # clean the shared store for the next round
        subprocess.run([f"docker-credential-{helper}", "erase"], input=key.encode(), env=env,
                       capture_output=True, timeout=60)  # fmt: skip
    return lost, unparseable, problems


@pytest.fixture
def pass_process_env(pass_env: dict[str, str], isolated_env: object) -> dict[str, str]:  # noqa: F811
    """The process environment with the throwaway pass store."""
    return dict(os.environ, **pass_env)


def test_regauth_concurrent_through_pass_helper(
    pass_process_env: dict[str, str], docker_config_dir: Path, registries: list[FakeServer]
) -> None:
    """Races through credsStore=regauth-pass: every helper entry and every marker right (0 lost)."""
    env = dict(pass_process_env, PATH=venv_path())
    rounds = budget(1, 10)
    servers = registries[: HELPER_PROCESSES // 2]
    lost_total = unparseable_total = 0
    for round_ in range(rounds):
        lost, unparseable, problems = _helper_round([regauth_exe()], "regauth-pass", env, docker_config_dir,
                                                    servers, round_)  # fmt: skip
        assert problems == []
        lost_total += lost
        unparseable_total += unparseable
    record(
        "races",
        "regauth",
        tests=rounds,
        faults=rounds * HELPER_PROCESSES,
        lost=lost_total,
        corrupted=unparseable_total,
        note=f"{rounds} rounds x {HELPER_PROCESSES} processes, credsStore=pass",
    )
    assert (lost_total, unparseable_total) == (0, 0)


def test_docker_concurrent_through_pass_helper(
    pass_process_env: dict[str, str],
    docker_config_dir: Path,
    registries: list[FakeServer],
    docker_only_path: str,
) -> None:
    """The same with Docker CLI 28 and the Go pass helper: recorded, not asserted."""
    require(shutil.which("docker-credential-pass") is not None, "golang-docker-credential-helpers missing")
    helper_dir = os.path.dirname(shutil.which("docker-credential-pass") or "")
    env = dict(pass_process_env, PATH=os.pathsep.join([docker_only_path, helper_dir, "/usr/bin", "/bin"]))
    rounds = budget(1, 10)
    servers = registries[: HELPER_PROCESSES // 2]
    lost_total = unparseable_total = 0
    docker = os.path.join(docker_only_path, "docker")
    for round_ in range(rounds):
        lost, unparseable, _ = _helper_round([docker], "pass", env, docker_config_dir, servers, round_)
        lost_total += lost
        unparseable_total += unparseable
    record(
        "races",
        "docker",
        tests=rounds,
        faults=rounds * HELPER_PROCESSES,
        lost=lost_total,
        corrupted=unparseable_total,
        note=f"{rounds} rounds x {HELPER_PROCESSES} processes, credsStore=pass",
    )
    print(f"\nDocker + pass: {lost_total} of {rounds * HELPER_PROCESSES} updates lost")
