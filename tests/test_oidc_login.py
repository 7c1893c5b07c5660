"""``regauth login --oidc ISSUER --client-id ID SERVER``: the device flow against a real OpenID
provider (npm ``oidc-provider``), a token server that trusts it, and a real docker-registry.

The person at the browser is played by tests/support/oidc.py on the provider's own pages.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from regauth.errors import RegauthError
from regauth.registry.messages import HttpResponse
from regauth.registry.oidc import check_url, discovery_request, parse_discovery
from tests.cliutil import read_config, regauth, venv_path
from tests.support.certs import make_ca
from tests.support.oidc import (
    OidcProvider,
    approve,
    deny,
    have_node,
    install_oidc_provider,
    start_oidc_provider,
)
from tests.support.registry import RegistryStack, have_registry, start_registry_stack
from tests.support.require import require
from tests.support.tokenserver import TokenServer

ISSUER = "https://id.example"


# -- the discovery document, on its own (no network) ------------------------------------------


def _answer(document: object, status: int = 200) -> HttpResponse:
    url = ISSUER + "/.well-known/openid-configuration"
    return HttpResponse(status, url, body=json.dumps(document).encode())


def _never_loopback(host: str) -> bool:
    return False


GOOD = {
    "issuer": ISSUER,
    "device_authorization_endpoint": ISSUER + "/device/auth",
    "token_endpoint": ISSUER + "/token",
}


def test_discovery_request_keeps_the_issuer_path() -> None:
    """OpenID Connect Discovery section 4: the well-known path is appended to the issuer's path."""
    assert discovery_request("https://id.example/tenant/").url == (
        "https://id.example/tenant/.well-known/openid-configuration"
    )


def test_discovery_gives_the_two_endpoints() -> None:
    found = parse_discovery(ISSUER, _answer(GOOD), _never_loopback)
    assert (found.device_authorization_endpoint, found.token_endpoint) == (
        ISSUER + "/device/auth",
        ISSUER + "/token",
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_answer(GOOD, 404), "failed: HTTP 404"),
        (HttpResponse(200, ISSUER, body=b"<html>"), "is not JSON"),
        (_answer(["issuer"]), "not a JSON object"),
        (_answer({**GOOD, "issuer": "https://evil.example"}), "names a different issuer"),
        (_answer({**GOOD, "device_authorization_endpoint": None}), "no device_authorization_endpoint"),
        (_answer({**GOOD, "token_endpoint": "http://id.example/token"}), "uses plain HTTP"),
        (_answer({**GOOD, "token_endpoint": "ftp://id.example/token"}), "is not an http(s) URL"),
    ],
)
def test_discovery_refusals_are_one_line(answer: HttpResponse, message: str) -> None:
    with pytest.raises(RegauthError, match=re.escape(message)) as caught:
        parse_discovery(ISSUER, answer, _never_loopback)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://id.example", True),
        ("http://127.0.0.1:8080", True),
        ("http://id.example", False),
        ("https://id.example?x=1", False),
        ("https://user@id.example", False),
        ("https://id.example:99999", False),
        ("id.example", False),
    ],
)
def test_issuer_url_policy(url: str, ok: bool) -> None:
    """https, or http to loopback only (the registry transport's rule); no query or credentials."""

    def loopback(host: str) -> bool:
        return host == "127.0.0.1"

    if ok:
        assert check_url("issuer", url, loopback) == url
    else:
        with pytest.raises(RegauthError):
            check_url("issuer", url, loopback)


# -- the real provider, token server and registry ---------------------------------------------


@pytest.fixture(scope="module")
def oidc_prefix() -> Path:
    require(have_node(), "node and npm are not installed")
    prefix = install_oidc_provider()
    require(prefix is not None, "npm could not install oidc-provider (offline with an empty cache?)")
    assert prefix is not None
    return prefix


@pytest.fixture(scope="module")
def provider(oidc_prefix: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with start_oidc_provider(oidc_prefix, tmp_path_factory.mktemp("oidc")) as running:
        yield running


@pytest.fixture(scope="module")
def stack(provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryStack]:
    require(have_registry(), "docker-registry (distribution 2.8) is not installed")
    with start_registry_stack(
        tmp_path_factory.mktemp("oidc-registry"),
        auth="token",
        tls=True,
        oidc_token_endpoint=provider.token_endpoint,
        oidc_client_id=provider.client_id,
    ) as running:
        yield running


@dataclass
class Run:
    code: int
    out: str
    err: str


def _login(
    issuer: str,
    client_id: str,
    server: str,
    config: Path,
    person: str | None = None,
    *extra: str,
    env: dict[str, str] | None = None,
    cafile: str | None = None,
) -> Run:
    """Run ``regauth login --oidc``; once it shows the code, ``person`` acts: "approve" or "deny"
    at the provider (through ``cafile`` for an HTTPS one), or "interrupt" (SIGINT, as Ctrl-C)."""
    env = dict(os.environ, PATH=venv_path(), DOCKER_CONFIG=str(config), **(env or {}))
    argv = [sys.executable, "-m", "regauth", "login", "--oidc", issuer, "--client-id", client_id]
    argv += [*extra, server]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    err: list[str] = []
    code = url = ""
    for line in proc.stderr:
        err.append(line)
        if "confirmation code is: " in line:
            code = line.rsplit(": ", 1)[1].strip()
        elif line.startswith("Confirm it at: "):
            url = line.split(": ", 1)[1].strip()
            if person == "approve":
                approve(url, code, cafile)
            elif person == "deny":
                deny(url, code, cafile)
            elif person == "interrupt":
                proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    reader.join(10)
    return Run(proc.returncode, "".join(out), "".join(err))


def _revoke(provider: OidcProvider, token: str) -> None:
    endpoint = provider.discovery()["revocation_endpoint"]
    form = urllib.parse.urlencode({"token": token, "client_id": provider.client_id}).encode()
    with urllib.request.urlopen(endpoint, data=form, timeout=10) as resp:
        assert resp.status == 200


@pytest.mark.real
def test_device_login_stores_the_refresh_token_the_registry_accepts(
    provider: OidcProvider, stack: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    """Discovery, device code on stderr, approval at the provider, then the refresh token is
    checked by the registry's token server (refresh_token grant, exchanged at the provider) and
    stored as the identity token; revoking it at the provider makes the stored login invalid."""
    res = _login(provider.issuer, provider.client_id, stack.host, docker_config_dir, "approve")
    assert res.code == 0, res.err
    assert res.out.strip() == "Login Succeeded"
    assert re.search(r"confirmation code is: [A-Z]{4}-[A-Z]{4}", res.err)
    assert provider.issuer + "/device" in res.err
    entry = read_config(docker_config_dir)["auths"][stack.host]
    assert set(entry) == {"auth", "identitytoken"}
    token = entry["identitytoken"]
    assert token not in res.out + res.err
    assert isinstance(stack.token_server, TokenServer)
    grants = [r for r in stack.token_server.requests if r["grant_type"] == "refresh_token"]
    assert grants and grants[-1]["status"] == 200

    assert regauth("status", stack.host, config=docker_config_dir).code == 0
    _revoke(provider, token)
    after = regauth("status", stack.host, config=docker_config_dir)
    assert after.code != 0
    assert token not in after.out + after.err


@pytest.mark.real
def test_denial_at_the_provider_stores_nothing(
    provider: OidcProvider, stack: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    res = _login(provider.issuer, provider.client_id, stack.host, docker_config_dir, "deny")
    assert res.code == 1
    assert "access denied: End-User aborted interaction" in res.err
    assert res.out == ""
    assert not (docker_config_dir / "config.json").exists()


@pytest.mark.real
def test_ctrl_c_while_waiting_stores_nothing(
    provider: OidcProvider, stack: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    res = _login(provider.issuer, provider.client_id, stack.host, docker_config_dir, "interrupt")
    assert res.code == 130
    assert "login canceled" in res.err
    assert not (docker_config_dir / "config.json").exists()


@pytest.fixture(scope="module")
def https_provider(oidc_prefix: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    work = tmp_path_factory.mktemp("oidc-https")
    ca = make_ca(work / "ca")
    cert, key = ca.issue_server_cert(work / "tls")
    with start_oidc_provider(oidc_prefix, work, tls=(cert, key, ca.cert_path)) as running:
        yield running


@pytest.mark.real
def test_https_provider_is_verified_against_ssl_cert_file(
    https_provider: OidcProvider, tmp_path: Path, isolated_env: object, docker_config_dir: Path
) -> None:
    """The provider's certificate is always checked: trusted through SSL_CERT_FILE the login
    works end to end; without it the discovery stops at the certificate, in one line."""
    require(have_registry(), "docker-registry (distribution 2.8) is not installed")
    assert https_provider.cafile is not None
    with start_registry_stack(
        tmp_path / "registry",
        auth="token",
        tls=True,
        oidc_token_endpoint=https_provider.token_endpoint,
        oidc_client_id=https_provider.client_id,
        oidc_cafile=https_provider.cafile,
    ) as https_stack:
        issuer, client_id = https_provider.issuer, https_provider.client_id
        untrusted = _login(issuer, client_id, https_stack.host, docker_config_dir)
        assert untrusted.code == 1
        assert "certificate" in untrusted.err
        assert len(untrusted.err.strip().splitlines()) == 1
        assert not (docker_config_dir / "config.json").exists()

        trusted = _login(
            https_provider.issuer,
            https_provider.client_id,
            https_stack.host,
            docker_config_dir,
            "approve",
            env={"SSL_CERT_FILE": https_provider.cafile},
            cafile=https_provider.cafile,
        )
        assert trusted.code == 0, trusted.err
        assert read_config(docker_config_dir)["auths"][https_stack.host]["identitytoken"]


@pytest.mark.real
def test_expiry_stores_nothing(
    oidc_prefix: Path, stack: RegistryStack, tmp_path: Path, isolated_env: object, docker_config_dir: Path
) -> None:
    """A device code that lives 7 s: one pending poll after 5 s, then no time for another."""
    with start_oidc_provider(oidc_prefix, tmp_path / "short", device_code_ttl=7) as short:
        res = _login(short.issuer, short.client_id, stack.host, docker_config_dir)
    assert res.code == 1
    assert "timed out waiting for device token" in res.err
    assert not (docker_config_dir / "config.json").exists()


@pytest.mark.real
def test_unknown_client_is_refused_by_the_provider(
    provider: OidcProvider, stack: RegistryStack, isolated_env: object, docker_config_dir: Path
) -> None:
    res = _login(provider.issuer, "no-such-client", stack.host, docker_config_dir)
    assert res.code == 1
    assert "device authorization request failed" in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not (docker_config_dir / "config.json").exists()


@pytest.mark.real
@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ("{issuer}/nowhere", "failed: HTTP 404"),
        ("{localhost}", "names a different issuer"),
        ("http://oidc.invalid", "uses plain HTTP"),
    ],
)
def test_discovery_errors_are_one_line(
    provider: OidcProvider,
    stack: RegistryStack,
    isolated_env: object,
    docker_config_dir: Path,
    issuer: str,
    message: str,
) -> None:
    """A path with no discovery document, an issuer that names itself differently (the same
    provider reached as localhost), a plain-HTTP issuer that is not loopback."""
    localhost = provider.issuer.replace("127.0.0.1", "localhost")
    res = _login(issuer.format(issuer=provider.issuer, localhost=localhost), provider.client_id, stack.host,
                 docker_config_dir)  # fmt: skip
    assert res.code == 1
    assert message in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not (docker_config_dir / "config.json").exists()


def test_oidc_flags_go_together(isolated_env: object, docker_config_dir: Path) -> None:
    lone = regauth("login", "--oidc", "https://id.example", "registry.example", config=docker_config_dir)
    assert lone.code == 125
    assert "--oidc and --client-id go together" in lone.err
    mixed = regauth("login", "--oidc", "https://id.example", "--client-id", "x", "-u", "alice",
                    "registry.example", config=docker_config_dir)  # fmt: skip
    assert mixed.code == 125
    assert "takes no username" in mixed.err
    assert not (docker_config_dir / "config.json").exists()
