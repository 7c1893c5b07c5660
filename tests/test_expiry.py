"""Expiry as a fact of a credential: how it is written, what ``status`` does with it, and what
``export kubernetes`` does with it (regauth.api.expiry's rules, the README's list/status sections).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import regauth as lib
from regauth.api import inventory
from regauth.api.expiry import describe, rfc3339
from regauth.api.export import ExpiringCredentialsError, expiry_of, kubernetes_secret
from regauth.api.inventory import LoginInfo
from regauth.credentials import Credentials
from regauth.stores.lookup import Listed
from tests.cliutil import regauth
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
    """The inventory fed listed logins that carry their expiry (as a cache's would) for one real
    registry, with the right password, expiring after ``lives`` (negative: expired already).  No
    real source lists an expired credential today (the minted cache drops it): this keeps the rule."""
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


# --------------------------------------------------------------------------- end to end, a command source

MINT = """\
import json, os
from datetime import datetime, timedelta, timezone

key = os.environ["REGAUTH_REGISTRY"]
life = timedelta(hours=-1) if key.startswith("localhost:") else timedelta(hours=3, minutes=12, seconds=40)
when = (datetime.now(timezone.utc) + life).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({"username": "testuser", "password": "testpassword", "expiresAt": when}))
"""


def columns(table: str) -> list[dict[str, str]]:
    """The rows of a table the CLI printed, cut where its header's columns start."""
    header, *lines = table.splitlines()
    names = header.split()
    starts = [header.index(name) for name in names] + [None]
    return [
        {
            name: line[start:end].strip()
            for name, start, end in zip(names, starts[:-1], starts[1:], strict=True)
        }
        for line in lines
    ]


def test_command_source_through_the_cli(
    isolated_env: IsolatedEnv, registry_basic_http: RegistryStack, tmp_path: Path
) -> None:
    """A ``credential-commands`` script mints for one real registry under two names: as
    ``localhost:PORT`` a credential that expired an hour ago, as ``127.0.0.1:PORT`` one that lives
    3h12m more.  ``list``, ``status`` and ``export kubernetes`` show each for what it is."""
    stack = registry_basic_http
    assert stack.registry is not None
    port = stack.host.rpartition(":")[2]
    alive, dead = stack.host, f"localhost:{port}"
    script = tmp_path / "mint.py"
    script.write_text(MINT)
    settings = tmp_path / "settings.json"
    rules = [
        {"registry": host, "command": [sys.executable, str(script)], "format": "json"}
        for host in (alive, dead)
    ]
    settings.write_text(json.dumps({"credential-commands": rules}))
    env = {"REGAUTH_SETTINGS": str(settings)}

    before = len(stack.registry.access_log())
    st = regauth("status", dead, "--format", "json", env=env)
    assert st.code == 1, st.err
    (row,) = json.loads(st.out)
    assert (row["server"], row["store"], row["result"]) == (dead, "minted", "expired")
    assert row["reason"].endswith(f"printed a credential that expired at {row['expires_at']}")
    assert len(stack.registry.access_log()) == before  # the registry was not asked

    st = regauth("status", env=env)
    assert st.code == 1, st.err  # one valid, one expired
    assert columns(st.out) == [
        {"REGISTRY": alive, "USERNAME": "testuser", "STORE": "minted", "AUTH": "password",
         "RESULT": "valid", "EXPIRY": "expires in 3h12m"},
        {"REGISTRY": dead, "USERNAME": "", "STORE": "minted", "AUTH": "password",
         "RESULT": "expired", "EXPIRY": "expired"},
    ]  # fmt: skip

    listed = regauth("list", "--format", "json", env=env)
    assert listed.code == 0, listed.err
    expiry = {r["server"]: r["expires_at"] for r in json.loads(listed.out)}
    assert set(expiry) == {alive, dead} and expiry[dead] is None  # nothing cached for the dead one
    minted_at = datetime.strptime(expiry[alive], "%Y-%m-%dT%H:%M:%S%z")
    assert (
        timedelta(hours=3, minutes=12)
        < minted_at - datetime.now(timezone.utc)
        < timedelta(hours=3, minutes=13)
    )
    shown = regauth("list", env=env).out
    source = f"credential-commands in {settings}"
    assert columns(shown) == [
        {"REGISTRY": alive, "USERNAME": "testuser", "AUTH": "password", "STORE": "minted",
         "SOURCE": source, "EXPIRY": "expires in 3h12m"},
        {"REGISTRY": dead, "USERNAME": "", "AUTH": "password", "STORE": "minted",
         "SOURCE": source, "EXPIRY": "-"},
    ]  # fmt: skip

    refused = regauth("export", "kubernetes", "regcred", alive, env=env)
    assert (refused.code, refused.out) == (1, "")
    assert refused.err == (
        f"cannot export {alive} expires at {expiry[alive]}: the Secret would stop working then; "
        "pass --allow-expiring to export anyway, with the expiry in an annotation\n"
    )
    exported = regauth("export", "kubernetes", "regcred", "--allow-expiring", alive, env=env)
    assert exported.code == 0, exported.err
    assert exported.out == kubectl_annotated("regcred", alive, "testuser", "testpassword", expiry[alive])
    gone = regauth("export", "kubernetes", "regcred", "--allow-expiring", dead, env=env)
    assert (gone.code, gone.out) == (1, "")
    assert "printed a credential that expired at" in gone.err and len(gone.err.splitlines()) == 1
    for out in (st.out, st.err, listed.out, refused.err, gone.err, shown):
        assert "testpassword" not in out
