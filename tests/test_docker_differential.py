"""Differential tests against the real Docker CLI 28 and skopeo.

Same registry, same inputs: regauth's ``config.json`` entry must equal Docker's; each logs out what
the other logged in; skopeo accepts what regauth stored.  Docker runs with a PATH holding only
``docker`` so that it uses the file store (docs/config-file.md "Default store detection").
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cliutil import docker, docker_login, read_config, regauth, regauth_login
from tests.support.oci import make_oci_layout, skopeo_push
from tests.support.registry import RegistryStack
from tests.support.require import require

REGISTRIES = [
    "registry_basic_https",
    "registry_basic_http",
    "registry_token_https",
    "registry_token_http",
    "registry_token_norefresh",
]


@pytest.fixture(params=REGISTRIES)
def stack(request: pytest.FixtureRequest) -> RegistryStack:
    value: RegistryStack = request.getfixturevalue(request.param)
    return value


def _shape(entry: dict[str, str]) -> dict[str, str]:
    """An entry with the (random) identity token replaced by a marker."""
    return {k: ("<token>" if k == "identitytoken" else v) for k, v in entry.items()}


def test_same_entry_as_docker(
    stack: RegistryStack, docker_only_path: str, isolated_env: object, tmp_path: Path
) -> None:
    """docs/docker-cli.md "Basic login", "Bearer login": the entry written for the same login is the same."""
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    r = regauth_login(stack, ours)
    d = docker_login(stack, theirs, docker_only_path)
    assert (r.code, d.code) == (0, 0), (r.err, d.err)
    assert r.out.strip() == d.out.strip() == "Login Succeeded"
    assert _shape(read_config(ours)["auths"][stack.host]) == _shape(read_config(theirs)["auths"][stack.host])
    assert read_config(ours).keys() == read_config(theirs).keys()
    # The plaintext warning appears for the same logins (Docker prints it after the entry is saved).
    assert ("stored unencrypted" in r.err) == ("stored unencrypted" in d.err)


@pytest.mark.parametrize("spelling", ["https://{h}", "https://{h}/", "https://{h}/v2/", "http://{h}", "{h}"])
def test_same_key_for_address_forms(
    registry_basic_http: RegistryStack,
    docker_only_path: str,
    isolated_env: object,
    tmp_path: Path,
    spelling: str,
) -> None:
    """docs/docker-cli.md "Address forms": scheme and path stripped, host[:port] is the key."""
    server = spelling.format(h=registry_basic_http.host)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    r = regauth("login", "-u", "testuser", "--password-stdin", server, stdin="testpassword", config=ours)
    d = docker(
        "login",
        "-u",
        "testuser",
        "--password-stdin",
        server,
        stdin="testpassword",
        path=docker_only_path,
        config=theirs,
    )
    assert (r.code, d.code) == (0, 0), (r.err, d.err)
    assert list(read_config(ours)["auths"]) == list(read_config(theirs)["auths"])


def test_docker_logs_out_what_regauth_logged_in(
    stack: RegistryStack, docker_only_path: str, isolated_env: object, docker_config_dir: Path
) -> None:
    r = regauth_login(stack, docker_config_dir)
    assert r.code == 0, r.err
    d = docker("logout", stack.host, path=docker_only_path, config=docker_config_dir)
    assert d.code == 0, d.err
    assert read_config(docker_config_dir)["auths"] == {}


def test_regauth_logs_out_what_docker_logged_in(
    stack: RegistryStack, docker_only_path: str, isolated_env: object, docker_config_dir: Path
) -> None:
    d = docker_login(stack, docker_config_dir, docker_only_path)
    assert d.code == 0, d.err
    r = regauth("logout", stack.host, config=docker_config_dir)
    assert (r.code, r.out) == (0, f"Removing login credentials for {stack.host}\n")
    assert read_config(docker_config_dir)["auths"] == {}


def test_regauth_reads_dockers_login_for_relogin(
    registry_basic_https: RegistryStack,
    docker_only_path: str,
    isolated_env: object,
    docker_config_dir: Path,
) -> None:
    """Docker 28 cannot re-login without a daemon (docs/docker-cli.md "Re-login with stored
    credentials"); regauth re-validates Docker's entry."""
    d = docker_login(registry_basic_https, docker_config_dir, docker_only_path)
    assert d.code == 0, d.err
    r = regauth("login", registry_basic_https.host, config=docker_config_dir)
    assert r.code == 0, r.err
    assert "[Username: testuser]" in r.err


def test_docker_reads_a_config_regauth_rewrote(
    registry_basic_http: RegistryStack,
    docker_only_path: str,
    isolated_env: object,
    docker_config_dir: Path,
) -> None:
    """Unknown keys kept by regauth do not bother Docker; Docker re-validates nothing here, it parses."""
    (docker_config_dir / "config.json").write_text('{"auths": {}, "psFormat": "{{.ID}}", "x-tool": {"a": 1}}')
    r = regauth_login(registry_basic_http, docker_config_dir)
    assert r.code == 0, r.err
    data = read_config(docker_config_dir)
    assert data["x-tool"] == {"a": 1} and data["psFormat"] == "{{.ID}}"
    d = docker("logout", registry_basic_http.host, path=docker_only_path, config=docker_config_dir)
    assert d.code == 0 and "WARNING" not in d.err, d.err


@pytest.fixture(scope="module")
def pushed_image(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image ``test/hello:1`` pushed with skopeo to both HTTPS registries (docs/interop.md)."""
    require(shutil.which("skopeo") is not None, "skopeo is not installed")
    layout = make_oci_layout(tmp_path_factory.mktemp("oci"))
    for name in ("registry_basic_https", "registry_token_https"):
        stack: RegistryStack = request.getfixturevalue(name)
        home = tmp_path_factory.mktemp("skopeo-home")
        done = skopeo_push(layout, stack, "test/hello", env=dict(os.environ, HOME=str(home)))
        assert done.returncode == 0, done.stderr
    return "test/hello:1"


@pytest.mark.parametrize("name", ["registry_basic_https", "registry_token_https"])
def test_skopeo_uses_what_regauth_stored(
    name: str,
    pushed_image: str,
    request: pytest.FixtureRequest,
    isolated_env: object,
    docker_config_dir: Path,
) -> None:
    """docs/interop.md "skopeo 1.9.3 with Docker's files": skopeo reads ``auth`` and ``identitytoken``
    entries via ``--authfile``."""
    stack: RegistryStack = request.getfixturevalue(name)
    authfile = docker_config_dir / "config.json"
    inspect = [
        "skopeo",
        "inspect",
        "--raw",
        "--authfile",
        str(authfile),
        "--cert-dir",
        str(stack.cert_dir),
        f"docker://{stack.host}/{pushed_image}",
    ]
    authfile.write_text('{"auths": {}}')
    denied = subprocess.run(inspect, capture_output=True, text=True, timeout=60)
    assert denied.returncode != 0
    r = regauth_login(stack, docker_config_dir)
    assert r.code == 0, r.err
    ok = subprocess.run(inspect, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert '"schemaVersion"' in ok.stdout
