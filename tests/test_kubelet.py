"""``regauth-kubelet-credential-provider``: the kubelet's CredentialProviderRequest in, its
CredentialProviderResponse out (docs/kubelet-credential-provider.md), run as the real console script.

Credentials come from real sources: config.json and auth files written here, a command source whose
command prints an expiring credential, and a real registry the returned credentials are used against.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from regauth.credentials import Credentials
from regauth.kubelet.protocol import Request, go_duration
from regauth.kubelet.provider import EXPIRY_MARGIN, answer
from regauth.stores.lookup import Found
from tests.conftest import IsolatedEnv
from tests.support.registry import RegistryStack
from tests.support.require import require, require_module

V1 = "credentialprovider.kubelet.k8s.io/v1"
PROGRAM = "regauth-kubelet-credential-provider"
REQUEST = "CredentialProviderRequest"
RESPONSE = "CredentialProviderResponse"
EMPTY = {"apiVersion": V1, "kind": RESPONSE, "cacheKeyType": "Registry", "cacheDuration": "0s", "auth": {}}
SA_TOKEN = "sa-token-must-never-be-echoed"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        assert self.code == 0, self.err
        assert self.err == ""
        assert self.out.endswith("\n") and self.out.count("\n") == 1
        body: dict[str, Any] = json.loads(self.out)
        return body


def program() -> str:
    path = shutil.which(PROGRAM, path=os.path.dirname(sys.executable))
    require(path is not None, f"{PROGRAM} is not installed (pip install -e .)")
    assert path is not None
    return path


def provide(stdin: str | bytes, *args: str, env: dict[str, str] | None = None) -> Run:
    full = dict(os.environ)
    full.update(env or {})
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run([program(), *args], input=data, capture_output=True, env=full, timeout=60)
    return Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def request(image: str, api_version: str = V1, **extra: Any) -> str:
    return json.dumps({"apiVersion": api_version, "kind": REQUEST, "image": image, **extra})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_auths(directory: Path, auths: dict[str, tuple[str, str]], **more: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = {"auths": {key: {"auth": b64(f"{u}:{p}")} for key, (u, p) in auths.items()}, **more}
    path = directory / "config.json"
    path.write_text(json.dumps(body))
    path.chmod(0o600)
    return path


def response(key: str, user: str, password: str, cache: str = "Registry", **more: Any) -> dict[str, Any]:
    return {
        "apiVersion": V1,
        "kind": RESPONSE,
        "cacheKeyType": cache,
        **more,
        "auth": {key: {"username": user, "password": password}},
    }


# --------------------------------------------------------------------------- shapes and keys


def test_exact_response_for_a_registry_with_a_port_and_a_path(isolated_env: IsolatedEnv) -> None:
    write_auths(isolated_env.docker_config, {"reg.example:5000": ("u", "p")})
    run = provide(request("reg.example:5000/team/app:1"))
    assert run.json() == response("reg.example:5000", "u", "p")
    # Field order as the API lists it, one line.
    assert list(json.loads(run.out)) == ["apiVersion", "kind", "cacheKeyType", "auth"]


@pytest.mark.parametrize("version", ["v1", "v1beta1", "v1alpha1"])
def test_the_request_api_version_is_echoed(isolated_env: IsolatedEnv, version: str) -> None:
    write_auths(isolated_env.docker_config, {"reg.example:5000": ("u", "p")})
    api = f"credentialprovider.kubelet.k8s.io/{version}"
    body = provide(request("reg.example:5000/app", api)).json()
    assert body["apiVersion"] == api
    assert body["kind"] == RESPONSE


@pytest.mark.parametrize(
    ("image", "stored", "key"),
    [
        ("[::1]:5000/x", "[::1]:5000", "[::1]:5000"),
        ("[::1]:5000/x:1", "[::1]:5000", "[::1]:5000"),
        ("reg.example:5000/team/app@sha256:" + "a" * 64, "reg.example:5000", "reg.example:5000"),
        ("reg.example/app", "reg.example", "reg.example"),
        ("localhost:5000/app:latest", "localhost:5000", "localhost:5000"),
        # Docker's storage key for a registry written with a scheme still answers for its host.
        ("reg.example/app", "https://reg.example", "reg.example"),
    ],
)
def test_registry_keys(isolated_env: IsolatedEnv, image: str, stored: str, key: str) -> None:
    write_auths(isolated_env.docker_config, {stored: ("u", "p")})
    assert provide(request(image)).json() == response(key, "u", "p")


def test_a_port_is_part_of_the_registry(isolated_env: IsolatedEnv) -> None:
    write_auths(isolated_env.docker_config, {"reg.example:5000": ("u", "p")})
    assert provide(request("reg.example/app")).json() == EMPTY
    assert provide(request("reg.example:5001/app")).json() == EMPTY


@pytest.mark.parametrize(
    "image",
    ["nginx", "nginx:1.27", "library/nginx", "docker.io/library/nginx", "index.docker.io/library/nginx:1"],
)
def test_docker_hub_images_answer_with_the_kubelets_hub_key(isolated_env: IsolatedEnv, image: str) -> None:
    write_auths(isolated_env.docker_config, {"https://index.docker.io/v1/": ("hubuser", "hubpass")})
    assert provide(request(image)).json() == response("index.docker.io", "hubuser", "hubpass")


def test_a_per_repository_login_answers_with_its_path_and_image_cache_keys(isolated_env: IsolatedEnv) -> None:
    write_auths(
        isolated_env.docker_config,
        {"reg.example:5000": ("wide", "p1"), "reg.example:5000/team": ("team", "p2")},
    )
    assert provide(request("reg.example:5000/team/app:1")).json() == response(
        "reg.example:5000/team", "team", "p2", "Image"
    )
    # The registry-wide login still answers other repositories, but per image: a registry-wide
    # cache entry would hand "wide" to team/* images too.
    assert provide(request("reg.example:5000/other/app")).json() == response(
        "reg.example:5000", "wide", "p1", "Image"
    )
    # A prefix is a whole path segment: team2 is not below team.
    assert provide(request("reg.example:5000/team2/app")).json()["auth"] == {
        "reg.example:5000": {"username": "wide", "password": "p1"}
    }


def test_a_per_repository_hub_login(isolated_env: IsolatedEnv, tmp_path: Path) -> None:
    # An auth file (podman's format) holds per-repository keys; config.json would also offer such a
    # key for the whole of Hub, as Docker's file store does.
    authfile = str(write_auths(tmp_path / "auth", {"docker.io/team": ("t", "p")}))
    want = response("docker.io/team", "t", "p", "Image")
    assert provide(request("docker.io/team/app:2"), "--authfile", authfile).json() == want
    assert provide(request("team/app"), "--authfile", authfile).json() == want
    assert provide(request("nginx"), "--authfile", authfile).json() == EMPTY


def test_per_repository_logins_in_a_later_source_do_not_change_the_cache_key(
    isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    # config.json answers for the registry; podman's auth.json (a later source) is never reached.
    write_auths(isolated_env.docker_config, {"reg.example": ("u", "p")})
    write_auths(isolated_env.xdg_runtime_dir / "containers", {"reg.example/team": ("t", "q")})
    (isolated_env.xdg_runtime_dir / "containers" / "config.json").rename(
        isolated_env.xdg_runtime_dir / "containers" / "auth.json"
    )
    assert provide(request("reg.example/team/app")).json() == response("reg.example", "u", "p")


def test_no_credential_is_an_empty_auth_not_cached(isolated_env: IsolatedEnv) -> None:
    run = provide(request("reg.example:5000/app"))
    assert run.json() == EMPTY


def test_an_identity_token_login_is_no_credential_for_the_kubelet(isolated_env: IsolatedEnv) -> None:
    config = isolated_env.docker_config / "config.json"
    config.write_text(json.dumps({"auths": {"reg.example": {"identitytoken": "refresh-secret"}}}))
    run = provide(request("reg.example/app"))
    assert run.json() == EMPTY
    assert "refresh-secret" not in run.out + run.err


def test_unknown_request_fields_are_ignored_and_never_echoed(isolated_env: IsolatedEnv) -> None:
    write_auths(isolated_env.docker_config, {"reg.example": ("u", "p")})
    body = request(
        "reg.example/app",
        serviceAccountToken=SA_TOKEN,
        serviceAccountAnnotations={"example.com/role": "puller"},
        somethingNew={"nested": [1, 2]},
    )
    run = provide(body)
    assert run.json() == response("reg.example", "u", "p")
    assert SA_TOKEN not in run.out + run.err


# --------------------------------------------------------------------------- where credentials come from


def test_config_dir_and_authfile_arguments(isolated_env: IsolatedEnv, tmp_path: Path) -> None:
    node = tmp_path / "node-docker"
    write_auths(node, {"reg.example": ("node", "p")})
    write_auths(isolated_env.docker_config, {"reg.example": ("env", "p")})
    run = provide(request("reg.example/a"), "--config", str(node))
    assert run.json() == response("reg.example", "node", "p")
    # Without --config: $DOCKER_CONFIG, as the kubelet's environment (or the config's env) sets it.
    assert provide(request("reg.example/a")).json() == response("reg.example", "env", "p")
    authfile = write_auths(tmp_path / "auth", {"reg.example": ("file", "p")})
    run = provide(request("reg.example/a"), "--config", str(node), "--authfile", str(authfile))
    assert run.json() == response("reg.example", "file", "p")


def test_docker_auth_config_is_a_source(isolated_env: IsolatedEnv) -> None:
    value = json.dumps({"auths": {"reg.example": {"auth": b64("envu:envp")}}})
    run = provide(request("reg.example/a"), env={"DOCKER_AUTH_CONFIG": value})
    assert run.json() == response("reg.example", "envu", "envp")


def write_command_source(tmp_path: Path, registry: str, expires_at: datetime) -> dict[str, str]:
    """A credential-commands entry whose command prints a JSON credential expiring at ``expires_at``."""
    printed = {"username": "minted", "password": "minted-secret", "expiresAt": expires_at.isoformat()}
    script = tmp_path / "print_credential.py"
    script.write_text(f"import json\nprint(json.dumps({printed!r}))\n")
    settings = tmp_path / "settings.json"
    entry = {"registry": registry, "format": "json", "command": [sys.executable, str(script)]}
    settings.write_text(json.dumps({"credential-commands": [entry]}))
    return {"REGAUTH_SETTINGS": str(settings), "REGAUTH_CACHE_DIR": ""}


_GO_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(\d+)s")


def seconds_of(duration: str) -> int:
    match = _GO_DURATION.fullmatch(duration)
    assert match is not None, duration
    hours, minutes, secs = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


def test_cache_duration_is_bounded_by_the_credentials_remaining_life(
    isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    require_module("regauth.sources.command")
    before = datetime.now(timezone.utc)
    expires = (before + timedelta(hours=2)).replace(microsecond=0)
    env = write_command_source(tmp_path, "*.cloud.example", expires)
    body = provide(request("eu.cloud.example/proj/app:1"), env=env).json()
    assert body["auth"] == {"eu.cloud.example": {"username": "minted", "password": "minted-secret"}}
    assert body["cacheKeyType"] == "Registry"
    cached = seconds_of(body["cacheDuration"])
    after = datetime.now(timezone.utc)
    assert cached <= (expires - before - EXPIRY_MARGIN).total_seconds()
    assert cached >= (expires - after - EXPIRY_MARGIN).total_seconds() - 1


def test_a_credential_near_its_end_is_served_but_not_cached(
    isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    require_module("regauth.sources.command")
    expires = datetime.now(timezone.utc) + EXPIRY_MARGIN / 2
    env = write_command_source(tmp_path, "reg.cloud.example", expires)
    body = provide(request("reg.cloud.example/app"), env=env).json()
    assert body["cacheDuration"] == "0s"
    assert body["auth"]["reg.cloud.example"]["password"] == "minted-secret"


def test_an_expired_credential_is_no_credential() -> None:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    creds = Credentials("u", "p", server="reg.example", expires_at=now - timedelta(seconds=1))
    got = answer(Request(V1, "reg.example/app"), Found(creds, "reg.example", "test"), now=now)
    assert json.loads(got.to_json()) == EMPTY
    live = Credentials("u", "p", server="reg.example", expires_at=now + timedelta(hours=1, seconds=30))
    got = answer(Request(V1, "reg.example/app"), Found(live, "reg.example", "test"), now=now)
    assert json.loads(got.to_json())["cacheDuration"] == "55m30s"
    assert "'p'" not in repr(got)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (1, "1s"), (59, "59s"), (60, "1m0s"), (300, "5m0s"), (3600, "1h0m0s"), (3723, "1h2m3s"),
     (90000, "25h0m0s")],
)
def test_go_duration_strings(seconds: int, text: str) -> None:
    assert go_duration(seconds) == text
    assert seconds_of(text) == seconds


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("stdin", "args", "says"),
    [
        ("", (), "not JSON"),
        ("{not json", (), "not JSON"),
        (b"\xff\xfe", (), "not JSON"),
        ("[]", (), "not a JSON object"),
        (request("reg.example/a", "credentialprovider.kubelet.k8s.io/v2"), (), "unsupported apiVersion"),
        (request("reg.example/a", "kubelet.config.k8s.io/v1"), (), "unsupported apiVersion"),
        (json.dumps({"kind": REQUEST, "image": "reg.example/a"}), (), "no apiVersion"),
        (json.dumps({"apiVersion": V1, "kind": "CredentialProviderResponse", "image": "x",
                     "serviceAccountToken": SA_TOKEN}), (), "unexpected kind"),
        (json.dumps({"apiVersion": V1, "image": "reg.example/a"}), (), "unexpected kind"),
        (json.dumps({"apiVersion": V1, "kind": REQUEST}), (), "no image"),
        (json.dumps({"apiVersion": V1, "kind": REQUEST, "image": ""}), (), "no image"),
        (json.dumps({"apiVersion": V1, "kind": REQUEST, "image": 5}), (), "no image"),
        (request("reg.example/a b"), (), "invalid image"),
        (request("reg.exa mple:99999/a"), (), "invalid"),
        (request("reg.example:99999/a"), (), "bad port"),
        (request("reg.example/a"), ("--bogus",), "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_1(
    isolated_env: IsolatedEnv, stdin: str | bytes, args: tuple[str, ...], says: str
) -> None:
    write_auths(isolated_env.docker_config, {"reg.example": ("u", "p")})
    run = provide(stdin, *args)
    assert run.code == 1
    assert run.out == ""
    assert run.err.count("\n") == 1 and run.err.startswith(f"{PROGRAM}: ")
    assert says in run.err
    assert SA_TOKEN not in run.err


def test_a_broken_config_json_fails_rather_than_answer_nothing(isolated_env: IsolatedEnv) -> None:
    (isolated_env.docker_config / "config.json").write_text('{"auths": {')
    run = provide(request("reg.example/a"))
    assert (run.code, run.out, run.err.count("\n")) == (1, "", 1)


# --------------------------------------------------------------------------- against a real registry


def test_the_answer_works_against_a_real_registry(
    isolated_env: IsolatedEnv, registry_basic_https: RegistryStack
) -> None:
    stack = registry_basic_https
    assert stack.ca_path is not None
    write_auths(isolated_env.docker_config, {stack.host: (stack.username, stack.password)})
    body = provide(request(f"{stack.host}/test/app:1")).json()
    assert list(body["auth"]) == [stack.host]
    creds = body["auth"][stack.host]
    context = ssl.create_default_context(cafile=str(stack.ca_path))

    def status(authorization: str | None) -> int:
        req = urllib.request.Request(f"https://{stack.host}/v2/")
        if authorization is not None:
            req.add_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(req, context=context, timeout=10) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status(None) == 401
    assert status("Basic " + b64(f"{creds['username']}:{creds['password']}")) == 200
    assert status("Basic " + b64(f"{creds['username']}:wrong")) == 401
