"""Expiry as a fact of a credential: how it is written, what ``status`` does with it, and what
``export kubernetes`` does with it (regauth.api.expiry's rules, the README's list/status sections).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

import regauth as lib
from regauth.api import inventory
from regauth.api.expiry import describe, rfc3339
from regauth.api.export import ExpiringCredentialsError, expiry_of, kubernetes_secret
from regauth.api.inventory import LoginInfo
from regauth.credentials import Credentials
from regauth.stores.lookup import Listed
from tests.conftest import IsolatedEnv
from tests.support.registry import RegistryStack
from tests.support.require import require

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)
JSON_KEYS = ["server", "username", "store", "source", "auth", "error", "expires_at"]


@pytest.mark.parametrize(
    ("left", "shown"),
    [
        (timedelta(seconds=-1), "expired"),
        (timedelta(0), "expired"),  # the expiry instant itself, as Credentials.expired says
        (timedelta(milliseconds=500), "expires in 0s"),
        (timedelta(seconds=59), "expires in 59s"),
        (timedelta(seconds=60), "expires in 1m"),
        (timedelta(minutes=4, seconds=59), "expires in 4m"),
        (timedelta(minutes=59, seconds=59), "expires in 59m"),
        (timedelta(hours=1), "expires in 1h0m"),
        (timedelta(hours=3, minutes=12, seconds=59), "expires in 3h12m"),
        (timedelta(hours=47, minutes=59), "expires in 47h59m"),
        (timedelta(hours=48), "expires in 2d0h"),
        (timedelta(days=5, hours=3, minutes=59), "expires in 5d3h"),
    ],
)
def test_describe_rounds_down(left: timedelta, shown: str) -> None:
    assert describe(NOW + left, NOW) == shown
    assert (shown == "expired") == Credentials(expires_at=NOW + left).expired(NOW)


def test_rfc3339_utc_to_the_second() -> None:
    paris = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2026, 12, 5, 19, 30, 0, 999_999, tzinfo=paris)) == "2026-12-05T18:30:00Z"
    parsed = datetime.strptime(rfc3339(NOW), "%Y-%m-%dT%H:%M:%S%z")  # stdlib oracle, 3.10 too
    assert parsed == NOW


def test_login_info_json_keys() -> None:
    timed = LoginInfo("a.example", "u", "file", "f", "password", expires_at=NOW)
    assert list(timed.as_dict()) == JSON_KEYS
    assert timed.as_dict()["expires_at"] == "2026-12-05T12:00:00Z"
    assert (
        json.loads(json.dumps(LoginInfo("b", "u", "file", "f", "password").as_dict()))["expires_at"] is None
    )


def feed_inventory(monkeypatch: pytest.MonkeyPatch, stack: RegistryStack, *lives: timedelta) -> None:
    """Until a minted source is wired in: the inventory is fed listed logins for one real registry
    (right password) that expire after ``lives`` (negative: expired already)."""
    now = datetime.now(timezone.utc)

    def listed(**_: object) -> Iterator[Listed]:
        for life in lives:
            creds = Credentials(stack.username, stack.password, server=stack.host, expires_at=now + life)
            yield Listed(stack.host, stack.username, "file", "test", known=creds)

    monkeypatch.setattr(inventory, "listed", listed)


def test_status_expired_without_asking_the_registry(
    isolated_env: IsolatedEnv, registry_basic_http: RegistryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = registry_basic_http
    assert stack.registry is not None
    before = len(stack.registry.access_log())
    feed_inventory(monkeypatch, stack, timedelta(hours=-1))
    (old,) = lib.status()
    assert (old.result, old.ok) == ("expired", False)
    assert old.reason == f"expired at {rfc3339(old.login.expires_at or NOW)}"
    assert len(stack.registry.access_log()) == before  # the registry was not asked
    assert stack.password not in repr(old) + json.dumps(old.as_dict())

    feed_inventory(monkeypatch, stack, timedelta(hours=1))
    (new,) = lib.status()
    assert (new.result, new.ok) == ("valid", True)
    assert new.as_dict()["expires_at"] == rfc3339(new.login.expires_at or NOW)
    assert len(stack.registry.access_log()) > before  # a credential still alive is checked


def kubectl_annotated(name: str, server: str, user: str, password: str, expires: str) -> str:
    """``kubectl create secret docker-registry`` piped to ``kubectl annotate --local`` (no cluster)."""
    require(shutil.which("kubectl") is not None, "kubectl is not installed")
    create = [
        "kubectl", "create", "secret", "docker-registry", name, f"--docker-server={server}",
        f"--docker-username={user}", f"--docker-password={password}", "--dry-run=client", "-o", "yaml",
    ]  # fmt: skip
    secret = subprocess.run(create, capture_output=True, text=True, check=True, timeout=60).stdout
    annotate = ["kubectl", "annotate", "--local", "-f", "-", f"regauth.io/expires-at={expires}", "-o", "yaml"]
    return subprocess.run(
        annotate, input=secret, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_export_refuses_expiring_unless_allowed() -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=11, minutes=58)
    logins = {"r.example": Credentials("AWS", "tok", server="r.example", expires_at=later)}
    with pytest.raises(ExpiringCredentialsError) as refused:
        kubernetes_secret("regcred", logins)
    message = str(refused.value)
    assert "\n" not in message and "tok" not in message
    assert f"cannot export r.example expires at {rfc3339(later)}" in message
    assert "--allow-expiring" in message
    secret = kubernetes_secret("regcred", logins, allow_expiring=True)
    assert secret == kubectl_annotated("regcred", "r.example", "AWS", "tok", rfc3339(later))


def test_export_annotation_is_the_earliest_expiry_and_expired_is_refused() -> None:
    now = datetime.now(timezone.utc)
    logins = {
        "a.example": Credentials("u", "p", server="a.example", expires_at=now + timedelta(hours=5)),
        "b.example": Credentials("u", "p", server="b.example", expires_at=now + timedelta(hours=1)),
        "c.example": Credentials("u", "p", server="c.example"),
    }
    assert expiry_of(logins, allow_expiring=True) == now + timedelta(hours=1)
    with pytest.raises(ExpiringCredentialsError, match=r"a\.example expires at .*, b\.example expires at "):
        expiry_of(logins)
    lines = kubernetes_secret("x", logins, allow_expiring=True).splitlines()
    assert lines[lines.index("metadata:") + 1 : lines.index("metadata:") + 3] == [
        "  annotations:",
        f'    regauth.io/expires-at: "{rfc3339(now + timedelta(hours=1))}"',
    ]
    data = next(x for x in lines if x.startswith("  .dockerconfigjson: ")).split(": ", 1)[1]
    assert set(json.loads(base64.b64decode(data))["auths"]) == {"a.example", "b.example", "c.example"}
    gone = {**logins, "d.example": Credentials("u", "p", server="d.example", expires_at=now)}
    with pytest.raises(ExpiringCredentialsError, match=r"^cannot export d\.example expired at \S+Z: "):
        kubernetes_secret("x", gone, allow_expiring=True)
    assert expiry_of({"c.example": logins["c.example"]}) is None
    assert "annotations" not in kubernetes_secret("x", {"c.example": logins["c.example"]})
