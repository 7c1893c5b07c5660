"""Store selection with real helpers, Docker CLI 28 and skopeo.

``credsStore``/``credHelpers`` choose like Docker (docs/credential-stores.md); Docker and
regauth share entries through our Python helpers and through the Go helpers; each logout touches only
its own store; default detection picks a helper only if it works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cliutil import docker, docker_login, read_config, regauth, regauth_login, venv_path
from tests.support.gpg import pass_env  # noqa: F401
from tests.support.keyring_env import secretservice_env  # noqa: F401
from tests.support.registry import RegistryStack
from tests.support.require import require


def helper_get(name: str, server: str, env: dict[str, str]) -> dict[str, str] | None:
    """What ``docker-credential-<name> get`` says (None when not found, either convention)."""
    proc = subprocess.run(
        [f"docker-credential-{name}", "get"], input=server.encode(), capture_output=True,
        env=env, timeout=60,
    )  # fmt: skip
    if proc.returncode != 0:
        assert proc.stdout.decode().strip() == "credentials not found in native keychain", proc.stdout
        return None
    data: dict[str, str] = json.loads(proc.stdout)
    return data if data.get("Username") or data.get("Secret") else None


@pytest.fixture
def env_all(
    pass_env: dict[str, str],  # noqa: F811
    secretservice_env: dict[str, str],  # noqa: F811
    isolated_env: object,
    docker_only_path: str,
) -> dict[str, str]:
    """Environment where regauth, Docker, the Go and our helpers see the same pass store and keyring."""
    require(shutil.which("docker-credential-pass") is not None, "golang-docker-credential-helpers missing")
    env = dict(os.environ, **pass_env, **secretservice_env)
    env["PATH"] = os.pathsep.join([docker_only_path, venv_path()])
    return env


def write_config(config: Path, data: dict[str, object]) -> None:
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.json").write_text(json.dumps(data))


@pytest.mark.parametrize("helper", ["regauth-pass", "regauth-secretservice"])
def test_docker_uses_our_helper_and_regauth_reads_it(
    helper: str,
    env_all: dict[str, str],
    registry_basic_http: RegistryStack,
    docker_config_dir: Path,
    docker_only_path: str,
) -> None:
    """Docker CLI 28 with ``credsStore: regauth-…``: docker stores, regauth reads, docker erases."""
    stack = registry_basic_http
    write_config(docker_config_dir, {"credsStore": helper})
    d = docker_login(stack, docker_config_dir, env_all["PATH"], env=env_all)
    assert d.code == 0, d.err
    assert read_config(docker_config_dir)["auths"] == {stack.host: {}}
    assert helper_get(helper, stack.host, env_all) == {
        "ServerURL": stack.host, "Username": stack.username, "Secret": stack.password,
    }  # fmt: skip
    r = regauth("login", stack.host, config=docker_config_dir, env=env_all)
    assert r.code == 0, r.err
    assert "[Username: testuser]" in r.err
    d = docker("logout", stack.host, path=env_all["PATH"], config=docker_config_dir, env=env_all)
    assert d.code == 0, d.err
    assert helper_get(helper, stack.host, env_all) is None


@pytest.mark.parametrize("helper", ["pass", "secretservice"])
def test_regauth_stores_through_go_helper_docker_logs_out(
    helper: str,
    env_all: dict[str, str],
    registry_token_http: RegistryStack,
    docker_config_dir: Path,
) -> None:
    """Docker's way: identity tokens go to the helper as ``<token>``; Docker erases what we stored."""
    stack = registry_token_http
    write_config(docker_config_dir, {"credsStore": helper})
    r = regauth_login(stack, docker_config_dir, env=env_all)
    assert r.code == 0, r.err
    assert "unencrypted" not in r.err
    assert read_config(docker_config_dir) == {"auths": {stack.host: {}}, "credsStore": helper}
    stored = helper_get(helper, stack.host, env_all)
    assert stored is not None and stored["Username"] == "<token>" and stored["Secret"]
    d = docker("logout", stack.host, path=env_all["PATH"], config=docker_config_dir, env=env_all)
    assert d.code == 0, d.err
    assert helper_get(helper, stack.host, env_all) is None
    again = regauth("logout", stack.host, config=docker_config_dir, env=env_all)
    assert (again.code, again.out) == (0, f"Not logged in to {stack.host}\n")


def test_cred_helpers_each_logout_touches_only_its_store(
    env_all: dict[str, str],
    registry_basic_http: RegistryStack,
    registry_basic_https: RegistryStack,
    registry_token_http: RegistryStack,
    docker_config_dir: Path,
) -> None:
    """Three registries: one per Go helper, one in the file."""
    a, b, c = registry_basic_http, registry_basic_https, registry_token_http
    write_config(docker_config_dir, {"credHelpers": {a.host: "pass", b.host: "secretservice"}, "auths": {}})
    for stack in (a, b, c):
        r = regauth_login(stack, docker_config_dir, env=env_all)
        assert r.code == 0, (stack.host, r.err)
    auths = read_config(docker_config_dir)["auths"]
    assert auths[a.host] == {} and auths[b.host] == {} and "identitytoken" in auths[c.host]
    assert helper_get("pass", a.host, env_all) is not None
    assert helper_get("secretservice", b.host, env_all) is not None

    assert regauth("logout", a.host, config=docker_config_dir, env=env_all).code == 0
    assert helper_get("pass", a.host, env_all) is None
    assert helper_get("secretservice", b.host, env_all) is not None
    assert c.host in read_config(docker_config_dir)["auths"]

    assert regauth("logout", b.host, config=docker_config_dir, env=env_all).code == 0
    assert helper_get("secretservice", b.host, env_all) is None
    assert list(read_config(docker_config_dir)["auths"]) == [c.host]

    assert regauth("logout", c.host, config=docker_config_dir, env=env_all).code == 0
    assert read_config(docker_config_dir)["auths"] == {}


def test_skopeo_reads_cred_helpers_entries(
    env_all: dict[str, str],
    registry_basic_https: RegistryStack,
    docker_config_dir: Path,
    tmp_path: Path,
) -> None:
    """skopeo honours ``credHelpers`` (not ``credsStore``)."""
    require(shutil.which("skopeo") is not None, "skopeo is not installed")
    from tests.support.oci import make_oci_layout, skopeo_push

    stack = registry_basic_https
    layout = make_oci_layout(tmp_path / "oci")
    write_config(docker_config_dir, {"auths": {}, "credHelpers": {stack.host: "pass"}})
    r = regauth_login(stack, docker_config_dir, env=env_all)
    assert r.code == 0, r.err
    env = dict(env_all, PATH=os.pathsep.join([env_all["PATH"], "/usr/bin", "/bin"]))
    push = skopeo_push(layout, stack, "test/credhelpers", authfile=docker_config_dir / "config.json", env=env)
    assert push.returncode == 0, push.stderr


def test_detection_skips_uninitialised_pass(
    isolated_env: object,
    registry_basic_http: RegistryStack,
    docker_config_dir: Path,
    tmp_path: Path,
) -> None:
    """Docker picks pass when it is merely installed and then fails; we fall back."""
    require(shutil.which("pass") is not None, "pass is not installed")
    require(shutil.which("docker-credential-pass") is not None, "docker-credential-pass missing")
    empty_store = tmp_path / "empty-store"
    empty_store.mkdir()
    env = {
        "PASSWORD_STORE_DIR": str(empty_store),
        "GNUPGHOME": str(tmp_path / "no-gnupg"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus",
    }
    stack = registry_basic_http
    r = regauth_login(stack, docker_config_dir, env=env)
    assert r.code == 0, r.err
    assert "not initialised" in r.err
    assert "stored unencrypted" in r.err
    data = read_config(docker_config_dir)
    assert "credsStore" not in data and "auth" in data["auths"][stack.host]


def test_detection_picks_working_pass_and_persists_it(
    env_all: dict[str, str],
    registry_basic_http: RegistryStack,
    docker_config_dir: Path,
) -> None:
    stack = registry_basic_http
    r = regauth_login(stack, docker_config_dir, env=env_all)
    assert r.code == 0, r.err
    assert read_config(docker_config_dir) == {"auths": {stack.host: {}}, "credsStore": "pass"}
    assert "unencrypted" not in r.err
    assert regauth("logout", stack.host, config=docker_config_dir, env=env_all).code == 0


def test_missing_helper_is_named_and_logout_fails_truthfully(
    isolated_env: object, docker_config_dir: Path
) -> None:
    write_config(docker_config_dir, {"auths": {"h.example": {}}, "credsStore": "nosuchhelper"})
    before = (docker_config_dir / "config.json").read_bytes()
    r = regauth("logout", "h.example", config=docker_config_dir)
    assert r.code == 1
    assert "docker-credential-nosuchhelper" in r.err and "credsStore" in r.err
    assert "Removing" not in r.out
    assert (docker_config_dir / "config.json").read_bytes() == before


def test_hanging_helper_times_out_from_the_cli(
    isolated_env: object, docker_config_dir: Path, tmp_path: Path
) -> None:
    """A hung helper (Docker waits forever) ends after REGAUTH_HELPER_TIMEOUT."""
    fake_dir = Path(__file__).parent / "fakehelpers"
    write_config(docker_config_dir, {"auths": {"h.example": {}}, "credsStore": "fakehang"})
    before = (docker_config_dir / "config.json").read_bytes()
    env = {
        "PATH": os.pathsep.join([str(fake_dir), venv_path()]),
        "REGAUTH_HELPER_TIMEOUT": "1.5",
        "FAKE_PIDFILE": str(tmp_path / "pid"),
    }
    r = regauth("logout", "h.example", config=docker_config_dir, env=env, timeout=30)
    assert r.code == 1
    assert "fakehang" in r.err and "did not answer within 1.5 s" in r.err
    assert r.err.count("did not answer") == 1  # a helper that hung is not asked again
    assert (docker_config_dir / "config.json").read_bytes() == before
    bad = regauth("logout", "h.example", config=docker_config_dir, env=dict(env, REGAUTH_HELPER_TIMEOUT="x"))
    assert bad.code == 1 and "REGAUTH_HELPER_TIMEOUT" in bad.err
