"""TLS client contexts: system trust, Docker's ``certs.d`` layout, TLS 1.2 or later.

One path on every platform: :func:`ssl.create_default_context` loads the system CAs (on Linux and
macOS through OpenSSL, which reads ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` when set, both of them;
on Windows from the system store), then the registry's ``certs.d`` directory adds its own CAs and
client certificate pairs.  The layout and its error messages follow Docker's
(github.com/docker/docker/blob/master/registry/registry.go, ``ReadCertsDirectory``); see
docs/registry-auth.md.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import PurePath

from regauth.errors import TransportError

__all__ = ["client_context", "default_cert_dirs", "host_cert_dirs", "load_host_dir"]


def default_cert_dirs() -> tuple[str, ...]:
    """Docker's ``certs.d`` roots for this platform."""
    if sys.platform == "win32":
        return (os.path.join(os.environ.get("PROGRAMDATA", r"C:\ProgramData"), "docker", "certs.d"),)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if not xdg:
        home = os.path.expanduser("~")
        if home.startswith("~"):  # no home directory: no per-user root (never one relative to the cwd)
            return ("/etc/docker/certs.d",)
        xdg = os.path.join(home, ".config")
    return ("/etc/docker/certs.d", os.path.join(xdg, "docker", "certs.d"))


def host_cert_dirs(host_dir: str, roots: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The ``<root>/<host[:port]>`` directories to read for a registry (``:`` dropped on Windows,
    where it cannot appear in a file name)."""
    name = host_dir.replace(":", "") if sys.platform == "win32" else host_dir
    return [os.path.join(os.fspath(root), name) for root in roots]


def client_context(verify: bool, cert_dirs: Sequence[str]) -> ssl.SSLContext:
    """A client context: TLS >= 1.2; when ``verify``, system CAs plus the ``*.crt`` of
    ``cert_dirs`` and the host name checked; client ``*.cert``/``*.key`` pairs either way.

    Raises:
        TransportError: a certificate file that cannot be read or loaded, or a lone ``.cert``/``.key``.
    """
    if verify:
        ctx = ssl.create_default_context()
    else:  # an insecure registry: encrypted, but any certificate is accepted
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for directory in cert_dirs:
        if os.path.isdir(directory):
            load_host_dir(ctx, directory, verify)
    return ctx


def load_host_dir(ctx: ssl.SSLContext, host_dir: str, verify: bool) -> None:
    """certs.d rules: ``*.crt`` CAs (when verifying), ``*.cert`` + ``*.key`` client pairs."""
    try:
        names = sorted(os.listdir(host_dir))
    except OSError as exc:
        raise TransportError(f"cannot read certificate directory {host_dir}: {exc.strerror}") from None
    for name in names:
        path = os.path.join(host_dir, name)
        try:
            if name.endswith(".crt") and verify:
                ctx.load_verify_locations(cafile=path)
            elif name.endswith(".cert"):
                key_name = PurePath(name).with_suffix(".key").name
                key = os.path.join(host_dir, key_name)
                if not os.path.exists(key):
                    raise TransportError(
                        f"missing key {key_name} for client certificate {path}. "
                        "CA certificates must use the extension .crt"
                    )
                ctx.load_cert_chain(path, key)
            elif name.endswith(".key"):
                cert_name = PurePath(name).with_suffix(".cert").name
                if not os.path.exists(os.path.join(host_dir, cert_name)):
                    raise TransportError(f"missing client certificate {cert_name} for key {path}")
        except OSError as exc:  # ssl.SSLError is an OSError
            raise TransportError(f"cannot load {path}: {exc}") from None


def handshake_error(exc: OSError | ValueError) -> str:
    """A one-line reason for a failed TLS handshake (no traceback, no OpenSSL source location)."""
    verify_message = getattr(exc, "verify_message", None)
    if verify_message:
        return str(verify_message)
    reason = getattr(exc, "reason", None)
    if reason in _OLD_PROTOCOL:
        return f"the server offers no TLS 1.2 or later ({reason.lower().replace('_', ' ')})"
    if isinstance(reason, str) and reason:
        return reason.lower().replace("_", " ")
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# OpenSSL reasons for a handshake that found no protocol version both sides accept
_OLD_PROTOCOL = frozenset({"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE"})
