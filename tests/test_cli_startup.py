"""The ``regauth`` program itself: version, help, Docker's exit codes for bad flags, dispatch."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from regauth import __version__
from regauth.cli.main import HANDLERS, handler, main
from regauth.cli.parser import COMMANDS


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_every_declared_command_has_an_implementation() -> None:
    assert sorted(HANDLERS) == sorted(c.name for c in COMMANDS)
    for name in HANDLERS:
        assert callable(handler(name)), name


@pytest.mark.parametrize("argv", [["--version"], ["-v"], ["-D", "--version"], ["--version", "list"]])
def test_version_output(argv: list[str]) -> None:
    assert _main(argv) == (0, f"regauth version {__version__}\n", "")


def test_version_of_the_installed_program() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "regauth", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"regauth version {__version__}\n", "")


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"]])
def test_help_lists_every_command(argv: list[str]) -> None:
    code, out, err = _main(argv)
    assert code == 0 and err == ""
    assert out.startswith("usage: regauth ")
    for command in COMMANDS:
        assert f"    {command.name} " in out


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_command_help(command: str) -> None:
    code, out, err = _main([command, "--help"])
    declared = next(c for c in COMMANDS if c.name == command)
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: {declared.usage}\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["login", "--tls-verify=maybe"], "argument --tls-verify: invalid boolean value 'maybe'"),
        (["login", "--timeout", "soon"], "argument --timeout: invalid float value: 'soon'"),
        (["login", "a", "b"], "unrecognized arguments: b"),
        (["helper", "nope"], "argument name: invalid choice: 'nope'"),
        (["status", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["get"], "the following arguments are required: SERVER"),
        (["migrate"], "the following arguments are required: --to"),
        (["completion", "tcsh"], "argument shell: invalid choice: 'tcsh'"),
        (["logout", "h.example", "--all"], "cannot name a SERVER with --all"),
    ],
)
def test_flag_errors_exit_125_with_one_hint(argv: list[str], message: str) -> None:
    """Docker's convention: a flag or argument error is exit code 125, the error, then a hint."""
    code, out, err = _main(argv)
    assert (code, out) == (125, "")
    assert message in err
    assert err.rstrip("\n").splitlines()[-1].startswith("See 'regauth")


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_unknown_flag_of_every_command(command: str) -> None:
    code, out, err = _main([command, "--no-such-flag"])
    assert (code, out) == (125, "")
    assert err.endswith(f"\nSee 'regauth {command} --help'.\n") or "--no-such-flag" in err


def test_help_width_follows_columns() -> None:
    env = {**os.environ, "COLUMNS": "50"}
    proc = subprocess.run(
        [sys.executable, "-m", "regauth", "login", "--help"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 0
    assert max(len(line) for line in proc.stdout.splitlines()) <= 48


def test_logout_through_the_parser(tmp_path: Path) -> None:
    """Global options before the command, the command's argument after it."""
    code, out, _ = _main(["--config", str(tmp_path), "-D", "logout", "h.example"])
    assert (code, out) == (0, "Not logged in to h.example\n")


def test_program_exit_code_reaches_the_shell(tmp_path: Path) -> None:
    """The ``regauth`` program ends through :func:`regauth._exit.exit_process`: code and output kept."""
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path)}
    run = [sys.executable, "-m", "regauth"]
    done = subprocess.run([*run, "get", "h.example"], capture_output=True, text=True, timeout=60, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "not logged in to h.example\n")
    done = subprocess.run([*run, "--bogus"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 125
    assert done.stderr == "unrecognized arguments: --bogus\nSee 'regauth --help'.\n"
