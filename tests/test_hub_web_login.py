"""Docker Hub's web-based login, end to end, against a stand-in of Docker's tenant and Hub.

regauth (and, differentially, the Docker CLI 28) runs unmodified inside a private mount + network
namespace where login.docker.com, hub.docker.com, registry-1.docker.io and auth.docker.io are the
stand-in of tests/support/hubstandin.py (docs/hub-web-login.md, "Running a client against a local
stand-in"), on a pseudo-terminal so that the web flow is chosen.  Both clients use the file store
(a PATH holding only ``docker``).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cliutil import read_config
from tests.support.hubstandin import (
    CLIENT_ID,
    HubNamespace,
    HubScript,
    client_env,
    fingerprint,
    jwt_claims,
    running_stand_in,
)

pytestmark = pytest.mark.real

HUB = "https://index.docker.io/v1/"
ACCESS = "https://index.docker.io/v1/access-token"
REFRESH = "https://index.docker.io/v1/refresh-token"
TOKEN_KEYS = (ACCESS, REFRESH)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

SUCCESS_EXCHANGE = [
    ("POST", "login.docker.com", "/oauth/device/code"),
    ("POST", "login.docker.com", "/oauth/token"),
    ("POST", "hub.docker.com", "/v2/access-tokens/desktop-generate"),
    ("GET", "registry-1.docker.io", "/v2/"),
    ("GET", "auth.docker.io", "/token"),
    ("GET", "registry-1.docker.io", "/v2/"),
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubNamespace]:
    with running_stand_in(tmp_path_factory.mktemp("hub")) as hub:
        yield hub


def _env(tmp_path: Path, path: str, name: str) -> tuple[dict[str, str], Path]:
    return client_env(tmp_path, name, path)


def _regauth() -> list[str]:
    return [sys.executable, "-m", "regauth"]


def _entries(config: Path) -> dict[str, tuple[str, str]]:
    """auths key -> (username, secret), decoded (never printed by a passing test)."""
    out: dict[str, tuple[str, str]] = {}
    for key, entry in read_config(config).get("auths", {}).items():
        user, _, secret = base64.b64decode(entry.get("auth", "")).decode().partition(":")
        out[key] = (user, secret)
    return out


def _shape(config: Path) -> dict[str, tuple[str, str]]:
    """The entries with their secrets replaced by what kind of secret they are."""
    shapes: dict[str, tuple[str, str]] = {}
    for key, (user, secret) in _entries(config).items():
        if key == ACCESS:
            kind = "jwt:" + jwt_claims(secret)["https://hub.docker.com"]["username"]
        elif key == REFRESH:
            kind = "refresh.." + secret.partition("..")[2]
        elif secret.startswith("dckr_pat_"):
            kind = "pat"
        else:
            kind = "password"
        shapes[key] = (user, kind)
    return shapes


def _exchange(hub: HubNamespace) -> list[tuple[str, str, str]]:
    return [(r["method"], r["host"], r["path"]) for r in hub.requests()]


def _login(
    hub: HubNamespace, argv: list[str], env: dict[str, str], typed: tuple[bytes, ...] = ()
) -> tuple[int, str]:
    proc = hub.spawn(argv, env=env)
    for line in typed:
        proc.expect("Username" if not line.startswith(b"pw") else "Password", 30)
        proc.send(line)
    code, out = proc.wait(90)
    return code, _ANSI.sub("", out)


def test_success_stores_tokens_and_pat_like_docker(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str
) -> None:
    """docs/hub-web-login.md "Exchange", "Storage keys": three entries, all for the JWT's user."""
    hub.restart(HubScript(username="alice", token=["pending", "success"]))
    env, config = _env(tmp_path, docker_only_path, "ours")
    code, out = _login(hub, [*_regauth(), "login"], env)
    assert code == 0, out
    assert "USING WEB-BASED LOGIN" in out
    assert "Your one-time device confirmation code is: ABCD-EFGH" in out
    assert "submit your device code here: https://login.docker.com/activate\n" in out
    assert "Waiting for authentication in the browser" in out
    assert out.rstrip().endswith("Login Succeeded")
    assert _shape(config) == {
        HUB: ("alice", "pat"),
        ACCESS: ("alice", "jwt:alice"),
        REFRESH: ("alice", f"refresh..{CLIENT_ID}"),
    }
    requests = hub.requests()
    assert _exchange(hub) == SUCCESS_EXCHANGE[:2] + SUCCESS_EXCHANGE[1:]
    assert requests[0]["form"] == {
        "client_id": CLIENT_ID,
        "audience": "https://hub.docker.com",
        "scope": "openid offline_access",
    }
    assert requests[1]["form"]["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
    assert requests[3]["auth"] == "bearer" and requests[3]["content_type"] == "application/json"
    assert requests[5]["auth"] == "basic alice"
    assert requests[5]["query"]["account"] == "alice"
    # the secrets stored are the ones the stand-in handed out (compared by fingerprint only)
    entries = _entries(config)
    refresh, _, client = entries[REFRESH][1].partition("..")
    stored = {"access_token": entries[ACCESS][1], "refresh_token": refresh, "pat": entries[HUB][1]}
    assert client == CLIENT_ID
    assert {kind: [fingerprint(value)] for kind, value in stored.items()} == hub.issued()


def test_pending_and_slow_down_pace_the_polls(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str
) -> None:
    """RFC 8628 section 3.5: every interval while pending; slow_down adds 5 seconds for good."""
    hub.restart(HubScript(token=["pending", "slow_down", "pending", "success"], interval=1))
    env, config = _env(tmp_path, docker_only_path, "ours")
    code, out = _login(hub, [*_regauth(), "login"], env)
    assert code == 0, out
    polls = [r["t"] for r in hub.requests() if r["path"] == "/oauth/token"]
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(polls) == 4
    assert 0.9 <= gaps[0] < 3 and 5.9 <= gaps[1] < 9 and 5.9 <= gaps[2] < 9, gaps
    assert set(_entries(config)) == {HUB, ACCESS, REFRESH}


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        (["access_denied"], "access denied"),
        (["pending", "expired_token"], "expired"),
        (["garbage"], "without a JSON object"),
        (["500"], "500"),
    ],
)
def test_refusals_store_nothing(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str, answers: list[str], words: str
) -> None:
    hub.restart(HubScript(token=answers))
    env, config = _env(tmp_path, docker_only_path, "ours")
    code, out = _login(hub, [*_regauth(), "login"], env)
    assert code == 1, out
    assert words in _last_line(out), out
    assert _entries(config) == {}
    assert "/v2/access-tokens/desktop-generate" not in [r["path"] for r in hub.requests()]


def test_timeout_when_the_code_runs_out(hub: HubNamespace, tmp_path: Path, docker_only_path: str) -> None:
    hub.restart(HubScript(token=["pending"], interval=1, expires_in=3))
    env, config = _env(tmp_path, docker_only_path, "ours")
    code, out = _login(hub, [*_regauth(), "login"], env)
    assert code == 1, out
    assert "timed out waiting for device token" in out
    assert _entries(config) == {}


@pytest.mark.parametrize("device", ["500", "garbage", "no_user_code"])
def test_tenant_down_falls_back_to_the_prompt(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str, device: str
) -> None:
    """docs/hub-web-login.md "When Docker uses it": no usable device code -> the Username prompt."""
    hub.restart(HubScript(device=device, username="bob", passwords={"bob": "pw-bob"}))
    env, config = _env(tmp_path, docker_only_path, "ours")
    code, out = _login(hub, [*_regauth(), "login"], env, (b"bob\n", b"pw-bob\n"))
    assert code == 0, out
    assert "Failed to start web-based login - falling back to command line login..." in out
    assert _shape(config) == {HUB: ("bob", "password")}


@pytest.mark.parametrize(
    ("script", "words"),
    [
        (HubScript(accept_pat=False), "incorrect username or password"),
        (HubScript(pat_status=500), "unexpected response from Hub: 500"),
    ],
)
def test_pat_failure_leaves_nothing(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str, script: HubScript, words: str
) -> None:
    """Unlike Docker, which keeps both tokens after a failed PAT check (docs/hub-web-login.md)."""
    hub.restart(script)
    env, config = _env(tmp_path, docker_only_path, "ours")
    code, out = _login(hub, [*_regauth(), "login"], env)
    assert code == 1, out
    assert words in out
    assert _entries(config) == {}
    assert not (config / "config.json").exists()  # the login made it: it goes too


def test_ctrl_c_while_waiting_leaves_nothing(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str
) -> None:
    hub.restart(HubScript(token=["pending"], interval=1))
    env, config = _env(tmp_path, docker_only_path, "ours")
    proc = hub.spawn([*_regauth(), "login"], env=env)
    proc.expect("Waiting for authentication", 30)
    proc.signal(signal.SIGINT)
    code, out = proc.wait(30)
    assert code != 0
    assert "login canceled" in out
    assert _entries(config) == {}


def test_ctrl_c_after_the_tokens_were_stored_leaves_nothing(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str
) -> None:
    """Interrupted while Hub mints the PAT: the two tokens already stored are erased again."""
    hub.restart(HubScript(pat_delay=20))
    env, config = _env(tmp_path, docker_only_path, "ours")
    proc = hub.spawn([*_regauth(), "login"], env=env)
    deadline = time.monotonic() + 30
    while ACCESS not in read_config(config).get("auths", {}):
        assert time.monotonic() < deadline and proc.proc.poll() is None, proc.output
        time.sleep(0.05)
    proc.signal(signal.SIGINT)
    code, out = proc.wait(30)
    assert code == 130, out
    assert "login canceled" in out
    assert _entries(config) == {}
    assert not (config / "config.json").exists()


def test_tenant_unreachable_falls_back_like_docker(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str
) -> None:
    """Nothing listens at login.docker.com: both clients say so and show the Username prompt."""
    hub.stop_server()
    for name, argv in (("docker", ["docker", "login"]), ("regauth", [*_regauth(), "login"])):
        env, config = _env(tmp_path, docker_only_path, name)
        proc = hub.spawn(argv, env=env)
        proc.expect("Username", 30)
        proc.signal(signal.SIGINT)
        _, out = proc.wait(30)
        out = _ANSI.sub("", out)
        assert "Failed to start web-based login - falling back to command line login..." in out, name
        assert "WEB-BASED LOGIN" not in out, name
        assert _entries(config) == {}, name


@pytest.mark.parametrize("display", [True, False])
def test_enter_opens_the_browser_where_there_is_a_display(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str, display: bool
) -> None:
    """ENTER opens ``verification_uri_complete`` ($BROWSER here); without a display nothing starts
    (a terminal browser would take over the terminal), and the login goes on either way."""
    hub.restart(HubScript(token=["pending", "pending", "success"]))
    env, config = _env(tmp_path, docker_only_path, "ours")
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    env["BROWSER"] = f"{browser} %s"
    if display:
        env["DISPLAY"] = ":99"
    proc = hub.spawn([*_regauth(), "login"], env=env)
    proc.expect("Waiting for authentication", 30)
    proc.send(b"\n")
    code, out = proc.wait(60)
    assert code == 0, out
    if display:
        assert opened.read_text().strip() == "https://login.docker.com/activate?user_code=ABCD-EFGH"
    else:
        assert not opened.exists()
    assert set(_entries(config)) == {HUB, ACCESS, REFRESH}


def test_no_terminal_never_starts_it(hub: HubNamespace, tmp_path: Path, docker_only_path: str) -> None:
    hub.restart(HubScript())
    env, _config = _env(tmp_path, docker_only_path, "ours")
    done = hub.run([*_regauth(), "login"], env=env, input=b"")
    assert done.returncode == 1
    assert b"non-TTY" in done.stderr
    assert hub.requests() == []
    done = hub.run([*_regauth(), "login", "--web"], env=env, input=b"")
    assert done.returncode == 1 and hub.requests() == []


def test_no_web_asks_for_the_username(hub: HubNamespace, tmp_path: Path, docker_only_path: str) -> None:
    hub.restart(HubScript(username="bob", passwords={"bob": "pw-bob"}))
    env, config = _env(tmp_path, docker_only_path, "ours")
    code, out = _login(hub, [*_regauth(), "login", "--no-web"], env, (b"bob\n", b"pw-bob\n"))
    assert code == 0, out
    assert "WEB-BASED" not in out
    assert next(r["host"] for r in hub.requests()) == "registry-1.docker.io"
    assert _shape(config) == {HUB: ("bob", "password")}


# ------------------------------------------------------------------------------------------------
# Differential: Docker CLI 28 and regauth against the same stand-in script
# ------------------------------------------------------------------------------------------------


def _comparable(requests: list[dict[str, Any]]) -> list[tuple[str, str, str, dict[str, str], dict[str, str]]]:
    """Method, host, path, form and query; secret values are fingerprints, which differ per run."""

    def mask(fields: dict[str, str]) -> dict[str, str]:
        return {k: ("<secret>" if str(v).startswith("sha256:") else v) for k, v in fields.items()}

    return [(r["method"], r["host"], r["path"], mask(r["form"]), mask(r["query"])) for r in requests]


DIFFERENTIAL = {
    "success": (HubScript(username="carol", token=["pending", "success"]), ()),
    "denied": (HubScript(token=["access_denied"]), ()),
    "expired": (HubScript(token=["pending", "expired_token"]), ()),
    "token-garbage": (HubScript(token=["garbage"]), ()),
    "token-500": (HubScript(token=["500"]), ()),
    "timeout": (HubScript(token=["pending"], expires_in=3), ()),
    "slow-down": (HubScript(token=["pending", "slow_down", "success"]), ()),
    "pat-refused": (HubScript(accept_pat=False), ()),
    "hub-500": (HubScript(pat_status=500), ()),
    "tenant-down": (
        HubScript(device="500", username="bob", passwords={"bob": "pw-bob"}),
        (b"bob\n", b"pw-bob\n"),
    ),
}


def _last_line(out: str) -> str:
    return [line for line in out.splitlines() if line.strip()][-1]


@pytest.mark.parametrize("case", list(DIFFERENTIAL))
def test_same_exchange_and_entries_as_docker(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str, case: str
) -> None:
    """Same script, same requests (method, host, path, form, query) and entries, except where
    regauth differs on purpose: slow_down is honoured (Docker 28 gives up on it), and a failure
    after the tokens were stored leaves nothing behind (Docker keeps both tokens)."""
    script, typed = DIFFERENTIAL[case]
    results = {}
    for name, argv in (("docker", ["docker", "login"]), ("regauth", [*_regauth(), "login"])):
        hub.restart(script)
        env, config = _env(tmp_path, docker_only_path, name)
        code, out = _login(hub, argv, env, typed)
        results[name] = (code, _last_line(out), _comparable(hub.requests()), _shape(config))
    d_code, d_last, d_requests, d_shape = results["docker"]
    r_code, r_last, r_requests, r_shape = results["regauth"]
    if case == "slow-down":
        # Docker stops at slow_down ("failed waiting for authentication: You are polling faster
        # than allowed."); regauth waits 5 seconds more and logs in (RFC 8628 section 3.5).
        assert d_code == 1 and d_last.startswith("failed waiting for authentication:")
        assert r_code == 0 and r_requests[: len(d_requests)] == d_requests
        assert d_shape == {} and set(r_shape) == {HUB, *TOKEN_KEYS}
        return
    if case != "timeout":  # when the lifetime runs out depends on each client's clock
        assert r_requests == d_requests
    assert (r_code == 0) == (d_code == 0), (d_last, r_last)
    if case in ("denied", "expired", "token-garbage", "token-500", "timeout"):
        prefix = "failed waiting for authentication:"
        assert d_last.startswith(prefix) and r_last.startswith(prefix), (d_last, r_last)
    if case in ("denied", "expired", "timeout"):
        assert r_last.endswith(d_last.rpartition(": ")[2]), (d_last, r_last)  # the tenant's words
    if case == "hub-500":
        assert r_last == d_last == "unexpected response from Hub: 500 Internal Server Error"
    if case in ("pat-refused", "hub-500"):
        # Docker keeps the two tokens after the PAT failed; regauth leaves nothing behind.
        assert set(d_shape) == set(TOKEN_KEYS) and r_shape == {}
    else:
        assert r_shape == d_shape


def test_ctrl_c_like_docker(hub: HubNamespace, tmp_path: Path, docker_only_path: str) -> None:
    """Both say ``login canceled`` and store nothing; Docker exits 1, regauth 130 (its exit code
    for an interrupt)."""
    codes = {}
    for name, argv in (("docker", ["docker", "login"]), ("regauth", [*_regauth(), "login"])):
        hub.restart(HubScript(token=["pending"]))
        env, config = _env(tmp_path, docker_only_path, name)
        proc = hub.spawn(argv, env=env)
        proc.expect("Waiting for authentication", 30)
        proc.signal(signal.SIGINT)
        codes[name], out = proc.wait(30)
        assert _last_line(_ANSI.sub("", out)) == "login canceled"
        assert _entries(config) == {}
    assert codes == {"docker": 1, "regauth": 130}


@pytest.mark.parametrize(
    ("setting", "case"),
    [
        ({"credsStore": "jsonstore"}, "success"),
        ({"credHelpers": {HUB: "jsonstore"}}, "success"),
        ({"credsStore": "jsonstore"}, "pat-refused"),
    ],
)
def test_helper_store_like_docker(
    hub: HubNamespace, tmp_path: Path, docker_only_path: str, setting: dict[str, Any], case: str
) -> None:
    """The tokens go to the store the Hub key uses, with an ``{}`` marker each in ``auths``; the
    helper sees the same stores from both clients (docs/hub-web-login.md "Storage keys"), except
    that regauth erases the tokens again when the PAT is refused."""
    from tests.test_hub_tokens import HELPER

    bindir = tmp_path / "helper-bin"
    bindir.mkdir()
    script = bindir / "docker-credential-jsonstore"
    script.write_text(HELPER.format(python=sys.executable))
    script.chmod(0o755)
    results = {}
    for name, argv in (("docker", ["docker", "login"]), ("regauth", [*_regauth(), "login"])):
        hub.restart(HubScript(username="dave", accept_pat=case != "pat-refused"))
        env, config = _env(tmp_path, f"{bindir}:{docker_only_path}", name)
        store = tmp_path / name / "jsonstore.json"
        env["JSONSTORE"] = str(store)
        (config / "config.json").write_text(json.dumps({"auths": {}, **setting}))
        code, out = _login(hub, argv, env)
        assert code == 0 or case != "success", out
        held = json.loads(store.read_text()) if store.exists() else {}
        calls = Path(f"{store}.log").read_text().splitlines() if Path(f"{store}.log").exists() else []
        results[name] = (
            code,
            read_config(config),
            sorted(held),
            [c for c in calls if c.split(" ")[0] in ("store", "erase")],
        )
    d_code, d_config, d_held, d_calls = results["docker"]
    r_code, r_config, r_held, r_calls = results["regauth"]
    if case == "success":
        assert d_code == r_code == 0
        assert r_config == d_config
        assert r_held == d_held == sorted([HUB, ACCESS, REFRESH])
        assert r_calls == d_calls
    else:
        assert d_code == r_code == 1
        assert d_held == sorted(TOKEN_KEYS) and r_held == []  # Docker keeps the tokens
        assert r_config == {"auths": {}, **setting}
        assert r_calls == [*d_calls, f"erase {ACCESS}", f"erase {REFRESH}"]
