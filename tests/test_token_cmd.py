"""``regauth token`` and ``regauth.token`` against real registries.

The fixture token registries restrict user ``limited`` to ``test/a`` (conftest TOKEN_ACL); a token
scoped to ``repository:test/a:pull`` must be accepted there and refused for ``test/b`` (outside
the granted scope → 401 ``insufficient_scope``, docs/registry-auth.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

import regauth
from tests.cliutil import read_config
from tests.cliutil import regauth as run
from tests.support.registry import RegistryStack

LIMITED = ("limited", "limitedpassword")
SCOPE_A = "repository:test/a:pull"


def _login(stack: RegistryStack, config: Path, user: str, password: str) -> None:
    regauth.login(stack.host, user, password, config=config)  # the CLI login is tested elsewhere


def _verify(stack: RegistryStack) -> str | bool:
    return str(stack.ca_path) if stack.ca_path is not None else True


def _get(stack: RegistryStack, path: str, token: str) -> requests.Response:
    return requests.get(
        f"{stack.url}{path}", headers={"Authorization": f"Bearer {token}"}, verify=_verify(stack), timeout=15
    )


def _assert_scoped_to_test_a(stack: RegistryStack, token: str) -> None:
    allowed = _get(stack, "/v2/test/a/tags/list", token)
    assert allowed.status_code in (200, 404), allowed.text
    if allowed.status_code == 404:
        assert allowed.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    denied = _get(stack, "/v2/test/b/tags/list", token)
    assert denied.status_code == 401
    assert "insufficient_scope" in denied.headers.get("WWW-Authenticate", "")


def _token_requests(stack: RegistryStack) -> list[dict[str, Any]]:
    assert stack.token_server is not None
    return list(stack.token_server.requests)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["registry_token_https", "registry_token_http"])
def test_token_from_identity_token_login(
    name: str, request: pytest.FixtureRequest, isolated_env: object, docker_config_dir: Path
) -> None:
    """Identity-token login → refresh grant; header format; accepted for test/a, refused for test/b.

    Run with ``-D``: the debug log shows requests, never the token, identity token or password.
    """
    stack: RegistryStack = request.getfixturevalue(name)
    _login(stack, docker_config_dir, *LIMITED)
    entry = read_config(docker_config_dir)["auths"][stack.host]
    assert entry.get("identitytoken")
    before = len(_token_requests(stack))

    res = run("-D", "token", "--scope", SCOPE_A, stack.host, config=docker_config_dir)
    assert res.code == 0, res.err
    prefix = "Authorization: Bearer "
    assert res.out.startswith(prefix) and res.out.endswith("\n") and res.out.count("\n") == 1
    token = res.out[len(prefix) :].strip()
    assert "DEBUG" in res.err
    for secret in (token, entry["identitytoken"], LIMITED[1]):
        assert secret not in res.err
    assert entry["identitytoken"] not in res.out
    _assert_scoped_to_test_a(stack, token)

    made = _token_requests(stack)[before:]
    assert len(made) == 1
    assert made[0]["method"] == "POST" and made[0]["grant_type"] == "refresh_token"
    assert made[0]["scopes"] == [SCOPE_A] and made[0]["client_id"] == "regauth"


def test_token_from_password_login_json(
    registry_token_norefresh: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """No refresh tokens issued → the password is stored and sent with Basic; JSON output shape."""
    stack = registry_token_norefresh
    _login(stack, docker_config_dir, *LIMITED)
    assert "auth" in read_config(docker_config_dir)["auths"][stack.host]
    before = len(_token_requests(stack))

    res = run("token", "--scope", SCOPE_A, "--format", "json", stack.host, config=docker_config_dir)
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert sorted(doc) == ["expires_in", "issued_at", "scope", "token"]
    assert isinstance(doc["expires_in"], int) and doc["expires_in"] > 0
    assert datetime.fromisoformat(doc["issued_at"].replace("Z", "+00:00")).tzinfo is not None
    assert doc["scope"] == [SCOPE_A]
    assert LIMITED[1] not in res.out + res.err
    _assert_scoped_to_test_a(stack, doc["token"])

    made = _token_requests(stack)[before:]
    assert len(made) == 1
    assert made[0]["method"] == "GET" and made[0]["basic_auth"] and made[0]["account"] == "limited"


def test_token_several_scopes(
    registry_token_https: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """Repeated --scope: one token for all of them (push included)."""
    stack = registry_token_https
    _login(stack, docker_config_dir, stack.username, stack.password)
    res = run(
        "token", "--scope", "repository:test/x:pull,push", "--scope", "repository:test/y:pull",
        "--format", "json", stack.host, config=docker_config_dir,
    )  # fmt: skip
    assert res.code == 0, res.err
    token = json.loads(res.out)["token"]
    assert _get(stack, "/v2/test/x/tags/list", token).status_code in (200, 404)
    assert _get(stack, "/v2/test/y/tags/list", token).status_code in (200, 404)
    upload = requests.post(
        f"{stack.url}/v2/test/x/blobs/uploads/",
        headers={"Authorization": f"Bearer {token}"},
        verify=_verify(stack),
        timeout=15,
    )
    assert upload.status_code == 202


@pytest.mark.parametrize("name", ["registry_basic_https", "registry_basic_http"])
def test_token_basic_only_registry_fails_clearly(
    name: str, request: pytest.FixtureRequest, isolated_env: object, docker_config_dir: Path
) -> None:
    """A Basic registry has no token: exit 1, nothing on stdout, a message that says to use Basic."""
    stack: RegistryStack = request.getfixturevalue(name)
    _login(stack, docker_config_dir, stack.username, stack.password)
    res = run("token", stack.host, config=docker_config_dir)
    assert res.code == 1
    assert res.out == ""
    assert "Basic" in res.err and "no token" in res.err
    assert stack.password not in res.err
    with pytest.raises(regauth.NoTokenAuthError) as info:
        regauth.token(stack.host, config=docker_config_dir)
    assert info.value.schemes == ("basic",)


def test_token_not_logged_in_and_bad_scope(
    registry_token_https: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """Nothing stored → exit 1 naming ``regauth login``; ``--anonymous`` gets a token; bad scope → 125."""
    stack = registry_token_https
    res = run("token", stack.host, config=docker_config_dir)
    assert res.code == 1 and res.out == ""
    assert f"regauth login {stack.host}" in res.err
    anon = run(
        "token", "--anonymous", "--scope", SCOPE_A, "--format", "json", stack.host, config=docker_config_dir
    )
    assert anon.code == 0, anon.err
    assert _get(stack, "/v2/test/a/tags/list", json.loads(anon.out)["token"]).status_code == 401
    bad = run("token", "--scope", "repository:test/a", stack.host, config=docker_config_dir)
    assert bad.code == 125 and "invalid scope" in bad.err


def test_token_wrong_stored_password(
    registry_token_norefresh: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """The token server refuses the stored password: exit 1, ``unauthorized``, no secret shown."""
    stack = registry_token_norefresh
    creds = regauth.Credentials(username="limited", password="wrong-password-123")
    with pytest.raises(regauth.AuthError) as info:
        regauth.token(stack.host, [SCOPE_A], credentials=creds)
    assert "unauthorized" in str(info.value)
    assert "wrong-password-123" not in str(info.value)


def test_library_token_with_explicit_credentials(registry_token_https: RegistryStack) -> None:
    """``regauth.token(..., credentials=)``: same token semantics, ``issued_at`` always set."""
    stack = registry_token_https
    got = regauth.token(stack.host, [SCOPE_A], credentials=regauth.Credentials(*LIMITED))
    assert got.issued_at is not None and got.expires_in > 0
    assert "***" in repr(got) and got.access_token not in repr(got)
    _assert_scoped_to_test_a(stack, got.access_token)
