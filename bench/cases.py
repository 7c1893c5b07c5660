"""Rule: one builder per case; components start lazily, once, on first use."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from bench.envs import (
    Environment,
    TokenProxyStack,
    docker_only_path,
    file_entry_config,
    run_quiet,
    write_config,
)
from bench.envs import regauth_bin as _bin
from bench.harness import Case, Side

__all__ = ["CASES", "DEFAULT_CASES", "RTT", "Context", "build"]

RTT = 0.025  # seconds, case 7
BIG = 10_000  # entries, case 6
HELPER_SERVER = "bench-helper.example:5000"
HELPER_USER = "benchuser"
HELPER_SECRET = "bench-helper-secret-0123456789"  # a throwaway value stored only in throwaway stores


class Context:
    """Shared, lazily started components of one bench run."""

    def __init__(self, env: Environment, bin_dir: str | None = None) -> None:
        self.env = env
        self.bin_dir = bin_dir  # regauth's console scripts; None: this interpreter's environment
        self._cache: dict[str, object] = {}
        self.home = env.path("home")
        self.docker_path = docker_only_path(env.path("docker-only-path"))
        self.regauth = _bin("regauth", bin_dir)
        self.docker = str(Path(self.docker_path) / "docker")
        self._big: bytes | None = None
        self._dirs = 0

    def _once(self, key: str, make: Callable[[], object]) -> object:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def base_env(self, **extra: str) -> dict[str, str]:
        """A small, isolated environment: PATH holds only ``docker`` (so: file store)."""
        env = {
            "PATH": self.docker_path,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        for var in ("SYSTEMROOT", "TMPDIR", "TEMP", "TMP"):  # Windows needs SYSTEMROOT
            if var in os.environ:
                env[var] = os.environ[var]
        env.update(extra)
        return env

    def config_dir(self, name: str) -> Path:
        """A fresh DOCKER_CONFIG directory."""
        self._dirs += 1
        return self.env.path(f"cfg-{self._dirs:02d}-{name}")

    def basic(self) -> object:
        """Basic (htpasswd) registry over HTTPS."""
        return self._once("basic", lambda: self.env.registry("reg-basic", auth="htpasswd"))

    def token(self) -> object:
        """Token registry over HTTPS, token server in its own process."""
        return self._once("token", lambda: self.env.registry("reg-token", auth="token"))

    def rtt_stack(self) -> TokenProxyStack:
        """Token registry + token server, both behind 25 ms RTT proxies."""
        stack = self._once("rtt", lambda: self.env.token_proxy_stack("reg-rtt", RTT))
        assert isinstance(stack, TokenProxyStack)
        return stack

    def big_config(self) -> bytes:
        """config.json bytes with 10,000 ``auth`` entries."""
        if self._big is None:
            self._big = file_entry_config(
                {f"registry-{i:05d}.example.com": (f"user{i}", f"pw{i}") for i in range(BIG)}
            )
        return self._big

    def helper_env(self, kind: str) -> dict[str, str]:
        """Environment of the pass or secretservice helpers with one stored entry."""

        def make() -> dict[str, str]:
            add = self.env.pass_store() if kind == "pass" else self.env.secret_service()
            env = {
                "PATH": os.environ.get("PATH", os.defpath),
                "HOME": str(self.home),
                "LANG": os.environ.get("LANG", "C.UTF-8"),
                **add,
            }
            go = shutil.which(f"docker-credential-{kind}")
            if go is None:
                raise RuntimeError(f"docker-credential-{kind} is not installed")
            payload = (
                f'{{"ServerURL":"{HELPER_SERVER}","Username":"{HELPER_USER}","Secret":"{HELPER_SECRET}"}}'
            ).encode()
            run_quiet([go, "store"], env, payload)  # stored once, read by both helpers
            return env

        env = self._once(f"helper-{kind}", make)
        assert isinstance(env, dict)
        return env


def _host_user_pass(stack: object) -> tuple[str, str, str]:
    return (
        str(stack.host),  # type: ignore[attr-defined]
        str(stack.username),  # type: ignore[attr-defined]
        str(stack.password),  # type: ignore[attr-defined]
    )


def _seed(directory: Path, data: bytes | None) -> Callable[[], None]:
    return lambda: write_config(directory, data)


def _login_side(ctx: Context, label: str, exe: str, stack: object, seed: bytes | None, name: str) -> Side:
    """``exe login -u USER --password-stdin HOST`` in a fresh config dir re-seeded before each run."""
    host, user, password = _host_user_pass(stack)
    cfg = ctx.config_dir(name)
    return Side(
        label,
        [exe, "login", "-u", user, "--password-stdin", host],
        ctx.base_env(DOCKER_CONFIG=str(cfg)),
        stdin=password.encode(),
        prepare=_seed(cfg, seed),
        expect_stdout=b"Login Succeeded",
        redact=(password.encode(),),
    )


def _login_pair(ctx: Context, stack: object, name: str, seed: bytes | None = None) -> tuple[Side, Side]:
    a = _login_side(ctx, "regauth", ctx.regauth, stack, seed, f"{name}-regauth")
    b = _login_side(ctx, "docker", ctx.docker, stack, seed, f"{name}-docker")
    return a, b


def _logout_side(ctx: Context, label: str, exe: str, host: str, seed: bytes, name: str) -> Side:
    cfg = ctx.config_dir(name)
    return Side(
        label,
        [exe, "logout", host],
        ctx.base_env(DOCKER_CONFIG=str(cfg)),
        prepare=_seed(cfg, seed),
        expect_stdout=b"Removing login credentials",
    )


def _with_entry(base: bytes | None, host: str, user: str, password: str) -> bytes:
    """``base`` config bytes (Docker format) plus one ``auth`` entry for ``host``."""
    import json

    data = json.loads(base) if base else {"auths": {}}
    data["auths"][host] = json.loads(file_entry_config({host: (user, password)}))["auths"][host]
    return json.dumps(data, indent="\t").encode()


# -- case builders ------------------------------------------------------------------------------
def case_login_basic(ctx: Context) -> Case:
    """Item 1."""
    a, b = _login_pair(ctx, ctx.basic(), "login-basic")
    return Case("login-basic", "login, Basic, HTTPS, file store", a, b, target=3.0)


def case_login_token(ctx: Context) -> Case:
    """Item 2."""
    a, b = _login_pair(ctx, ctx.token(), "login-token")
    return Case("login-token", "login, token auth, HTTPS, file store", a, b, target=3.0)


def case_logout(ctx: Context) -> Case:
    """Item 3: entry present (re-seeded before each run)."""
    host, user, password = _host_user_pass(ctx.basic())
    seed = _with_entry(None, host, user, password)
    a = _logout_side(ctx, "regauth", ctx.regauth, host, seed, "logout-regauth")
    b = _logout_side(ctx, "docker", ctx.docker, host, seed, "logout-docker")
    return Case("logout", "logout, entry present, file store", a, b, target=3.0)


def _helper_case(ctx: Context, kind: str, target: float) -> Case:
    env = ctx.helper_env(kind)
    go = shutil.which(f"docker-credential-{kind}", path=env["PATH"])
    assert go is not None
    ours = _bin(f"docker-credential-regauth-{kind}", ctx.bin_dir)
    want = f'"Username":"{HELPER_USER}"'.encode()
    sides = [
        Side(
            label,
            [exe, "get"],
            env,
            stdin=HELPER_SERVER.encode(),
            expect_stdout=want,
            redact=(HELPER_SECRET.encode(),),
        )
        for label, exe in ((f"regauth-{kind}", ours), (f"go {kind}", go))
    ]
    return Case(f"get-{kind}", f"helper get, {kind}", sides[0], sides[1], target=target)


def case_get_pass(ctx: Context) -> Case:
    """Item 4, pass."""
    return _helper_case(ctx, "pass", 0.8)


def case_get_secretservice(ctx: Context) -> Case:
    """Item 4, secretservice."""
    return _helper_case(ctx, "secretservice", 1.3)


def _startup_case(ctx: Context, name: str, title: str, args: list[str]) -> Case:
    env = ctx.base_env(DOCKER_CONFIG=str(ctx.config_dir(name)))
    a = Side("regauth", [ctx.regauth, *args], env)
    b = Side("docker", [ctx.docker, *args], env)
    return Case(name, title, a, b)


def case_version(ctx: Context) -> Case:
    """Item 5, ``--version``."""
    return _startup_case(ctx, "version", "--version (start-up)", ["--version"])


def case_login_help(ctx: Context) -> Case:
    """Item 5, ``login --help``."""
    return _startup_case(ctx, "login-help", "login --help (start-up)", ["login", "--help"])


def case_wrapper(ctx: Context) -> Case:
    """Extra: the console-script wrapper vs ``python -m regauth`` (both ``--version``)."""
    env = ctx.base_env(DOCKER_CONFIG=str(ctx.config_dir("wrapper")))
    python = str(Path(ctx.regauth).parent / Path(sys.executable).name)
    if not Path(python).exists():
        python = sys.executable
    a = Side("console script", [ctx.regauth, "--version"], env)
    b = Side("python -m", [python, "-m", "regauth", "--version"], env)
    return Case("wrapper", "regauth --version: console script vs python -m", a, b)


def case_login_10k(ctx: Context) -> Case:
    """Login with a 10,000-entry config.json, regauth against Docker on the same file."""
    big = ctx.big_config()
    a = _login_side(ctx, "regauth 10k", ctx.regauth, ctx.basic(), big, "login-10k-regauth")
    b = _login_side(ctx, "docker 10k", ctx.docker, ctx.basic(), big, "login-10k-docker")
    return Case("login-10k", "login, 10,000 entries, regauth vs docker", a, b, target=1.0)


def case_logout_10k(ctx: Context) -> Case:
    """Logout from a 10,000-entry config.json, regauth against Docker on the same file."""
    host, user, password = _host_user_pass(ctx.basic())
    big = _with_entry(ctx.big_config(), host, user, password)
    a = _logout_side(ctx, "regauth 10k", ctx.regauth, host, big, "logout-10k-regauth")
    b = _logout_side(ctx, "docker 10k", ctx.docker, host, big, "logout-10k-docker")
    return Case("logout-10k", "logout, 10,000 entries, regauth vs docker", a, b, target=1.0)


def case_login_rtt(ctx: Context, *, cold: bool = False) -> Case:
    """Item 7: token login over an emulated 25 ms RTT; connections and requests counted.

    ``cold``: regauth without its token-server cache (``REGAUTH_CACHE_DIR=``), as on a machine's
    first login: the token server's handshakes then wait for the ping instead of overlapping it.
    """
    stack = ctx.rtt_stack()

    def probe() -> dict[str, int]:
        reg = stack.registry_proxy.counters()
        tok = stack.token_proxy.counters()
        return {
            "connections": reg.connections + tok.connections,
            "tls_handshakes": reg.tls_handshakes + tok.tls_handshakes,
            "registry_connections": reg.connections,
            "token_connections": tok.connections,
            "registry_requests": stack.registry_requests(),
            "token_requests": stack.token_requests(),
        }

    name = "login-rtt-cold" if cold else "login-rtt"
    a, b = _login_pair(ctx, stack, name)
    if cold:
        a.env = {**a.env, "REGAUTH_CACHE_DIR": ""}
    for side in (a, b):
        side.probe = probe
        side.settle = 0.15
    return Case(
        name,
        f"login, token auth, HTTPS, {RTT * 1000:.0f} ms RTT" + (", no token-server cache" if cold else ""),
        a,
        b,
        target=0.85 if cold else 0.75,
        runs=6,
    )


CASES: dict[str, Callable[[Context], Case]] = {
    "login-basic": case_login_basic,
    "login-token": case_login_token,
    "logout": case_logout,
    "get-pass": case_get_pass,
    "get-secretservice": case_get_secretservice,
    "version": case_version,
    "login-help": case_login_help,
    "wrapper": case_wrapper,
    "login-10k": case_login_10k,
    "logout-10k": case_logout_10k,
    "login-rtt": case_login_rtt,
    "login-rtt-cold": lambda ctx: case_login_rtt(ctx, cold=True),
}
DEFAULT_CASES = list(CASES)


def build(ctx: Context, name: str) -> Case:
    """Build one case by name (starting the components it needs)."""
    return CASES[name](ctx)
