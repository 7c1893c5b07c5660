"""``regauth login`` / ``logout`` end to end against real distribution registries.

The facts checked here are Docker's, recorded in docs/docker-cli.md (flags, messages, what Docker
CLI 28.2.2 was observed to do), docs/registry-auth.md and docs/config-file.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cliutil import Result, b64, read_config, regauth, regauth_login, venv_path
from tests.support.gpg import pass_env  # noqa: F401
from tests.support.registry import RegistryStack
from tests.support.require import require

PLAINTEXT_WARNING = "WARNING! Your credentials are stored unencrypted in"


def login(stack: RegistryStack, config: Path, *extra: str, password: str | None = None) -> Result:
    """regauth login with the password on stdin followed by a newline (stripped, as docs/docker-cli.md
    "Password from stdin")."""
    return regauth_login(
        stack, config, *extra, password=(stack.password if password is None else password) + "\n"
    )


@pytest.fixture(params=["registry_basic_https", "registry_basic_http"])
def basic_registry(request: pytest.FixtureRequest) -> RegistryStack:
    stack: RegistryStack = request.getfixturevalue(request.param)
    return stack


def test_basic_login_writes_dockers_entry(
    basic_registry: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """docs/docker-cli.md "Basic login": stdout ``Login Succeeded``, entry ``auth`` = b64(user:pw),
    0600, tabs, no newline."""
    res = login(basic_registry, docker_config_dir)
    assert res.code == 0, res.err
    assert res.out == "Login Succeeded\n"
    assert PLAINTEXT_WARNING in res.err
    assert basic_registry.password not in res.err + res.out
    path = docker_config_dir / "config.json"
    text = path.read_text()
    assert text == (
        '{\n\t"auths": {\n\t\t"%s": {\n\t\t\t"auth": "%s"\n\t\t}\n\t}\n}'
        % (basic_registry.host, b64("testuser:testpassword"))
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(docker_config_dir.stat().st_mode) in (0o700, 0o755)


def test_debug_logs_each_request_without_secrets(
    registry_basic_https: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """``--debug`` shows the method, URL and status of every request; never a header or a secret."""
    stack = registry_basic_https
    res = regauth(
        "--debug", "login", "-u", stack.username, "--password-stdin", stack.host,
        stdin=stack.password, config=docker_config_dir,
    )  # fmt: skip
    assert res.code == 0, res.err
    lines = [line for line in res.err.splitlines() if line.startswith("DEBUG regauth.transport: ")]
    assert f"DEBUG regauth.transport: GET https://{stack.host}/v2/" in lines
    assert "DEBUG regauth.transport: -> 401 Unauthorized" in lines
    assert "DEBUG regauth.transport: -> 200 OK" in lines
    assert stack.password not in res.err and "Authorization" not in res.err


def test_wrong_password_is_unauthorized_and_writes_nothing(
    basic_registry: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """Docker 28 reports ``400 Bad Request`` for HTTPS here (docs/docker-cli.md "Failures"); we say
    unauthorized."""
    res = login(basic_registry, docker_config_dir, password="wrong-password")
    assert res.code == 1
    assert "unauthorized" in res.err.lower()
    assert "400" not in res.err
    assert "wrong-password" not in res.err + res.out
    assert not (docker_config_dir / "config.json").exists()


def test_relogin_with_stored_credentials_needs_no_daemon(
    registry_basic_https: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """docs/docker-cli.md "Re-login with stored credentials": Docker 28 fails here without a daemon;
    regauth re-validates."""
    assert login(registry_basic_https, docker_config_dir).code == 0
    before = (docker_config_dir / "config.json").read_bytes()
    res = regauth("login", registry_basic_https.host, config=docker_config_dir)
    assert res.code == 0, res.err
    assert "Authenticating with existing credentials... [Username: testuser]" in res.err
    assert res.out.strip().endswith("Login Succeeded")
    assert (docker_config_dir / "config.json").read_bytes() == before


def test_relogin_with_revoked_password_reports_and_needs_tty(
    tmp_path: Path, isolated_env: object, docker_config_dir: Path
) -> None:
    from tests.support.registry import start_registry_stack

    with start_registry_stack(tmp_path / "reg", auth="htpasswd", tls=True) as stack:
        assert login(stack, docker_config_dir).code == 0
        stack.registry.set_password(stack.username, "changed-password")
        res = regauth("login", stack.host, config=docker_config_dir)
    assert res.code == 1
    assert "Stored credentials invalid or expired" in res.err
    assert "cannot perform an interactive login from a non-TTY device" in res.err


def test_logout_removes_and_is_truthful(
    basic_registry: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    assert login(basic_registry, docker_config_dir).code == 0
    res = regauth("logout", basic_registry.host, config=docker_config_dir)
    assert (res.code, res.out) == (0, f"Removing login credentials for {basic_registry.host}\n")
    assert read_config(docker_config_dir)["auths"] == {}
    again = regauth("logout", f"https://{basic_registry.host}/", config=docker_config_dir)
    assert (again.code, again.out) == (0, f"Not logged in to {basic_registry.host}\n")


def test_logout_removes_legacy_spellings(isolated_env: object, docker_config_dir: Path) -> None:
    """docs/docker-cli.md "Logout behaviour": ``https://host`` legacy keys go too; we also drop
    ``http://host/v1/``."""
    (docker_config_dir / "config.json").write_text(
        '{"auths": {"https://reg.example:5000": {"auth": "%s"},'
        ' "http://reg.example:5000/v1/": {"auth": "%s"}, "other.example": {"auth": "%s"}},'
        ' "unknownKey": [1, 2]}' % (b64("a:b"), b64("c:d"), b64("e:f"))
    )
    res = regauth("logout", "reg.example:5000", config=docker_config_dir)
    assert res.code == 0, res.err
    data = read_config(docker_config_dir)
    assert list(data["auths"]) == ["other.example"]
    assert data["unknownKey"] == [1, 2]


def test_tls_verify_true_needs_the_ca(
    registry_basic_https: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """Loopback is insecure by default like Docker's daemon; ``--tls-verify=true`` forces checks."""
    res = login(registry_basic_https, docker_config_dir, "--tls-verify=true")
    assert res.code == 1
    assert "certificate" in res.err.lower()
    assert not (docker_config_dir / "config.json").exists()
    assert registry_basic_https.cert_dir is not None
    ok = login(
        registry_basic_https,
        docker_config_dir,
        "--tls-verify=true",
        "--cert-dir",
        str(registry_basic_https.cert_dir),
    )
    assert ok.code == 0, ok.err


def test_tls_verify_true_refuses_plain_http(
    registry_basic_http: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    res = login(registry_basic_http, docker_config_dir, "--tls-verify=true")
    assert res.code == 1
    assert not (docker_config_dir / "config.json").exists()


@pytest.fixture(params=["registry_token_https", "registry_token_http"])
def token_registry(request: pytest.FixtureRequest) -> RegistryStack:
    stack: RegistryStack = request.getfixturevalue(request.param)
    return stack


def test_token_login_stores_identity_token(
    token_registry: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """docs/docker-cli.md "Bearer login": refresh token → ``identitytoken``, ``auth`` = b64(user:), no
    warning."""
    res = login(token_registry, docker_config_dir)
    assert res.code == 0, res.err
    assert PLAINTEXT_WARNING not in res.err
    entry = read_config(docker_config_dir)["auths"][token_registry.host]
    assert entry["auth"] == b64("testuser:")
    assert entry["identitytoken"]
    assert list(entry) == ["auth", "identitytoken"]
    # the identity token works on its own (POST refresh_token grant)
    again = regauth(
        "login",
        "--identity-token-stdin",
        token_registry.host,
        stdin=entry["identitytoken"],
        config=docker_config_dir,
    )
    assert again.code == 0, again.err
    assert entry["identitytoken"] not in again.err + again.out


def test_token_login_wrong_password(
    token_registry: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """docs/registry-auth.md "Token endpoint errors": the token endpoint's ``details`` shown as
    ``unauthorized: …``."""
    res = login(token_registry, docker_config_dir, password="nope-nope")
    assert res.code == 1
    assert "unauthorized: incorrect username or password" in res.err
    assert not (docker_config_dir / "config.json").exists()


def test_token_login_without_refresh_stores_password(
    registry_token_norefresh: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """docs/docker-cli.md "Bearer login": no refresh token issued → password stored, warning printed."""
    res = login(registry_token_norefresh, docker_config_dir)
    assert res.code == 0, res.err
    assert PLAINTEXT_WARNING in res.err
    entry = read_config(docker_config_dir)["auths"][registry_token_norefresh.host]
    assert entry == {"auth": b64("testuser:testpassword")}


def test_scope_login_checks_the_repository(
    registry_token_https: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """``--scope`` validates against a repository; ``limited`` may only use ``test/a``."""
    ok = regauth(
        "login",
        "-u",
        "limited",
        "--password-stdin",
        "--scope",
        "repository:test/a:pull",
        registry_token_https.host,
        stdin="limitedpassword",
        config=docker_config_dir,
    )
    assert ok.code == 0, ok.err
    denied = regauth(
        "login",
        "-u",
        "limited",
        "--password-stdin",
        "--scope",
        "repository:test/b:pull",
        registry_token_https.host,
        stdin="limitedpassword",
        config=docker_config_dir,
    )
    assert denied.code == 1


# --- flags and messages (docs/docker-cli.md "Flags and validation") ----------------------------


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (
            ["login", "--password-stdin", "h.example"],
            "pw",
            1,
            "the --password-stdin option requires --username to be set",
        ),
        (
            ["login", "-u", "u", "-p", "x", "--password-stdin", "h.example"],
            "pw",
            1,
            "conflicting options: cannot specify both --password and --password-stdin",
        ),
        (["login", "-u", "u", "--password-stdin", "h.example"], "\n", 1, "password is empty"),
        (["login", "-u", "", "--password-stdin", "h.example"], "pw", 1, "username is empty"),
        (
            ["login", "-u", "u", "h.example"],
            "",
            1,
            "cannot perform an interactive login from a non-TTY device",
        ),
        (["login", "--bogus"], "", 125, "unrecognized arguments: --bogus"),
        (["login", "a.example", "b.example"], "", 125, "unrecognized arguments: b.example"),
        (["logout", "--all-the-things"], "", 125, "unrecognized arguments"),
    ],
)
def test_flag_errors(
    args: list[str],
    stdin: str,
    code: int,
    message: str,
    isolated_env: object,
    docker_config_dir: Path,
) -> None:
    res = regauth(*args, stdin=stdin, config=docker_config_dir)
    assert res.code == code, res.err
    assert message in res.err
    assert not (docker_config_dir / "config.json").exists()


def test_password_flag_warns(
    registry_basic_http: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """docs/docker-cli.md "Other options": ``-p`` works and prints Docker's warning."""
    res = regauth(
        "login",
        "-u",
        "testuser",
        "-p",
        "testpassword",
        registry_basic_http.host,
        config=docker_config_dir,
    )
    assert res.code == 0, res.err
    assert "WARNING! Using --password via the CLI is insecure. Use --password-stdin." in res.err


@pytest.mark.parametrize("ending", ["\r\n", "\n", "\r", ""])
def test_password_stdin_strips_one_line_ending(
    registry_basic_http: RegistryStack, isolated_env: object, docker_config_dir: Path, ending: str
) -> None:
    res = regauth(
        "login",
        "-u",
        "testuser",
        "--password-stdin",
        registry_basic_http.host,
        stdin="testpassword" + ending,
        config=docker_config_dir,
    )
    assert res.code == 0, res.err


def test_password_stdin_keeps_other_whitespace(
    registry_basic_http: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    res = regauth(
        "login",
        "-u",
        "testuser",
        "--password-stdin",
        registry_basic_http.host,
        stdin="testpassword\n\n",
        config=docker_config_dir,
    )
    assert res.code == 1


def test_help_and_version() -> None:
    res = regauth("login", "--help")
    assert res.code == 0 and "--password-stdin" in res.out
    ver = regauth("--version")
    assert ver.code == 0 and ver.out.startswith("regauth version ")


# --- broken config files: error, exit 1, byte-identical ----------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"auths": {"h.example": {"auth": "x"}', "invalid JSON"),
        (b'{"auths": []}', "auths"),
        (b'{"auths": {"h.example": {"auth": "!!!notbase64"}}}', "base64"),
        (b'{"auths": {"h.example": {"auth": "' + b64("nocolon").encode() + b'"}}}', "':'"),
        (b"\x00" * 8, "invalid JSON"),  # a crash artefact (a 0-byte file reads as {}, as in Docker)
    ],
)
@pytest.mark.parametrize(
    "command", [["login", "-u", "u", "--password-stdin", "127.0.0.1:9"], ["logout", "h.example"]]
)
def test_broken_config_is_never_overwritten(
    content: bytes, problem: str, command: list[str], isolated_env: object, docker_config_dir: Path
) -> None:
    path = docker_config_dir / "config.json"
    path.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    res = regauth(*command, stdin="pw", config=docker_config_dir)
    assert res.code == 1
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert str(path) in lines[0] and problem in lines[0]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert "Removing" not in res.out


# --- the race Docker loses (docs/interop.md "Concurrent writers": concurrent logouts lost) -------


def test_concurrent_logouts_lose_nothing(isolated_env: object, docker_config_dir: Path) -> None:
    hosts = [f"r{i}.example:5000" for i in range(64)]
    auths = ",".join(f'"{h}": {{"auth": "{b64("u:p" + str(i))}"}}' for i, h in enumerate(hosts))
    (docker_config_dir / "config.json").write_text(f'{{"auths": {{{auths}}}, "keepMe": true}}')
    env = dict(os.environ, DOCKER_CONFIG=str(docker_config_dir), PATH=venv_path())
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "regauth", "logout", h],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for h in hosts[:32]
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outputs]
    data = read_config(docker_config_dir)
    assert sorted(data["auths"]) == sorted(hosts[32:])
    assert data["keepMe"] is True


def test_certs_d_under_xdg_config_home(
    registry_basic_https: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """docs/registry-auth.md "TLS": ``$XDG_CONFIG_HOME/docker/certs.d/<host:port>/*.crt`` is trusted."""
    assert registry_basic_https.cert_dir is not None
    xdg = Path(os.environ["XDG_CONFIG_HOME"])
    host_dir = xdg / "docker" / "certs.d" / registry_basic_https.host
    host_dir.mkdir(parents=True)
    (host_dir / "ca.crt").write_bytes((registry_basic_https.cert_dir / "ca.crt").read_bytes())
    res = login(registry_basic_https, docker_config_dir, "--tls-verify=true")
    assert res.code == 0, res.err


@pytest.mark.parametrize(
    ("server", "why"),
    [
        ("127.0.0.1:5001?x=1", "a query string is not allowed in a registry address"),
        ("a" * 64 + ".ex:5000", "label 1 of the host name is 64 characters long; at most 63 are allowed"),
    ],
    ids=["query-string", "long-label"],
)
@pytest.mark.parametrize("command", ["login", "logout"])
def test_bad_address_is_one_line_in_regauths_words(
    command: str, server: str, why: str, isolated_env: object, docker_config_dir: Path
) -> None:
    """Not "bad port", not the idna codec's error, no traceback: one line, usage exit code, no file."""
    args = ["login", "-u", "u", "--password-stdin", server] if command == "login" else ["logout", server]
    res = regauth(*args, stdin="pw", config=docker_config_dir)
    assert (res.code, res.out) == (125, "")
    assert res.err == f"invalid registry address {server!r}: {why}\n"
    assert list(docker_config_dir.iterdir()) == []


def test_pass_store_usernames_round_trip_through_the_cli(
    tmp_path: Path,
    isolated_env: object,
    docker_config_dir: Path,
    pass_env: dict[str, str],  # noqa: F811
) -> None:
    """credsStore regauth-pass: a dot-file username (which the Go helper keeps) logs in, shows in
    status, is read by the Go helper and goes on logout; a username the Go pass layout loses ('/')
    is refused in one line, with nothing stored (docs/credential-helpers.md)."""
    from tests.support.registry import start_registry_stack

    require(shutil.which("docker-credential-pass") is not None, "docker-credential-pass not on PATH")
    users = {".hidden": "pw-hidden", "%2F": "pw-percent", "org/robot": "pw-robot"}
    env = {**pass_env, "PATH": venv_path()}
    (docker_config_dir / "config.json").write_text('{"credsStore": "regauth-pass"}')
    helpers = Path(pass_env["PASSWORD_STORE_DIR"]) / "docker-credential-helpers"
    with start_registry_stack(tmp_path / "reg", auth="htpasswd", tls=False, users=users) as stack:
        folder = helpers / base64.urlsafe_b64encode(stack.host.encode()).decode()
        for user in (".hidden", "%2F"):
            args = ("login", "-u", user, "--password-stdin", stack.host)
            res = regauth(*args, stdin=users[user], config=docker_config_dir, env=env)
            assert (res.code, res.out) == (0, "Login Succeeded\n"), res.err
            assert [p.name for p in folder.iterdir()] == [f"{user}.gpg"]
            status = regauth("status", "--format", "json", stack.host, config=docker_config_dir, env=env)
            assert status.code == 0, status.err + status.out
            assert [(s["username"], s["result"]) for s in json.loads(status.out)] == [(user, "valid")]
            go = subprocess.run(
                ["docker-credential-pass", "get"],
                input=stack.host.encode(), env={**os.environ, **env}, capture_output=True, timeout=30,
            )  # fmt: skip
            assert json.loads(go.stdout) == {"ServerURL": stack.host, "Username": user, "Secret": users[user]}
            res = regauth("logout", stack.host, config=docker_config_dir, env=env)
            assert (res.code, res.out) == (0, f"Removing login credentials for {stack.host}\n"), res.err
            assert not folder.exists()
        args = ("login", "-u", "org/robot", "--password-stdin", stack.host)
        res = regauth(*args, stdin=users["org/robot"], config=docker_config_dir, env=env)
    assert (res.code, res.out) == (1, "")
    assert res.err.count("\n") == 1 and "Traceback" not in res.err
    assert 'username cannot be stored in pass: it contains "/"' in res.err
    assert "pw-robot" not in res.err
    assert not folder.exists()
    assert read_config(docker_config_dir) == {"credsStore": "regauth-pass", "auths": {}}
