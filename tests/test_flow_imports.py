"""The registry core is sans-I/O: it never imports a network stack, an HTTP library or subprocess.

Checked twice: statically (every import statement in src/regauth/registry, function-level ones
included, names only standard-library modules without I/O or regauth's own pure modules), and at
run time (a fresh interpreter drives a Basic and a Bearer login through the flows and then looks
at ``sys.modules``, which also catches what those modules import in turn).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import regauth.registry

REGISTRY = Path(regauth.registry.__file__).parent
# What the registry modules may import; anything else (socket, ssl, http.client, urllib.request,
# subprocess, a third-party HTTP client...) would put I/O into the core.
ALLOWED = {
    "__future__",
    "base64",
    "binascii",  # binascii.Error, what base64 raises
    "collections.abc",
    "dataclasses",
    "datetime",
    "http",  # HTTPStatus only; http.client is refused
    "ipaddress",
    "json",
    "re",
    "time",  # the device flow's default clock; it never sleeps (it yields Wait and the driver sleeps)
    "types",
    "typing",
    "urllib.parse",
    "regauth.credentials",
    "regauth.errors",
    "regauth.timestamps",
}
# Modules that do I/O, and the regauth packages that do it: the core loads none of them.
NO_IO = [
    "socket",
    "ssl",
    "http.client",
    "urllib.request",
    "subprocess",
    "asyncio",
    "selectors",
    "requests",
    "httpx",
    "urllib3",
    "jeepney",
    "regauth.transport",
    "regauth.stores",
    "regauth.helpers",
    "regauth.config",
]


def _allowed(module: str) -> bool:
    return module in ALLOWED or module == "regauth.registry" or module.startswith("regauth.registry.")


def _refused_imports(path: Path) -> list[str]:
    """The modules imported anywhere in ``path`` that the registry core must not import."""
    refused: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            refused.extend(alias.name for alias in node.names if not _allowed(alias.name))
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            module = node.module or ""
            if not _allowed(module):
                refused.append(module)
            # "from http import client" imports a module as well
            refused.extend(
                f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in NO_IO
            )
    return refused


@pytest.mark.parametrize("path", sorted(REGISTRY.glob("*.py")), ids=lambda path: path.name)
def test_registry_modules_import_no_io(path: Path) -> None:
    """Every import in the module names an allowed module."""
    assert _refused_imports(path) == []


def test_the_static_check_sees_function_level_imports(tmp_path: Path) -> None:
    """The check above finds imports hidden in a function (so it can fail)."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import socket\n    from http import HTTPStatus, client\n")
    assert _refused_imports(module) == ["socket", "http.client"]


def test_login_flows_load_no_io_modules() -> None:
    """A fresh interpreter runs Basic and Bearer logins through the flows; no I/O module gets loaded."""
    script = textwrap.dedent(
        """
        import sys
        from regauth.credentials import Credentials
        from regauth.registry.flow import login_flow
        from regauth.registry.messages import HttpResponse

        def drive(flow, responses):
            request = next(flow)
            try:
                for response in responses:
                    request = flow.send(response)
            except StopIteration as stop:
                return stop.value
            raise AssertionError(f"flow wants more: {request!r}")

        EP = "https://reg.example:5000"
        def r(status, body=b"", challenge=None):
            return HttpResponse(status, EP, (("WWW-Authenticate", challenge),) if challenge else (), body)

        creds = Credentials(username="u", password="p")
        bearer = 'Bearer realm="https://auth.example/token",service="reg"'
        token = b'{"token": "T", "issued_at": "2026-05-09T07:35:25.123456789Z", "refresh_token": "R"}'
        basic = drive(login_flow(EP, creds), [r(401, b"", 'Basic realm="x"'), r(200)])
        flow = login_flow(EP, creds, scopes=["repository:a/b:pull"])
        scoped = drive(flow, [r(401, b"", bearer), r(200, token), r(404)])
        assert basic.verified and scoped.verified and scoped.identity_token == "R"
        print(" ".join(sorted(name for name in sys.argv[1:] if name in sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *NO_IO],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
