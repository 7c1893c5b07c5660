"""Logout through credential helpers never asks ``get``: ``list`` and ``erase``'s own answer decide.

``get`` decrypts the secret (a pass passphrase, a keychain dialog) only to delete it; a helper whose
``get`` misses must still be asked to ``erase``, and a failing erase is reported.  The Go helpers
answer a missing entry differently (docs/credential-helpers.md "Observed: helpers 0.6.4"), so both
conventions are tested, with a recording stand-in and with the real helpers behind a recording
wrapper (which logs actions, never stdin, so no secret reaches a log).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.cliutil import read_config, regauth, venv_path
from tests.support.gpg import pass_env  # noqa: F401
from tests.support.keyring_env import secretservice_env  # noqa: F401
from tests.support.require import require

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="helper stand-ins are POSIX scripts")

SECRET = "s3cret-Never-Shown"
PASS_MISSING = "exit status 1: Error: docker-credential-helpers/aGVsbG8= is not in the password store."

# A credential helper backed by a JSON file.  It logs each action and server (never stdin of a
# store, so never a secret).  REC_MISSING picks how erase answers a missing entry: "exit0"
# (secretservice, regauth's helpers), "pass" (Go pass) or "keychain" (osxkeychain, wincred);
# REC_GET_MISS makes get miss while the secret is held; REC_ERASE_FAIL makes erase fail.
_RECORDER = """
import json, os, sys
action = sys.argv[1] if len(sys.argv) > 1 else ""
data = sys.stdin.read()
state_path, log = os.environ["REC_STATE"], os.environ["REC_LOG"]
with open(state_path) as fh:
    state = json.load(fh)
server = data.strip() if action in ("get", "erase") else ""
with open(log, "a") as fh:
    fh.write(f"{action} {server}".rstrip() + "\\n")
def save():
    with open(state_path, "w") as fh:
        json.dump(state, fh)
if action == "store":
    entry = json.loads(data)
    state[entry["ServerURL"]] = [entry["Username"], entry["Secret"]]
    save()
elif action == "get":
    if server not in state or os.environ.get("REC_GET_MISS"):
        print("credentials not found in native keychain")
        sys.exit(1)
    user, secret = state[server]
    print(json.dumps({"ServerURL": server, "Username": user, "Secret": secret}))
elif action == "list":
    print(json.dumps({key: value[0] for key, value in state.items()}))
elif action == "erase":
    if os.environ.get("REC_ERASE_FAIL"):
        print(os.environ["REC_ERASE_FAIL"])
        sys.exit(1)
    if server in state:
        del state[server]
        save()
        sys.exit(0)
    missing = os.environ.get("REC_MISSING", "exit0")
    if missing == "pass":
        print(PASS_MISSING + "\\n")
        sys.exit(1)
    if missing == "keychain":
        print("credentials not found in native keychain")
        sys.exit(1)
else:
    print("Unknown credential action")
    sys.exit(1)
"""


class Recorder:
    """A ``docker-credential-rec`` stand-in in its own directory, with its state and log."""

    def __init__(self, base: Path) -> None:
        self.bin = base / "bin"
        self.bin.mkdir()
        self.state = base / "rec-state.json"
        self.log = base / "rec-log"
        self.state.write_text("{}")
        script = self.bin / "docker-credential-rec"
        script.write_text(
            f"#!{sys.executable}\nPASS_MISSING = {PASS_MISSING!r}\n{_RECORDER}", encoding="utf-8"
        )
        script.chmod(0o755)

    def hold(self, server: str) -> None:
        self.state.write_text(json.dumps({**self.held(), server: ["alice", SECRET]}))

    def held(self) -> dict[str, list[str]]:
        data: dict[str, list[str]] = json.loads(self.state.read_text())
        return data

    def actions(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.pathsep.join([str(self.bin), venv_path()]),
            "REC_STATE": str(self.state),
            "REC_LOG": str(self.log),
        }
        env.update(extra)
        return env


@pytest.fixture
def rec(isolated_env: object, tmp_path: Path) -> Recorder:
    return Recorder(tmp_path)


def write_config(config: Path, data: dict[str, object]) -> None:
    (config / "config.json").write_text(json.dumps(data))


def no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def test_logout_erases_without_get(rec: Recorder, docker_config_dir: Path) -> None:
    """The stored login goes; the helper is asked list and erase, never get (no decryption)."""
    write_config(docker_config_dir, {"auths": {"h.example": {}}, "credsStore": "rec"})
    rec.hold("h.example")
    r = regauth("logout", "h.example", config=docker_config_dir, env=rec.env())
    assert (r.code, r.out) == (0, "Removing login credentials for h.example\n"), r.err
    no_secret(r.out, r.err, rec.log.read_text())
    assert rec.held() == {}
    assert read_config(docker_config_dir)["auths"] == {}
    assert not [a for a in rec.actions() if a.startswith("get")], rec.actions()
    assert "erase h.example" in rec.actions()


def test_logout_erases_what_get_does_not_find(rec: Recorder, docker_config_dir: Path) -> None:
    """A helper whose get misses still holds the secret: erase is asked anyway and removes it."""
    write_config(docker_config_dir, {"auths": {"h.example": {}}, "credsStore": "rec"})
    rec.hold("h.example")
    r = regauth("logout", "h.example", config=docker_config_dir, env=rec.env(REC_GET_MISS="1"))
    assert (r.code, r.out) == (0, "Removing login credentials for h.example\n"), r.err
    assert rec.held() == {}


def test_failing_erase_is_reported(rec: Recorder, docker_config_dir: Path) -> None:
    """Erase fails (while get would say not found): exit 1, the helper's message, the marker kept."""
    write_config(docker_config_dir, {"auths": {"h.example": {}}, "credsStore": "rec"})
    rec.hold("h.example")
    before = (docker_config_dir / "config.json").read_bytes()
    env = rec.env(REC_GET_MISS="1", REC_ERASE_FAIL="keychain is locked")
    r = regauth("logout", "h.example", config=docker_config_dir, env=env)
    assert r.code == 1
    assert 'could not erase credentials for h.example: error erasing credentials from helper "rec": ' in r.err
    assert "keychain is locked" in r.err and r.out == ""
    assert (docker_config_dir / "config.json").read_bytes() == before
    assert rec.held() == {"h.example": ["alice", SECRET]}
    assert rec.actions().count("erase h.example") == 1  # a failed helper is not asked again


@pytest.mark.parametrize("missing", ["exit0", "pass", "keychain"])
def test_not_found_on_erase_is_not_logged_in(rec: Recorder, docker_config_dir: Path, missing: str) -> None:
    """Nothing stored: each convention of erase's not-found answer gives "Not logged in", exit 0."""
    write_config(docker_config_dir, {"auths": {}, "credsStore": "rec"})
    rec.hold("other.example")
    r = regauth("logout", "h.example", config=docker_config_dir, env=rec.env(REC_MISSING=missing))
    assert (r.code, r.out, r.err) == (0, "Not logged in to h.example\n", "")
    assert "erase h.example" in rec.actions()
    assert not [a for a in rec.actions() if a.startswith("get")], rec.actions()
    assert rec.held() == {"other.example": ["alice", SECRET]}


@pytest.mark.parametrize("missing", ["exit0", "pass", "keychain"])
def test_stale_marker_is_removed_and_said(rec: Recorder, docker_config_dir: Path, missing: str) -> None:
    """A ``{}`` marker whose helper no longer holds the secret: removed, and said so."""
    write_config(docker_config_dir, {"auths": {"h.example": {}, "k.example": {}}, "credsStore": "rec"})
    r = regauth("logout", "h.example", config=docker_config_dir, env=rec.env(REC_MISSING=missing))
    assert (r.code, r.out, r.err) == (0, "Removing login credentials for h.example\n", "")
    assert read_config(docker_config_dir)["auths"] == {"k.example": {}}


def test_api_names_the_removed_marker(
    rec: Recorder, docker_config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library tells a helper's erase from a marker that pointed at nothing."""
    import regauth as lib
    from regauth.api.logout import MARKER

    write_config(docker_config_dir, {"auths": {"h.example": {}, "k.example": {}}, "credsStore": "rec"})
    rec.hold("k.example")
    for name, value in rec.env().items():
        monkeypatch.setenv(name, value)
    stale = lib.logout("h.example", config=docker_config_dir)
    held = lib.logout("k.example", config=docker_config_dir)
    assert stale.removed == (f"{MARKER}: h.example",) and stale.ok
    assert held.removed == ("rec: k.example",) and held.ok


def test_logout_all_without_get(rec: Recorder, docker_config_dir: Path) -> None:
    """``logout --all``: every login erased without get; a stale marker is named, not hidden."""
    write_config(docker_config_dir, {"auths": {"h.example": {}, "k.example": {}}, "credsStore": "rec"})
    rec.hold("h.example")
    rec.hold("l.example")
    r = regauth("logout", "--all", config=docker_config_dir, env=rec.env(REC_MISSING="pass"))
    assert r.code == 0, r.err
    assert sorted(r.out.splitlines()) == [
        "Removing login credentials for h.example (rec)",
        "Removing login credentials for k.example (config.json entry)",
        "Removing login credentials for l.example (rec)",
    ]
    no_secret(r.out, r.err)
    assert rec.held() == {}
    assert read_config(docker_config_dir)["auths"] == {}
    assert not [a for a in rec.actions() if a.startswith("get")], rec.actions()


# -- the real helpers behind a recording wrapper --------------------------------------------------


def _wrap(name: str, directory: Path, log: Path) -> None:
    """``docker-credential-NAME`` in ``directory``: logs its action, then runs the real helper."""
    real = shutil.which(f"docker-credential-{name}", path=venv_path())
    require(real is not None, f"docker-credential-{name} is not installed")
    script = directory / f"docker-credential-{name}"
    script.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        f"with open({str(log)!r}, 'a') as fh:\n    fh.write(sys.argv[1] + '\\n')\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n",
        encoding="utf-8",
    )
    script.chmod(0o755)


def _helper(name: str, action: str, stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [f"docker-credential-{name}", action], input=stdin.encode(), capture_output=True, env=env, timeout=60
    )


@pytest.fixture
def helper_env(
    pass_env: dict[str, str],  # noqa: F811
    secretservice_env: dict[str, str],  # noqa: F811
    isolated_env: object,
    tmp_path: Path,
) -> dict[str, str]:
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    env = dict(os.environ, **pass_env, **secretservice_env)
    env["PATH"] = os.pathsep.join([str(wrappers), venv_path()])
    env["WRAP_DIR"] = str(wrappers)
    env["WRAP_LOG"] = str(tmp_path / "wrap-log")
    return env


@pytest.mark.parametrize("name", ["pass", "secretservice", "regauth-pass"])
def test_real_helper_logout_never_gets(
    name: str, helper_env: dict[str, str], docker_config_dir: Path
) -> None:
    """With the real helper: the entry goes without get; then a stale marker; then nothing."""
    log = Path(helper_env["WRAP_LOG"])
    _wrap(name, Path(helper_env["WRAP_DIR"]), log)
    host = f"logout-{uuid.uuid4().hex[:8]}.example:5000"
    payload = json.dumps({"ServerURL": host, "Username": "alice", "Secret": SECRET})
    assert _helper(name, "store", payload, helper_env).returncode == 0
    write_config(docker_config_dir, {"auths": {host: {}}, "credsStore": name})
    log.unlink()

    r = regauth("logout", host, config=docker_config_dir, env=helper_env)
    assert (r.code, r.out) == (0, f"Removing login credentials for {host}\n"), r.err
    no_secret(r.out, r.err)
    actions = log.read_text().splitlines()
    assert "get" not in actions and "erase" in actions, actions
    assert host not in json.loads(_helper(name, "list", "", helper_env).stdout)
    assert read_config(docker_config_dir)["auths"] == {}

    write_config(docker_config_dir, {"auths": {host: {}}, "credsStore": name})
    r = regauth("logout", host, config=docker_config_dir, env=helper_env)
    assert (r.code, r.out, r.err) == (0, f"Removing login credentials for {host}\n", "")
    assert read_config(docker_config_dir)["auths"] == {}

    r = regauth("logout", host, config=docker_config_dir, env=helper_env)
    assert (r.code, r.out, r.err) == (0, f"Not logged in to {host}\n", "")
    assert "get" not in log.read_text().splitlines()
