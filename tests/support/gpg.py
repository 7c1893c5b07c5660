"""Throwaway GnuPG home + initialised pass store (docs/testing.md).  Rule: stop what we start."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from tests.support.require import require

__all__ = ["make_pass_env", "pass_env", "stop_pass_env"]

_UID = "regauth test <regauth-test@example.invalid>"
_state: dict[str, object] = {"refs": 0, "env": None, "dir": None}


def _gpg(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["gpg", "--batch", *args], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def make_pass_env(base: str) -> dict[str, str]:
    """Create a passphrase-less ed25519/cv25519 key and an initialised store under ``base``.

    Returns the environment variables to add (GNUPGHOME, PASSWORD_STORE_DIR, REGAUTH_TEST_GPG_FPR).
    """
    home = os.path.join(base, "gnupg")
    os.mkdir(home, 0o700)
    with open(os.path.join(home, "gpg-agent.conf"), "w") as fh:
        fh.write("allow-loopback-pinentry\ndefault-cache-ttl 86400\nmax-cache-ttl 86400\n")
    with open(os.path.join(home, "gpg.conf"), "w") as fh:
        fh.write("pinentry-mode loopback\n")
    env = dict(os.environ, GNUPGHOME=home)
    _gpg(env, "--passphrase", "", "--quick-generate-key", _UID, "ed25519", "sign", "never")
    listing = _gpg(env, "--with-colons", "--list-keys", _UID)
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    _gpg(env, "--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", "never")
    store = os.path.join(base, "password-store")
    env["PASSWORD_STORE_DIR"] = store
    subprocess.run(["pass", "init", fpr], env=env, capture_output=True, check=True, timeout=60)
    return {"GNUPGHOME": home, "PASSWORD_STORE_DIR": store, "REGAUTH_TEST_GPG_FPR": fpr}


def stop_pass_env(env: dict[str, str]) -> None:
    """Kill the gpg-agent of ``env``'s GNUPGHOME."""
    subprocess.run(
        ["gpgconf", "--homedir", env["GNUPGHOME"], "--kill", "gpg-agent"],
        capture_output=True,
        check=False,
        timeout=30,
    )


@pytest.fixture(scope="session")
def pass_env() -> Iterator[dict[str, str]]:
    """Env vars of a throwaway GNUPGHOME and an initialised PASSWORD_STORE_DIR (session-wide).

    Shared between the modules that import this fixture (reference-counted).
    """
    for binary in ("gpg", "gpgconf", "pass"):
        require(shutil.which(binary) is not None, f"{binary} not on PATH")
    if _state["env"] is None:
        base = tempfile.mkdtemp(prefix="regauth-gpg-")
        _state["dir"] = base
        _state["env"] = make_pass_env(base)
    _state["refs"] = int(str(_state["refs"])) + 1
    env = dict(_state["env"])  # type: ignore[call-overload]
    try:
        yield env
    finally:
        _state["refs"] = int(str(_state["refs"])) - 1
        if _state["refs"] == 0:
            stop_pass_env(env)
            shutil.rmtree(str(_state["dir"]), ignore_errors=True)
            _state["env"] = None
