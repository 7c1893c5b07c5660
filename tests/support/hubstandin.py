"""Rule: a scripted stand-in of Docker's OAuth tenant, Hub's PAT endpoint and Hub's registry.

It answers under the real names (login.docker.com, hub.docker.com, registry-1.docker.io,
auth.docker.io, index.docker.io) on 127.0.0.1:443 inside a private network namespace
(tests/support/netns.py), so Docker and regauth run their real code paths; docs/hub-web-login.md
describes the exchange it plays and docs/testing.md how such stand-ins are used.

API (for tests)::

    from tests.support.hubstandin import HubScript, hub_namespace

    script = HubScript(token=["pending", "slow_down", "success"], username="alice")
    with hub_namespace(tmp_path, script) as hub:          # namespace + stand-in running
        proc = hub.spawn([regauth_exe, "login"], env=env)  # on a pseudo-terminal
        proc.expect("Waiting for authentication")         # output so far, decoded
        rc, output = proc.wait(timeout=30)
        hub.requests()   # [{"method", "host", "path", "query", "form", "auth", "user_agent", "t"}]
        hub.issued()     # {"access_token": [fingerprint, ...], "refresh_token": [...], "pat": [...]}
        hub.restart(HubScript(...))  # same namespace, fresh stand-in (log cleared)
        hub.stop_server()            # nothing listens: connections are refused

``HubScript`` fields:

* ``device``: the device-code answer: ``"ok"`` (200), ``"500"``, ``"garbage"`` (200, not JSON) or
  ``"no_user_code"``.  ``interval``/``expires_in`` go into the ``"ok"`` answer.
* ``token``: the answers of ``POST /oauth/token``, in order; the last one repeats.  Each is
  ``"pending"`` (403 authorization_pending), ``"slow_down"`` (400), ``"success"`` (200 with a JWT
  access token whose claim ``https://hub.docker.com`` holds ``{"username": username, ...}``, a
  refresh token and an id token), ``"access_denied"`` (403), ``"expired_token"`` (403),
  ``"garbage"`` (200, not JSON) or ``"500"``.  ``refresh_token`` answers a refresh_token grant.
* ``pat_delay``: seconds ``desktop-generate`` waits before answering (time to interrupt a
  client that has stored its tokens).
* ``pat_status``: 201 gives ``{"data": {"token": "dckr_pat_..."}}`` for a known access token;
  any other status is answered as is.
* ``accept_pat``: whether auth.docker.io accepts ``USER:PAT`` for the PAT it issued.
  ``passwords`` maps users to passwords auth.docker.io also accepts (command-line logins).
* ``revoke_status``: the status of ``POST /oauth/revoke``.

Every request is appended to a JSON-lines log (``requests()`` reads it): method, host (from the
Host header, port dropped), path, query and form fields, ``auth`` (``"basic USER"``, ``"bearer"``
or None) and ``user_agent``.  Secret values (tokens, device codes, passwords) are logged only as
``"sha256:" + first 12 hex digits`` so tests compare them without printing them: ``fingerprint()``
computes the same for an expected value.

Run as a program (``python -m tests.support.hubstandin CONFIG.json``) inside the namespace; it
prints ``ready`` once it listens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = [
    "CLIENT_ID",
    "HUB_NAMES",
    "HubNamespace",
    "HubScript",
    "fingerprint",
    "hub_namespace",
    "jwt_claims",
]

CLIENT_ID = "L4v0dmlNBpYUjGGab0C2JtgTgXr1Qz4d"
HUB_NAMES = (
    "login.docker.com",
    "hub.docker.com",
    "registry-1.docker.io",
    "auth.docker.io",
    "index.docker.io",
)
_SECRET_FIELDS = frozenset({"token", "device_code", "refresh_token", "password", "access_token", "code"})
_REPO_ROOT = Path(__file__).resolve().parents[2]


def fingerprint(value: str) -> str:
    """How the log shows a secret value."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a compact JWT."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


@dataclass
class HubScript:
    """What the stand-in answers (see the module docstring)."""

    username: str = "hubuser"
    device: str = "ok"
    token: list[str] = field(default_factory=lambda: ["success"])
    interval: int = 1
    expires_in: int = 300
    user_code: str = "ABCD-EFGH"
    access_expires_in: int = 3600
    pat_status: int = 201
    pat_delay: float = 0.0
    accept_pat: bool = True
    passwords: dict[str, str] = field(default_factory=dict)
    revoke_status: int = 200


@dataclass
class _Config:
    script: HubScript
    cert: str
    key: str
    log: str
    port: int = 443


# --------------------------------------------------------------------------------------------
# The server (runs inside the namespace)
# --------------------------------------------------------------------------------------------


class _State:
    def __init__(self, config: _Config) -> None:
        self.config = config
        self.script = config.script
        self.lock = threading.Lock()
        self.token_answers = 0
        self.device_codes: set[str] = set()
        self.access_tokens: set[str] = set()
        self.pats: dict[str, str] = {}  # PAT -> user
        self.registry_tokens: set[str] = set()

    def log(self, record: dict[str, Any]) -> None:
        with self.lock, open(self.config.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def issued(self, kind: str, value: str) -> None:
        """Note a secret handed out (its fingerprint) in the ``.issued`` log beside the request log."""
        with self.lock, open(self.config.log + ".issued", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"kind": kind, "fingerprint": fingerprint(value)}) + "\n")

    def next_token_answer(self) -> str:
        with self.lock:
            answers = self.script.token
            answer = answers[min(self.token_answers, len(answers) - 1)]
            self.token_answers += 1
            return answer

    def access_token(self) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": "standin"}
        claims = {
            "https://hub.docker.com": {
                "email": f"{self.script.username}@example.com",
                "session_id": secrets.token_hex(8),
                "source": "docker_pwd",
                "username": self.script.username,
                "uuid": "0b7e8c1a-0000-4000-8000-000000000000",
            },
            "iss": "https://login.docker.com/",
            "sub": "auth0|standin",
            "aud": ["https://hub.docker.com", "https://docker-prod.us.auth0.com/userinfo"],
            "iat": now,
            "exp": now + self.script.access_expires_in,
            "scope": "openid offline_access",
            "azp": CLIENT_ID,
        }
        token = ".".join(
            (
                _b64url(json.dumps(header).encode()),
                _b64url(json.dumps(claims).encode()),
                _b64url(secrets.token_bytes(32)),
            )
        )
        self.access_tokens.add(token)
        return token


def _error(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}


class _Handler(BaseHTTPRequestHandler):
    server_version = "hub-standin"
    protocol_version = "HTTP/1.1"
    state: _State  # set on the subclass made by _serve

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _host(self) -> str:
        return (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()

    def _auth(self) -> tuple[str | None, str | None, str | None]:
        """(kind, user, secret) from the Authorization header."""
        value = self.headers.get("Authorization") or ""
        scheme, _, param = value.partition(" ")
        if scheme.lower() == "bearer":
            return "bearer", None, param.strip()
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(param.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "basic", None, None
            return "basic", user, password
        return None, None, None

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        content_type = "application/json" if not isinstance(body, bytes) else "text/html"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _record(self, form: dict[str, str]) -> tuple[str, str, dict[str, str]]:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        kind, user, _ = self._auth()
        self.state.log(
            {
                "method": self.command,
                "host": self._host(),
                "path": parts.path,
                "query": {k: fingerprint(v) if k in _SECRET_FIELDS else v for k, v in query.items()},
                "form": {k: fingerprint(v) if k in _SECRET_FIELDS else v for k, v in form.items()},
                "auth": None if kind is None else (f"basic {user}" if kind == "basic" else "bearer"),
                "user_agent": self.headers.get("User-Agent"),
                "content_type": self.headers.get("Content-Type"),
                "t": time.time(),
            }
        )
        return self._host(), parts.path, query

    def do_GET(self) -> None:
        host, path, query = self._record({})
        if host == "auth.docker.io" and path == "/token":
            self._registry_token(query)
        elif host in ("registry-1.docker.io", "index.docker.io") and path.rstrip("/") == "/v2":
            self._registry_ping()
        else:
            self._send(404, {"errors": [{"code": "NOT_FOUND"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        form: dict[str, str] = {}
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        host, path, _ = self._record(form)
        if host == "login.docker.com" and path == "/oauth/device/code":
            self._device_code()
        elif host == "login.docker.com" and path == "/oauth/token":
            self._token(form)
        elif host == "login.docker.com" and path == "/oauth/revoke":
            status = self.state.script.revoke_status
            self._send(status, {} if status == 200 else _error("server_error", "revoke failed"))
        elif host == "hub.docker.com" and path == "/v2/access-tokens/desktop-generate":
            self._desktop_generate()
        elif host == "auth.docker.io" and path == "/token":
            self._send(404, {"details": "POST not supported by the stand-in"})
        else:
            self._send(404, {"message": "not found"})

    def _device_code(self) -> None:
        script = self.state.script
        if script.device == "500":
            self._send(500, b"<html>internal error</html>")
            return
        if script.device == "garbage":
            self._send(200, b"<html>not json</html>")
            return
        device_code = secrets.token_urlsafe(24)
        self.state.device_codes.add(device_code)
        answer: dict[str, Any] = {
            "device_code": device_code,
            "user_code": script.user_code,
            "verification_uri": "https://login.docker.com/activate",
            "verification_uri_complete": f"https://login.docker.com/activate?user_code={script.user_code}",
            "expires_in": script.expires_in,
            "interval": script.interval,
        }
        if script.device == "no_user_code":
            del answer["user_code"]
        self._send(200, answer)

    def _token(self, form: dict[str, str]) -> None:
        if form.get("grant_type") == "refresh_token":
            self._send(
                200,
                {
                    "access_token": self.state.access_token(),
                    "token_type": "Bearer",
                    "expires_in": self.state.script.access_expires_in,
                },
            )
            return
        if form.get("device_code") not in self.state.device_codes:
            self._send(403, _error("invalid_grant", "Invalid or expired device code."))
            return
        answer = self.state.next_token_answer()
        if answer == "pending":
            self._send(403, _error("authorization_pending", "User has yet to authorize device code."))
        elif answer == "slow_down":
            self._send(429, _error("slow_down", "You are polling faster than allowed."))
        elif answer == "access_denied":
            self._send(403, _error("access_denied", "User cancelled the confirmation prompt."))
        elif answer == "expired_token":
            self._send(403, _error("expired_token", "The device code has expired."))
        elif answer == "garbage":
            self._send(200, b"<html>not json</html>")
        elif answer == "500":
            self._send(500, b"<html>internal error</html>")
        else:
            access, refresh = self.state.access_token(), "v1." + secrets.token_urlsafe(32)
            self.state.issued("access_token", access)
            self.state.issued("refresh_token", refresh)
            self._send(
                200,
                {
                    "access_token": access,
                    "refresh_token": refresh,
                    "id_token": "eyJhbGciOiJub25lIn0." + _b64url(b'{"sub":"auth0|standin"}') + ".",
                    "scope": "openid offline_access",
                    "expires_in": self.state.script.access_expires_in,
                    "token_type": "Bearer",
                },
            )

    def _desktop_generate(self) -> None:
        time.sleep(self.state.script.pat_delay)
        kind, _, token = self._auth()
        if kind != "bearer" or token not in self.state.access_tokens:
            self._send(401, {"message": "unauthorized"})
            return
        status = self.state.script.pat_status
        if status != 201:
            self._send(status, {"message": "scripted failure"})
            return
        pat = "dckr_pat_" + secrets.token_urlsafe(20)
        self.state.pats[pat] = self.state.script.username
        self.state.issued("pat", pat)
        self._send(201, {"data": {"token": pat}})

    def _registry_ping(self) -> None:
        kind, _, token = self._auth()
        if kind == "bearer" and token in self.state.registry_tokens:
            self._send(200, {})
            return
        challenge = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
        self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge})

    def _registry_token(self, query: dict[str, str]) -> None:
        kind, user, password = self._auth()
        if kind is None:
            token = secrets.token_urlsafe(16)  # anonymous: a token good for nothing
            self._send(200, {"token": token, "access_token": token})
            return
        script = self.state.script
        ok = (
            kind == "basic"
            and user is not None
            and password is not None
            and (
                (script.accept_pat and self.state.pats.get(password) == user)
                or script.passwords.get(user) == password
            )
        )
        if not ok:
            self._send(401, {"details": "incorrect username or password"})
            return
        token = secrets.token_urlsafe(24)
        self.state.registry_tokens.add(token)
        self._send(200, {"token": token, "access_token": token, "expires_in": 300})


def _serve(config_path: str) -> None:
    import ssl

    raw = json.loads(Path(config_path).read_text(encoding="utf-8"))
    config = _Config(script=HubScript(**raw.pop("script")), **raw)
    handler = type("Handler", (_Handler,), {"state": _State(config)})
    server = ThreadingHTTPServer(("127.0.0.1", config.port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(config.cert, config.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


# --------------------------------------------------------------------------------------------
# The test side
# --------------------------------------------------------------------------------------------


class HubNamespace:
    """A private namespace with the Hub names on 127.0.0.1 and the stand-in serving them."""

    def __init__(self, directory: Path, script: HubScript) -> None:
        from tests.support.certs import make_ca
        from tests.support.netns import Namespace

        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = make_ca(directory / "ca")
        self.cert, self.key = self.ca.issue_server_cert(directory / "tls", HUB_NAMES)
        self.log_path = directory / "requests.jsonl"
        self.namespace = Namespace(directory / "ns", {name: "127.0.0.1" for name in HUB_NAMES})
        self._server: Any = None
        self.script = script

    @property
    def ca_file(self) -> Path:
        """The CA to trust (SSL_CERT_FILE)."""
        return self.ca.cert_path

    def start(self) -> None:
        """Start the namespace and the stand-in with the current script."""
        self.namespace.start()
        self._start_server()

    def _start_server(self) -> None:
        self.log_path.write_text("", encoding="utf-8")
        Path(f"{self.log_path}.issued").write_text("", encoding="utf-8")
        config_path = self.directory / "standin.json"
        config = _Config(self.script, str(self.cert), str(self.key), str(self.log_path))
        config_path.write_text(json.dumps(asdict(config)), encoding="utf-8")
        self._server = self.namespace.start_process(
            [sys.executable, "-m", "tests.support.hubstandin", str(config_path)], cwd=_REPO_ROOT
        )
        line = self._server.stdout.readline()
        if line.strip() != b"ready":
            self._server.kill()
            raise RuntimeError(f"the Hub stand-in did not start: {self._server.stderr.read()[-400:]!r}")

    def restart(self, script: HubScript) -> None:
        """A fresh stand-in (state and log cleared) with ``script``, in the same namespace."""
        self._stop_server()
        self.script = script
        self._start_server()

    def stop_server(self) -> None:
        """Stop the stand-in (the names then refuse connections) until :meth:`restart`."""
        self._stop_server()

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.terminate()
            self._server.wait(10)
            self._server.stdout.close()
            self._server.stderr.close()
            self._server = None

    def stop(self) -> None:
        """Stop the stand-in and leave the namespace."""
        self._stop_server()
        self.namespace.stop()

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` plus SSL_CERT_FILE (the test CA), without proxies or SSL_CERT_DIR."""
        env = {k: v for k, v in base.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env.pop("SSL_CERT_DIR", None)
        env["SSL_CERT_FILE"] = str(self.ca_file)
        return env

    def run(self, argv: list[str], env: dict[str, str], **options: Any) -> Any:
        """Run ``argv`` inside the namespace (netns.Namespace.run) with :meth:`env` applied."""
        return self.namespace.run(argv, env=self.env(env), **options)

    def spawn(self, argv: list[str], env: dict[str, str], **options: Any) -> Any:
        """Start ``argv`` inside the namespace on a pseudo-terminal (netns.Namespace.spawn)."""
        return self.namespace.spawn(argv, env=self.env(env), **options)

    def issued(self) -> dict[str, list[str]]:
        """Fingerprints of the secrets handed out, by kind (``access_token``, ``refresh_token``, ``pat``)."""
        out: dict[str, list[str]] = {}
        for line in Path(f"{self.log_path}.issued").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            out.setdefault(record["kind"], []).append(record["fingerprint"])
        return out

    def requests(self) -> list[dict[str, Any]]:
        """Every request logged so far, in order."""
        text = self.log_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextmanager
def hub_namespace(directory: Path, script: HubScript | None = None) -> Iterator[HubNamespace]:
    """A started :class:`HubNamespace`, stopped on exit."""
    hub = HubNamespace(directory, script or HubScript())
    try:
        hub.start()
        yield hub
    finally:
        hub.stop()


if __name__ == "__main__":
    _serve(sys.argv[1])


@contextmanager
def running_stand_in(directory: Path, script: HubScript | None = None) -> Iterator[HubNamespace]:
    """A stand-in in a namespace of its own, stopped on exit (a pytest fixture's body).

    Fails the test in CI and skips it elsewhere where private namespaces cannot be made.
    """
    from tests.support.netns import available
    from tests.support.require import require

    ok, why = available()
    require(ok, why)
    hub = HubNamespace(directory, script or HubScript())
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def client_env(tmp_path: Path, name: str, path: str) -> tuple[dict[str, str], Path]:
    """A fresh home and Docker config directory for client ``name`` (docker or regauth), and the
    environment that points it there with ``path`` as PATH; (env, config directory)."""
    import os

    home = tmp_path / name / "home"
    config = tmp_path / name / "docker"
    for directory in (home, config):
        directory.mkdir(parents=True)
    env = {
        "HOME": str(home),
        "DOCKER_CONFIG": str(config),
        "PATH": path,
        "LANG": "C.UTF-8",
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    if "PYTHONPATH" in os.environ:  # the regauth under test, when it is not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env, config
