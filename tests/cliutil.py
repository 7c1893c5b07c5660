"""Run ``regauth`` and the real Docker CLI as subprocesses in an isolated environment (tests only)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Result", "b64", "docker", "docker_login", "read_config", "regauth", "regauth_login", "venv_path"]


@dataclass(frozen=True)
class Result:
    """What a command did."""

    code: int
    out: str
    err: str


def venv_path() -> str:
    """PATH with this interpreter's bin directory (console scripts, helpers) in front."""
    return os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


def regauth(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    config: Path | None = None,
    timeout: float = 60,
) -> Result:
    """Run ``python -m regauth ARGS`` with the current environment plus ``env``."""
    full = dict(os.environ)
    full["PATH"] = venv_path()
    if config is not None:
        full["DOCKER_CONFIG"] = str(config)
    full.update(env or {})
    return _run([sys.executable, "-m", "regauth", *args], stdin, full, timeout)


def docker(
    *args: str,
    path: str,
    config: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Result:
    """Run the real Docker CLI with PATH=``path`` and DOCKER_CONFIG=``config``."""
    full = dict(os.environ)
    full.update(PATH=path, DOCKER_CONFIG=str(config))
    full.update(env or {})
    exe = os.path.join(path.split(os.pathsep)[0], "docker")
    return _run([exe, *args], stdin, full, timeout)


def _run(argv: list[str], stdin: str | None, env: dict[str, str], timeout: float) -> Result:
    proc = subprocess.run(
        argv, input=stdin or "", capture_output=True, text=True, env=env, timeout=timeout
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def read_config(config_dir: Path) -> dict[str, Any]:
    """The parsed config.json of a config dir ({} when missing)."""
    path = config_dir / "config.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def b64(text: str) -> str:
    """Standard base64 of a UTF-8 string."""
    return base64.b64encode(text.encode()).decode()


def regauth_login(
    stack: Any, config: Path, *extra: str, env: dict[str, str] | None = None, password: str | None = None
) -> Result:
    """``regauth login -u USER --password-stdin [EXTRA] HOST`` for a registry fixture."""
    return regauth(
        "login", "-u", stack.username, "--password-stdin", *extra, stack.host,
        stdin=stack.password if password is None else password, config=config, env=env,
    )  # fmt: skip


def docker_login(stack: Any, config: Path, path: str, env: dict[str, str] | None = None) -> Result:
    """``docker login -u USER --password-stdin HOST`` for a registry fixture (PATH = ``path``)."""
    return docker(
        "login", "-u", stack.username, "--password-stdin", stack.host,
        stdin=stack.password, path=path, config=config, env=env,
    )  # fmt: skip
