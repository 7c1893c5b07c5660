"""Auth files besides config.json, ``regauth get``, and the one lookup chain every reader uses.

DOCKER_AUTH_CONFIG strictness: docs/config-file.md; podman/skopeo files: docs/interop.md.
Precedence: the ``regauth.stores.lookup`` module docstring.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

import regauth
from regauth.api.inventory import collect_credentials
from regauth.config.authfiles import candidate_keys, docker_auth_config, split_reference
from regauth.credentials import Credentials
from regauth.errors import AuthError, ConfigError
from regauth.stores.lookup import lookup
from tests.cliutil import b64
from tests.cliutil import regauth as run
from tests.conftest import IsolatedEnv
from tests.support.registry import RegistryStack

SECRET = "s3cr3t-Value"


def auth_json(entries: dict[str, str]) -> str:
    """``{"auths": {key: {"auth": b64(user:pw)}}}`` for ``key -> "user:pw"``."""
    return json.dumps({"auths": {k: {"auth": b64(v)} for k, v in entries.items()}})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('{"auths":{"r.example":{"auth":"%s"}},"credsStore":"pass"}', "unknown field"),
        ('{"auths":{"r.example":{"auth":"%s","identitytoken":"x"}}}', "unknown field"),
        ('{"auths":{"r.example":{}}}', "missing auth"),
        ('{"auths":{"r.example":{"auth":"%s"}}}{"auths":{}}', "invalid JSON"),
        ('{"auths":{"r.example":{"auth":"not base64!"}}}', "not valid base64"),
        ('["auths"]', "must be a JSON object"),
    ],
)
def test_docker_auth_config_is_strict(value: str, why: str) -> None:
    """As Docker's parser: unknown fields, a second object, a missing ``auth`` are rejected."""
    text = value.replace("%s", b64(f"user:{SECRET}"))
    with pytest.raises(ConfigError) as info:
        docker_auth_config({"DOCKER_AUTH_CONFIG": text})
    assert why in str(info.value)
    assert SECRET not in str(info.value)


def test_docker_auth_config_valid() -> None:
    creds = docker_auth_config({"DOCKER_AUTH_CONFIG": auth_json({"r.example": f"u:{SECRET}"})})
    assert creds is not None
    assert (creds["r.example"].username, creds["r.example"].password) == ("u", SECRET)
    assert docker_auth_config({}) is None


@pytest.mark.parametrize(
    ("ref", "key", "path"),
    [
        ("nginx", "https://index.docker.io/v1/", "library/nginx"),
        ("docker.io/nginx:1.25", "https://index.docker.io/v1/", "library/nginx"),
        ("localhost:5000/a/b:tag", "localhost:5000", "a/b"),
        ("quay.io/org/app@sha256:" + "0" * 64, "quay.io", "org/app"),
        ("quay.io", "quay.io", ""),
        ("https://quay.io", "quay.io", ""),
    ],
)
def test_split_reference(ref: str, key: str, path: str) -> None:
    assert split_reference(ref) == (key, path)


def test_candidate_keys_most_specific_first() -> None:
    assert candidate_keys("quay.io/org/team/app:1") == [
        "quay.io/org/team/app", "quay.io/org/team", "quay.io/org", "quay.io",
    ]  # fmt: skip


def test_precedence_of_every_source(
    isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """env > --authfile/REGISTRY_AUTH_FILE > config.json > $XDG_RUNTIME_DIR > $XDG_CONFIG_HOME."""
    host = "reg.example:5000"
    runtime = isolated_env.xdg_runtime_dir / "containers" / "auth.json"
    confdir = isolated_env.xdg_config_home / "containers" / "auth.json"
    explicit = isolated_env.home / "explicit.json"
    write(confdir, auth_json({host: "podman-config:p5"}))
    assert regauth.get_credentials(host).username == "podman-config"  # type: ignore[union-attr]
    write(runtime, auth_json({host: "podman-runtime:p4"}))
    assert regauth.get_credentials(host).username == "podman-runtime"  # type: ignore[union-attr]
    write(isolated_env.docker_config / "config.json", auth_json({host: "docker:p3"}))
    assert regauth.get_credentials(host).username == "docker"  # type: ignore[union-attr]
    write(explicit, auth_json({host: "explicit:p2"}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(explicit))
    assert regauth.get_credentials(host).username == "explicit"  # type: ignore[union-attr]
    other = write(isolated_env.home / "other.json", auth_json({host: "flag:p2b"}))
    assert regauth.get_credentials(host, authfile=other).username == "flag"  # type: ignore[union-attr]
    monkeypatch.setenv("DOCKER_AUTH_CONFIG", auth_json({host: "env:p1"}))
    assert regauth.get_credentials(host).username == "env"  # type: ignore[union-attr]
    # an invalid DOCKER_AUTH_CONFIG is ignored, as Docker does
    monkeypatch.setenv("DOCKER_AUTH_CONFIG", '{"auths":{},"x":1}')
    caplog.clear()
    assert regauth.get_credentials(host).username == "explicit"  # type: ignore[union-attr]
    warned = [r.getMessage() for r in caplog.records]
    assert warned == ['DOCKER_AUTH_CONFIG: unknown field "x"; it is ignored']


def test_broken_podman_file_is_skipped_but_explicit_file_fails(
    isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = write(isolated_env.xdg_runtime_dir / "containers" / "auth.json", "{broken")
    assert regauth.get_credentials("reg.example") is None
    assert [r.getMessage() for r in caplog.records] == [f"cannot read {broken}; it is skipped"]
    bad = write(isolated_env.home / "bad.json", "{broken")
    with pytest.raises(ConfigError):
        regauth.get_credentials("reg.example", authfile=bad)


def test_per_repository_keys_most_specific_match(isolated_env: IsolatedEnv) -> None:
    """podman's ``host/ns/repo`` keys: the longest matching prefix wins, then the registry."""
    write(
        isolated_env.xdg_runtime_dir / "containers" / "auth.json",
        auth_json({
            "quay.io": "registry:p0", "quay.io/org": "org:p1", "quay.io/org/app": "app:p2",
            "docker.io/library": "hublib:p3",
        }),
    )  # fmt: skip

    def user(ref: str) -> str | None:
        found = lookup(ref)
        return None if found is None else found.credentials.username

    assert user("quay.io/org/app:1") == "app"
    assert user("quay.io/org/application") == "org"  # component boundary, not a string prefix
    assert user("quay.io/org/sub/thing") == "org"
    assert user("quay.io/other/x") == "registry"
    assert user("nginx") == "hublib"
    assert user("docker.io/someone/x") is None
    assert lookup("quay.io/org/app").key == "quay.io/org/app"  # type: ignore[union-attr]


def test_get_cli(isolated_env: IsolatedEnv) -> None:
    """Helper-protocol JSON, ``<token>`` for identity tokens, one line when nothing stored."""
    config = {
        "auths": {
            "pw.example": {"auth": b64(f"alice:{SECRET}")},
            "tok.example": {"auth": b64("bob:"), "identitytoken": "refresh-tok"},
        }
    }
    write(isolated_env.docker_config / "config.json", json.dumps(config))
    r = run("get", "pw.example")
    assert (r.code, r.out) == (0, '{"ServerURL":"pw.example","Username":"alice","Secret":"%s"}\n' % SECRET)
    r = run("get", "https://tok.example/v2/")
    assert r.out == '{"ServerURL":"tok.example","Username":"\\u003ctoken\\u003e","Secret":"refresh-tok"}\n'
    r = run("get", "--username-only", "tok.example")
    assert (r.code, r.out) == (0, "bob\n")
    r = run("get", "none.example")
    assert (r.code, r.out, r.err) == (1, "", "not logged in to none.example\n")
    podman = {"pw.example/ns/app": "carol:x", "p.example/ns/app": "dave:x"}
    write(isolated_env.xdg_runtime_dir / "containers" / "auth.json", auth_json(podman))
    # config.json (source 3) holds pw.example: it beats the more specific key of a later source
    assert run("get", "--username-only", "pw.example/ns/app:latest").out == "alice\n"
    r = run("get", "--username-only", "p.example/ns/app:latest")
    assert (r.code, r.out) == (0, "dave\n")


def test_get_reads_docker_auth_config(isolated_env: IsolatedEnv) -> None:
    r = run("get", "e.example", env={"DOCKER_AUTH_CONFIG": auth_json({"e.example": "eve:pw"})})
    assert json.loads(r.out) == {"ServerURL": "e.example", "Username": "eve", "Secret": "pw"}


# --------------------------------------------------------------------------- one chain for every reader

_ONE_KEY_HELPER = """\
import json, sys
with open(sys.argv[0] + ".json") as fh:
    login = json.load(fh)
action = sys.argv[1] if len(sys.argv) > 1 else ""
if action == "get" and sys.stdin.read() == login["ServerURL"]:
    print(json.dumps(login))
elif action == "list":
    print(json.dumps({login["ServerURL"]: login["Username"]}))
else:
    print("credentials not found in native keychain")
    sys.exit(1)
"""


def _one_key_helper(directory: Path, server: str, username: str, secret: str) -> None:
    """``docker-credential-onekey``: a helper program holding one login (read from a file beside it)."""
    directory.mkdir(exist_ok=True)
    program = directory / "docker-credential-onekey"
    program.write_text(f"#!{sys.executable}\n{_ONE_KEY_HELPER}")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    Path(f"{program}.json").write_text(
        json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    )


def test_every_reader_takes_the_same_source(
    isolated_env: IsolatedEnv,
    registry_token_http: RegistryStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One registry in an auth file read before config.json, in a helper that credHelpers names and
    in config.json's auths: get_credentials, ``get``, list, export and token agree on one source.

    Only the source that should win holds the password the registry accepts, so ``token`` succeeding
    shows which credentials it sent.
    """
    stack = registry_token_http
    host, user, good = stack.host, stack.username, stack.password
    bindir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    explicit = isolated_env.home / "explicit.json"
    config = isolated_env.docker_config / "config.json"

    def setup(authfile_pw: str | None, helper_pw: str | None, file_pw: str) -> None:
        data: dict[str, object] = {"auths": {host: {"auth": b64(f"{user}:{file_pw}")}}}
        if helper_pw is not None:
            data["credHelpers"] = {host: "onekey"}
            _one_key_helper(bindir, host, user, helper_pw)
        write(config, json.dumps(data))
        if authfile_pw is None:
            monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
        else:
            write(explicit, auth_json({host: f"{user}:{authfile_pw}"}))
            monkeypatch.setenv("REGISTRY_AUTH_FILE", str(explicit))

    def agree(store: str, source: str) -> None:
        got = regauth.get_credentials(host)
        assert got is not None and (got.username, got.password) == (user, good)
        cli = run("get", host)
        assert json.loads(cli.out) == {"ServerURL": host, "Username": user, "Secret": good}, cli.err
        first = next(x for x in regauth.list_logins() if x.server == host)
        assert (first.store, first.source) == (store, source)
        assert collect_credentials()[host].password == good  # export without server names
        assert collect_credentials([host])[host].password == good
        assert regauth.token(host, ["repository:test/a:pull"]).access_token

    setup(authfile_pw=good, helper_pw="helper-pw", file_pw="file-pw")
    with pytest.raises(AuthError):  # the registry refuses the other sources' passwords
        regauth.token(host, credentials=Credentials(user, "helper-pw", server=host))
    agree("authfile", str(explicit))
    setup(authfile_pw=None, helper_pw=good, file_pw="file-pw")
    agree("onekey", f"credHelpers in {config}")
    setup(authfile_pw=None, helper_pw=None, file_pw=good)
    agree("file", str(config))


# --------------------------------------------------------------------------- logout of a login held elsewhere


def test_logout_of_a_login_held_only_in_an_auth_file_says_where_it_is(
    isolated_env: IsolatedEnv,
) -> None:
    """logout erases only Docker's config; a login the lookup chain finds in REGISTRY_AUTH_FILE,
    podman's auth.json or DOCKER_AUTH_CONFIG is named, with how to remove it; nothing is changed
    and the exit code stays that of "Not logged in" (0)."""
    host = "reg.example:5000"
    explicit = write(isolated_env.home / "my auth.json", auth_json({host: f"alice:{SECRET}"}))
    before = explicit.read_bytes()
    r = run("logout", host, env={"REGISTRY_AUTH_FILE": str(explicit)})
    assert (r.code, r.err) == (0, "")
    assert r.out == (
        f"{host} is logged in through the auth file {explicit} (REGISTRY_AUTH_FILE), not Docker's config: "
        f"remove it with `podman logout --authfile '{explicit}' {host}` or edit the file\n"
    )
    assert explicit.read_bytes() == before
    assert not (isolated_env.docker_config / "config.json").exists()
    # the status of the same login: found, through the same chain
    assert run("get", "--username-only", host, env={"REGISTRY_AUTH_FILE": str(explicit)}).out == "alice\n"

    podman = write(isolated_env.xdg_runtime_dir / "containers" / "auth.json", auth_json({host: "bob:pw"}))
    r = run("logout", host)
    assert r.out == (
        f"{host} is logged in through the auth file {podman} (podman's), not Docker's config: "
        f"remove it with `podman logout --authfile {podman} {host}` or edit the file\n"
    )
    r = run("logout", host, env={"DOCKER_AUTH_CONFIG": auth_json({host: "eve:pw"})})
    assert r.out == (
        f"{host} is logged in through the DOCKER_AUTH_CONFIG environment variable, not Docker's config: "
        "remove it from that variable\n"
    )
    podman.unlink()
    r = run("logout", host)
    assert (r.code, r.out) == (0, f"Not logged in to {host}\n")


def test_logout_still_removes_dockers_entry_when_an_auth_file_holds_one_too(
    isolated_env: IsolatedEnv,
) -> None:
    """The auth file is read before config.json, yet logout removes Docker's entry as before."""
    host = "reg.example:5000"
    explicit = write(isolated_env.home / "explicit.json", auth_json({host: "alice:pw"}))
    write(isolated_env.docker_config / "config.json", auth_json({host: "docker:pw"}))
    r = run("logout", host, env={"REGISTRY_AUTH_FILE": str(explicit)})
    assert (r.code, r.out) == (0, f"Removing login credentials for {host}\n")
    assert json.loads((isolated_env.docker_config / "config.json").read_text()) == {"auths": {}}
