"""Rule: everything the bench starts is started here and stopped by pid (thin wrappers over tests/support)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.netem import DelayProxy

__all__ = [
    "REPO_ROOT",
    "Environment",
    "TokenProxyStack",
    "docker_only_path",
    "file_entry_config",
    "install_regauth",
    "regauth_bin",
    "write_config",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # tests.support lives beside bench/
    sys.path.insert(0, str(REPO_ROOT))


def regauth_bin(name: str = "regauth", bin_dir: str | None = None) -> str:
    """Path of a console script: in ``bin_dir``, else this interpreter's environment (the venv's bin)."""
    candidate = Path(bin_dir or Path(sys.executable).parent) / name
    if os.name == "nt" and not candidate.exists():
        candidate = candidate.with_name(name + ".exe")
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name) if bin_dir is None else None
    if found is None:
        raise RuntimeError(f"{name} is not installed (pip install -e .)")
    return found


def install_regauth(python: str, directory: Path) -> str:
    """A fresh venv of ``python`` in ``directory`` with regauth installed (not editable); its bin dir.

    The wheel is built by pip (an isolated build: setuptools from the index) and installed by this
    interpreter's pip (``pip --python``); bytecode is compiled at install, as for any user install.
    """
    run_quiet([python, "-m", "venv", "--without-pip", str(directory)], dict(os.environ))
    bin_dir = directory / ("Scripts" if os.name == "nt" else "bin")
    target = str(bin_dir / ("python.exe" if os.name == "nt" else "python"))
    wheels = directory / "wheel"
    pip = [sys.executable, "-m", "pip"]
    run_quiet(
        [*pip, "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO_ROOT)],
        dict(os.environ),
    )
    (wheel,) = wheels.glob("regauth-*.whl")
    # The secretservice extra (jeepney, cryptography) is what a user of that helper installs.
    run_quiet([*pip, "--python", target, "install", "-q", f"{wheel}[secretservice]"], dict(os.environ))
    return str(bin_dir)


def docker_only_path(directory: Path) -> str:
    """A PATH value holding only a ``docker`` symlink: Docker then uses the file store."""
    docker = shutil.which("docker")
    if docker is None:
        raise RuntimeError("the Docker CLI is not on PATH")
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / ("docker.exe" if os.name == "nt" else "docker")
    if not link.exists():
        try:
            link.symlink_to(Path(docker).resolve())
        except OSError:  # no symlink privilege (Windows)
            shutil.copy2(docker, link)
    return str(directory)


def file_entry_config(entries: dict[str, tuple[str, str]]) -> bytes:
    """Docker-format (tab-indented, no final newline) config.json bytes with ``auth`` entries."""
    auths = {
        key: {"auth": base64.b64encode(f"{user}:{secret}".encode()).decode()}
        for key, (user, secret) in sorted(entries.items())
    }
    return json.dumps({"auths": auths}, indent="\t").encode()


def write_config(directory: Path, data: bytes | None) -> None:
    """Reset ``directory/config.json`` to ``data`` (None: no file), mode 0600."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "config.json"
    if data is None:
        path.unlink(missing_ok=True)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


@dataclass
class TokenProxyStack:
    """Token registry behind a delay proxy whose realm points at the token server's delay proxy."""

    registry: object
    token_server: object
    registry_proxy: DelayProxy
    token_proxy: DelayProxy
    username: str
    password: str

    @property
    def host(self) -> str:
        """The address clients log in to: the registry proxy's ``127.0.0.1:PORT``."""
        return self.registry_proxy.address

    def registry_requests(self) -> int:
        """HTTP requests the registry served so far (access log)."""
        return len(self.registry.access_log())  # type: ignore[attr-defined]

    def token_requests(self) -> int:
        """Requests the token server recorded so far (JSON-lines request log)."""
        return len(self.token_server.requests())  # type: ignore[attr-defined]


@dataclass
class Environment:
    """Owns a temp dir and every process/proxy started for the bench; ``close()`` stops them."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="regauth-bench-")))
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def path(self, name: str) -> Path:
        """A fresh directory under the bench's temp dir."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def on_close(self, stop: Callable[[], None]) -> None:
        """Register a stop action (run in reverse order by close())."""
        self._stops.append(stop)

    def close(self) -> None:
        """Stop everything started (last first), then remove the temp dir."""
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the rest
                print(f"bench: cleanup step failed: {exc!r}", file=sys.stderr)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- components ---------------------------------------------------------------------------
    def registry(self, name: str, *, auth: str, tls: bool = True) -> object:
        """A registry stack (token server in its own process for token auth)."""
        from tests.support.registry import start_registry_stack

        stack = start_registry_stack(self.path(name), auth=auth, tls=tls, token_process=True)
        self.on_close(stack.stop)
        return stack

    def token_proxy_stack(self, name: str, rtt: float) -> TokenProxyStack:
        """Registry (token auth, HTTPS) and token server, each behind its own delay proxy.

        The token proxy starts first so that the registry's realm can name it.
        """
        from tests.support.certs import make_ca, make_token_signer
        from tests.support.registry import DEFAULT_PASSWORD, DEFAULT_USER, start_registry
        from tests.support.tokenserver import start_token_server_process

        work = self.path(name)
        token_proxy = DelayProxy(rtt)
        token_proxy.start()
        self.on_close(token_proxy.stop)
        ca = make_ca(work / "ca")
        signer = make_token_signer(work / "signer")
        cert, key = ca.issue_server_cert(work / "tokenserver-tls")
        users = {DEFAULT_USER: DEFAULT_PASSWORD}
        token_server = start_token_server_process(
            signer,
            work / "tokenserver",
            users=users,
            tls_cert=cert,
            tls_key=key,
            cafile=ca.cert_path,
            issue_refresh_tokens=True,
        )
        self.on_close(token_server.stop)
        token_proxy.upstream = ("127.0.0.1", token_server.port)
        realm = f"https://{token_proxy.address}{token_server.config.path}"
        registry = start_registry(
            work / "registry",
            auth="token",
            tls=True,
            users=users,
            ca=ca,
            token_realm=realm,
            token_service=token_server.service,
            token_issuer=token_server.issuer,
            signer=signer,
        )
        self.on_close(registry.stop)
        registry_proxy = DelayProxy(rtt, ("127.0.0.1", registry.port))
        registry_proxy.start()
        self.on_close(registry_proxy.stop)
        return TokenProxyStack(
            registry, token_server, registry_proxy, token_proxy, DEFAULT_USER, DEFAULT_PASSWORD
        )

    def pass_store(self) -> dict[str, str]:
        """Throwaway GNUPGHOME + initialised pass store; env vars to add."""
        from tests.support.gpg import make_pass_env, stop_pass_env

        env = make_pass_env(str(self.path("gpg")))
        self.on_close(lambda: stop_pass_env(env))
        return env

    def secret_service(self) -> dict[str, str]:
        """Private session bus + unlocked gnome-keyring; env vars to add."""
        from tests.support.keyring_env import start_secretservice, stop_secretservice

        base = tempfile.mkdtemp(prefix="rb-dbus-")  # short path: unix socket name limit
        add, pids = start_secretservice(base)
        self.on_close(lambda: shutil.rmtree(base, ignore_errors=True))
        self.on_close(lambda: stop_secretservice(pids))
        return add


def run_quiet(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> None:
    """Run a set-up command, raising with its stderr on failure (outside any timing)."""
    done = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(
            f"{Path(argv[0]).name} {argv[1] if len(argv) > 1 else ''} failed "
            f"(exit {done.returncode}): {done.stdout.decode(errors='replace')[-300:]}"
            f"{done.stderr.decode(errors='replace')[-300:]}"
        )
