"""``regauth list``, ``status`` and ``logout --all`` with real registries and helpers.

Store selection and ``GetAllCredentials`` follow docs/credential-stores.md; Go helper quirks:
docs/credential-helpers.md.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from regauth.credentials import Credentials
from regauth.stores.helper import HelperStore
from tests.cliutil import b64, read_config, regauth, venv_path
from tests.conftest import IsolatedEnv
from tests.support.gpg import pass_env  # noqa: F401
from tests.support.keyring_env import secretservice_env  # noqa: F401
from tests.support.registry import RegistryStack, start_registry_stack
from tests.support.require import require

JSON_KEYS = ["server", "username", "store", "source", "auth", "error", "expires_at"]


@pytest.fixture
def broken_helper_path(tmp_path: Path) -> str:
    """A directory holding ``docker-credential-broken``: every action prints one line, exits 1."""
    directory = tmp_path / "broken-bin"
    directory.mkdir()
    script = directory / "docker-credential-broken"
    script.write_text("#!/bin/sh\necho 'the keychain is on fire'\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(directory)


@pytest.fixture
def helpers_env(
    pass_env: dict[str, str],  # noqa: F811
    secretservice_env: dict[str, str],  # noqa: F811
    isolated_env: IsolatedEnv,
    broken_helper_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The Go pass and secretservice helpers usable, plus the broken one, in this process and children."""
    require(shutil.which("docker-credential-pass") is not None, "golang-docker-credential-helpers missing")
    env = {**pass_env, **secretservice_env}
    env["PATH"] = os.pathsep.join([broken_helper_path, venv_path()])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def write_config(directory: Path, data: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(data))


def login(stack: RegistryStack, config: Path) -> None:
    r = regauth(
        "login", "-u", stack.username, "--password-stdin", stack.host, stdin=stack.password, config=config
    )
    assert r.code == 0, r.err


def test_list_and_status_across_every_source_one_broken_helper(
    helpers_env: dict[str, str],
    isolated_env: IsolatedEnv,
    registry_basic_https: RegistryStack,
    registry_basic_http: RegistryStack,
    registry_token_http: RegistryStack,
) -> None:
    """A failing helper is reported in its row; every other login is listed and checked."""
    cfg = isolated_env.docker_config
    write_config(
        cfg, {"auths": {}, "credHelpers": {registry_basic_https.host: "pass", "broken.example": "broken"}}
    )
    login(registry_basic_https, cfg)  # -> pass
    login(registry_token_http, cfg)  # -> file, identity token
    # XDG_CONFIG_HOME: the keyring fixture owns XDG_RUNTIME_DIR (shared by the session)
    podman = isolated_env.xdg_config_home / "containers" / "auth.json"
    podman.parent.mkdir()
    podman.write_text(json.dumps({"auths": {"127.0.0.1:1": {"auth": b64("ghost:nopass")}}}))
    env = {
        "DOCKER_AUTH_CONFIG": json.dumps(
            {"auths": {registry_basic_http.host: {"auth": b64("testuser:testpassword")}}}
        )
    }
    listed = regauth("list", "--format", "json", env=env)
    assert listed.code == 1, listed.err  # one source failed
    rows = json.loads(listed.out)
    assert all(list(row) == JSON_KEYS for row in rows)
    assert all(row["expires_at"] is None for row in rows)  # nothing here says when it expires
    summary = {(r["server"], r["store"], r["auth"], bool(r["error"])) for r in rows}
    assert summary == {
        (registry_basic_http.host, "env", "password", False),
        (registry_token_http.host, "file", "identity token", False),
        (registry_basic_https.host, "pass", "password", False),
        ("broken.example", "broken", "", True),
        ("127.0.0.1:1", "authfile", "password", False),
    }
    broken = next(r for r in rows if r["store"] == "broken")
    assert "the keychain is on fire" in broken["error"]

    table = regauth("list", env=env)
    assert table.out.splitlines()[0].split() == ["REGISTRY", "USERNAME", "AUTH", "STORE", "SOURCE", "ERROR"]
    assert "DOCKER_AUTH_CONFIG" in table.out and str(podman) in table.out

    st = regauth("status", "--format", "json", "--timeout", "5", env=env)
    assert st.code == 1, st.err
    results = {r["server"]: r["result"] for r in json.loads(st.out)}
    assert results == {
        registry_basic_http.host: "valid",
        registry_token_http.host: "valid",
        registry_basic_https.host: "valid",
        "broken.example": "error",
        "127.0.0.1:1": "unreachable",
    }
    for out in (listed.out, table.out, st.out, st.err, listed.err):
        assert "testpassword" not in out

    one = regauth("status", registry_basic_https.host)
    assert one.code == 0, one.out + one.err
    assert one.out.splitlines()[1].split() == [
        registry_basic_https.host,
        "testuser",
        "pass",
        "password",
        "valid",
    ]
    assert regauth("logout", registry_basic_https.host).code == 0  # the pass store is session-wide


def test_status_reports_revoked_password(isolated_env: IsolatedEnv, tmp_path: Path) -> None:
    """Issue 5: change the htpasswd file and ``status`` says invalid, exit 1 (then valid again)."""
    from tests.support.registry import have_registry

    require(have_registry(), "docker-registry (distribution 2.8) is not installed")
    with start_registry_stack(
        tmp_path / "reg", auth="htpasswd", tls=True, users={"rev": "first-pw"}
    ) as stack:
        login(stack, isolated_env.docker_config)
        ok = regauth("status", "--format", "json")
        assert ok.code == 0, ok.out + ok.err
        assert json.loads(ok.out)[0]["result"] == "valid"
        stack.registry.set_password("rev", "second-pw")
        bad = regauth("status")
        assert bad.code == 1, bad.out + bad.err
        line = bad.out.splitlines()[1]
        assert line.startswith(stack.host) and "invalid: " in line
        assert "first-pw" not in bad.out + bad.err


def test_nothing_stored(isolated_env: IsolatedEnv) -> None:
    """status exits 2 when nothing is stored; list prints nothing and exits 0."""
    st = regauth("status")
    assert (st.code, st.out) == (2, "")
    assert regauth("status", "--format", "json").out == "[]\n"
    ls = regauth("list", "--format", "json")
    assert (ls.code, ls.out) == (0, "[]\n")
    assert regauth("status", "nowhere.example").code == 2


def test_library_list_and_status(isolated_env: IsolatedEnv, registry_basic_http: RegistryStack) -> None:
    import regauth as lib

    login(registry_basic_http, isolated_env.docker_config)
    logins = lib.list_logins()
    assert [(x.server, x.username, x.store) for x in logins] == [
        (registry_basic_http.host, "testuser", "file")
    ]
    (result,) = lib.status()
    assert result.ok and result.result == "valid"
    assert "testpassword" not in repr(result) + repr(logins)


def test_logout_all_file_pass_secretservice(helpers_env: dict[str, str], isolated_env: IsolatedEnv) -> None:
    """Every store emptied, one line per removal; a second run is a no-op with exit 0."""
    cfg = isolated_env.docker_config
    write_config(cfg, {
        "auths": {"p.example": {}, "s.example": {}, "f.example": {"auth": b64("fu:fp")}},
        "credHelpers": {"p.example": "pass", "s.example": "secretservice"},
        "credsStore": "pass",
        "other": {"kept": True},
    })  # fmt: skip
    HelperStore("pass").store(Credentials("pu", "pp", server="p.example"))
    HelperStore("secretservice").store(Credentials("su", "sp", server="s.example"))
    HelperStore("pass").store(Credentials("du", "dp", server="d.example"))  # credsStore only, no marker
    podman = isolated_env.xdg_config_home / "containers" / "auth.json"
    podman.parent.mkdir()
    podman.write_text(json.dumps({"auths": {"q.example": {"auth": b64("qu:qp")}}}))

    r = regauth("logout", "--all")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    # the session-wide pass store may hold other tests' entries: credsStore makes them ours too
    assert all(line.startswith("Removing login credentials for ") for line in lines)
    assert set(lines) >= set([
        "Removing login credentials for p.example (pass)",
        "Removing login credentials for s.example (secretservice)",
        "Removing login credentials for f.example (file)",
        "Removing login credentials for d.example (pass)",
        f"Removing login credentials for q.example ({podman})",
    ])  # fmt: skip
    assert HelperStore("pass").list() == {}
    data = read_config(cfg)
    assert data["auths"] == {} and data["other"] == {"kept": True}
    for name, server in (("pass", "p.example"), ("secretservice", "s.example"), ("pass", "d.example")):
        assert HelperStore(name).get(server) is None
    assert json.loads(podman.read_text())["auths"] == {}

    again = regauth("logout", "--all")
    assert (again.code, again.out) == (0, "Not logged in anywhere\n")
    assert regauth("logout", "--all", "x.example").code == 125


def test_logout_all_failed_erase_exits_nonzero(
    helpers_env: dict[str, str], isolated_env: IsolatedEnv
) -> None:
    """A helper that cannot erase keeps its marker; the others are still removed."""
    cfg = isolated_env.docker_config
    write_config(cfg, {
        "auths": {"b.example": {}, "f.example": {"auth": b64("fu:fp")}},
        "credHelpers": {"b.example": "broken"},
    })  # fmt: skip
    r = regauth("logout", "--all")
    assert r.code == 1
    assert r.out == "Removing login credentials for f.example (file)\n"
    assert "could not erase credentials for b.example" in r.err and "the keychain is on fire" in r.err
    assert read_config(cfg)["auths"] == {"b.example": {}}
