"""``--timeout N`` against silent and trickling servers: one request ends within N seconds.

The deadline of a request is N (not a multiple of it), the message names that wait, and the
plain-HTTP retry of a loopback registry that does not speak TLS is one more request with its own N;
the README gives the most a whole login can take.  Each server is also given to Docker CLI 28, which
has no ``--timeout``: how long it held on is recorded (it is killed at a bound), not asserted.

The bounds below stop a hang, they do not measure speed: a CLI start on a loaded machine fits in
the slack many times over, and the old deadline of 2 x N per request does not fit.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.fakes import (
    FakeServer,
    RawServer,
    basic_header,
    basic_registry,
    docker_login,
    regauth_login,
    shown,
    tls_context,
    trickle,
)
from tests.reliability.figures import budget, record

USER, PASSWORD = "timeoutuser", "t1meout-Passw0rd-XYZ"
SECRETS = (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
SLACK = 3.0  # seconds for starting the CLI and the scheduling of a loaded 2-core machine
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"{" * 100_000


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server TLS context for 127.0.0.1 and localhost."""
    return tls_context(tmp_path_factory.mktemp("timeouts-ca"))


def _trickling(sock: socket.socket, _head: bytes) -> None:
    trickle(sock, RESPONSE, delay=0.2, limit=30)


# name: (server factory, --timeout, extra flags, requests the login makes before it gives up)
Factory = Callable[[Any], RawServer]
CASES: dict[str, tuple[Factory, float, tuple[str, ...], int]] = {
    # TLS verified (a secure registry): one request, its handshake never answered
    "silent_tls_handshake": (lambda tls: RawServer(None), 3.0, ("--tls-verify=true",), 1),
    # the handshake done, then the response a byte every 0.2 s (TLS: no plain-HTTP retry)
    "trickling_tls_response": (lambda tls: RawServer(_trickling, tls=tls), 4.0, (), 1),
    # loopback, silent: the handshake times out (no TLS answer), then plain HTTP, silent too
    "silent_server_plain_retry": (lambda tls: RawServer(None), 3.0, (), 2),
    # loopback, plain HTTP trickled: the handshake fails on the first bytes, the plain request trickles
    "trickling_plain_server": (lambda tls: RawServer(_trickling), 4.0, (), 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_timeout_bounds_each_request(
    name: str, tls: Any, isolated_env: object, docker_config_dir: Path
) -> None:
    """Exit 1 within requests x N (+ slack), one line naming the wait, no secret, nothing written."""
    factory, timeout, extra, requests = CASES[name]
    with factory(tls) as server:
        run = regauth_login(server.host, USER, PASSWORD, timeout, *extra)
    leaked = sum(run.out.count(s) for s in SECRETS)
    record("hostile servers", "regauth", faults=1, secrets=leaked, false_ok=int(run.code == 0),
           note=f"{name} (--timeout {timeout:g}): {shown(run)}")  # fmt: skip
    lines = [line for line in run.out.splitlines() if line.strip()]
    assert run.code == 1, run.out
    assert len(lines) == 1 and leaked == 0, run.out
    assert f"timed out after {timeout:g}s" in lines[0], lines[0]
    assert run.wall < requests * timeout + SLACK, shown(run)
    assert not (docker_config_dir / "config.json").exists()


@pytest.mark.parametrize("name", list(CASES))
def test_docker_against_the_same_servers(name: str, tls: Any, tmp_path: Path, docker_only_path: str) -> None:
    """Docker CLI 28 on the same servers: how long it held on (killed at the bound), recorded."""
    factory, _timeout, _extra, _requests = CASES[name]
    limit = budget(15, 90)
    with factory(tls) as server:
        run = docker_login(docker_only_path, server.host, tmp_path, USER, PASSWORD, limit)
    record("hostile servers", "docker", faults=1, secrets=sum(run.out.count(s) for s in SECRETS),
           false_ok=int(run.code == 0), note=f"{name}: {shown(run)}")  # fmt: skip
    print(f"\nDocker, {name}: {shown(run)}")


def test_plain_http_registry_is_still_reached(isolated_env: object) -> None:
    """The retry that stays: a loopback registry that speaks no TLS is logged in to over plain HTTP."""
    with FakeServer(basic_registry(USER, PASSWORD)) as server:
        run = regauth_login(server.host, USER, PASSWORD, 3.0)
    assert run.code == 0 and "Login Succeeded" in run.out, run.out
    assert server.seen[-1].headers.get("authorization") == basic_header(USER, PASSWORD)
