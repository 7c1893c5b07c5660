"""``RegistryAuth`` (requests) and ``HttpxRegistryAuth`` against real registries.

An image ``test/hello:1`` is pushed with skopeo from an OCI layout (docs/interop.md); the auth objects
then pull its manifest.  Token requests are counted on the fixture token server to prove caching and
the scope upgrade on ``insufficient_scope`` (a scope not granted → 401 ``insufficient_scope``, see
docs/registry-auth.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

import regauth
from regauth.auth import RegistryAuth, merge_scopes
from tests.support.oci import make_oci_layout, skopeo_push
from tests.support.registry import RegistryStack, have_registry, start_registry_stack
from tests.support.require import require, require_module

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE = "test/hello"


@pytest.fixture(scope="module")
def pushed(
    registry_token_https: RegistryStack,
    registry_basic_https: RegistryStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """``test/hello:1`` pushed with ``skopeo copy`` to the HTTPS token and Basic registries."""
    require(shutil.which("skopeo") is not None, "skopeo is not installed")
    layout = make_oci_layout(tmp_path_factory.mktemp("auth-oci"))
    home = tmp_path_factory.mktemp("auth-skopeo-home")
    for stack in (registry_token_https, registry_basic_https):
        done = skopeo_push(layout, stack, IMAGE, env=dict(os.environ, HOME=str(home)))
        assert done.returncode == 0, done.stderr
    return f"{IMAGE}:1"


def _session(stack: RegistryStack, auth: Any) -> requests.Session:
    session = requests.Session()
    session.auth = auth
    session.verify = str(stack.ca_path)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace session.verify
    return session


def _token_requests(stack: RegistryStack) -> list[dict[str, Any]]:
    assert stack.token_server is not None
    return list(stack.token_server.requests)  # type: ignore[arg-type]


def _manifest_url(stack: RegistryStack) -> str:
    return f"{stack.url}/v2/{IMAGE}/manifests/1"


def test_requests_pulls_manifest_with_stored_identity_token_and_caches(
    registry_token_https: RegistryStack, pushed: str, isolated_env: object, docker_config_dir: Path
) -> None:
    """Stored identity token → refresh grant once; later requests reuse the cached token up front."""
    stack = registry_token_https
    outcome = regauth.login(stack.host, stack.username, stack.password, config=docker_config_dir)
    assert outcome.identity_token
    session = _session(stack, RegistryAuth(config=docker_config_dir))
    before = len(_token_requests(stack))

    first = session.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST})
    assert first.status_code == 200, first.text
    manifest = first.json()
    assert manifest["mediaType"] == OCI_MANIFEST
    assert [r.status_code for r in first.history] == [401]

    second = session.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST})
    config = session.get(f"{stack.url}/v2/{IMAGE}/blobs/{manifest['config']['digest']}")
    assert second.status_code == 200 and second.history == []
    assert config.status_code == 200 and json.loads(config.content)["os"] == "linux"

    made = _token_requests(stack)[before:]
    assert len(made) == 1, made
    assert made[0]["method"] == "POST" and made[0]["grant_type"] == "refresh_token"
    assert made[0]["scopes"] == [f"repository:{IMAGE}:pull"]
    assert made[0]["client_id"] == "regauth"


def test_requests_scope_upgrade_on_upload(registry_token_https: RegistryStack, pushed: str) -> None:
    """A pull token, then ``POST /blobs/uploads/``: 401 insufficient_scope → one pull,push token."""
    stack = registry_token_https
    session = _session(stack, RegistryAuth(stack.username, stack.password))
    before = len(_token_requests(stack))

    assert session.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST}).status_code == 200
    upload = session.post(f"{stack.url}/v2/{IMAGE}/blobs/uploads/")
    assert upload.status_code == 202, upload.text
    assert [r.status_code for r in upload.history] == [401]
    assert "insufficient_scope" in upload.history[0].headers["WWW-Authenticate"]
    # The upgraded token is sent up front from now on (no 401, no token request).
    again = session.post(f"{stack.url}/v2/{IMAGE}/blobs/uploads/")
    assert again.status_code == 202 and again.history == []
    # The pull after the upgrade uses the pull,push token too: still two token requests.
    assert session.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST}).status_code == 200

    made = _token_requests(stack)[before:]
    assert [r["scopes"] for r in made] == [
        [f"repository:{IMAGE}:pull"],
        [f"repository:{IMAGE}:pull,push"],
    ]
    assert all(r["method"] == "GET" and r["basic_auth"] for r in made)


def test_requests_limited_user_gets_401_outside_its_repository(
    registry_token_https: RegistryStack,
) -> None:
    """conftest TOKEN_ACL: ``limited`` may use test/a only; test/b stays 401 (returned, not raised)."""
    stack = registry_token_https
    session = _session(stack, RegistryAuth("limited", "limitedpassword"))
    allowed = session.get(f"{stack.url}/v2/test/a/tags/list")
    assert allowed.status_code in (200, 404)
    if allowed.status_code == 404:
        assert allowed.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    denied = session.get(f"{stack.url}/v2/test/b/tags/list")
    assert denied.status_code == 401


def test_requests_wrong_password_raises_auth_error(registry_token_https: RegistryStack) -> None:
    """The token server refuses: AuthError, and the password is in no message."""
    stack = registry_token_https
    session = _session(stack, RegistryAuth(stack.username, "not-the-password"))
    with pytest.raises(regauth.AuthError) as info:
        session.get(_manifest_url(stack))
    assert "not-the-password" not in str(info.value)
    assert "unauthorized" in str(info.value)


def test_requests_basic_registry(registry_basic_https: RegistryStack, pushed: str) -> None:
    """A Basic-only registry: retry with Basic after the 401, then Basic up front."""
    stack = registry_basic_https
    session = _session(stack, RegistryAuth(stack.username, stack.password))
    first = session.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST})
    assert first.status_code == 200 and first.json()["mediaType"] == OCI_MANIFEST
    assert [r.status_code for r in first.history] == [401]
    second = session.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST})
    assert second.status_code == 200 and second.history == []


def test_requests_basic_registry_with_stored_login(
    registry_basic_http: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """Stored username+password over plain HTTP; a wrong stored password returns the 401."""
    stack = registry_basic_http
    regauth.login(stack.host, stack.username, stack.password, config=docker_config_dir)
    session = requests.Session()
    session.auth = RegistryAuth(config=docker_config_dir)
    assert session.get(f"{stack.url}/v2/").status_code == 200
    refused = requests.get(f"{stack.url}/v2/", auth=RegistryAuth(stack.username, "wrong"))
    assert refused.status_code == 401


def test_requests_replays_a_file_body(registry_token_https: RegistryStack, tmp_path: Path) -> None:
    """A seekable body is rewound and sent again after the challenge."""
    stack = registry_token_https
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 1000)
    session = _session(stack, RegistryAuth(stack.username, stack.password))
    upload = session.post(f"{stack.url}/v2/test/replay/blobs/uploads/")
    assert upload.status_code == 202
    location = requests.compat.urljoin(stack.url, upload.headers["Location"])
    fresh = _session(stack, RegistryAuth(stack.username, stack.password))  # no token cached yet
    with blob.open("rb") as body:
        patched = fresh.patch(location, data=body, headers={"Content-Type": "application/octet-stream"})
    assert patched.status_code == 202, patched.text
    assert [r.status_code for r in patched.history] == [401]
    assert patched.headers["Range"] == "0-999"


def test_requests_follows_rotated_refresh_tokens(tmp_path: Path) -> None:
    """A token server that rotates refresh tokens: each new scope refreshes with the latest one."""
    require(have_registry(), "docker-registry (distribution 2.8) is not installed")
    with start_registry_stack(
        tmp_path / "rotating", auth="token", tls=True, users={"u": "p"}, rotate_refresh_tokens=True
    ) as stack:
        first = regauth.token(stack.host, [], credentials=regauth.Credentials("u", "p"))
        assert first.refresh_token
        session = _session(stack, RegistryAuth(identity_token=first.refresh_token))
        for repo in ("test/a", "test/b", "test/c"):
            assert session.get(f"{stack.url}/v2/{repo}/tags/list").status_code == 404
        made = _token_requests(stack)
        assert [r["grant_type"] for r in made[1:]] == ["refresh_token"] * 3
        assert all(r["status"] == 200 for r in made)


def _httpx_verify(stack: RegistryStack) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(stack.ca_path))


def test_httpx_pulls_manifest_and_caches(
    registry_token_https: RegistryStack, pushed: str, isolated_env: object, docker_config_dir: Path
) -> None:
    """httpx.Client with HttpxRegistryAuth: same pull, one token request for two manifest GETs."""
    httpx = require_module("httpx")
    from regauth.auth import HttpxRegistryAuth

    stack = registry_token_https
    regauth.login(stack.host, stack.username, stack.password, config=docker_config_dir)
    before = len(_token_requests(stack))
    auth = HttpxRegistryAuth(config=docker_config_dir)
    with httpx.Client(auth=auth, verify=_httpx_verify(stack)) as client:
        first = client.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST})
        assert first.status_code == 200, first.text
        assert first.json()["mediaType"] == OCI_MANIFEST
        second = client.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST})
        assert second.status_code == 200 and second.history == []
        upload = client.post(f"{stack.url}/v2/{IMAGE}/blobs/uploads/")
        assert upload.status_code == 202
    made = _token_requests(stack)[before:]
    assert [r["scopes"] for r in made] == [
        [f"repository:{IMAGE}:pull"],
        [f"repository:{IMAGE}:pull,push"],
    ]


def test_httpx_async_client_and_basic(
    registry_basic_https: RegistryStack, registry_token_https: RegistryStack, pushed: str
) -> None:
    """The same auth object drives httpx.AsyncClient, against a Basic and a token registry."""
    httpx = require_module("httpx")
    from regauth.auth import HttpxRegistryAuth

    async def pull(stack: RegistryStack) -> int:
        auth = HttpxRegistryAuth(stack.username, stack.password)
        async with httpx.AsyncClient(auth=auth, verify=_httpx_verify(stack)) as client:
            resp = await client.get(_manifest_url(stack), headers={"Accept": OCI_MANIFEST})
            return int(resp.status_code)

    assert asyncio.run(pull(registry_basic_https)) == 200
    assert asyncio.run(pull(registry_token_https)) == 200


def test_merge_scopes() -> None:
    """Actions of the same resource are joined and sorted; others kept."""
    assert merge_scopes(["repository:a/b:pull", "repository:a/b:push,pull", "repository:c:pull"]) == (
        "repository:a/b:pull,push",
        "repository:c:pull",
    )
    assert merge_scopes(["registry:catalog:*", "odd"]) == ("odd", "registry:catalog:*")
    assert merge_scopes([]) == ()


def test_import_regauth_loads_neither_requests_nor_httpx() -> None:
    """``import regauth`` stays light; ``regauth.auth`` imports httpx only for HttpxRegistryAuth."""
    code = (
        "import sys, regauth\n"
        "assert 'requests' not in sys.modules and 'httpx' not in sys.modules\n"
        "assert callable(regauth.token)\n"
        "import regauth.auth\n"
        "assert 'httpx' not in sys.modules\n"
        "assert regauth.RegistryAuth is regauth.auth.RegistryAuth\n"
        "cls = regauth.HttpxRegistryAuth\n"
        "import httpx\n"
        "assert issubclass(cls, httpx.Auth)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


_WITHOUT_REQUESTS = """
import json, ssl, sys
sys.modules["requests"] = None  # import requests now fails, as on a machine without it
import httpx
import regauth, regauth.auth
try:
    regauth.auth.RegistryAuth
except ImportError as exc:
    message = str(exc)
else:
    raise SystemExit("RegistryAuth imported without requests")
url, ca, user, accept = sys.argv[1:5]
password = sys.stdin.read()  # never in argv
auth = regauth.auth.HttpxRegistryAuth(user, password)
with httpx.Client(auth=auth, verify=ssl.create_default_context(cafile=ca)) as client:
    first = client.get(url, headers={"Accept": accept})
    second = client.get(url, headers={"Accept": accept})
print(json.dumps({"message": message, "status": [first.status_code, second.status_code],
                  "history": [len(first.history), len(second.history)],
                  "requests": "requests" in sys.modules and sys.modules["requests"] is not None}))
"""


def test_httpx_works_without_requests(registry_token_https: RegistryStack, pushed: str) -> None:
    """With requests not importable, HttpxRegistryAuth still pulls (and RegistryAuth says what is missing)."""
    stack = registry_token_https
    before = len(_token_requests(stack))
    argv = [_manifest_url(stack), str(stack.ca_path), stack.username, OCI_MANIFEST]
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_REQUESTS, *argv],
        input=stack.password,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == [200, 200]
    assert report["history"][0] > 0 and report["history"][1] == 0  # the token was sent up front
    assert not report["requests"]
    assert "needs requests" in report["message"]
    made = _token_requests(stack)[before:]
    assert [r["scopes"] for r in made] == [[f"repository:{IMAGE}:pull"]]  # cached for the second GET


def test_token_redirects_follow_the_transport_policy() -> None:
    """A realm redirecting to another host: requests and httpx follow it, without the credentials."""
    from tests.reliability.fakes import FakeServer, reply

    other = FakeServer(lambda req, fake: reply(req, 200, b'{"token": "tok-1"}'))
    realm = FakeServer(
        lambda req, fake: reply(req, 307, b"", [("Location", f"http://localhost:{other.port}/t")])
    )

    def registry(req: Any, fake: FakeServer) -> None:
        if req.headers.get("Authorization") == "Bearer tok-1":
            reply(req, 200, b"{}")
        else:
            challenge = f'Bearer realm="{realm.url}/token",service="fake",scope="repository:a:pull"'
            reply(req, 401, b"{}", [("WWW-Authenticate", challenge)])

    reg = FakeServer(registry)
    httpx = require_module("httpx")
    from regauth.auth import HttpxRegistryAuth

    try:
        pulled = requests.get(f"{reg.url}/v2/a/tags/list", auth=RegistryAuth("u", "p"), timeout=5)
        assert pulled.status_code == 200
        with httpx.Client(auth=HttpxRegistryAuth("u", "p"), timeout=5) as client:
            assert client.get(f"{reg.url}/v2/a/tags/list").status_code == 200
    finally:
        for server in (reg, realm, other):
            server.stop()
    assert len(realm.seen) == 2 and all("authorization" in seen.headers for seen in realm.seen)
    assert len(other.seen) == 2 and all("authorization" not in seen.headers for seen in other.seen)
