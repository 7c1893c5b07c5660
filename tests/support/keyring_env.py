"""Private D-Bus session bus + unlocked gnome-keyring (docs/testing.md).  Rule: stop ours by pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.support.require import require

__all__ = [
    "KEYRING_PASSWORD",
    "PLAIN_HELPER_CODE",
    "secretservice_env",
    "start_secretservice",
    "stop_secretservice",
    "write_plain_helper",
]

KEYRING_PASSWORD = b"regauth-test-keyring"  # the login keyring's password (unlocks it again)
# Our secretservice helper in a process where `cryptography` cannot be imported: it must fall
# back to a `plain` session.  Arguments follow the code as for the helper itself.
PLAIN_HELPER_CODE = (
    "import sys; sys.modules['cryptography'] = None; "
    "from regauth.helpers.secretservice import main; sys.exit(main())"
)

_state: dict[str, object] = {"refs": 0, "env": None, "pids": [], "dir": None}


def _has_owner(env: dict[str, str]) -> bool:
    done = subprocess.run(
        [
            "dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ],
        env=env, capture_output=True, text=True, check=False, timeout=10,
    )  # fmt: skip
    return "boolean true" in done.stdout


def start_secretservice(base: str) -> tuple[dict[str, str], list[int]]:
    """Start dbus-daemon and gnome-keyring-daemon under ``base``; (env to add, pids)."""
    address = f"unix:path={base}/bus"
    bus = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--nopidfile", f"--address={address}",
         "--print-pid=1"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    pids = [int(bus.stdout.split()[0])]
    runtime = os.path.join(base, "runtime")
    os.mkdir(runtime, 0o700)
    add = {
        "DBUS_SESSION_BUS_ADDRESS": address,
        "XDG_RUNTIME_DIR": runtime,
        "XDG_DATA_HOME": os.path.join(base, "data"),
    }
    env = dict(os.environ, **add)
    keyring = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True,
    )  # fmt: skip
    assert keyring.stdin is not None
    keyring.stdin.write(KEYRING_PASSWORD)
    keyring.stdin.close()
    pids.append(keyring.pid)
    deadline = time.monotonic() + 20
    while not _has_owner(env):
        if time.monotonic() > deadline or keyring.poll() is not None:
            stop_secretservice(pids)
            raise RuntimeError("gnome-keyring-daemon did not provide org.freedesktop.secrets")
        time.sleep(0.05)
    return add, pids


def stop_secretservice(pids: list[int]) -> None:
    """Terminate the daemons we started, by pid."""
    for pid in reversed(pids):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for pid in pids:
        with contextlib.suppress(ChildProcessError):  # dbus-daemon forked: not our child
            os.waitpid(pid, 0)


def write_plain_helper(folder: str) -> str:
    """Write ``folder/docker-credential-regauth-secretservice-plain`` (see PLAIN_HELPER_CODE); its path."""
    path = os.path.join(folder, "docker-credential-regauth-secretservice-plain")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f'#!/bin/sh\nexec "{sys.executable}" -c "{PLAIN_HELPER_CODE}" "$@"\n')
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="session")
def secretservice_env() -> Iterator[dict[str, str]]:
    """Env vars of a private session bus with an unlocked gnome-keyring (session-wide, shared)."""
    for binary in ("dbus-daemon", "dbus-send", "gnome-keyring-daemon"):
        require(shutil.which(binary) is not None, f"{binary} not on PATH")
    if _state["env"] is None:
        base = tempfile.mkdtemp(prefix="regauth-dbus-")
        env, pids = start_secretservice(base)
        _state.update(env=env, pids=pids, dir=base)
    _state["refs"] = int(str(_state["refs"])) + 1
    env = dict(_state["env"])  # type: ignore[call-overload]
    try:
        yield env
    finally:
        _state["refs"] = int(str(_state["refs"])) - 1
        if _state["refs"] == 0:
            stop_secretservice(list(_state["pids"]))  # type: ignore[call-overload]
            shutil.rmtree(str(_state["dir"]), ignore_errors=True)
            _state["env"] = None
