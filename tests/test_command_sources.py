"""Rule: command sources run real programs (small Python scripts written by each test) and serve what
they print through the lookup chain, the CLI, the library and docker-credential-regauth-command.

The scripts print a token, a JSON credential, fail with stderr, or hang with a child in their process
group; each counts its runs in a file, so the cache's hits and refreshes are counted, not assumed.
The real registry fixture (htpasswd over HTTPS) accepts the minted password, so ``regauth status``
validates a minted credential end to end.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import regauth
from regauth.config.settings import CredentialCommand, Settings, load_settings
from regauth.credentials import Credentials
from regauth.errors import ConfigError, StoreError
from regauth.registry.address import HUB_KEY
from regauth.sources import cache, command, dynamic
from regauth.stores.lookup import MINTED, listed, lookup
from tests.cliutil import regauth as run_regauth
from tests.cliutil import venv_path
from tests.conftest import IsolatedEnv
from tests.support.registry import RegistryStack

HELPER = "docker-credential-regauth-command"
HOST = "eu.gcr.example"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Env:
    settings: Path
    cache: Path
    bin: Path
    docker_config: Path

    def write(self, *rules: dict[str, object]) -> None:
        self.settings.write_text(json.dumps({"credential-commands": list(rules)}))

    def rules(self) -> tuple[CredentialCommand, ...]:
        return load_settings().credential_commands


@pytest.fixture
def env(isolated_env: IsolatedEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    settings = tmp_path / "settings.json"
    cache_dir = tmp_path / "cache"
    programs = tmp_path / "bin"
    programs.mkdir()
    monkeypatch.setenv("REGAUTH_SETTINGS", str(settings))
    monkeypatch.setenv("REGAUTH_CACHE_DIR", str(cache_dir))
    return Env(settings, cache_dir, programs, isolated_env.docker_config)


def script(env: Env, name: str, body: str) -> list[str]:
    """A Python program counting its runs in ``<name>.runs``; the command line that runs it."""
    path = env.bin / f"{name}.py"
    counter = env.bin / f"{name}.runs"
    path.write_text(
        "import os, pathlib, subprocess, sys, time\n"
        f"runs = pathlib.Path({str(counter)!r})\n"
        "runs.write_text(str(int(runs.read_text()) + 1 if runs.exists() else 1))\n" + body
    )
    return [sys.executable, str(path)]


def runs(env: Env, name: str) -> int:
    counter = env.bin / f"{name}.runs"
    return int(counter.read_text()) if counter.exists() else 0


def printing(env: Env, name: str, text: str) -> list[str]:
    return script(env, name, f"sys.stdout.write({text!r})\n")


def rule(**fields: object) -> CredentialCommand:
    return CredentialCommand(**{"registry": HOST, "command": ("x",), "host": HOST, **fields})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The setting
# ---------------------------------------------------------------------------------------------


def test_settings_entries_read(env: Env) -> None:
    env.settings.write_text(
        json.dumps(
            {
                "insecure-registries": ["a:5000"],
                "credential-commands": [
                    {
                        "registry": "*.GCR.io",
                        "command": ["gcloud", "auth", "print-access-token"],
                        "username": "oauth2accesstoken",
                        "lifetime": 3600,
                        "timeout": 20,
                    },
                    {
                        "registry": "MyReg.azurecr.io",
                        "format": "json",
                        "command": "az acr login --name 'my reg' --expose-token --output json",
                    },
                    {"registry": "docker.io", "command": ["hub-token"], "username": "me"},
                    {"registry": "[::1]:5000", "command": ["v6"], "username": "me", "timeout": 0.5},
                ],
            }
        )
    )
    settings = load_settings()
    assert settings.insecure_registries == ("a:5000",)
    gcr, acr, hub, six = settings.credential_commands
    assert (gcr.host, gcr.wildcard, gcr.format, gcr.lifetime, gcr.timeout) == (
        "gcr.io",
        True,
        "token",
        3600,
        20.0,
    )
    assert gcr.command == ("gcloud", "auth", "print-access-token")
    assert (acr.host, acr.wildcard, acr.format, acr.lifetime, acr.timeout) == (
        "myreg.azurecr.io",
        False,
        "json",
        None,
        30.0,
    )
    assert acr.command == ("az", "acr", "login", "--name", "my reg", "--expose-token", "--output", "json")
    assert hub.host == HUB_KEY
    assert (six.host, six.timeout) == ("[::1]:5000", 0.5)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("x", "entry 1: must be an object"),
        ({"command": ["a"], "username": "u"}, '"registry" must be a non-empty string'),
        ({"registry": "*", "command": ["a"], "username": "u"}, "must be host[:port] or *.domain[:port]"),
        ({"registry": "a.*.b", "command": ["a"], "username": "u"}, "must be host[:port] or *.domain[:port]"),
        ({"registry": "r.example/ns", "command": ["a"], "username": "u"}, "must be host[:port]"),
        ({"registry": "https://r.example", "command": ["a"], "username": "u"}, "must be host[:port]"),
        ({"registry": "r.example:99999", "command": ["a"], "username": "u"}, "bad port"),
        ({"registry": "*.docker.io", "command": ["a"], "username": "u"}, "Docker Hub has no sub-domains"),
        ({"registry": "r", "command": [], "username": "u"}, '"command" names no program'),
        ({"registry": "r", "command": "", "username": "u"}, '"command" names no program'),
        ({"registry": "r", "command": "a 'b", "username": "u"}, '"command": No closing quotation'),
        ({"registry": "r", "command": ["a", 1], "username": "u"}, '"command" must be a list of strings'),
        ({"registry": "r", "command": ["a"]}, '"username" is required with "format": "token"'),
        ({"registry": "r", "command": ["a"], "format": "yaml"}, '"format" must be one of token, json'),
        (
            {"registry": "r", "command": ["a"], "format": "json", "lifetime": 0},
            '"lifetime" must be a positive',
        ),
        (
            {"registry": "r", "command": ["a"], "format": "json", "lifetime": 1.5},
            '"lifetime" must be a positive',
        ),
        (
            {"registry": "r", "command": ["a"], "format": "json", "lifetime": True},
            '"lifetime" must be a positive',
        ),
        ({"registry": "r", "command": ["a"], "format": "json", "timeout": 0}, '"timeout" must be a number'),
        ({"registry": "r", "command": ["a"], "format": "json", "timeout": "9"}, '"timeout" must be a number'),
        ({"registry": "r", "command": ["a"], "format": "json", "shell": True}, "unknown field 'shell'"),
    ],
)
def test_settings_entry_refused_in_one_line(env: Env, entry: object, problem: str) -> None:
    env.settings.write_text(json.dumps({"credential-commands": [entry]}))
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{env.settings}: ") and problem in message and "\n" not in message


def test_settings_refuses_a_pattern_given_twice_and_a_non_list(env: Env) -> None:
    env.write(
        {"registry": "R.example", "command": ["a"], "username": "u"},
        {"registry": "r.example", "command": ["b"], "username": "u"},
    )
    with pytest.raises(ConfigError, match=r"entry 2: registry 'r\.example' is given twice"):
        load_settings()
    env.settings.write_text(json.dumps({"credential-commands": {"r": "a"}}))
    with pytest.raises(ConfigError, match='"credential-commands" must be a list of objects'):
        load_settings()


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("r.example", "r.example", True),
        ("R.Example", "r.EXAMPLE", True),
        ("r.example", "r.example:5000", False),
        ("r.example:5000", "r.example:5000", True),
        ("r.example:5000", "r.example", False),
        ("r.example:5000", "r.example:5001", False),
        ("r.example", "x.r.example", False),
        ("*.gcr.io", "eu.gcr.io", True),
        ("*.gcr.io", "a.b.gcr.io", True),
        ("*.gcr.io", "EU.GCR.IO", True),
        ("*.gcr.io", "gcr.io", False),
        ("*.gcr.io", "eugcr.io", False),
        ("*.gcr.io", "eu.gcr.io:443", False),
        ("*.gcr.io:5000", "eu.gcr.io:5000", True),
        ("*.gcr.io:5000", "eu.gcr.io", False),
        ("docker.io", HUB_KEY, True),
        ("docker.io", "docker.io.example", False),
        ("[::1]:5000", "[::1]:5000", True),
        ("[::1]", "[::1]", True),
        ("[::1]", "[::1]:5000", False),
    ],
)
def test_pattern_matching(env: Env, pattern: str, key: str, expected: bool) -> None:
    username = "u"
    env.write({"registry": pattern, "command": ["a"], "username": username})
    (parsed,) = env.rules()
    assert command.matches(parsed, key) is expected


def test_first_matching_entry_wins(env: Env) -> None:
    env.write(
        {"registry": "eu.gcr.io", "command": ["exact"], "username": "u"},
        {"registry": "*.gcr.io", "command": ["wild"], "username": "u"},
    )
    rules = env.rules()
    assert command.matching(rules, "eu.gcr.io") is rules[0]
    assert command.matching(rules, "us.gcr.io") is rules[1]
    assert command.matching(rules, "quay.io") is None


# ---------------------------------------------------------------------------------------------
# What a command prints
# ---------------------------------------------------------------------------------------------


def test_token_output() -> None:
    creds = command.parse_output(rule(username="oauth2accesstoken"), b"  ya29.tok\n", T0)
    assert (creds.username, creds.password, creds.expires_at) == ("oauth2accesstoken", "ya29.tok", None)
    timed = command.parse_output(rule(username="u", lifetime=3600), b"tok\n", T0)
    assert timed.expires_at == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        (b"", "printed no token"),
        (b" \n", "printed no token"),
        (b"SECRET-A\nSECRET-B\n", "printed more than one line"),
        (b"SECRET\x07", "control characters"),
        (b"\xffSECRET", "not UTF-8"),
    ],
)
def test_token_output_refused_without_showing_it(output: bytes, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        command.parse_output(rule(username="u"), output, T0)
    assert problem in str(info.value) and "SECRET" not in str(info.value)


def _json(data: object, **fields: object) -> Credentials:
    return command.parse_output(rule(format="json", **fields), json.dumps(data).encode(), T0)


def test_json_output_shapes() -> None:
    plain = _json({"username": "u", "password": "p", "expires_at": "2030-01-01T13:00:00Z"})
    assert (plain.username, plain.password, plain.expires_at) == ("u", "p", T0 + timedelta(hours=1))
    helper = _json({"ServerURL": "r", "Username": "u", "Secret": "s"})  # a credential helper's get
    assert (helper.username, helper.password, helper.expires_at) == ("u", "s", None)
    acr = _json({"accessToken": "eyJ.acr", "loginServer": "myreg.azurecr.io"})
    assert (acr.username, acr.password) == (command.ACR_USERNAME, "eyJ.acr")
    assert acr.username == "00000000-0000-0000-0000-000000000000"
    named = _json({"accessToken": "eyJ.acr", "loginServer": "myreg.azurecr.io"}, username="me")
    assert named.username == "me"
    token = _json({"token": "t", "expiresAt": int((T0 + timedelta(minutes=30)).timestamp())}, username="u")
    assert (token.password, token.expires_at) == ("t", T0 + timedelta(minutes=30))
    millis = _json(
        {"token": "t", "expiry": int((T0 + timedelta(minutes=30)).timestamp()) * 1000}, username="u"
    )
    assert millis.expires_at == T0 + timedelta(minutes=30)
    # az account get-access-token: expires_on (seconds since the epoch) before expiresOn (local time)
    az = _json(
        {
            "accessToken": "a",
            "expiresOn": "1999-01-01 00:00:00.000000",
            "expires_on": int((T0 + timedelta(hours=1)).timestamp()),
        },
        username="u",
    )
    assert az.expires_at == T0 + timedelta(hours=1)
    local = _json({"password": "p", "expiresOn": "2030-01-01 12:00:00.1234567"}, username="u")
    assert local.expires_at == datetime(2030, 1, 1, 12, 0, 0, 123456).astimezone().astimezone(timezone.utc)
    offset = _json({"password": "p", "expiration": "2030-01-01T14:00:00+0200"}, username="u")
    assert offset.expires_at == T0
    capped = _json({"password": "p", "expires_at": "2030-01-01T18:00:00Z"}, username="u", lifetime=60)
    assert capped.expires_at == T0 + timedelta(seconds=60)
    earlier = _json({"password": "p", "expires_at": "2030-01-01T12:00:30Z"}, username="u", lifetime=60)
    assert earlier.expires_at == T0 + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("not json SECRET", "printed no JSON object"),
        (["SECRET"], "JSON that is not an object"),
        ({"username": "u", "password": 5}, "without a secret"),
        ({"username": "u", "password": ""}, "without a secret"),
        ({"password": "SECRET"}, "without a username"),
        (
            {"username": "u", "password": "SECRET", "expires_at": "tomorrow"},
            "neither seconds since the epoch",
        ),
        ({"username": "u", "password": "SECRET", "expires_at": "2030-02-30T00:00:00Z"}, "no valid time"),
        ({"username": "u", "password": "SECRET", "expires_at": 1e300}, "out of range"),
    ],
)
def test_json_output_refused_without_showing_it(data: object, problem: str) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(ValueError) as info:
        command.parse_output(rule(format="json"), text.encode(), T0)
    assert problem in str(info.value) and "SECRET" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# Running the command, caching what it printed
# ---------------------------------------------------------------------------------------------


def test_mint_runs_the_command_once_then_serves_the_cache(env: Env) -> None:
    secret = "tok-" + secrets.token_hex(8)
    env.write(
        {
            "registry": "*.gcr.example",
            "command": printing(env, "gcloud", secret + "\n"),
            "username": "oauth2accesstoken",
            "lifetime": 3600,
        }
    )
    (gcr,) = env.rules()
    first = command.mint(gcr, HOST, now=T0)
    assert (first.username, first.password, first.server) == ("oauth2accesstoken", secret, HOST)
    assert first.expires_at == T0 + timedelta(hours=1)
    assert runs(env, "gcloud") == 1
    again = command.mint(gcr, HOST, now=T0 + timedelta(minutes=54))
    assert (again.password, again.expires_at, runs(env, "gcloud")) == (secret, first.expires_at, 1)
    command.mint(gcr, "us.gcr.example", now=T0)  # another registry: its own run and cache entry
    assert runs(env, "gcloud") == 2
    # within 5 minutes of its expiry the cached token is not reused: the command runs again
    fresh = command.mint(gcr, HOST, now=T0 + timedelta(minutes=56))
    assert fresh.expires_at == T0 + timedelta(minutes=116) and runs(env, "gcloud") == 3
    # the cache: 0700 directory, 0600 files, the secret and nothing of the command's other output
    directory = env.cache / "credentials"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(directory.iterdir())
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert set(command.cached(env.rules())) == {HOST, "us.gcr.example"}


def test_changed_command_mints_afresh_and_short_lifetime_margin(env: Env) -> None:
    env.write({"registry": HOST, "command": printing(env, "one", "a"), "username": "u", "lifetime": 60})
    (one,) = env.rules()
    assert command.mint(one, HOST, now=T0).password == "a"
    # a lifetime of 60 s keeps the credential for 45 s (a quarter of it as margin), not 0
    assert command.mint(one, HOST, now=T0 + timedelta(seconds=44)).password == "a"
    assert runs(env, "one") == 1
    command.mint(one, HOST, now=T0 + timedelta(seconds=46))
    assert runs(env, "one") == 2
    env.write({"registry": HOST, "command": printing(env, "two", "b"), "username": "u", "lifetime": 60})
    (two,) = env.rules()
    assert command.mint(two, HOST, now=T0 + timedelta(seconds=47)).password == "b"
    assert runs(env, "two") == 1


def test_without_expiry_nothing_is_cached(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.write({"registry": HOST, "command": printing(env, "forever", "tok"), "username": "u"})
    (forever,) = env.rules()
    for _ in range(2):
        assert command.mint(forever, HOST).expires_at is None
    assert runs(env, "forever") == 2 and not (env.cache / "credentials").exists()
    monkeypatch.setenv("REGAUTH_CACHE_DIR", "")  # caching off: every lookup runs the command
    env.write(
        {"registry": HOST, "command": printing(env, "nocache", "tok"), "username": "u", "lifetime": 600}
    )
    (nocache,) = env.rules()
    command.mint(nocache, HOST)
    command.mint(nocache, HOST)
    assert runs(env, "nocache") == 2


def test_json_command_expiry_from_its_output(env: Env) -> None:
    expiry = (datetime.now(timezone.utc) + timedelta(hours=3)).replace(microsecond=0)
    output = json.dumps(
        {
            "accessToken": "acr-tok",
            "loginServer": "myreg.azurecr.example",
            "expiresOn": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    env.write({"registry": "myreg.azurecr.example", "command": printing(env, "az", output), "format": "json"})
    (az,) = env.rules()
    creds = command.mint(az, "myreg.azurecr.example")
    assert (creds.username, creds.password, creds.expires_at) == (command.ACR_USERNAME, "acr-tok", expiry)
    assert command.mint(az, "myreg.azurecr.example").password == "acr-tok" and runs(env, "az") == 1


def test_already_expired_output_is_refused(env: Env) -> None:
    output = json.dumps({"username": "u", "password": "SECRET-OLD", "expires_at": "2001-01-01T00:00:00Z"})
    env.write({"registry": HOST, "command": printing(env, "old", output), "format": "json"})
    with pytest.raises(StoreError) as info:
        command.mint(env.rules()[0], HOST)
    assert "expired at 2001-01-01T00:00:00Z" in str(info.value) and "SECRET" not in str(info.value)


def test_the_command_gets_the_registry_closed_stdin_and_no_shell(env: Env) -> None:
    body = (
        "data = sys.stdin.read()\n"
        "sys.stdout.write(os.environ['REGAUTH_REGISTRY'] + '-' + str(len(data)) + '-' + sys.argv[1])\n"
    )
    env.write(
        {"registry": "*.gcr.example", "command": [*script(env, "env", body), "$HOME;|*"], "username": "u"}
    )
    (rule_,) = env.rules()
    assert command.mint(rule_, HOST).password == f"{HOST}-0-$HOME;|*"


def test_failure_shows_stderr_never_stdout(env: Env) -> None:
    body = (
        "print('SECRET-ON-STDOUT')\n"
        "sys.stderr.write('\\nERROR: (gcloud.auth.print-access-token) '"
        " + 'You do not currently have an active account.\\n'"
        " + 'Please run:\\n  gcloud auth login\\nline four\\n')\n"
        "sys.exit(3)\n"
    )
    env.write({"registry": HOST, "command": script(env, "fail", body), "username": "u", "lifetime": 60})
    with pytest.raises(StoreError) as info:
        command.mint(env.rules()[0], HOST)
    message = str(info.value)
    assert message.startswith(f"credential command {sys.executable!r} for {HOST} failed (exit status 3): ")
    assert "You do not currently have an active account. | Please run: | gcloud auth login" in message
    assert "line four" not in message and "SECRET" not in message and "\n" not in message
    assert not (env.cache / "credentials").exists()


def test_missing_program(env: Env) -> None:
    env.write({"registry": HOST, "command": ["regauth-test-no-such-program", "x"], "username": "u"})
    with pytest.raises(StoreError, match=f"'regauth-test-no-such-program' for {HOST}: program not found"):
        command.mint(env.rules()[0], HOST)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie waiting for init is gone too
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_timeout_kills_the_command_and_its_children(env: Env) -> None:
    pids = env.bin / "pids"
    body = (
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"pathlib.Path({str(pids)!r}).write_text(f'{{os.getpid()}} {{child.pid}}')\n"
        "print('SECRET-EARLY', flush=True)\n"
        "time.sleep(60)\n"
    )
    env.write({"registry": HOST, "command": script(env, "hang", body), "username": "u", "timeout": 1.5})
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        command.mint(env.rules()[0], HOST)
    elapsed = time.monotonic() - started
    assert (
        str(info.value)
        == f"credential command {sys.executable!r} for {HOST}: timed out after 1.5s; it was stopped"
    )
    assert 1.5 <= elapsed < 10
    deadline = time.monotonic() + 10
    ids = [int(x) for x in pids.read_text().split()]
    while not all(_gone(pid) for pid in ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in ids)


# ---------------------------------------------------------------------------------------------
# The one lookup chain, the library, the CLI
# ---------------------------------------------------------------------------------------------


def test_lookup_chain_order_and_library(env: Env, isolated_env: IsolatedEnv) -> None:
    secret = "minted-" + secrets.token_hex(8)
    env.write(
        {
            "registry": "*.gcr.example",
            "command": printing(env, "gcloud", secret),
            "username": "oauth2accesstoken",
            "lifetime": 3600,
        }
    )
    creds = regauth.get_credentials(HOST)
    assert creds is not None and (creds.username, creds.password, creds.server) == (
        "oauth2accesstoken",
        secret,
        HOST,
    )
    assert creds.expires_at is not None and secret not in repr(creds)
    found = lookup(f"{HOST}/project/image:tag")
    assert found is not None and found.credentials.password == secret
    assert found.source == f"credential-commands in {env.settings}"
    assert regauth.get_credentials("quay.example") is None
    assert runs(env, "gcloud") == 1  # the second lookup came from the cache
    # config.json comes first: a login stored there wins, and the command does not run
    (env.docker_config / "config.json").write_text(
        json.dumps({"auths": {"us.gcr.example": {"auth": "dXNlcjpzdG9yZWQ="}}})
    )
    stored = regauth.get_credentials("us.gcr.example")
    assert stored is not None and stored.password == "stored" and runs(env, "gcloud") == 1
    # podman's auth files come after: the minted credential wins over them
    podman = isolated_env.xdg_runtime_dir / "containers"
    podman.mkdir()
    (podman / "auth.json").write_text(json.dumps({"auths": {"ap.gcr.example": {"auth": "dXNlcjpwb2RtYW4="}}}))
    ap = regauth.get_credentials("ap.gcr.example")
    assert ap is not None and ap.password == secret and runs(env, "gcloud") == 2
    assert dynamic.minted("quay.example") is None


def test_broken_settings_fail_a_lookup_that_reaches_them(env: Env) -> None:
    env.settings.write_text('{"credential-commands": [{"registry": 5}]}')
    with pytest.raises(ConfigError, match="entry 1"):
        regauth.get_credentials(HOST)
    (env.docker_config / "config.json").write_text(json.dumps({"auths": {HOST: {"auth": "dTpw"}}}))
    assert regauth.get_credentials(HOST) is not None  # found before the settings are read
    entries = [e for e in listed() if e.store == MINTED]
    assert [(e.key, e.source) for e in entries] == [("*", str(env.settings))] and "entry 1" in entries[
        0
    ].error


def test_listing_never_mints(env: Env) -> None:
    env.write(
        {
            "registry": "*.gcr.example",
            "command": printing(env, "gcloud", "g"),
            "username": "g-user",
            "lifetime": 3600,
        },
        {
            "registry": "Myreg.azurecr.example",
            "command": printing(env, "az", '{"accessToken": "a", "loginServer": "myreg.azurecr.example"}'),
            "format": "json",
            "lifetime": 10800,
        },
    )
    where = f"credential-commands in {env.settings}"
    before = [(e.key, e.username, e.store, e.source, e.known) for e in listed()]
    # the exact registry is listed, the wildcard is not (no host to name); nothing ran
    assert before == [("myreg.azurecr.example", "", MINTED, where, None)]
    assert runs(env, "az") == runs(env, "gcloud") == 0
    regauth.get_credentials(HOST)
    after = {e.key: e for e in listed() if e.store == MINTED}
    assert set(after) == {HOST, "myreg.azurecr.example"}
    assert after[HOST].username == "g-user" and after[HOST].known is not None
    assert runs(env, "gcloud") == 1 and runs(env, "az") == 0
    # asking a listed entry for its credentials mints them (what status and export do)
    az = after["myreg.azurecr.example"].credentials()
    assert az is not None and az.username == command.ACR_USERNAME and runs(env, "az") == 1
    ls = run_regauth("list", "--format", "json")
    assert ls.code == 0, ls.err
    rows = {row["server"]: row for row in json.loads(ls.out)}
    assert rows[HOST]["store"] == MINTED and rows[HOST]["source"] == where and rows[HOST]["expires_at"]
    assert runs(env, "gcloud") == 1 and runs(env, "az") == 1


def test_cli_get_debug_and_failure(env: Env) -> None:
    secret = "cli-" + secrets.token_hex(8)
    env.write(
        {"registry": HOST, "command": printing(env, "tok", secret), "username": "u", "lifetime": 600},
        {
            "registry": "bad.example",
            "username": "u",
            "command": script(
                env, "bad", f"print({secret!r})\nsys.stderr.write('denied by policy\\n')\nsys.exit(1)\n"
            ),
        },
    )
    got = run_regauth("--debug", "get", HOST)
    assert got.code == 0, got.err
    assert json.loads(got.out) == {"ServerURL": HOST, "Username": "u", "Secret": secret}
    assert f"credential command for {HOST}" in got.err and "running" in got.err and secret not in got.err
    cached = run_regauth("--debug", "get", HOST)
    assert json.loads(cached.out)["Secret"] == secret and "cached" in cached.err and secret not in cached.err
    assert runs(env, "tok") == 1
    bad = run_regauth("--debug", "get", "bad.example")
    assert bad.code == 1 and secret not in bad.out + bad.err
    assert bad.err.strip().splitlines()[-1].endswith("failed (exit status 1): denied by policy")
    logout = run_regauth("logout", HOST)  # logout never runs the command
    assert secret not in logout.out + logout.err and runs(env, "tok") == 1


def test_status_validates_a_minted_credential_against_a_real_registry(
    env: Env, registry_basic_https: RegistryStack
) -> None:
    stack = registry_basic_https
    env.write(
        {
            "registry": stack.host,
            "command": printing(env, "reg", stack.password),
            "username": stack.username,
            "lifetime": 3600,
        }
    )
    ok = run_regauth("status", "--format", "json", stack.host)
    assert ok.code == 0, ok.out + ok.err
    (row,) = json.loads(ok.out)
    assert (row["server"], row["store"], row["result"]) == (stack.host, MINTED, "valid")
    assert row["expires_at"] and stack.password not in ok.out + ok.err
    assert runs(env, "reg") == 1
    env.write(
        {
            "registry": stack.host,
            "command": printing(env, "wrong", "not-the-password"),
            "username": stack.username,
            "lifetime": 3600,
        }
    )
    bad = run_regauth("status", stack.host)
    assert bad.code == 1 and "invalid" in bad.out, bad.out + bad.err


# ---------------------------------------------------------------------------------------------
# docker-credential-regauth-command
# ---------------------------------------------------------------------------------------------


def helper(action: str, stdin: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, PATH=venv_path())
    return subprocess.run([HELPER, action], input=stdin, capture_output=True, text=True, env=full, timeout=60)


def test_helper_protocol(env: Env) -> None:
    secret = "helper-" + secrets.token_hex(8)
    env.write(
        {
            "registry": "*.gcr.example",
            "command": printing(env, "gcloud", secret),
            "username": "oauth2accesstoken",
            "lifetime": 3600,
        }
    )
    got = helper("get", f"https://{HOST}\n")
    assert got.returncode == 0, got.stdout + got.stderr
    assert json.loads(got.stdout) == {
        "ServerURL": f"https://{HOST}",
        "Username": "oauth2accesstoken",
        "Secret": secret,
    }
    assert secret not in got.stderr
    assert helper("get", HOST).returncode == 0 and runs(env, "gcloud") == 1
    listing = helper("list", "")
    assert (listing.returncode, json.loads(listing.stdout)) == (0, {HOST: "oauth2accesstoken"})
    missing = helper("get", "quay.example")
    assert (missing.returncode, missing.stdout) == (1, "credentials not found in native keychain\n")
    for action, request in (
        ("store", json.dumps({"ServerURL": HOST, "Username": "u", "Secret": "s"})),
        ("erase", HOST),
    ):
        refused = helper(action, request)
        assert (refused.returncode, refused.stdout) == (1, "not implemented\n")
    assert cache.load(command.source_name(env.rules()[0]), HOST) is not None  # erase left the cache alone


def test_helper_failures_are_one_line(env: Env) -> None:
    env.write(
        {
            "registry": HOST,
            "username": "u",
            "command": script(
                env, "fail", "print('SECRET-OUT')\nsys.stderr.write('quota exceeded\\n')\nsys.exit(2)\n"
            ),
        }
    )
    failed = helper("get", HOST)
    assert failed.returncode == 1 and "SECRET" not in failed.stdout + failed.stderr
    assert (
        failed.stdout.endswith("failed (exit status 2): quota exceeded\n") and failed.stdout.count("\n") == 1
    )
    env.settings.write_text("{")
    broken = helper("get", HOST)
    assert broken.returncode == 1 and broken.stdout.startswith(f"{env.settings}: invalid JSON")


def test_settings_object_passes_through(env: Env) -> None:
    given = Settings(
        credential_commands=(
            CredentialCommand(
                registry=HOST, command=tuple(printing(env, "given", "g")), username="u", host=HOST
            ),
        )
    )
    creds = dynamic.minted(HOST, settings=given)
    assert creds is not None and creds.password == "g" and dynamic.source_of(HOST, settings=given)
