"""Architectural import checks: which layers a command reaches, in a fresh interpreter.

* The ``regauth`` command modules import the library only when a command runs: ``--version``
  loads no part of it.
* Commands that only read or edit files (``logout``, ``get``, ``list`` on the file store) never
  load http.client, ssl or the HTTP session; the credential helpers' ``get`` loads none of
  regauth.transport, http.client, ssl and argparse.
* ``login`` does load the HTTP stack: the same probe sees it when it is there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cliutil import b64, venv_path
from tests.support.budget import HTTP_STACK, loaded, run_main
from tests.support.gpg import pass_env  # noqa: F401 - fixture
from tests.support.keyring_env import secretservice_env  # noqa: F401 - fixture
from tests.support.registry import RegistryStack

CLI = "regauth.cli.main"
LIBRARY = ("regauth.api", "regauth.transport", "regauth.registry", "regauth.stores", "regauth.config")


def test_version_loads_no_library() -> None:
    run = run_main(CLI, ["--version"])
    assert run.code == 0 and run.out.startswith("regauth version ")
    assert loaded(LIBRARY, run.modules) == []
    assert loaded(HTTP_STACK, run.modules) == []


def _file_store_config(directory: Path) -> Path:
    directory.mkdir()
    entry = {"auth": b64("someone:pw-in-a-file")}
    (directory / "config.json").write_text(json.dumps({"auths": {"r.example": entry}}))
    return directory


@pytest.mark.parametrize(
    ("argv", "out"),
    [
        (["logout", "r.example"], "Removing login credentials for r.example\n"),
        (["get", "--username-only", "r.example"], "someone\n"),
        (["list", "--format", "json"], '"server": "r.example"'),
    ],
)
def test_file_commands_load_no_http_stack(
    argv: list[str], out: str, tmp_path: Path, isolated_env: object
) -> None:
    config = _file_store_config(tmp_path / "cfg")
    run = run_main(CLI, ["--config", str(config), *argv])
    assert run.code == 0, run.err
    assert out in run.out
    # regauth.transport.realms (the token-server hint cache, a JSON file) may load: it is no HTTP
    assert loaded(["http.client", "ssl", "regauth.transport.session"], run.modules) == []


def test_login_loads_the_http_stack(
    registry_basic_https: RegistryStack, tmp_path: Path, isolated_env: object
) -> None:
    """The positive control of the checks above: a login over HTTPS does show ssl and the transport."""
    stack = registry_basic_https
    argv = ["--config", str(tmp_path / "cfg"), "login", "-u", stack.username, "--password-stdin", stack.host]
    run = run_main(CLI, argv, stdin=stack.password)
    assert run.code == 0, run.err
    assert {"ssl", "http.client"} <= run.modules
    assert loaded(["regauth.transport"], run.modules) != []


def _store_then_get(module: str, env: dict[str, str]) -> tuple[str, frozenset[str]]:
    """Store a credential with ``module``'s helper, then ``get`` it back in a fresh interpreter."""
    server = "import-check.test"
    stored = {"ServerURL": server, "Username": "checker", "Secret": "import-check-secret"}
    done = run_main(module, ["store"], env, json.dumps(stored))
    assert done.code == 0, done.out + done.err
    got = run_main(module, ["get"], env, server)
    try:
        assert got.code == 0, got.out + got.err
        assert json.loads(got.out)["Username"] == "checker"
        return got.out, got.modules
    finally:
        run_main(module, ["erase"], env, server)


def test_pass_helper_get_loads_no_http_stack_nor_argparse(pass_env: dict[str, str]) -> None:  # noqa: F811
    _, modules = _store_then_get("regauth.helpers.pass_", {**pass_env, "PATH": venv_path()})
    assert loaded([*HTTP_STACK, "argparse"], modules) == []


def test_secretservice_helper_get_loads_no_http_stack_nor_argparse(
    secretservice_env: dict[str, str],  # noqa: F811
) -> None:
    _, modules = _store_then_get("regauth.helpers.secretservice", secretservice_env)
    assert loaded([*HTTP_STACK, "argparse"], modules) == []


def test_keyring_helper_get_loads_no_regauth_transport_nor_argparse(
    secretservice_env: dict[str, str],  # noqa: F811
) -> None:
    """The ``keyring`` library itself imports urllib (and so http.client and ssl): only ours is checked."""
    env = {**secretservice_env, "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}
    _, modules = _store_then_get("regauth.helpers.keyring_", env)
    assert loaded(["regauth.transport", "regauth.api", "argparse"], modules) == []
