"""Rule: a real distribution registry (``docker-registry serve``) on 127.0.0.1, state in workdir."""

from __future__ import annotations

import importlib
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.certs import CA, Signer, make_ca, make_token_signer
from tests.support.ports import LOOPBACK, free_port, http_status, wait_until
from tests.support.tokenserver import TokenServer, TokenServerProcess, start_token_server

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "REGISTRY_BINARY",
    "AccessLogEntry",
    "Registry",
    "RegistryStack",
    "hash_htpasswd",
    "have_registry",
    "start_registry",
    "start_registry_stack",
]

REGISTRY_BINARY = "docker-registry"
DEFAULT_USER = "testuser"
DEFAULT_PASSWORD = "testpassword"
_ACCESS_RE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def have_registry() -> bool:
    """True when the ``docker-registry`` binary is on PATH."""
    return shutil.which(REGISTRY_BINARY) is not None


def hash_htpasswd(user: str, password: str) -> str:
    """One bcrypt htpasswd line (cost 4, fast); password via stdin, never argv."""
    try:
        bcrypt: Any = importlib.import_module("bcrypt")
        hashed: bytes = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4))
        return f"{user}:{hashed.decode()}"
    except ImportError:
        pass
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        raise RuntimeError("need the htpasswd binary (apache2-utils) or the bcrypt module")
    out = subprocess.run(
        [htpasswd, "-nBi", "-C", "4", user],
        input=password.encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    return out.strip().splitlines()[0]


@dataclass(frozen=True)
class AccessLogEntry:
    """One request from the registry's access log."""

    method: str
    path: str
    status: int


@dataclass
class Registry:
    """A running ``docker-registry``; ``host`` is "127.0.0.1:PORT"."""

    workdir: Path
    auth: str
    tls: bool
    users: dict[str, str]
    config_path: Path
    log_path: Path
    storage_path: Path
    htpasswd_path: Path | None
    ca: CA | None
    cert_path: Path | None
    key_path: Path | None
    token_realm: str | None
    token_service: str | None
    token_issuer: str | None
    signer: Signer | None
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    start_seconds: float = 0.0

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` or ``http://…``."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def ca_path(self) -> Path | None:
        """PEM of the CA that issued the server cert (None over plain HTTP)."""
        return self.ca.cert_path if self.ca is not None else None

    @property
    def pid(self) -> int | None:
        """Process id of the registry, None when stopped."""
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the registry process is alive."""
        return self.proc is not None and self.proc.poll() is None

    # -- configuration --------------------------------------------------------------------
    def _write_htpasswd(self) -> None:
        assert self.htpasswd_path is not None
        text = "".join(hash_htpasswd(u, p) + "\n" for u, p in self.users.items())
        tmp = self.htpasswd_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # distribution 2.8 re-reads htpasswd when its mtime changes: make sure it does change.
        old = self.htpasswd_path.stat().st_mtime_ns if self.htpasswd_path.exists() else 0
        os.replace(tmp, self.htpasswd_path)
        if self.htpasswd_path.stat().st_mtime_ns == old:
            os.utime(self.htpasswd_path, ns=(old + 1_000_000, old + 1_000_000))

    def _write_config(self) -> None:
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: text",
            "  accesslog:",
            "    disabled: false",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {_q(self.storage_path)}",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: {LOOPBACK}:{self.port}",
            f"  secret: {secrets.token_hex(16)}",
        ]
        if self.tls:
            lines += [
                "  tls:",
                f"    certificate: {_q(self.cert_path)}",
                f"    key: {_q(self.key_path)}",
            ]
        if self.auth == "htpasswd":
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: regauth-test",
                f"    path: {_q(self.htpasswd_path)}",
            ]
        elif self.auth == "token":
            assert self.signer is not None
            lines += [
                "auth:",
                "  token:",
                f"    realm: {_q(self.token_realm)}",
                f"    service: {_q(self.token_service)}",
                f"    issuer: {_q(self.token_issuer)}",
                f"    rootcertbundle: {_q(self.signer.cert_path)}",
            ]
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    # -- life cycle -----------------------------------------------------------------------
    def _ready(self) -> bool:
        status, _, _ = http_status(
            self.host,
            "/v2/",
            tls=self.tls,
            cafile=None if self.ca is None else str(self.ca_path),
            timeout=0.5,
        )
        return status in (200, 401)

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        return wait_until(lambda: proc.poll() is not None or self._ready(), timeout=timeout)

    def start(self, timeout: float = 15.0) -> None:
        """Start (or restart) the registry process; keeps the port unless it was taken."""
        t0 = time.perf_counter()
        last_error = ""
        for attempt in range(6):
            if self.port == 0 or attempt > 0:
                self.port = free_port()
            self._write_config()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [REGISTRY_BINARY, "serve", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=str(self.workdir),
                )
            if self._wait_ready(self.proc, timeout) and self.proc.poll() is None:
                self.start_seconds = time.perf_counter() - t0
                return
            self._terminate()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            last_error = tail
            if "address already in use" not in tail:
                break
        raise RuntimeError(f"docker-registry did not start; log tail:\n{last_error}")

    def _terminate(self, timeout: float = 5.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        self.proc = None

    def stop(self) -> None:
        """Terminate the registry by pid, wait, kill on timeout."""
        self._terminate()

    def restart(self) -> None:
        """Stop and start again on the same port (config is rewritten)."""
        self._terminate()
        self.start()

    def set_password(self, user: str, password: str | None) -> None:
        """Rewrite htpasswd (None removes the user); 2.8 re-reads it when its mtime changes."""
        if self.htpasswd_path is None:
            raise RuntimeError("registry does not use htpasswd auth")
        if password is None:
            self.users.pop(user, None)
        else:
            self.users[user] = password
        self._write_htpasswd()

    def access_log(self) -> list[AccessLogEntry]:
        """Requests the registry served so far, parsed from its access log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [
            AccessLogEntry(m["method"], m["path"], int(m["status"]))
            for m in _ACCESS_RE.finditer(text)
        ]

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _q(value: object) -> str:
    """YAML double-quoted scalar."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def start_registry(
    workdir: str | os.PathLike[str],
    *,
    auth: str = "htpasswd",
    tls: bool = True,
    users: Mapping[str, str] | None = None,
    ca: CA | None = None,
    token_realm: str | None = None,
    token_service: str | None = None,
    token_issuer: str | None = None,
    signer: Signer | None = None,
    timeout: float = 15.0,
) -> Registry:
    """Write config (+htpasswd, +TLS cert) into ``workdir`` and start ``docker-registry serve``."""
    if auth not in ("htpasswd", "token", "none"):
        raise ValueError(f"unknown auth {auth!r}")
    if auth == "token" and (signer is None or token_realm is None):
        raise ValueError("token auth needs signer and token_realm")
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    cert_path = key_path = None
    if tls:
        if ca is None:
            ca = make_ca(work / "ca")
        cert_path, key_path = ca.issue_server_cert(work / "tls")
    else:
        ca = None
    reg = Registry(
        workdir=work,
        auth=auth,
        tls=tls,
        users=dict(users) if users is not None else {DEFAULT_USER: DEFAULT_PASSWORD},
        config_path=work / "config.yml",
        log_path=work / "registry.log",
        storage_path=work / "storage",
        htpasswd_path=work / "htpasswd" if auth == "htpasswd" else None,
        ca=ca,
        cert_path=cert_path,
        key_path=key_path,
        token_realm=token_realm,
        token_service=token_service or "regauth-test-registry",
        token_issuer=token_issuer or "regauth-test-issuer",
        signer=signer,
    )
    reg.storage_path.mkdir(exist_ok=True)
    if reg.htpasswd_path is not None:
        reg._write_htpasswd()
    reg.start(timeout=timeout)
    return reg


@dataclass
class RegistryStack:
    """A registry plus (for token auth) its token server and the credentials that work."""

    registry: Registry
    token_server: TokenServer | TokenServerProcess | None
    username: str
    password: str
    cert_dir: Path | None  # holds only ``ca.crt`` (skopeo/podman ``--cert-dir``)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.registry.host

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` or ``http://…``."""
        return self.registry.url

    @property
    def ca_path(self) -> Path | None:
        """CA PEM for TLS, None over plain HTTP."""
        return self.registry.ca_path

    @property
    def tls(self) -> bool:
        """Whether the registry speaks HTTPS."""
        return self.registry.tls

    @property
    def auth(self) -> str:
        """``htpasswd``, ``token`` or ``none``."""
        return self.registry.auth

    @property
    def pid(self) -> int | None:
        """Registry process id."""
        return self.registry.pid

    @property
    def log_path(self) -> Path:
        """Registry log (access log lines included)."""
        return self.registry.log_path

    @property
    def users(self) -> dict[str, str]:
        """All users (name -> password) the registry or token server accepts."""
        return dict(self.registry.users)

    @property
    def signer(self) -> Signer | None:
        """Token signer trusted by the registry (token auth only)."""
        return self.registry.signer

    def stop(self) -> None:
        """Stop the registry, then the token server."""
        self.registry.stop()
        if self.token_server is not None:
            self.token_server.stop()

    def __enter__(self) -> RegistryStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_registry_stack(
    workdir: str | os.PathLike[str],
    *,
    auth: str = "htpasswd",
    tls: bool = True,
    users: Mapping[str, str] | None = None,
    token_process: bool = False,
    **token_options: Any,
) -> RegistryStack:
    """Start a registry (and for ``auth="token"`` a token server first, same CA, same TLS mode)."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    users = dict(users) if users is not None else {DEFAULT_USER: DEFAULT_PASSWORD}
    ca = make_ca(work / "ca") if tls else None
    cert_dir: Path | None = None
    if ca is not None:
        cert_dir = work / "certs.d"
        cert_dir.mkdir(exist_ok=True)
        shutil.copyfile(ca.cert_path, cert_dir / "ca.crt")
    token_server: TokenServer | TokenServerProcess | None = None
    signer: Signer | None = None
    if auth == "token":
        from tests.support.tokenserver import start_token_server_process

        signer = make_token_signer(work / "signer")
        tls_cert = tls_key = None
        if ca is not None:
            tls_cert, tls_key = ca.issue_server_cert(work / "tokenserver-tls")
        if token_process:
            token_server = start_token_server_process(
                signer,
                work / "tokenserver",
                users=users,
                tls_cert=tls_cert,
                tls_key=tls_key,
                cafile=None if ca is None else ca.cert_path,
                **token_options,
            )
        else:
            token_server = start_token_server(
                signer, users=users, tls_cert=tls_cert, tls_key=tls_key, **token_options
            )
    try:
        registry = start_registry(
            work / "registry",
            auth=auth,
            tls=tls,
            users=users,
            ca=ca,
            token_realm=None if token_server is None else token_server.realm,
            token_service=None if token_server is None else token_server.service,
            token_issuer=None if token_server is None else token_server.issuer,
            signer=signer,
        )
    except BaseException:
        if token_server is not None:
            token_server.stop()
        raise
    username, password = next(iter(users.items()))
    return RegistryStack(registry, token_server, username, password, cert_dir)
