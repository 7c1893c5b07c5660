"""Secrets never leak: process argv/environment sampled while login, logout and helpers run; output,
``--debug`` logs, exception messages and reprs checked; config.json 0600 in a 0700 dir under umask 000.

Reference: the project rule "secrets never appear in argv, logs, exception messages, repr" and
docs/credential-stores.md (helpers get secrets on stdin).  /proc sampling is Linux-only.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from regauth import get_credentials, logout
from regauth.config.file import load
from regauth.credentials import Credentials
from regauth.registry.flow import LoginResult
from regauth.registry.messages import HttpRequest, HttpResponse
from regauth.registry.token import Token
from regauth.stores.helper import HelperStore
from tests.cliutil import venv_path
from tests.reliability.fakes import FakeServer, basic_registry
from tests.reliability.figures import record
from tests.reliability.procs import regauth_exe
from tests.support.gpg import pass_env  # noqa: F401

USER, SECRET = "secretuser", "Sup3r-S3cret-Value-7c1f"
FORMS = (SECRET, base64.b64encode(f"{USER}:{SECRET}".encode()).decode())


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeServer]:
    """A Basic registry accepting USER/SECRET."""
    with FakeServer(basic_registry(USER, SECRET)) as server:
        yield server


class ProcSampler:
    """Reads every process's cmdline and environ in a tight loop; remembers those holding a secret."""

    def __init__(self, needles: tuple[str, ...]) -> None:
        self.needles = tuple(n.encode() for n in needles)
        self.hits: set[str] = set()
        self.samples = 0
        self.seen_pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit() or int(name) == me:
                    continue
                for part in ("cmdline", "environ"):
                    try:
                        with open(f"/proc/{name}/{part}", "rb") as fh:
                            data = fh.read()
                    except OSError:
                        continue
                    self.samples += 1
                    self.seen_pids.add(int(name))
                    if any(n in data for n in self.needles):
                        self.hits.add(f"pid {name} {part}: {data[:120]!r}")

    def __enter__(self) -> ProcSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([regauth_exe(), "--debug", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip


def _leaks(text: str) -> int:
    return sum(text.count(form) for form in FORMS)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc sampling is Linux-only")
def test_no_secret_in_argv_environ_or_output(
    isolated_env: object,
    docker_config_dir: Path,
    registry: FakeServer,
    pass_env: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """login/logout (file store and credsStore=regauth-pass/pass) with --debug: the secret is nowhere."""
    for key, value in pass_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", venv_path())
    env = dict(os.environ)
    config = docker_config_dir / "config.json"
    outputs: list[str] = []
    with ProcSampler(FORMS) as sampler:
        for store in ("", "regauth-pass", "pass"):
            extra = f', "credsStore": "{store}"' if store else ""
            config.write_text('{"auths": {"placeholder.example": {}}%s}' % extra)  # no default detection
            for _ in range(3):
                done = _cli(["login", registry.host, "-u", USER, "--password-stdin"], env, SECRET)
                assert done.returncode == 0, done.stderr
                outputs.append(done.stdout + done.stderr)
                done = _cli(["login", registry.host], env)  # re-validation reads the stored secret
                assert done.returncode == 0, done.stderr
                outputs.append(done.stdout + done.stderr)
                got = get_credentials(registry.host, config=str(docker_config_dir))
                assert got is not None and got.password == SECRET
                outputs.append(repr(got) + str(got))
                done = _cli(["logout", registry.host], env)
                assert done.returncode == 0, done.stderr
                outputs.append(done.stdout + done.stderr)
            done = _cli(["login", registry.host, "-u", USER, "--password-stdin"], env, SECRET + "-wrong")
            assert done.returncode == 1
            outputs.append(done.stdout + done.stderr)
    leaked = sum(_leaks(text) for text in outputs)
    record(
        "secrets",
        "regauth",
        tests=len(outputs),
        faults=len(outputs),
        secrets=len(sampler.hits) + leaked,
        note=f"{sampler.samples} /proc samples of {len(sampler.seen_pids)} processes",
    )
    assert any("DEBUG" in text for text in outputs)
    assert sampler.samples > 100
    assert sampler.hits == set()
    assert leaked == 0, [t for t in outputs if _leaks(t)]


def test_reprs_and_messages_hide_secrets(tmp_path: Path) -> None:
    """repr/str of every object that may hold a secret shows none of it."""
    basic = "Basic " + FORMS[1]
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"h.example": {"auth": "%s", "identitytoken": "%s"}}}' % (FORMS[1], SECRET))
    cfg = load(path)
    objects: list[object] = [
        Credentials(USER, SECRET, SECRET, SECRET, "h"),
        HttpRequest(
            "POST", f"https://h/token?password={SECRET}", (("Authorization", basic),), SECRET.encode()
        ),
        HttpResponse(401, f"https://h/v2/?x={SECRET}", (("Www-Authenticate", "Basic"),), SECRET.encode()),
        Token(SECRET, refresh_token=SECRET),
        LoginResult(SECRET, True, "bearer", "https://h"),
        HelperStore("pass"),
        cfg,
        get_credentials("h.example", config=str(tmp_path)),
        logout("h.example", config=str(tmp_path)),
    ]
    shown = [text for obj in objects for text in (repr(obj), str(obj)) if _leaks(text)]
    record("secrets", "regauth", tests=len(objects), faults=len(objects), secrets=len(shown))
    assert shown == []


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_modes_under_umask_000(isolated_env: object, tmp_path: Path, registry: FakeServer) -> None:
    """config.json 0600, its (new) directory 0700, the lock file 0600 — even with umask 000."""
    config_dir = tmp_path / "deep" / "new" / "docker"
    env = dict(os.environ, PATH=venv_path(), DOCKER_CONFIG=str(config_dir))
    done = subprocess.run(
        [regauth_exe(), "login", registry.host, "-u", USER, "--password-stdin"], input=SECRET,
        capture_output=True, text=True, env=env, timeout=60, preexec_fn=lambda: os.umask(0),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [config_dir, *config_dir.iterdir()]}
    for level in (config_dir.parent, config_dir.parent.parent):
        modes[f"parent {level.name}"] = stat.S_IMODE(level.stat().st_mode)
    expected = {"docker": 0o700, "config.json": 0o600, "config.json.lock": 0o600,
                "parent new": 0o700, "parent deep": 0o700}  # fmt: skip
    record("secrets", "regauth", tests=1, faults=1, corrupted=int(modes != expected), note="umask 000 modes")
    assert modes == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc sampling is Linux-only")
def test_sampler_sees_a_secret_in_argv_and_environ() -> None:
    """Proof that the sampler works: a short process with the secret in argv and environ is caught."""
    with ProcSampler(FORMS) as sampler:
        subprocess.run(["sh", "-c", "sleep 0.3", "argv0", SECRET], env={"X": SECRET}, check=True, timeout=30)
    assert any("cmdline" in hit for hit in sampler.hits)
    assert any("environ" in hit for hit in sampler.hits)
