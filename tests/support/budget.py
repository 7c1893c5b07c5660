"""What a regauth program loads: run its ``main`` in a fresh interpreter and read ``sys.modules``.

For the architectural import checks of tests/test_import_budget.py (which layers a command reaches).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["HTTP_STACK", "Run", "loaded", "run_main"]

#: the modules that speak HTTP or TLS: regauth's transport and the standard library's
HTTP_STACK = ("regauth.transport", "http.client", "ssl")

_PROBE = (
    "import sys\n"
    "from {module} import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
    "sys.exit(code)\n"
)


@dataclass(frozen=True)
class Run:
    """A finished run: exit code, output, and every module the interpreter held at the end."""

    code: int
    out: str
    err: str
    modules: frozenset[str]


def run_main(module: str, argv: list[str], env: dict[str, str] | None = None, stdin: str = "") -> Run:
    """``module.main(argv)`` in a fresh interpreter (``env`` added to this process's environment)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module), *argv],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    err, marker, listing = proc.stderr.rpartition("\nMODULES ")
    assert marker, f"{module} {argv} ended before listing its modules: {proc.stderr[-2000:]}"
    return Run(proc.returncode, proc.stdout, err, frozenset(listing.split()))


def loaded(packages: Iterable[str], modules: Iterable[str]) -> list[str]:
    """The ``modules`` that are one of ``packages`` or inside one of them."""
    wanted = tuple(packages)
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in wanted))
