"""Docker Hub's web-login tokens beside the Hub login (docs/hub-web-login.md, "Storage keys", "Logout").

config.json is seeded as Docker 28 leaves it after a web login: the access token under
``https://index.docker.io/v1/access-token``, ``REFRESH..CLIENT_ID`` under ``.../refresh-token`` and
the personal access token under the Hub key, in the file store or in a credential helper (a small
JSON-file helper of this test that logs each call's action and key, never a secret).  ``list``,
``status``, ``get``, ``export`` and ``logout --all`` show one Hub login, of kind ``personal access
token (web login)`` with the access token's expiry; the token keys are never rows, never exported,
never sent to a registry.  ``logout`` erases all three and revokes the refresh token; the revoke is
checked against the Hub stand-in (tests/support/hubstandin.py) in a private namespace, beside
Docker's own ``docker logout``.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from regauth.api.export import kubernetes_secret
from regauth.api.hubtokens import REVOKE_FAILED
from regauth.api.inventory import collect_credentials, list_logins, logout_all, status
from regauth.api.logout import logout
from regauth.api.lookup import get_credentials
from regauth.registry.address import HUB_KEY
from regauth.registry.hubtokens import (
    ACCESS_TOKEN_KEY,
    AUTH_WEB_LOGIN,
    CLIENT_ID,
    REFRESH_TOKEN_KEY,
    jwt_expiry,
    jwt_username,
    parse_refresh,
    refresh_secret,
    revoke_request,
)
from tests.cliutil import b64, read_config, regauth
from tests.support.hubstandin import client_env

USER = "hubuser"
PAT = "dckr_pat_0123456789abcdefghijklmnopq"
REFRESH = "v1.MRefreshTokenValue-abc_DEF"
EXPIRES = datetime(2031, 5, 4, 3, 2, 1, tzinfo=timezone.utc)
OTHER = "r.example:5000"

HELPER = """#!{python}
import json, os, sys
path = os.environ["JSONSTORE"]
action = sys.argv[1]
data = json.load(open(path)) if os.path.exists(path) else {{}}
raw = sys.stdin.read()
key = raw.strip() if action in ("get", "erase") else ""
if action == "store":
    key = json.loads(raw)["ServerURL"]
with open(path + ".log", "a") as log:
    log.write(action + " " + key + "\\n")
if action == "list":
    print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
elif action == "get":
    if key not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": key, "Username": data[key]["Username"], "Secret": data[key]["Secret"]}}))
elif action == "store":
    entry = json.loads(raw)
    data[key] = {{"Username": entry["Username"], "Secret": entry["Secret"]}}
elif action == "erase":
    if key not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    del data[key]
if action in ("store", "erase"):
    json.dump(data, open(path, "w"))
"""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_jwt(username: str = USER, expires: datetime = EXPIRES) -> str:
    """An access token shaped as the tenant's: JWT with ``exp`` and the Hub claim (unsigned)."""
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = {"exp": int(expires.timestamp()), "https://hub.docker.com": {"username": username, "uuid": "u"}}
    return f"{header}.{_b64url(json.dumps(claims).encode())}.{_b64url(b'signature')}"


ACCESS = access_jwt()
SECRETS = (ACCESS, REFRESH, PAT)


def web_entries(refresh: str = refresh_secret(REFRESH)) -> dict[str, tuple[str, str]]:
    """key -> (username, secret), as Docker 28 stores a web login."""
    return {ACCESS_TOKEN_KEY: (USER, ACCESS), REFRESH_TOKEN_KEY: (USER, refresh), HUB_KEY: (USER, PAT)}


def seed_file(config: Path, entries: dict[str, tuple[str, str]] | None = None, **extra: Any) -> None:
    auths = {k: {"auth": b64(f"{u}:{s}")} for k, (u, s) in (entries or web_entries()).items()}
    auths[OTHER] = {"auth": b64("bob:bobpw")}
    (config / "config.json").write_text(json.dumps({"auths": auths, **extra}, indent="\t"))


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``docker-credential-jsonstore`` on PATH; returns its store file (``.log`` beside it)."""
    bindir = tmp_path / "helper-bin"
    bindir.mkdir()
    script = bindir / "docker-credential-jsonstore"
    script.write_text(HELPER.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    store = tmp_path / "jsonstore.json"
    monkeypatch.setenv("JSONSTORE", str(store))
    return store


def seed_helper(config: Path, store: Path, *, cred_helpers: bool = False, **entries_args: str) -> None:
    """Docker's native store: secrets in the helper, an ``{}`` marker per key in ``auths``."""
    entries = web_entries(**entries_args)
    store.write_text(json.dumps({k: {"Username": u, "Secret": s} for k, (u, s) in entries.items()}))
    auths: dict[str, Any] = {k: {} for k in entries}
    auths[OTHER] = {"auth": b64("bob:bobpw")}
    doc: dict[str, Any] = {"auths": auths}
    if cred_helpers:
        doc["credHelpers"] = {HUB_KEY: "jsonstore"}
    else:
        doc["credsStore"] = "jsonstore"
    (config / "config.json").write_text(json.dumps(doc, indent="\t"))


def seed_store(store: str, config: Path, helper: Path) -> None:
    """Docker's web-login entries in the file store, or behind ``helper`` as credsStore or credHelpers."""
    if store == "file":
        seed_file(config)
    else:
        seed_helper(config, helper, cred_helpers=store == "credHelpers")


def helper_calls(store: Path) -> list[str]:
    log = Path(f"{store}.log")
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Requests go to a proxy that refuses connections: nothing leaves the machine, and fails fast."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# ------------------------------------------------------------------------------ the tokens


def test_refresh_secret_forms() -> None:
    parsed = parse_refresh(refresh_secret(REFRESH))
    assert parsed is not None and (parsed.token, parsed.client_id) == (REFRESH, CLIENT_ID)
    assert REFRESH not in repr(parsed)
    for other in (REFRESH, "a..b..c", "..x", "x..", "", "dckr_pat_x"):
        assert parse_refresh(other) is None


def test_access_token_claims_read_unverified() -> None:
    assert jwt_expiry(ACCESS) == EXPIRES
    assert jwt_username(ACCESS) == USER
    for garbage in ("", "a.b", "a.!!!.c", f"a.{_b64url(b'[1]')}.c", f"a.{_b64url(b'{}')}.c"):
        assert jwt_expiry(garbage) is None
        assert jwt_username(garbage) == ""
    no_exp = f"a.{_b64url(json.dumps({'exp': 'soon'}).encode())}.c"
    assert jwt_expiry(no_exp) is None


def test_revoke_request_is_dockers_form() -> None:
    parsed = parse_refresh(refresh_secret(REFRESH))
    assert parsed is not None
    request = revoke_request(parsed)
    assert (request.method, request.url) == ("POST", "https://login.docker.com/oauth/revoke")
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"
    assert request.body == f"client_id={CLIENT_ID}&token={REFRESH}".encode()
    assert REFRESH not in repr(request)


# ------------------------------------------------------------------------------ item 3: one Hub login


def _hub_rows(rows: list[Any]) -> list[Any]:
    return [row for row in rows if "docker.io" in row.server]


def test_list_file_store_shows_the_hub_login_once(isolated_env: Any) -> None:
    seed_file(isolated_env.docker_config)
    logins = list_logins()
    assert [x.server for x in logins] == [HUB_KEY, OTHER]
    hub = logins[0]
    assert (hub.username, hub.auth, hub.store, hub.expires_at) == (USER, AUTH_WEB_LOGIN, "file", EXPIRES)
    assert logins[1].auth == "password" and logins[1].expires_at is None
    table = regauth("list")
    assert table.code == 0, table.err
    assert "access-token" not in table.out and "refresh-token" not in table.out
    assert "personal access token (web login)" in table.out and "expires in" in table.out
    listed = json.loads(regauth("list", "--format", "json").out)
    assert [(x["server"], x["auth"], x["expires_at"]) for x in listed] == [
        (HUB_KEY, AUTH_WEB_LOGIN, "2031-05-04T03:02:01Z"),
        (OTHER, "password", None),
    ]
    assert_no_secret(table.out + table.err)


def test_list_through_the_hub_helper(isolated_env: Any, helper: Path) -> None:
    seed_helper(isolated_env.docker_config, helper)
    hub = _hub_rows(list_logins())
    assert [(x.server, x.auth, x.store, x.expires_at) for x in hub] == [
        (HUB_KEY, AUTH_WEB_LOGIN, "jsonstore", EXPIRES)
    ]
    # list names keys; the access token alone is read (for its expiry), the others never
    assert helper_calls(helper) == ["list ", f"get {ACCESS_TOKEN_KEY}"]


def test_list_through_credhelpers_finds_the_tokens_by_their_markers(isolated_env: Any, helper: Path) -> None:
    seed_helper(isolated_env.docker_config, helper, cred_helpers=True)
    hub = _hub_rows(list_logins())
    assert [(x.server, x.auth, x.store, x.expires_at) for x in hub] == [
        (HUB_KEY, AUTH_WEB_LOGIN, "jsonstore", EXPIRES)
    ]
    assert f"get {REFRESH_TOKEN_KEY}" not in helper_calls(helper)


def test_a_password_login_to_hub_stays_a_password(isolated_env: Any) -> None:
    seed_file(isolated_env.docker_config, {HUB_KEY: (USER, "hunter2")})
    hub = _hub_rows(list_logins())
    assert [(x.auth, x.expires_at) for x in hub] == [("password", None)]


def test_tokens_left_without_a_login_are_no_login(isolated_env: Any) -> None:
    """Docker leaves both tokens when the PAT fails verification: no Hub login then."""
    entries = web_entries()
    del entries[HUB_KEY]
    seed_file(isolated_env.docker_config, entries)
    assert [x.server for x in list_logins()] == [OTHER]
    assert get_credentials(HUB_KEY) is None
    run = regauth("get", "docker.io")
    assert run.code == 1 and "not logged in" in run.err
    assert_no_secret(run.out + run.err)
    assert list(collect_credentials()) == [OTHER]


def test_get_returns_the_personal_access_token(isolated_env: Any) -> None:
    seed_file(isolated_env.docker_config)
    run = regauth("get", "docker.io")
    assert run.code == 0, run.err
    assert json.loads(run.out) == {"ServerURL": HUB_KEY, "Username": USER, "Secret": PAT}


@pytest.mark.parametrize("store", ["file", "helper"])
def test_status_checks_the_hub_login_once(
    store: str, isolated_env: Any, helper: Path, no_network: None
) -> None:
    seed_store(store, isolated_env.docker_config, helper)
    results = status(timeout=5)
    assert [r.login.server for r in results] == [HUB_KEY, OTHER]
    hub = results[0]
    assert (hub.login.auth, hub.login.expires_at) == (AUTH_WEB_LOGIN, EXPIRES)
    assert hub.result == "unreachable"  # the PAT was tried (through the refusing proxy), nothing else
    assert status(["docker.io"], timeout=5)[0].login.server == HUB_KEY
    assert len(status(["docker.io"], timeout=5)) == 1
    if store == "helper":
        assert f"get {REFRESH_TOKEN_KEY}" not in helper_calls(helper)


@pytest.mark.parametrize("store", ["file", "helper"])
def test_export_carries_the_personal_access_token_only(store: str, isolated_env: Any, helper: Path) -> None:
    seed_store(store, isolated_env.docker_config, helper)
    logins = collect_credentials()
    assert sorted(logins) == sorted([HUB_KEY, OTHER])
    assert logins[HUB_KEY].password == PAT and logins[HUB_KEY].expires_at is None
    secret = kubernetes_secret("pull", {HUB_KEY: logins[HUB_KEY]})
    data = json.loads(base64.b64decode(secret.split(".dockerconfigjson: ")[1].split()[0]))
    assert list(data["auths"]) == [HUB_KEY] and data["auths"][HUB_KEY]["password"] == PAT
    run = regauth("export", "kubernetes", "pull")
    assert run.code == 0, run.err
    assert "access-token" not in run.out and "refresh-token" not in run.out
    if store == "helper":
        assert not any("token" in call.split(" ", 1)[1] for call in helper_calls(helper))


# ------------------------------------------------------------------------------ item 2: logout


@pytest.mark.parametrize("store", ["file", "helper", "credHelpers"])
def test_logout_erases_all_three_and_warns_when_revoke_fails(
    store: str, isolated_env: Any, helper: Path, no_network: None
) -> None:
    config = isolated_env.docker_config
    seed_store(store, config, helper)
    outcome = logout()
    assert outcome.ok
    assert len(outcome.warnings) == 1 and outcome.warnings[0].startswith(f"{REVOKE_FAILED}: ")
    assert_no_secret(repr(outcome))
    assert list(read_config(config)["auths"]) == [OTHER]
    if store != "file":
        assert json.loads(helper.read_text()) == {}


def test_logout_cli_exits_0_with_a_warning(isolated_env: Any, no_network: None) -> None:
    seed_file(isolated_env.docker_config)
    run = regauth("logout", "docker.io")
    assert run.code == 0
    assert run.out == f"Removing login credentials for {HUB_KEY}\n"
    assert run.err.startswith(f"WARNING: {REVOKE_FAILED}: ") and run.err.count("\n") == 1
    assert_no_secret(run.out + run.err)


def test_logout_erases_a_refresh_token_it_cannot_revoke(isolated_env: Any, no_network: None) -> None:
    """A refresh token not stored as TOKEN..CLIENT_ID is erased but never sent anywhere."""
    seed_file(isolated_env.docker_config, web_entries(refresh=REFRESH))
    outcome = logout(HUB_KEY)
    assert outcome.ok and outcome.warnings == ()
    assert list(read_config(isolated_env.docker_config)["auths"]) == [OTHER]


def test_logout_of_another_registry_keeps_the_hub_tokens(isolated_env: Any, helper: Path) -> None:
    seed_helper(isolated_env.docker_config, helper)
    assert logout(OTHER).removed == (f"file: {OTHER}",)
    assert sorted(json.loads(helper.read_text())) == sorted(web_entries())
    assert not any("token" in call for call in helper_calls(helper))


def test_logout_keeps_the_tokens_when_the_helper_cannot_read_them(isolated_env: Any, helper: Path) -> None:
    seed_helper(isolated_env.docker_config, helper)
    helper.write_text("not json")  # every helper call now fails
    outcome = logout()
    assert not outcome.ok and outcome.warnings == ()
    assert REFRESH_TOKEN_KEY in read_config(isolated_env.docker_config)["auths"]


@pytest.mark.parametrize("store", ["file", "helper"])
def test_logout_all_removes_the_tokens_without_listing_them(
    store: str, isolated_env: Any, helper: Path, no_network: None
) -> None:
    config = isolated_env.docker_config
    seed_store(store, config, helper)
    run = regauth("logout", "--all")
    assert run.code == 0, run.err
    assert "access-token" not in run.out and "refresh-token" not in run.out
    assert f"Removing login credentials for {HUB_KEY}" in run.out
    assert run.err.startswith(f"WARNING: {REVOKE_FAILED}: ")
    assert read_config(config).get("auths") == {}
    if store == "helper":
        assert json.loads(helper.read_text()) == {}
    assert logout_all().removed == ()


def test_logout_all_erases_tokens_the_helper_lists_without_markers(
    isolated_env: Any, helper: Path, no_network: None
) -> None:
    """Tokens a credsStore helper holds with no ``auths`` marker still go (and the refresh token is
    still revoked): ``logout --all`` asks the helper's list anyway."""
    config = isolated_env.docker_config
    seed_helper(config, helper)
    cfg = read_config(config)
    for key in (ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY):
        del cfg["auths"][key]
    (config / "config.json").write_text(json.dumps(cfg))
    outcome = logout_all()
    assert outcome.ok and json.loads(helper.read_text()) == {}
    assert len(outcome.warnings) == 1 and outcome.warnings[0].startswith(f"{REVOKE_FAILED}: ")
    assert not any("token" in line for line in outcome.removed)


def test_expiry_in_the_past_still_validates_the_pat(isolated_env: Any, no_network: None) -> None:
    """The access token's expiry is shown; the PAT it came with does not expire with it."""
    entries = web_entries()
    entries[ACCESS_TOKEN_KEY] = (USER, access_jwt(expires=datetime.now(timezone.utc) - timedelta(hours=1)))
    seed_file(isolated_env.docker_config, entries)
    hub = status(["docker.io"], timeout=5)[0]
    assert hub.result == "unreachable" and hub.login.expires_at is not None
    assert collect_credentials()[HUB_KEY].expires_at is None


# ------------------------------------------------------------------------------ revoke at the stand-in


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The tenant stand-in under login.docker.com etc., in a private namespace (tests/support/netns.py)."""
    from tests.support.hubstandin import running_stand_in

    with running_stand_in(tmp_path_factory.mktemp("hub-tokens")) as stand_in:
        yield stand_in


def _logout(hub: Any, client: str, tmp_path: Path, docker_only_path: str) -> tuple[Any, Path]:
    env, config = client_env(tmp_path, client, docker_only_path)
    seed_file(config)
    ours = [sys.executable, "-m", "regauth"]
    argv = [os.path.join(docker_only_path, "docker")] if client == "docker" else ours
    return hub.run([*argv, "logout"], env=env, timeout=60), config


def _exchange(hub: Any) -> list[tuple[Any, ...]]:
    return [(r["method"], r["host"], r["path"], r["form"], r["content_type"]) for r in hub.requests()]


@pytest.mark.real
def test_logout_revokes_with_dockers_form_fields_like_docker(
    hub: Any, tmp_path: Path, docker_only_path: str
) -> None:
    """Differential: Docker 28 and regauth log out of the same seeded web login."""
    from tests.support.hubstandin import HubScript, fingerprint

    seen: dict[str, Any] = {}
    for client in ("docker", "regauth"):
        hub.restart(HubScript())
        done, config = _logout(hub, client, tmp_path, docker_only_path)
        seen[client] = (done, _exchange(hub), read_config(config), hub.requests())
    revoke = [
        ("POST", "login.docker.com", "/oauth/revoke", {"client_id": CLIENT_ID, "token": fingerprint(REFRESH)},
         "application/x-www-form-urlencoded")
    ]
    for client, (done, exchange, cfg, _) in seen.items():
        assert done.returncode == 0, (client, done.stderr[-300:])
        assert done.stdout.decode() == f"Removing login credentials for {HUB_KEY}\n", client
        assert exchange == revoke, client  # exactly one request, exactly Docker's form fields
        assert list(cfg["auths"]) == [OTHER], client
    assert seen["regauth"][2] == seen["docker"][2]  # the same file left behind
    assert_no_secret((seen["regauth"][0].stdout + seen["regauth"][0].stderr).decode())
    # the one differential row: each client names itself in User-Agent
    agents = {client: requests[0]["user_agent"] for client, (*_, requests) in seen.items()}
    assert agents["docker"].startswith("docker-cli:28") and agents["regauth"].startswith("regauth/")


@pytest.mark.real
@pytest.mark.parametrize("failure", ["500", "down"])
def test_revoke_failure_after_the_erase_warns_and_exits_0(
    failure: str, hub: Any, tmp_path: Path, docker_only_path: str
) -> None:
    """Both clients: the three entries are gone, a WARNING line, exit 0."""
    from tests.support.hubstandin import HubScript

    outcomes: dict[str, tuple[Any, dict[str, Any], int]] = {}
    for client in ("docker", "regauth"):
        hub.restart(HubScript(revoke_status=500))
        if failure == "down":
            hub._stop_server()  # nothing listens on login.docker.com:443 any more
        done, config = _logout(hub, client, tmp_path, docker_only_path)
        requests = len(hub.requests()) if failure == "500" else 0
        outcomes[client] = (done, read_config(config), requests)
    hub.restart(HubScript())
    for client, (done, cfg, requests) in outcomes.items():
        err = done.stderr.decode()
        assert done.returncode == 0, (client, err[-300:])
        assert list(cfg["auths"]) == [OTHER], client
        warned = [line for line in err.splitlines() if line.startswith(f"WARNING: {REVOKE_FAILED}: ")]
        assert len(warned) == 1, (client, err)
        assert requests == (1 if failure == "500" else 0), client
    err = outcomes["regauth"][0].stderr.decode()
    assert err.count("\n") == 1 and err.startswith(f"WARNING: {REVOKE_FAILED}: ")
    assert_no_secret(err)


@pytest.mark.real
def test_status_sends_only_the_pat_to_the_registry(hub: Any, tmp_path: Path, docker_only_path: str) -> None:
    from tests.support.hubstandin import HubScript

    hub.restart(HubScript(passwords={USER: PAT}))
    env, config = client_env(tmp_path, "status", docker_only_path)
    seed_file(config, {k: v for k, v in web_entries().items()})
    cfg = read_config(config)
    del cfg["auths"][OTHER]
    (config / "config.json").write_text(json.dumps(cfg))
    done = hub.run([sys.executable, "-m", "regauth", "status", "--format", "json"], env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-300:]
    rows = json.loads(done.stdout)
    assert [(r["server"], r["auth"], r["result"], r["expires_at"]) for r in rows] == [
        (HUB_KEY, AUTH_WEB_LOGIN, "valid", "2031-05-04T03:02:01Z")
    ]
    logins = [(r["host"], r["path"], r["auth"]) for r in hub.requests() if r["auth"] is not None]
    assert logins == [
        ("auth.docker.io", "/token", f"basic {USER}"),
        ("registry-1.docker.io", "/v2/", "bearer"),
    ]
    hub.restart(HubScript())


@pytest.mark.real
@pytest.mark.parametrize("case", ["credsStore", "credHelpers", "refresh without client id"])
def test_logout_differential_rows(case: str, hub: Any, tmp_path: Path, docker_only_path: str) -> None:
    """Docker 28 and regauth against the same stand-in: helper-held web logins end the same (one revoke,
    the helper emptied, the same config.json); a refresh token without ``..CLIENT_ID`` is revoked by
    neither, and Docker leaves both token entries behind where regauth erases them (the issue's rule)."""
    from tests.support.hubstandin import HubScript

    helper_dir = tmp_path / "helper-bin"
    helper_dir.mkdir()
    script = helper_dir / "docker-credential-jsonstore"
    script.write_text(HELPER.format(python=sys.executable))
    script.chmod(0o755)
    ends: dict[str, tuple[Any, dict[str, Any], list[Any], list[str]]] = {}
    for client in ("docker", "regauth"):
        env, config = client_env(tmp_path, client, f"{helper_dir}{os.pathsep}{docker_only_path}")
        store = tmp_path / client / "store.json"
        env["JSONSTORE"] = str(store)
        if case == "refresh without client id":
            seed_file(config, web_entries(refresh=REFRESH))
        else:
            seed_helper(config, store, cred_helpers=case == "credHelpers")
        hub.restart(HubScript())
        ours = [sys.executable, "-m", "regauth"]
        argv = [os.path.join(docker_only_path, "docker")] if client == "docker" else ours
        done = hub.run([*argv, "logout"], env=env, timeout=60)
        assert done.returncode == 0 and done.stderr == b"", (client, done.stderr[-300:])
        ends[client] = (done, read_config(config), _exchange(hub), helper_calls(store))
    (_, docker_cfg, docker_requests, docker_calls), (_, our_cfg, our_requests, our_calls) = ends.values()
    if case == "refresh without client id":
        assert docker_requests == our_requests == []
        assert sorted(docker_cfg["auths"]) == sorted([ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY, OTHER])
        assert list(our_cfg["auths"]) == [OTHER]
        return
    assert our_requests == docker_requests and len(our_requests) == 1
    assert our_cfg == docker_cfg and list(our_cfg["auths"]) == [OTHER]
    for calls in (docker_calls, our_calls):  # the refresh token read once, first; both tokens erased
        assert [c for c in calls if c.startswith("get ")] == [f"get {REFRESH_TOKEN_KEY}"] == calls[:1]
        assert {f"erase {ACCESS_TOKEN_KEY}", f"erase {REFRESH_TOKEN_KEY}", f"erase {HUB_KEY}"} <= set(calls)
    for client in ends:
        assert json.loads((tmp_path / client / "store.json").read_text()) == {}
