"""Rule: Docker token-auth server: GET, plain or chunked POST forms, ES256 tokens, repo ACLs."""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import fnmatch
import hmac
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.certs import Signer, load_signer
from tests.support.ports import LOOPBACK

__all__ = [
    "TokenServer",
    "TokenServerConfig",
    "TokenServerProcess",
    "start_token_server",
    "start_token_server_process",
]

_REPO_ROOT = Path(__file__).resolve().parents[2]
_BAD_CREDENTIALS = {"details": "incorrect username or password"}
_ADMIN_PATH = "/_admin"


@dataclass
class TokenServerConfig:
    """Everything the token server needs; JSON-serialisable for the process mode."""

    signer_cert: str
    signer_key: str
    service: str = "regauth-test-registry"
    issuer: str = "regauth-test-issuer"
    users: dict[str, str] = field(default_factory=lambda: {"testuser": "testpassword"})
    # None: every authenticated user gets pull,push everywhere.  Otherwise user -> repo globs
    # (pull,push on matches); the key "*" applies to authenticated users not listed.
    acl: dict[str, list[str]] | None = None
    anonymous: list[str] = field(default_factory=list)  # repo globs anonymous users may pull
    header_style: str = "kid"
    issue_refresh_tokens: bool = True
    rotate_refresh_tokens: bool = False
    expires_in: int = 300
    path: str = "/token"
    tls_cert: str | None = None
    tls_key: str | None = None
    port: int = 0
    log_path: str | None = None
    admin_key: str | None = None
    # A refresh token this server did not issue is exchanged at this OpenID provider's token
    # endpoint (refresh_token grant, public client ``oidc_client_id``); the provider's subject
    # becomes the user (tests/support/oidc.py).
    oidc_token_endpoint: str | None = None
    oidc_client_id: str = ""
    oidc_cafile: str | None = None  # the provider's CA when it speaks HTTPS with a test certificate

    def to_json(self) -> str:
        """Serialise (contains passwords: write it to a 0600 file, never to argv)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TokenServerConfig:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


def _now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not name:
        return None
    return kind, name, [a for a in actions.split(",") if a]


class _TokenService:
    """State and logic shared by the thread and process modes."""

    def __init__(self, config: TokenServerConfig, signer: Signer | None = None) -> None:
        self.config = config
        self.signer = signer or load_signer(config.signer_cert, config.signer_key)
        self.users = dict(config.users)
        self.acl = None if config.acl is None else {k: list(v) for k, v in config.acl.items()}
        self.refresh_tokens: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    # -- administration -------------------------------------------------------------------
    def set_password(self, user: str, password: str | None) -> None:
        with self.lock:
            if password is None:
                self.users.pop(user, None)
            else:
                self.users[user] = password

    def revoke_refresh_tokens(self) -> int:
        with self.lock:
            count = len(self.refresh_tokens)
            self.refresh_tokens.clear()
            return count

    # -- authorisation --------------------------------------------------------------------
    def _check_user(self, user: str, password: str) -> bool:
        with self.lock:
            expected = self.users.get(user)
        return expected is not None and hmac.compare_digest(
            expected.encode("utf-8"), password.encode("utf-8")
        )

    def _globs(self, user: str | None) -> list[str]:
        if user is None:
            return list(self.config.anonymous)
        if self.acl is None:
            return ["*"]
        return self.acl.get(user, self.acl.get("*", []))

    def _grant(self, user: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        globs = self._globs(user)
        allowed = {"pull"} if user is None else {"pull", "push"}
        access: list[dict[str, Any]] = []
        for raw in scopes:
            parsed = _parse_scope(raw)
            if parsed is None:
                continue
            kind, name, actions = parsed
            if kind == "repository":
                ok = any(fnmatch.fnmatchcase(name, g) for g in globs)
                granted = [a for a in actions if ok and a in allowed]
            elif kind == "registry" and name == "catalog":
                granted = [a for a in actions if user is not None and "*" in globs]
            else:
                granted = []
            access.append({"type": kind, "name": name, "actions": granted})
        return access

    def _token(self, user: str | None, scopes: list[str], service: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.config.issuer,
            "sub": user or "",
            "aud": service or self.config.service,
            "exp": now + self.config.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": self._grant(user, scopes),
        }
        return self.signer.sign(claims, self.config.header_style)

    def _new_refresh_token(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.refresh_tokens[token] = user
        return token

    # -- request handling -----------------------------------------------------------------
    def handle_get(
        self, query: dict[str, list[str]], basic: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        user: str | None = None
        if basic is not None:
            if not self._check_user(*basic):
                return 401, _BAD_CREDENTIALS
            user = basic[0]
        scopes = [s for v in query.get("scope", []) for s in v.split(" ") if s]
        service = (query.get("service") or [self.config.service])[0]
        token = self._token(user, scopes, service)
        body: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": self.config.expires_in,
            "issued_at": _now_rfc3339(),
        }
        offline = (query.get("offline_token") or ["false"])[0].lower() == "true"
        if user is not None and offline and self.config.issue_refresh_tokens:
            body["refresh_token"] = self._new_refresh_token(user)
        return 200, body

    def handle_post(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        grant = (form.get("grant_type") or [""])[0]
        scopes = [s for v in form.get("scope", []) for s in v.split(" ") if s]
        service = (form.get("service") or [self.config.service])[0]
        refresh: str | None = None
        if grant == "refresh_token":
            presented = (form.get("refresh_token") or [""])[0]
            with self.lock:
                user = self.refresh_tokens.get(presented)
                if user is not None and self.config.rotate_refresh_tokens:
                    del self.refresh_tokens[presented]
            if user is None and self.config.oidc_token_endpoint:
                user = self._oidc_subject(presented)
            if user is None:
                return 401, {"details": "invalid refresh token"}
            refresh = (
                self._new_refresh_token(user) if self.config.rotate_refresh_tokens else presented
            )
        elif grant == "password":
            user = (form.get("username") or [""])[0]
            if not self._check_user(user, (form.get("password") or [""])[0]):
                return 401, _BAD_CREDENTIALS
            offline = (form.get("access_type") or [""])[0] == "offline"
            if offline and self.config.issue_refresh_tokens:
                refresh = self._new_refresh_token(user)
        else:
            return 400, {"details": "unsupported grant_type"}
        body: dict[str, Any] = {
            "access_token": self._token(user, scopes, service),
            "expires_in": self.config.expires_in,
            "issued_at": _now_rfc3339(),
            "scope": " ".join(scopes),
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return 200, body

    def _oidc_subject(self, refresh_token: str) -> str | None:
        """The subject of the OpenID provider's ID token for ``refresh_token``, None if refused."""
        assert self.config.oidc_token_endpoint is not None
        form = urllib.parse.urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.config.oidc_client_id,
            }
        ).encode()
        context = ssl.create_default_context(cafile=self.config.oidc_cafile)
        try:
            with urllib.request.urlopen(
                self.config.oidc_token_endpoint, data=form, timeout=10, context=context
            ) as resp:
                answer = json.loads(resp.read())
        except (urllib.error.URLError, ValueError):
            return None
        # The ID token came straight from the provider over this request: its claims are read
        # without checking the signature.
        payload = str(answer.get("id_token", "")).split(".")[1:2]
        if not payload:
            return None
        claims = json.loads(base64.urlsafe_b64decode(payload[0] + "=" * (-len(payload[0]) % 4)))
        subject = claims.get("sub")
        return subject if isinstance(subject, str) and subject else None

    def handle_admin(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        op = payload.get("op")
        if op == "revoke":
            return {"revoked": self.revoke_refresh_tokens()}
        if op == "password":
            self.set_password(str(payload["user"]), payload.get("password"))
            return {}
        raise ValueError("unknown admin op")

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)
            if self.config.log_path:
                with open(self.config.log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")


def _read_chunked(rfile: Any) -> bytes:
    out = bytearray()
    while True:
        line = rfile.readline(65537)
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += rfile.read(size)
        rfile.readline(65537)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms on Linux).  Real token servers (Go, nginx) disable Nagle too.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (requests are recorded instead)."""

    def _send(
        self, status: int, body: Mapping[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _basic(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        scheme, _, b64 = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(b64.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ("", "\x00invalid")
        return user, password

    def _entry(self, params: dict[str, list[str]], chunked: bool, status: int) -> dict[str, Any]:
        def first(key: str) -> str | None:
            values = params.get(key)
            return values[0] if values else None

        return {
            "time": time.time(),
            "method": self.command,
            "path": urllib.parse.urlsplit(self.path).path,
            "keys": sorted(params),
            "basic_auth": self._basic() is not None,
            "client_id": first("client_id"),
            "grant_type": first("grant_type"),
            "account": first("account"),
            "offline_token": first("offline_token"),
            "scopes": [s for v in params.get("scope", []) for s in v.split(" ") if s],
            "service": first("service"),
            "chunked": chunked,
            "status": status,
        }

    def do_GET(self) -> None:
        """Token request with optional Basic credentials."""
        split = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        if split.path != self.server.service.config.path:
            self._send(404, {"details": "not found"})
            return
        status, body = self.server.service.handle_get(query, self._basic())
        self.server.service.record(self._entry(query, False, status))
        self._send(status, body)

    def do_POST(self) -> None:
        """OAuth2 form post (refresh_token or password grant); plain or chunked body."""
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked:
            raw = _read_chunked(self.rfile)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urllib.parse.urlsplit(self.path).path
        service = self.server.service
        if path == _ADMIN_PATH and service.config.admin_key:
            key = self.headers.get("X-Admin-Key", "")
            if not hmac.compare_digest(key, service.config.admin_key):
                self._send(403, {"details": "forbidden"})
                return
            self._send(200, service.handle_admin(json.loads(raw or b"{}")))
            return
        if path != service.config.path:
            self._send(404, {"details": "not found"})
            return
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        status, body = service.handle_post(form)
        service.record(self._entry(form, chunked, status))
        self._send(status, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, service: _TokenService) -> None:
        self.service = service
        super().__init__((LOOPBACK, service.config.port), _Handler)
        cfg = service.config
        if cfg.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
            self.socket = ctx.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects and TLS handshake failures; report anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        scheme = "https" if self.service.config.tls_cert else "http"
        return f"{scheme}://{LOOPBACK}:{self.server_address[1]}"


class TokenServer:
    """In-thread token server: ``url``, ``realm``, ``requests`` (list of dicts), ``stop()``."""

    def __init__(self, config: TokenServerConfig, signer: Signer | None = None) -> None:
        self.config = config
        self._service = _TokenService(config, signer)
        self._server = _Server(self._service)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.port: int = self._server.server_address[1]
        self.url = self._server.base_url
        self.realm = self.url + config.path
        self.service = config.service
        self.issuer = config.issuer
        self.signer = self._service.signer
        self.tls = bool(config.tls_cert)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Snapshot of every token request so far (no secrets recorded)."""
        with self._service.lock:
            return list(self._service.requests)

    def clear_requests(self) -> None:
        """Forget recorded requests."""
        with self._service.lock:
            self._service.requests.clear()

    def set_password(self, user: str, password: str | None) -> None:
        """Change (or with None remove) a user's password."""
        self._service.set_password(user, password)

    def revoke_refresh_tokens(self) -> int:
        """Invalidate every refresh token issued so far; return how many."""
        return self._service.revoke_refresh_tokens()

    def set_acl(self, acl: dict[str, list[str]] | None) -> None:
        """Replace the ACL (see :class:`TokenServerConfig`)."""
        with self._service.lock:
            self._service.acl = None if acl is None else {k: list(v) for k, v in acl.items()}

    def token(self, user: str | None, scopes: list[str]) -> str:
        """Mint a token directly, as the server would for ``user`` (None = anonymous)."""
        return self._service._token(user, scopes, self.service)

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TokenServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_token_server(
    signer: Signer,
    *,
    users: Mapping[str, str] | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    **options: Any,
) -> TokenServer:
    """Start an in-thread token server on a free 127.0.0.1 port; ``options`` = config fields."""
    config = TokenServerConfig(
        signer_cert=str(signer.cert_path),
        signer_key=str(signer.key_path),
        users=dict(users) if users is not None else {"testuser": "testpassword"},
        tls_cert=None if tls_cert is None else str(tls_cert),
        tls_key=None if tls_key is None else str(tls_key),
        **options,
    )
    return TokenServer(config, signer)


class TokenServerProcess:
    """Token server in a child process: ``pid``, ``url``, ``realm``, ``requests()``, ``stop()``."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        config: TokenServerConfig,
        port: int,
        cafile: str | None,
    ) -> None:
        self._proc = proc
        self.config = config
        self.pid = proc.pid
        self.port = port
        scheme = "https" if config.tls_cert else "http"
        self.url = f"{scheme}://{LOOPBACK}:{port}"
        self.realm = self.url + config.path
        self.service = config.service
        self.issuer = config.issuer
        self.tls = bool(config.tls_cert)
        self.log_path = Path(config.log_path) if config.log_path else None
        self._cafile = cafile

    @property
    def running(self) -> bool:
        """Whether the child process is still alive."""
        return self._proc.poll() is None

    def requests(self) -> list[dict[str, Any]]:
        """Recorded token requests, read from the JSON-lines log."""
        if self.log_path is None or not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _admin(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        assert self.config.admin_key is not None
        req = urllib.request.Request(
            self.url + _ADMIN_PATH,
            data=json.dumps(dict(payload)).encode(),
            headers={"X-Admin-Key": self.config.admin_key, "Content-Type": "application/json"},
            method="POST",
        )
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=self._cafile)
            if self._cafile is None:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    def set_password(self, user: str, password: str | None) -> None:
        """Change (or with None remove) a user's password in the child."""
        self._admin({"op": "password", "user": user, "password": password})

    def revoke_refresh_tokens(self) -> int:
        """Invalidate every refresh token issued so far; return how many."""
        return int(self._admin({"op": "revoke"})["revoked"])

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the child by pid, wait, kill on timeout."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=timeout)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> TokenServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_token_server_process(
    signer: Signer,
    workdir: str | os.PathLike[str],
    *,
    users: Mapping[str, str] | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    cafile: str | os.PathLike[str] | None = None,
    timeout: float = 15.0,
    **options: Any,
) -> TokenServerProcess:
    """Start ``python -m tests.support.tokenserver`` on a free port; config goes via a 0600 file."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    options.setdefault("log_path", str(work / "tokenserver-requests.jsonl"))
    config = TokenServerConfig(
        signer_cert=str(signer.cert_path),
        signer_key=str(signer.key_path),
        users=dict(users) if users is not None else {"testuser": "testpassword"},
        tls_cert=None if tls_cert is None else str(tls_cert),
        tls_key=None if tls_key is None else str(tls_key),
        admin_key=secrets.token_hex(16),
        **options,
    )
    config_path = work / f"tokenserver-{secrets.token_hex(4)}.json"
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(config.to_json())
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.tokenserver", "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=str(_REPO_ROOT),
    )
    line: list[bytes] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not line or not line[0].startswith(b"LISTENING "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"token server process did not start (rc={proc.returncode})")
    port = int(line[0].split()[1])
    return TokenServerProcess(proc, config, port, None if cafile is None else str(cafile))


def main(argv: list[str] | None = None) -> int:
    """Process entry point: ``--config PATH`` (JSON); prints ``LISTENING <port>`` when ready."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.tokenserver")
    parser.add_argument("--config", required=True, help="path of a JSON TokenServerConfig")
    args = parser.parse_args(argv)
    config = TokenServerConfig.from_json(Path(args.config).read_text(encoding="utf-8"))
    server = _Server(_TokenService(config))
    sys.stdout.write(f"LISTENING {server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
