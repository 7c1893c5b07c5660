"""Rule: servers listen on 127.0.0.1 only; free ports probed, readiness polled with short sleeps."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable

__all__ = ["LOOPBACK", "free_port", "http_status", "wait_until"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (callers retry on a bind race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def http_status(
    url_host: str,
    path: str,
    *,
    tls: bool,
    cafile: str | None = None,
    timeout: float = 2.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, http.client.HTTPMessage]:
    """GET ``path`` on ``url_host`` ("127.0.0.1:PORT"); return (status, body, headers)."""
    host, _, port_s = url_host.rpartition(":")
    port = int(port_s)
    conn: http.client.HTTPConnection
    if tls:
        ctx = ssl.create_default_context(cafile=cafile)
        if cafile is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.headers
    finally:
        conn.close()


def wait_until(check: Callable[[], bool], *, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``check`` until it returns True (exceptions count as False); False on timeout."""
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        try:
            if check():
                return True
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)
