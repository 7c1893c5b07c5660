"""Rule: shared fixtures; real components start once per session; nothing touches ~/.docker."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.registry import RegistryStack, have_registry, start_registry_stack
from tests.support.require import require

__all__ = [
    "REGISTRY_USERS",
    "TOKEN_ACL",
    "IsolatedEnv",
]

# ---------------------------------------------------------------------------------------------
# Registry fixtures (tests/support/registry.py, tests/support/tokenserver.py).
# Session-scoped and shared: do NOT change their passwords/ACLs; start a private stack with
# tests.support.registry.start_registry_stack(tmp_path, ...) instead (about 50 ms).
# ---------------------------------------------------------------------------------------------

#: Users of every fixture registry; the first one is ``stack.username``/``stack.password``.
REGISTRY_USERS = {"testuser": "testpassword", "limited": "limitedpassword"}
#: Token-server ACL of the fixture token registries: ``limited`` may only use ``test/a``.
TOKEN_ACL = {"*": ["*"], "limited": ["test/a"]}


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any) -> Iterator[RegistryStack]:
    require(have_registry(), "docker-registry (distribution 2.8) is not installed")
    stack = start_registry_stack(
        tmp_path_factory.mktemp(name),
        users=REGISTRY_USERS,
        **options,
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def registry_basic_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryStack]:
    """htpasswd (Basic) registry over HTTPS (CA in ``ca_path``, ``cert_dir`` holds ``ca.crt``)."""
    yield from _start(tmp_path_factory, "reg-basic-https", auth="htpasswd", tls=True)


@pytest.fixture(scope="session")
def registry_basic_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryStack]:
    """htpasswd (Basic) registry over plain HTTP."""
    yield from _start(tmp_path_factory, "reg-basic-http", auth="htpasswd", tls=False)


@pytest.fixture(scope="session")
def registry_token_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryStack]:
    """Token registry over HTTPS, in-thread HTTPS token server issuing refresh tokens."""
    yield from _start(
        tmp_path_factory,
        "reg-token-https",
        auth="token",
        tls=True,
        issue_refresh_tokens=True,
        acl=TOKEN_ACL,
    )


@pytest.fixture(scope="session")
def registry_token_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryStack]:
    """Token registry over plain HTTP with a plain-HTTP token server issuing refresh tokens."""
    yield from _start(
        tmp_path_factory,
        "reg-token-http",
        auth="token",
        tls=False,
        issue_refresh_tokens=True,
        acl=TOKEN_ACL,
    )


@pytest.fixture(scope="session")
def registry_token_norefresh(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RegistryStack]:
    """Token registry over HTTPS whose token server never issues refresh tokens."""
    yield from _start(
        tmp_path_factory,
        "reg-token-norefresh",
        auth="token",
        tls=True,
        issue_refresh_tokens=False,
        acl=TOKEN_ACL,
    )


# ---------------------------------------------------------------------------------------------
# Environment isolation.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IsolatedEnv:
    """Paths the ``isolated_env`` fixture exported."""

    home: Path
    xdg_config_home: Path
    xdg_runtime_dir: Path
    docker_config: Path


@pytest.fixture
def docker_config_dir(tmp_path: Path) -> Path:
    """A fresh, empty directory to use as DOCKER_CONFIG."""
    path = tmp_path / "docker-config"
    path.mkdir()
    return path


@pytest.fixture
def isolated_env(tmp_path: Path, docker_config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> IsolatedEnv:
    """Point HOME, XDG_CONFIG/CACHE_HOME, XDG_RUNTIME_DIR, DOCKER_CONFIG at temp dirs; drop auth vars."""
    home = tmp_path / "home"
    xdg_config = tmp_path / "xdg-config"
    runtime = tmp_path / "xdg-runtime"
    for path in (home, xdg_config, runtime):
        path.mkdir(mode=0o700)
    os.chmod(runtime, 0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg_config))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config_dir))
    if os.name == "nt":
        monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # regauth's realms.json
    for var in ("DOCKER_AUTH_CONFIG", "REGISTRY_AUTH_FILE", "REGAUTH_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    return IsolatedEnv(home, xdg_config, runtime, docker_config_dir)


@pytest.fixture(scope="session")
def docker_only_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PATH value holding only a ``docker`` symlink, so Docker uses the file store."""
    docker = shutil.which("docker")
    require(docker is not None, "the Docker CLI is not installed")
    assert docker is not None
    directory = tmp_path_factory.mktemp("docker-only-path")
    target = Path(docker).resolve()
    link = directory / ("docker.exe" if os.name == "nt" else "docker")
    try:
        link.symlink_to(target)
    except OSError:  # no symlink privilege (Windows): a copy works as well
        shutil.copy2(target, link)
    return str(directory)


# ---------------------------------------------------------------------------------------------
# Other fixture groups: append imports of your fixture modules below this line.
# ---------------------------------------------------------------------------------------------
