"""Rule: the registry fixtures are real: Docker, skopeo and distribution itself accept them."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REGISTRY_USERS, IsolatedEnv
from tests.support.certs import make_token_signer
from tests.support.oci import make_oci_layout, skopeo_push
from tests.support.registry import RegistryStack, have_registry, start_registry_stack
from tests.support.require import require
from tests.support.tokenserver import TokenServer

__all__: list[str] = []

pytestmark = pytest.mark.real

ALL_FIXTURES = [
    "registry_basic_https",
    "registry_basic_http",
    "registry_token_https",
    "registry_token_http",
    "registry_token_norefresh",
]
REFRESHING = {"registry_token_https", "registry_token_http"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _ctx(stack: RegistryStack) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=str(stack.ca_path)) if stack.tls else None


def _get(url: str, stack: RegistryStack, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10, context=_ctx(stack)) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


def _post_form(url: str, stack: RegistryStack, form: dict[str, str]) -> tuple[int, bytes]:
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10, context=_ctx(stack)) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _fetch_token(stack: RegistryStack, user: str, password: str, scope: str) -> str:
    assert stack.token_server is not None
    query = urllib.parse.urlencode({"service": stack.token_server.service, "scope": scope})
    status, body, _ = _get(
        f"{stack.token_server.realm}?{query}",
        stack,
        {"Authorization": "Basic " + _b64(f"{user}:{password}")},
    )
    assert status == 200, body
    token: str = json.loads(body)["token"]
    return token


def _docker_login(
    stack: RegistryStack, config_dir: Path, path: str, password: str, home: Path
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "DOCKER_CONFIG": str(config_dir), "HOME": str(home)}
    return subprocess.run(
        ["docker", "login", "-u", stack.username, "--password-stdin", stack.host],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_docker_login_writes_expected_entry(
    fixture: str,
    request: pytest.FixtureRequest,
    docker_config_dir: Path,
    docker_only_path: str,
    tmp_path: Path,
) -> None:
    """Real ``docker login`` succeeds; Basic/no-refresh → ``auth``; refresh → identitytoken.

    docs/docker-cli.md.
    """
    stack: RegistryStack = request.getfixturevalue(fixture)
    if stack.token_server is not None and isinstance(stack.token_server, TokenServer):
        stack.token_server.clear_requests()
    proc = _docker_login(stack, docker_config_dir, docker_only_path, stack.password, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Login Succeeded"
    config = json.loads((docker_config_dir / "config.json").read_text())
    entry = config["auths"][stack.host]
    if fixture in REFRESHING:
        assert entry["auth"] == _b64(f"{stack.username}:")
        assert entry["identitytoken"]
        assert "WARNING! Your credentials are stored unencrypted" not in proc.stderr
        assert isinstance(stack.token_server, TokenServer)
        gets = [r for r in stack.token_server.requests if r["method"] == "GET"]
        assert gets and gets[0]["client_id"] == "docker" and gets[0]["basic_auth"]
        assert gets[0]["offline_token"] == "true" and gets[0]["scopes"] == []
        # The stored identity token really is a refresh token of this token server.
        status, body = _post_form(
            stack.token_server.realm,
            stack,
            {
                "grant_type": "refresh_token",
                "refresh_token": entry["identitytoken"],
                "client_id": "regauth-test",
                "service": stack.token_server.service,
            },
        )
        assert status == 200, body
    else:
        assert entry == {"auth": _b64(f"{stack.username}:{stack.password}")}
        assert "WARNING! Your credentials are stored unencrypted" in proc.stderr


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_docker_login_wrong_password_fails(
    fixture: str,
    request: pytest.FixtureRequest,
    docker_config_dir: Path,
    docker_only_path: str,
    tmp_path: Path,
) -> None:
    """Wrong password: exit 1, nothing written (docs/docker-cli.md)."""
    stack: RegistryStack = request.getfixturevalue(fixture)
    proc = _docker_login(stack, docker_config_dir, docker_only_path, "wrong-password", tmp_path)
    assert proc.returncode == 1
    config_file = docker_config_dir / "config.json"
    if config_file.exists():
        assert stack.host not in json.loads(config_file.read_text()).get("auths", {})
    if stack.auth == "token":
        assert proc.stderr.strip().splitlines()[-1].endswith("unauthorized: incorrect username or password")


@pytest.mark.parametrize("fixture", ["registry_token_https", "registry_token_http"])
def test_token_scope_is_enforced_by_registry(fixture: str, request: pytest.FixtureRequest) -> None:
    """In scope: 404 NAME_UNKNOWN; another repo: 401 insufficient_scope (docs/registry-auth.md)."""
    stack: RegistryStack = request.getfixturevalue(fixture)
    token = _fetch_token(stack, stack.username, stack.password, "repository:test/a:pull")
    bearer = {"Authorization": f"Bearer {token}"}
    status, body, _ = _get(f"{stack.url}/v2/test/a/tags/list", stack, bearer)
    assert status == 404 and b"NAME_UNKNOWN" in body
    status, _, headers = _get(f"{stack.url}/v2/test/b/tags/list", stack, bearer)
    assert status == 401
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]


def test_token_acl_limits_user_to_one_repo(registry_token_https: RegistryStack) -> None:
    """ACL: ``limited`` gets ``test/a`` only; another repo: ``actions: []``, 401 (docs/registry-auth.md)."""
    stack = registry_token_https
    password = REGISTRY_USERS["limited"]
    ok = _fetch_token(stack, "limited", password, "repository:test/a:pull")
    denied = _fetch_token(stack, "limited", password, "repository:test/b:pull")
    claims = json.loads(base64.urlsafe_b64decode(denied.split(".")[1] + "=="))
    assert claims["access"] == [{"type": "repository", "name": "test/b", "actions": []}]
    status, _, _ = _get(f"{stack.url}/v2/test/a/tags/list", stack, {"Authorization": f"Bearer {ok}"})
    assert status == 404
    status, _, _ = _get(f"{stack.url}/v2/test/b/tags/list", stack, {"Authorization": f"Bearer {denied}"})
    assert status == 401


@pytest.mark.parametrize("style", ["kid", "x5c", "both"])
def test_header_styles_accepted_by_registry(style: str, registry_token_https: RegistryStack) -> None:
    """distribution 2.8 accepts JOSE ``kid``, ``x5c`` or both (docs/registry-auth.md)."""
    stack = registry_token_https
    assert isinstance(stack.token_server, TokenServer) and stack.signer is not None
    token = stack.token_server.token(stack.username, [])
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    resigned = stack.signer.sign(claims, header_style=style)
    header = json.loads(base64.urlsafe_b64decode(resigned.split(".")[0] + "=="))
    assert ("kid" in header) == (style in ("kid", "both"))
    assert ("x5c" in header) == (style in ("x5c", "both"))
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", stack.signer.kid)
    status, _, _ = _get(f"{stack.url}/v2/", stack, {"Authorization": f"Bearer {resigned}"})
    assert status == 200


def test_untrusted_signer_rejected(registry_token_https: RegistryStack, tmp_path: Path) -> None:
    """A token signed by a key outside ``rootcertbundle`` → 401 (docs/registry-auth.md)."""
    stack = registry_token_https
    assert isinstance(stack.token_server, TokenServer)
    token = stack.token_server.token(stack.username, [])
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    forged = make_token_signer(tmp_path).sign(claims, header_style="both")
    status, _, _ = _get(f"{stack.url}/v2/", stack, {"Authorization": f"Bearer {forged}"})
    assert status == 401


def _skopeo_env(env: IsolatedEnv) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(env.home),
        "XDG_RUNTIME_DIR": str(env.xdg_runtime_dir),
        "XDG_CONFIG_HOME": str(env.xdg_config_home),
    }


def _tags(stack: RegistryStack, repo: str) -> list[str]:
    if stack.auth == "token":
        auth = "Bearer " + _fetch_token(stack, stack.username, stack.password, f"repository:{repo}:pull")
    else:
        auth = "Basic " + _b64(f"{stack.username}:{stack.password}")
    status, body, _ = _get(f"{stack.url}/v2/{repo}/tags/list", stack, {"Authorization": auth})
    assert status == 200, body
    tags: list[str] = json.loads(body)["tags"]
    return tags


@pytest.mark.parametrize("fixture", ["registry_basic_https", "registry_token_https"])
def test_skopeo_pushes_to_the_fixture_registries(
    fixture: str, request: pytest.FixtureRequest, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    """skopeo copy of a tiny OCI layout with an auth file and --dest-cert-dir works (docs/interop.md)."""
    require(shutil.which("skopeo") is not None, "skopeo is not installed")
    stack: RegistryStack = request.getfixturevalue(fixture)
    layout = make_oci_layout(tmp_path / "oci")
    repo = f"test/skopeo-{fixture.rsplit('_', 1)[-1]}-{os.urandom(3).hex()}"
    proc = skopeo_push(layout, stack, repo, env=_skopeo_env(isolated_env))
    assert proc.returncode == 0, proc.stderr
    assert _tags(stack, repo) == ["1"]


def test_skopeo_push_with_docker_identitytoken(
    registry_token_https: RegistryStack,
    isolated_env: IsolatedEnv,
    docker_only_path: str,
    tmp_path: Path,
) -> None:
    """docker login identitytoken → skopeo POSTs a chunked refresh_token form (docs/interop.md)."""
    require(shutil.which("skopeo") is not None, "skopeo is not installed")
    stack = registry_token_https
    assert isinstance(stack.token_server, TokenServer)
    login = _docker_login(stack, isolated_env.docker_config, docker_only_path, stack.password, tmp_path)
    assert login.returncode == 0, login.stderr
    stack.token_server.clear_requests()
    layout = make_oci_layout(tmp_path / "oci")
    repo = f"test/idtoken-{tmp_path.name[-6:]}".lower()
    authfile = isolated_env.docker_config / "config.json"
    proc = skopeo_push(layout, stack, repo, authfile=authfile, env=_skopeo_env(isolated_env))
    assert proc.returncode == 0, proc.stderr
    posts = [r for r in stack.token_server.requests if r["method"] == "POST"]
    assert posts, stack.token_server.requests
    assert all(p["grant_type"] == "refresh_token" and p["status"] == 200 for p in posts)
    assert any(p["chunked"] for p in posts)
    assert posts[0]["client_id"] == "containers/image"
    assert _tags(stack, repo) == ["1"]


def test_private_stack_password_change_and_revocation(tmp_path: Path) -> None:
    """htpasswd rewrite is picked up without restart; revoked refresh tokens are refused."""
    require(have_registry(), "docker-registry (distribution 2.8) is not installed")
    with start_registry_stack(tmp_path / "basic", auth="htpasswd", tls=False) as basic:
        old = {"Authorization": "Basic " + _b64("testuser:testpassword")}
        new = {"Authorization": "Basic " + _b64("testuser:changed")}
        assert _get(f"{basic.url}/v2/", basic, old)[0] == 200
        basic.registry.set_password("testuser", "changed")
        assert _get(f"{basic.url}/v2/", basic, old)[0] == 401
        assert _get(f"{basic.url}/v2/", basic, new)[0] == 200
        pid = basic.pid
        basic.registry.restart()
        assert basic.pid != pid
        assert _get(f"{basic.url}/v2/", basic, new)[0] == 200
        assert [e.status for e in basic.registry.access_log()][-1] == 200
    with start_registry_stack(tmp_path / "token", auth="token", tls=True) as stack:
        assert isinstance(stack.token_server, TokenServer)
        query = "?offline_token=true&client_id=t&service=" + stack.token_server.service
        status, body, _ = _get(
            stack.token_server.realm + query,
            stack,
            {"Authorization": "Basic " + _b64("testuser:testpassword")},
        )
        assert status == 200
        refresh = json.loads(body)["refresh_token"]
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": "t"}
        assert _post_form(stack.token_server.realm, stack, form)[0] == 200
        assert stack.token_server.revoke_refresh_tokens() >= 1
        status, body = _post_form(stack.token_server.realm, stack, form)
        assert status == 401
        stack.token_server.set_password("testuser", "changed")
        status, body, _ = _get(
            stack.token_server.realm,
            stack,
            {"Authorization": "Basic " + _b64("testuser:testpassword")},
        )
        assert status == 401
        assert json.loads(body) == {"details": "incorrect username or password"}


def test_token_server_process_mode(tmp_path: Path) -> None:
    """The separate-process token server issues tokens the real registry accepts; stop() ends it."""
    require(have_registry(), "docker-registry (distribution 2.8) is not installed")
    with start_registry_stack(tmp_path, auth="token", tls=True, token_process=True) as stack:
        server = stack.token_server
        assert server is not None and not isinstance(server, TokenServer)
        assert server.running and server.pid != stack.pid
        token = _fetch_token(stack, "testuser", "testpassword", "repository:test/p:pull")
        status, _, _ = _get(f"{stack.url}/v2/test/p/tags/list", stack, {"Authorization": f"Bearer {token}"})
        assert status == 404
        assert [r["status"] for r in server.requests()] == [200]
        server.set_password("testuser", "other")
        query = "?service=" + server.service
        status, _, _ = _get(
            server.realm + query, stack, {"Authorization": "Basic " + _b64("testuser:testpassword")}
        )
        assert status == 401
    assert not server.running
