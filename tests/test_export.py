"""``regauth export kubernetes``: the Secret that ``kubectl create secret`` makes."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest

from regauth.api.export import kubernetes_secret, yaml_scalar
from regauth.credentials import Credentials
from regauth.errors import UsageError
from tests.cliutil import b64, regauth
from tests.conftest import IsolatedEnv
from tests.support.require import require

PASSWORD = 'p<&>"\\ü'


def kubectl_secret(name: str, server: str, user: str, password: str, namespace: str | None) -> str:
    require(shutil.which("kubectl") is not None, "kubectl is not installed")
    argv = [
        "kubectl",
        "create",
        "secret",
        "docker-registry",
        name,
        f"--docker-server={server}",
        f"--docker-username={user}",
        f"--docker-password={password}",
        "--dry-run=client",
        "-o",
        "yaml",
    ]
    if namespace is not None:
        argv += ["-n", namespace]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.mark.parametrize(
    ("name", "namespace"), [("regcred", None), ("my.secret-1", "team-a"), ("123", "yes")]
)
def test_same_bytes_as_kubectl(isolated_env: IsolatedEnv, name: str, namespace: str | None) -> None:
    """kubectl 's output, byte for byte (a test-only argv secret: kubectl has no stdin for it)."""
    server = "127.0.0.1:5000"
    config = {"auths": {server: {"auth": b64(f"alice:{PASSWORD}")}}}
    (isolated_env.docker_config / "config.json").write_text(json.dumps(config))
    args = ["export", "kubernetes", name, server] + (["--namespace", namespace] if namespace else [])
    r = regauth(*args)
    assert r.code == 0, r.err
    assert r.out == kubectl_secret(name, server, "alice", PASSWORD, namespace)


def test_options_between_positionals(isolated_env: IsolatedEnv) -> None:
    """``export kubernetes NAME --namespace NS SERVER`` (options before, between and after the
    positionals, as Docker's commands allow) is the same Secret; an unknown flag is still refused."""
    server = "127.0.0.1:5000"
    config = {"auths": {server: {"auth": b64("alice:pw")}, "b.example": {"auth": b64("bob:pw2")}}}
    (isolated_env.docker_config / "config.json").write_text(json.dumps(config))
    expected = regauth("export", "kubernetes", "regcred", server, "--namespace", "ci")
    assert expected.code == 0, expected.err
    for args in (
        ("regcred", "--namespace", "ci", server),
        ("-n", "ci", "regcred", server),
        ("regcred", "-n", "ci", server, "b.example"),
    ):
        r = regauth("export", "kubernetes", *args)
        assert r.code == 0, r.err
        if "b.example" not in args:
            assert r.out == expected.out
    both = regauth("export", "kubernetes", "regcred", "-n", "ci", server, "b.example").out
    data = next(x for x in both.splitlines() if x.startswith("  .dockerconfigjson: ")).split(": ", 1)[1]
    assert set(json.loads(base64.b64decode(data))["auths"]) == {server, "b.example"}
    bad = regauth("export", "kubernetes", "regcred", "-n", "ci", server, "--bogus")
    assert (bad.code, bad.out) == (125, "")
    assert bad.err.startswith("unrecognized arguments: --bogus")
    st = regauth("status", server, "--timeout", "1", "nowhere.example")  # status takes SERVER... too
    assert st.code == 1 and "unrecognized" not in st.err


def test_decoded_payload_every_login(isolated_env: IsolatedEnv) -> None:
    config = {"auths": {
        "a.example": {"auth": b64("u1:p1")},
        "http://b.example": {"auth": b64("u2:p2")},
        "https://index.docker.io/v1/": {"auth": b64("hub:p3")},
    }}  # fmt: skip
    (isolated_env.docker_config / "config.json").write_text(json.dumps(config))
    r = regauth("export", "kubernetes", "all")
    assert r.code == 0, r.err
    line = next(x for x in r.out.splitlines() if x.startswith("  .dockerconfigjson: "))
    decoded = json.loads(base64.b64decode(line.split(": ", 1)[1]))
    assert decoded == {"auths": {
        "a.example": {"username": "u1", "password": "p1", "auth": b64("u1:p1")},
        "b.example": {"username": "u2", "password": "p2", "auth": b64("u2:p2")},
        "https://index.docker.io/v1/": {"username": "hub", "password": "p3", "auth": b64("hub:p3")},
    }}  # fmt: skip


def test_identity_token_refused(isolated_env: IsolatedEnv) -> None:
    config = {"auths": {"t.example": {"auth": b64("u:"), "identitytoken": "SECRET-TOKEN"}}}
    (isolated_env.docker_config / "config.json").write_text(json.dumps(config))
    r = regauth("export", "kubernetes", "x", "t.example")
    assert (r.code, r.out) == (1, "")
    assert "cannot export identity-token logins (t.example)" in r.err
    assert "SECRET-TOKEN" not in r.err
    assert regauth("export", "kubernetes", "x").code == 1
    assert regauth("export", "kubernetes", "x", "none.example").code == 1


@pytest.mark.parametrize("bad", ["Upper", "-x", "a_b", "x" * 254, ""])
def test_bad_names_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        kubernetes_secret(bad, {"a": Credentials("u", "p", server="a")})


def test_yaml_scalars() -> None:
    assert [yaml_scalar(x) for x in ("abc", "123", "1e3", "on", "0x1f", "a1")] == [
        "abc", '"123"', '"1e3"', '"on"', '"0x1f"', "a1",
    ]  # fmt: skip
