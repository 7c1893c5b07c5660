"""One StoreTests suite over every store: MemoryStore, Go helpers 0.6.4, our three helpers.

Go-helper quirks are expected results (docs/credential-helpers.md), declared per store class.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from regauth.stores.base import Store
from regauth.stores.helper import HelperStore
from regauth.testing import MemoryStore, StoreTests
from tests.support.gpg import pass_env  # noqa: F401
from tests.support.keyring_env import secretservice_env  # noqa: F401
from tests.support.require import require

VENV_BIN = os.path.dirname(sys.executable)


def _apply(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], program: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    require(shutil.which(program) is not None, f"{program} not on PATH")


@pytest.fixture
def with_pass(pass_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:  # noqa: F811
    _apply(monkeypatch, pass_env, "docker-credential-pass")
    yield


@pytest.fixture
def with_secretservice(
    secretservice_env: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    _apply(monkeypatch, secretservice_env, "docker-credential-secretservice")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
    yield


class TestMemoryStore(StoreTests):
    def make_store(self) -> Store:
        return MemoryStore()


@pytest.mark.real
@pytest.mark.usefixtures("with_pass")
class TestGoPass(StoreTests):
    """Both usernames kept, get/list pick the alphabetically first."""

    two_usernames = "keep-first-by-name"

    def make_store(self) -> Store:
        return HelperStore("pass")


@pytest.mark.real
@pytest.mark.usefixtures("with_secretservice")
class TestGoSecretService(StoreTests):
    """Both usernames kept as two items, get picks either."""

    two_usernames = "keep-any"

    def make_store(self) -> Store:
        return HelperStore("secretservice")


@pytest.mark.real
@pytest.mark.usefixtures("with_pass")
class TestRegauthPass(StoreTests):
    """Ours replaces the server's entry on store (pass_ module docstring)."""

    def make_store(self) -> Store:
        return HelperStore("regauth-pass")


@pytest.mark.real
@pytest.mark.usefixtures("with_secretservice")
class TestRegauthSecretService(StoreTests):
    def make_store(self) -> Store:
        return HelperStore("regauth-secretservice")


@pytest.mark.real
@pytest.mark.usefixtures("with_secretservice")
class TestRegauthKeyring(StoreTests):
    def make_store(self) -> Store:
        return HelperStore("regauth-keyring")


# -- the protocol's fixed lines, ours vs Go (docs/credential-helpers.md) --------------------------

PROGRAMS = [
    ("docker-credential-pass", "with_pass"),
    ("docker-credential-secretservice", "with_secretservice"),
    ("docker-credential-regauth-pass", "with_pass"),
    ("docker-credential-regauth-secretservice", "with_secretservice"),
    ("docker-credential-regauth-keyring", "with_secretservice"),
]


def _call(program: str, *args: str, stdin: bytes = b"") -> tuple[int, str]:
    done = subprocess.run([program, *args], input=stdin, capture_output=True, timeout=30, check=False)
    return done.returncode, done.stdout.decode()


@pytest.mark.real
@pytest.mark.parametrize(("program", "env_fixture"), PROGRAMS)
def test_protocol_lines(program: str, env_fixture: str, request: pytest.FixtureRequest) -> None:
    """Usage, unknown action, empty URL, empty username: same lines and codes as the Go helpers."""
    request.getfixturevalue(env_fixture)
    assert _call(program) == (1, f"Usage: {program} <store|get|erase|list|version>\n")
    assert _call(program, "get", "extra") == (1, f"Usage: {program} <store|get|erase|list|version>\n")
    assert _call(program, "bogus") == (1, "Unknown credential action `bogus`\n")
    assert _call(program, "get", stdin=b"") == (1, "no credentials server URL\n")
    assert _call(program, "erase", stdin=b"  \n") == (1, "no credentials server URL\n")
    empty_user = b'{"ServerURL":"h.test","Username":"","Secret":"s"}'
    assert _call(program, "store", stdin=empty_user) == (1, "no credentials username\n")
    code, out = _call(program, "store", stdin=b"nonsense")
    assert code == 1 and out.count("\n") == 1 and out.strip()
    code, out = _call(program, "version")
    assert code == 0 and out.count("\n") == 1


@pytest.mark.real
@pytest.mark.parametrize(("program", "env_fixture"), [p for p in PROGRAMS if "regauth" in p[0]])
def test_ours_get_missing_and_version(program: str, env_fixture: str, request: pytest.FixtureRequest) -> None:
    """Ours answers a miss with exactly the not-found line, exit 1 (docs/credential-helpers.md)."""
    request.getfixturevalue(env_fixture)
    assert _call(program, "get", stdin=b"never-stored.test") == (
        1,
        "credentials not found in native keychain\n",
    )
    code, out = _call(program, "--version")
    assert code == 0 and out.startswith(f"{program} (regauth) ")
    assert _call(program, "-h") == (0, f"Usage: {program} <store|get|erase|list|version>\n")


@pytest.mark.real
def test_go_pass_get_missing_quirk(with_pass: None) -> None:
    """Go pass 0.6.4 answers a miss with exit 0 and empty fields."""
    code, out = _call("docker-credential-pass", "get", stdin=b"never-stored.test")
    assert (code, out) == (0, '{"ServerURL":"never-stored.test","Username":"","Secret":""}\n')


@pytest.mark.real
def test_secretservice_without_bus_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """No session bus → one error line, exit 1, no traceback."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    code, out = _call("docker-credential-regauth-secretservice", "get", stdin=b"h.test")
    assert code == 1 and out.count("\n") == 1 and "D-Bus" in out


@pytest.mark.real
def test_pass_not_initialised(
    with_pass: None, tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An uninitialised store refuses to store with `pass not initialized: …`."""
    monkeypatch.setenv("PASSWORD_STORE_DIR", str(tmp_path))
    code, out = _call(
        "docker-credential-regauth-pass",
        "store",
        stdin=b'{"ServerURL":"h.test","Username":"u","Secret":"s"}',
    )
    assert code == 1 and out.startswith("pass not initialized: ") and out.count("\n") == 1
