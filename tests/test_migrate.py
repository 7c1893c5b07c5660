"""``regauth migrate --to HELPER`` with the real Go pass helper, killed at random moments.

Helper-backed entries are ``{}`` markers and ``credHelpers`` is read first (docs/credential-stores.md);
skopeo honours ``credHelpers`` but not ``credsStore`` (docs/interop.md).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regauth.stores.helper import HelperStore
from tests.cliutil import b64, read_config, regauth
from tests.conftest import IsolatedEnv
from tests.support.gpg import pass_env  # noqa: F401
from tests.support.keyring_env import secretservice_env  # noqa: F401
from tests.test_inventory import broken_helper_path, helpers_env  # noqa: F401

KILLS = int(os.environ.get("REGAUTH_MIGRATE_KILLS", "30"))
BUDGET_SECONDS = float(os.environ.get("REGAUTH_MIGRATE_BUDGET", "15"))


def plaintext_config(n: int) -> tuple[dict[str, object], dict[str, tuple[str, str]]]:
    """A config with ``n`` password entries and one identity-token entry, plus the expected secrets."""
    expected: dict[str, tuple[str, str]] = {}
    auths: dict[str, object] = {}
    for i in range(n):
        key = f"m{i}.migrate.example"
        expected[key] = (f"user{i}", f"pw-{i}-{random.random()}")
        auths[key] = {"auth": b64(f"user{i}:{expected[key][1]}"), "email": f"u{i}@x"}
    auths["tok.migrate.example"] = {"auth": b64("tokuser:"), "identitytoken": "refresh-123"}
    expected["tok.migrate.example"] = ("<token>", "refresh-123")
    return {"auths": auths, "credsStore": "", "psFormat": "x"}, expected


def check_invariant(
    config_dir: Path, expected: dict[str, tuple[str, str]], verified: set[str] | None = None
) -> int:
    """Every entry is either plaintext and unchanged, or a marker whose helper returns it. Returns moved."""
    data = read_config(config_dir)
    auths = data["auths"]
    helpers = data.get("credHelpers", {})
    moved = 0
    assert set(auths) == set(expected)
    for key, (user, secret) in expected.items():
        entry = auths[key]
        if "auth" in entry:  # still plaintext, unchanged
            assert key not in helpers
            if user == "<token>":
                assert entry["identitytoken"] == secret
            else:
                assert entry["auth"] == b64(f"{user}:{secret}")
        else:
            assert helpers.get(key) == "pass", (key, data)
            assert "identitytoken" not in entry
            moved += 1
            if verified is not None:
                if key in verified:
                    continue  # a moved entry is never rewritten: checked once is enough
                verified.add(key)
            got = HelperStore("pass").get(key)
            assert got is not None
            if user == "<token>":
                assert got.identity_token == secret
            else:
                assert (got.username, got.password) == (user, secret)
    leftovers = [p.name for p in config_dir.iterdir() if p.name.startswith("config.json.tmp-")]
    for _name in leftovers:  # a killed writer's temp file: must not outlive the next locked write
        assert moved < len(expected), leftovers
    return moved


@pytest.mark.usefixtures("helpers_env")
def test_migrate_moves_everything(isolated_env: IsolatedEnv) -> None:
    cfg, expected = plaintext_config(3)
    (isolated_env.docker_config / "config.json").write_text(json.dumps(cfg))
    r = regauth("migrate", "--to", "pass")
    assert r.code == 0, r.err
    assert sorted(r.out.splitlines()) == sorted(f"Moved {k} to pass" for k in expected)
    assert check_invariant(isolated_env.docker_config, expected) == len(expected)
    data = read_config(isolated_env.docker_config)
    assert data["auths"]["m0.migrate.example"] == {"email": "u0@x"}  # unrelated fields kept
    assert data["psFormat"] == "x"
    for out in (r.out, r.err):
        assert "pw-" not in out
    # a reader resolves every key through credHelpers now
    got = regauth("get", "m1.migrate.example")
    assert json.loads(got.out)["Secret"] == expected["m1.migrate.example"][1]
    again = regauth("migrate", "--to", "pass", "--set-creds-store")
    assert (again.code, again.out) == (0, "No plaintext credentials to migrate\n")
    assert read_config(isolated_env.docker_config)["credsStore"] == "pass"


@pytest.mark.usefixtures("helpers_env")
def test_migrate_to_broken_helper_moves_nothing(isolated_env: IsolatedEnv) -> None:
    cfg, expected = plaintext_config(2)
    path = isolated_env.docker_config / "config.json"
    path.write_text(json.dumps(cfg))
    before = path.read_bytes()
    r = regauth("migrate", "--to", "broken")
    assert r.code == 1
    assert r.out == ""
    assert r.err.count("Not moved") == len(expected) and "the keychain is on fire" in r.err
    assert path.read_bytes() == before


@pytest.mark.usefixtures("helpers_env")
def test_migrate_killed_at_random_moments_loses_nothing(
    isolated_env: IsolatedEnv,
) -> None:
    """SIGKILL at random moments (KILLS times): after each kill every entry is intact somewhere."""
    rng = random.Random(int(os.environ.get("REGAUTH_MIGRATE_SEED", "5")))
    cfg, expected = plaintext_config(3)
    (isolated_env.docker_config / "config.json").write_text(json.dumps(cfg))
    env = dict(os.environ)
    start = time.monotonic()
    full = subprocess.run(
        [sys.executable, "-m", "regauth", "migrate", "--to", "pass"], capture_output=True, env=env,
        timeout=120, cwd=str(isolated_env.home),
    )  # fmt: skip
    duration = time.monotonic() - start
    assert full.returncode == 0, full.stderr

    def reset() -> None:
        for key in expected:
            HelperStore("pass").erase(key)
        (isolated_env.docker_config / "config.json").write_text(json.dumps(cfg))

    reset()
    kills = 0
    seen: set[int] = set()
    verified: set[str] = set()
    deadline = time.monotonic() + BUDGET_SECONDS
    while kills < KILLS and time.monotonic() < deadline:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regauth", "migrate", "--to", "pass"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        time.sleep(rng.uniform(0.0, duration))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
            seen.add(check_invariant(isolated_env.docker_config, expected, verified))
        else:
            assert proc.returncode == 0
            assert check_invariant(isolated_env.docker_config, expected, verified) == len(expected)
            reset()
            verified.clear()  # start over, so later kills land in the middle again
    print(f"migrate: one run {duration:.2f} s, {kills} kills, moved counts after a kill: {sorted(seen)}")
    r = regauth("migrate", "--to", "pass")
    assert r.code == 0, r.err
    assert check_invariant(isolated_env.docker_config, expected) == len(expected)
    assert not [p for p in isolated_env.docker_config.iterdir() if ".tmp-" in p.name]
    for key in expected:
        HelperStore("pass").erase(key)


def test_migrate_nothing(isolated_env: IsolatedEnv) -> None:
    r = regauth("migrate", "--to", "pass")
    assert (r.code, r.out) == (0, "No plaintext credentials to migrate\n")
