"""Rule: the ECR source and its helper against moto in server mode (a real ECR emulator), via
AWS_ENDPOINT_URL_ECR.

moto answers GetAuthorizationToken with base64("AWS:<account>-auth-token") and a fixed
``expiresAt`` of 2015-01-01T00:00:00Z, so tests that need a token still valid pass a ``now`` before
that date, or seed the cache with a token that expires in the real future.  Throttling, which moto
does not do, comes from a small fake endpoint (tests/support/moto.py).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from regauth.credentials import Credentials
from regauth.errors import StoreError
from regauth.sources import cache, ecr
from tests.conftest import IsolatedEnv
from tests.support.moto import AWS_VARIABLES, MotoServer, ThrottlingEcr, aws_environment
from tests.support.require import require, require_module

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
EU_HOST = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
MOTO_PASSWORD = f"{ACCOUNT}-auth-token"  # what moto mints for ACCOUNT (see module docstring)
MOTO_EXPIRY = datetime(2015, 1, 1, tzinfo=timezone.utc)
BEFORE = MOTO_EXPIRY - timedelta(hours=12)  # a "now" at which moto's token is fresh
HELPER = "docker-credential-regauth-ecr"


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    require_module("botocore")
    require_module("moto.server")
    require_module("flask")  # what moto[server] adds
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Aws:
    """The test's AWS set-up: moto's endpoint, the environment for subprocesses, the cache dir."""

    moto: MotoServer
    env: dict[str, str]
    cache_dir: Path

    def run_helper(
        self, action: str, stdin: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        helper = shutil.which(HELPER, path=os.path.dirname(sys.executable)) or shutil.which(HELPER)
        require(helper is not None, f"{HELPER} is not installed (pip install -e '.[test]')")
        assert helper is not None
        return subprocess.run(
            [helper, action],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env=env or self.env,
            check=False,
        )


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, str]:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


@pytest.fixture
def aws(
    moto_server: MotoServer, isolated_env: IsolatedEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Aws:
    """botocore pointed at moto (fake keys, AWS_REGION=us-east-1), a fresh cache, moto's log cleared."""
    cache_dir = tmp_path / "regauth-cache"
    env = _set(
        monkeypatch, {**aws_environment(moto_server.url, tmp_path), "REGAUTH_CACHE_DIR": str(cache_dir)}
    )
    moto_server.reset()
    return Aws(moto_server, env, cache_dir)


def _cache_files(aws: Aws) -> list[Path]:
    folder = aws.cache_dir / "credentials"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _seed(host: str, password: str, expires_in: timedelta) -> None:
    expires_at = datetime.now(timezone.utc).replace(microsecond=0) + expires_in
    assert cache.save(ecr.SOURCE, host, Credentials("AWS", password, server=host, expires_at=expires_at))


# ---------------------------------------------------------------------------------------------
# Host parsing (unit tests: no AWS call)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "region", "fips", "china"),
    [
        (HOST, "us-east-1", False, False),
        (f"https://{EU_HOST}", "eu-west-1", False, False),
        (f"{EU_HOST}/team/app", "eu-west-1", False, False),
        (f"{ACCOUNT}.DKR.ECR.EU-WEST-1.AMAZONAWS.COM", "eu-west-1", False, False),
        (f"{ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1", True, False),
        (f"{ACCOUNT}.dkr.ecr-fips.us-east-1.amazonaws.com", "us-east-1", True, False),
        (f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1", False, True),
        (f"{ACCOUNT}.dkr.ecr.cn-northwest-1.amazonaws.com.cn/repo", "cn-northwest-1", False, True),
    ],
)
def test_parse_ecr_hosts(server: str, region: str, fips: bool, china: bool) -> None:
    registry = ecr.parse(server)
    assert registry is not None
    assert (registry.account, registry.region, registry.fips, registry.china) == (
        ACCOUNT,
        region,
        fips,
        china,
    )
    assert "/" not in registry.host and registry.host == registry.host.lower()


@pytest.mark.parametrize(
    "server",
    [
        "public.ecr.aws",
        "docker.io",
        "12345678901.dkr.ecr.us-east-1.amazonaws.com",  # 11 digits
        f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        f"evil.example/{HOST}",
        f"x{HOST}",
        f"{HOST}:443",
        f"{ACCOUNT}.dkr.ecr-gov.us-east-1.amazonaws.com",
        f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.cn",
        "",
    ],
)
def test_parse_refuses_other_hosts(server: str) -> None:
    assert ecr.parse(server) is None
    assert ecr.get(server) is None  # not ECR: no source applies, nothing is called


@pytest.mark.parametrize(
    ("host", "endpoint", "partition"),
    [
        (
            f"{ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
            "https://ecr-fips.us-gov-west-1.amazonaws.com",
            "aws-us-gov",
        ),
        (
            f"{ACCOUNT}.dkr.ecr-fips.us-east-1.amazonaws.com",
            "https://ecr-fips.us-east-1.amazonaws.com",
            "aws",
        ),
        (
            f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "https://api.ecr.cn-north-1.amazonaws.com.cn",
            "aws-cn",
        ),
        (EU_HOST, "https://api.ecr.eu-west-1.amazonaws.com", "aws"),
    ],
)
def test_client_endpoint_follows_the_host(
    host: str, endpoint: str, partition: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's own endpoint resolution (no request sent): FIPS hosts use ECR's FIPS endpoint,
    .cn hosts the China partition, each in the host's region whatever AWS_REGION says."""
    require_module("botocore")
    _set(monkeypatch, aws_environment("unused", tmp_path))
    monkeypatch.delenv("AWS_ENDPOINT_URL_ECR")
    registry = ecr.parse(host)
    assert registry is not None
    client = ecr.client(registry)
    try:
        assert (client.meta.endpoint_url, client.meta.partition) == (endpoint, partition)
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# Minting against moto
# ---------------------------------------------------------------------------------------------


def test_token_issued_and_decoded(aws: Aws) -> None:
    creds = ecr.get(HOST, now=BEFORE)
    assert creds is not None
    assert (creds.username, creds.server, creds.expires_at) == ("AWS", HOST, MOTO_EXPIRY)
    assert creds.password == MOTO_PASSWORD
    assert aws.moto.calls("GetAuthorizationToken") == 1


def test_second_call_is_a_cache_hit(aws: Aws) -> None:
    first = ecr.get(HOST, now=BEFORE)
    second = ecr.get(HOST, now=BEFORE + timedelta(hours=1))
    assert first == second
    assert aws.moto.calls("GetAuthorizationToken") == 1
    [path] = _cache_files(aws)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    record = json.loads(path.read_text())
    assert record == {
        "source": "ecr",
        "server": HOST,
        "username": "AWS",
        "secret": MOTO_PASSWORD,
        "expires_at": "2015-01-01T00:00:00Z",
    }
    assert aws.env["AWS_SECRET_ACCESS_KEY"] not in path.read_text()  # no AWS secret on disk


def test_cache_hit_across_processes(aws: Aws) -> None:
    """A token cached by one process (here a seeded one that expires in an hour) serves the helper."""
    _seed(HOST, "cached-token", timedelta(hours=1))
    done = aws.run_helper("get", HOST)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout) == {"ServerURL": HOST, "Username": "AWS", "Secret": "cached-token"}
    assert aws.moto.calls("GetAuthorizationToken") == 0


def test_refresh_near_expiry(aws: Aws) -> None:
    assert ecr.get(HOST, now=BEFORE) is not None
    near = MOTO_EXPIRY - timedelta(minutes=4)  # inside the five-minute margin
    refreshed = ecr.get(HOST, now=near)
    assert refreshed is not None and refreshed.password == MOTO_PASSWORD
    assert aws.moto.calls("GetAuthorizationToken") == 2


def test_entry_expiring_within_five_minutes_is_replaced(aws: Aws) -> None:
    _seed(HOST, "old-token", timedelta(minutes=3))
    creds = ecr.get(HOST)
    assert creds is not None and creds.password == MOTO_PASSWORD
    assert aws.moto.calls("GetAuthorizationToken") == 1
    [path] = _cache_files(aws)
    assert json.loads(path.read_text())["secret"] == MOTO_PASSWORD


def test_host_region_is_called_not_aws_region(aws: Aws) -> None:
    assert os.environ["AWS_REGION"] == "us-east-1"
    creds = ecr.get(EU_HOST, now=BEFORE)
    assert creds is not None and creds.server == EU_HOST
    assert aws.moto.regions() == ["eu-west-1"]


def test_unknown_region_fails_in_one_line(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an endpoint override a region with no ECR endpoint is named in the one line."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_ECR")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    host = f"{ACCOUNT}.dkr.ecr.nowhere-1.amazonaws.com"
    with pytest.raises(StoreError) as caught:
        ecr.get(host)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(
        f"{host}: ECR GetAuthorizationToken in nowhere-1 failed"
    )


def test_no_aws_credentials(aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    with pytest.raises(StoreError) as caught:
        ecr.get(HOST)
    assert str(caught.value) == (
        f"{HOST}: no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or configure ~/.aws)"
    )
    env = {k: v for k, v in aws.env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    done = aws.run_helper("get", HOST, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (1, str(caught.value) + "\n", "")
    assert aws.moto.calls("GetAuthorizationToken") == 0
    assert _cache_files(aws) == []


def test_throttling_is_one_line_and_bounded(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # botocore retries throttling; one retry here
    with ThrottlingEcr() as throttle:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", throttle.url)
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            ecr.get(HOST)
        assert time.monotonic() - started < 30
        assert throttle.count == 2
    assert (
        str(caught.value)
        == f"{HOST}: ECR GetAuthorizationToken in us-east-1 failed: ThrottlingException: Rate exceeded"
    )
    assert _cache_files(aws) == []


def test_throttled_refresh_falls_back_on_a_token_still_valid(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As amazon-ecr-credential-helper does: a cached token inside the margin but not expired is
    served when ECR cannot be asked; an expired one is not."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    _seed(HOST, "still-valid", timedelta(minutes=3))
    _seed(EU_HOST, "expired", timedelta(minutes=-1))
    with ThrottlingEcr() as throttle:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", throttle.url)
        creds = ecr.get(HOST)
        assert creds is not None and creds.password == "still-valid"
        with pytest.raises(StoreError, match="ThrottlingException"):
            ecr.get(EU_HOST)
        assert throttle.count == 2


def test_caching_off(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGAUTH_CACHE_DIR", "")
    assert ecr.get(HOST, now=BEFORE) == ecr.get(HOST, now=BEFORE)
    assert aws.moto.calls("GetAuthorizationToken") == 2
    assert not aws.cache_dir.exists()


def test_debug_logging_shows_no_token(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    """botocore's DEBUG records carry request signatures and the response body: kept out of logs."""
    import logging

    caplog.set_level(logging.DEBUG)
    ecr.get(HOST, now=BEFORE)
    assert MOTO_PASSWORD not in caplog.text
    assert "QVdT" not in caplog.text  # base64 of "AWS", the start of every token
    assert aws.env["AWS_SECRET_ACCESS_KEY"] not in caplog.text


# ---------------------------------------------------------------------------------------------
# The helper, through Docker's credential-helper protocol and skopeo
# ---------------------------------------------------------------------------------------------


def test_helper_get(aws: Aws) -> None:
    done = aws.run_helper("get", f"{EU_HOST}\n")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == {"ServerURL": EU_HOST, "Username": "AWS", "Secret": MOTO_PASSWORD}
    assert aws.moto.regions() == ["eu-west-1"]


def test_helper_other_actions(aws: Aws) -> None:
    store = json.dumps({"ServerURL": HOST, "Username": "AWS", "Secret": "x"})
    assert (aws.run_helper("store", store).returncode, aws.run_helper("store", store).stdout) == (
        1,
        "not implemented\n",
    )
    erase = aws.run_helper("erase", HOST)
    assert (erase.returncode, erase.stdout) == (1, "not implemented\n")
    other = aws.run_helper("get", "registry.example")
    assert (other.returncode, other.stdout) == (1, "credentials not found in native keychain\n")
    assert json.loads(aws.run_helper("list", "").stdout) == {}
    _seed(EU_HOST, "cached", timedelta(hours=2))
    _seed(HOST, "about-to-expire", timedelta(minutes=2))
    assert json.loads(aws.run_helper("list", "").stdout) == {EU_HOST: "AWS"}
    assert aws.moto.calls("GetAuthorizationToken") == 0


def test_skopeo_reads_the_helper_through_cred_helpers(aws: Aws, isolated_env: IsolatedEnv) -> None:
    """containers/image (skopeo) reads Docker's credHelpers (docs/interop.md) and runs our helper."""
    skopeo = shutil.which("skopeo")
    require(skopeo is not None, "skopeo is not installed")
    assert skopeo is not None
    (isolated_env.docker_config / "config.json").write_text(
        json.dumps({"credHelpers": {HOST: "regauth-ecr"}})
    )
    env = {**aws.env, "PATH": os.path.dirname(sys.executable) + os.pathsep + aws.env.get("PATH", "")}
    done = subprocess.run(
        [skopeo, "login", "--get-login", HOST],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "AWS"), done.stderr
    assert aws.moto.calls("GetAuthorizationToken") == 1


def test_regauth_get_finds_ecr_through_the_lookup_chain(aws: Aws) -> None:
    """No login: `regauth get` mints through the ECR source after Docker's config.json, and its
    --debug log shows neither the token nor the AWS secret key."""
    regauth = shutil.which("regauth", path=os.path.dirname(sys.executable))
    require(regauth is not None, "regauth is not installed (pip install -e '.[test]')")
    assert regauth is not None
    done = subprocess.run(
        [regauth, "--debug", "get", f"{EU_HOST}/team/app:1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=aws.env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ServerURL": EU_HOST, "Username": "AWS", "Secret": MOTO_PASSWORD}
    for secret in (MOTO_PASSWORD, "QVdT", aws.env["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in done.stderr
    assert aws.moto.regions() == ["eu-west-1"]


def _regauth(aws: Aws, *args: str) -> subprocess.CompletedProcess[str]:
    regauth = shutil.which("regauth", path=os.path.dirname(sys.executable))
    require(regauth is not None, "regauth is not installed (pip install -e '.[test]')")
    assert regauth is not None
    return subprocess.run(
        [regauth, *args], capture_output=True, text=True, timeout=60, env=aws.env, check=False
    )


def test_status_names_an_ecr_host_with_nothing_cached(aws: Aws) -> None:
    """`regauth status HOST` mints for an ECR host that nothing lists yet and judges the token by
    its expiry: moto's tokens carry an expiry in the past, so the answer is `expired`, with no
    request to a registry."""
    done = _regauth(aws, "status", "--format", "json", HOST)
    assert done.returncode == 1, done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["server"], row["username"], row["store"], row["result"]) == (HOST, "AWS", "minted", "expired")
    assert row["expires_at"].endswith("Z")
    assert aws.moto.calls("GetAuthorizationToken") == 1
    assert MOTO_PASSWORD not in done.stdout + done.stderr


def test_status_of_a_cached_token_still_valid(aws: Aws) -> None:
    """A token the cache holds (minted earlier, two hours left) is re-validated, not minted again."""
    _seed(HOST, "cached-token-password", timedelta(hours=2))
    done = _regauth(aws, "status", "--format", "json", HOST)
    (row,) = json.loads(done.stdout)
    assert row["server"] == HOST and row["store"] == "minted" and row["result"] != "expired"
    assert aws.moto.calls("GetAuthorizationToken") == 0


# ---------------------------------------------------------------------------------------------
# The cache on its own (shared with command sources)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def cache_dir(isolated_env: IsolatedEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "regauth-cache"
    monkeypatch.setenv("REGAUTH_CACHE_DIR", str(path))
    return path


def test_cache_round_trip_and_margin(cache_dir: Path) -> None:
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    creds = Credentials("user", "s3cret", server="reg.example", expires_at=later)
    assert cache.save("cmd", "reg.example", creds)
    assert cache.load("cmd", "reg.example", now=later - timedelta(hours=1)) == creds
    assert cache.load("cmd", "reg.example", now=later - timedelta(minutes=5)) is None  # within the margin
    assert cache.load("cmd", "reg.example", timedelta(0), now=later - timedelta(minutes=5)) == creds
    assert cache.load("ecr", "reg.example") is None  # another source's entry is not this one's
    assert cache.load("cmd", "other.example") is None
    assert cache.entries("cmd", now=later - timedelta(hours=1)) == {"reg.example": creds}
    assert cache.entries("cmd", now=later) == {}


def test_cache_keeps_nothing_without_expiry(cache_dir: Path) -> None:
    assert not cache.save("cmd", "reg.example", Credentials("user", "s3cret"))
    assert not cache_dir.exists()


def test_cache_ignores_broken_and_misplaced_files(cache_dir: Path) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert cache.save("cmd", "a.example", Credentials("user", "a", expires_at=later))
    assert cache.save("cmd", "b.example", Credentials("user", "b", expires_at=later))
    a_path, b_path = (
        next(p for p in (cache_dir / "credentials").iterdir() if json.loads(p.read_text())["server"] == key)
        for key in ("a.example", "b.example")
    )
    a_path.write_text("{not json")
    assert cache.load("cmd", "a.example") is None
    b_path.replace(a_path)  # b's entry under a's name: neither key may use it
    assert cache.load("cmd", "a.example") is None
    assert cache.load("cmd", "b.example") is None
    assert cache.entries("cmd") == {}


def test_cache_unwritable_is_no_error(cache_dir: Path) -> None:
    cache_dir.write_text("a file where the cache directory should be")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert not cache.save("cmd", "reg.example", Credentials("user", "s3cret", expires_at=later))
    assert cache.load("cmd", "reg.example") is None
    assert cache.entries("cmd") == {}


def test_unwritable_cache_still_serves_tokens(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.cache_dir.write_text("a file where the cache directory should be")
    creds = ecr.get(HOST, now=BEFORE)
    assert creds is not None and creds.password == MOTO_PASSWORD
