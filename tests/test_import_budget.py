"""Start-up budget (issue 6): what a real ``regauth login`` / ``logout`` imports.

On the bench machine every Python module costs ~0.5-1 ms to import (``re`` with ``enum`` ~17 ms,
``ssl`` + ``socket`` ~40 ms) against a whole ``docker login`` of ~25 ms.  So the usual commands run
on C modules and regauth's own; this pins it, against real registries (Basic and token, HTTPS),
with the argv shapes scripts use.  A module on the list may still be imported on a rare path
(an error message, ``--scope``, a proxy, a non-ASCII host name).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.budget import SLOW_MODULES
from tests.support.registry import RegistryStack

_RUN = (
    "import sys\nfrom regauth.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stderr.write('MODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
    "sys.exit(code)\n"
)


def _imported(argv: list[str], config: Path, path: str, stdin: str = "") -> set[str]:
    """Module names a fresh interpreter holds after ``regauth ARGV`` succeeded (``PATH=path``)."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, "--config", str(config), *argv],
        env={**os.environ, "PATH": path},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize("stack_name", ["registry_basic_https", "registry_token_https"])
def test_login_and_logout_import_only_c_modules_and_regauth(
    stack_name: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    isolated_env: object,
    docker_only_path: str,
) -> None:
    """As in the bench: no credential helper on PATH (probing one runs ``subprocess``)."""
    stack: RegistryStack = request.getfixturevalue(stack_name)
    config = tmp_path / "cfg"
    argv = ["login", "-u", stack.username, "--password-stdin", stack.host]
    login = _imported(argv, config, docker_only_path, stack.password)
    assert not login & SLOW_MODULES, f"login imported {sorted(login & SLOW_MODULES)}"
    assert "_ssl" in login  # it did speak TLS
    logout = _imported(["logout", stack.host], config, docker_only_path)
    assert not logout & SLOW_MODULES, f"logout imported {sorted(logout & SLOW_MODULES)}"
    assert "_ssl" not in logout  # no TLS library loaded for a file edit
