"""CLI start-up (issue 6 item 5): ``--version`` without argparse, sub-parsers built on dispatch.

The lazy parser must behave exactly like the whole one: same help, same errors, same namespaces.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import regauth.cli.commands as _cli_extra
from regauth.cli.completion import describe
from regauth.cli.main import _build_parser, _commands, _quick_args
from regauth.errors import UsageError

COMMANDS = [c.name for c in describe(_build_parser()).commands]


def _imported_after(argv: list[str]) -> set[str]:
    """Module names a fresh interpreter holds after ``regauth ARGV`` (output discarded)."""
    code = (
        "import sys\nfrom regauth.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\n'.join(sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=True
    )
    return set(proc.stderr.split())


def test_every_command_is_in_the_parser() -> None:
    assert sorted(COMMANDS) == sorted(_commands())


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version_imports_no_parser(flag: str) -> None:
    modules = _imported_after([flag])
    assert "argparse" not in modules and "regauth.cli.commands" not in modules
    assert not {"json", "typing", "re", "shutil"} & modules


def test_login_help_imports_little() -> None:
    modules = _imported_after(["login", "--help"])
    assert "argparse" in modules
    heavy = {"json", "typing", "shutil", "dataclasses", "pathlib", "subprocess", "regauth.api.login"}
    assert not heavy & modules


def test_version_output() -> None:
    for argv in (["--version"], ["-v"], ["-D", "--version"], ["--version", "list"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            from regauth.cli.main import main

            assert main(argv) == 0
        assert out.getvalue() == "regauth version 0.1.0\n"


def _outcome(parser: object, argv: list[str]) -> tuple[str, str]:
    """(namespace or error or help text) of parsing ``argv``."""
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            result = repr(sorted(vars(parser.parse_args(argv)).items()))
    except UsageError as exc:
        result = f"usage error: {exc}"
    except SystemExit as exc:
        result = f"exit {exc.code}"
    return result, out.getvalue()


ARGVS = [
    [],
    ["--help"],
    ["bogus"],
    ["--bogus"],
    ["--conf", "/x", "logout", "h.example"],
    ["--config=/x", "-D", "list", "--format", "json"],
    ["login", "-u", "me", "--password-stdin", "--tls-verify", "--scope", "a", "--scope", "b", "r.io"],
    ["login", "--tls-verify=maybe"],
    ["login", "--timeout", "x"],
    ["login", "a", "b"],
    ["logout", "--all"],
    ["helper", "nope"],
    ["helper", "pass", "get"],
    ["status", "--format", "xml"],
    ["get"],
    ["export", "kubernetes", "n", "-n", "ns", "a.io", "b.io"],
    ["completion", "tcsh"],
    ["token", "r.io", "--format", "json", "--anonymous"],
    ["migrate"],
    ["--", "login"],
    ["login", "--", "--x"],
] + [[name, "--help"] for name in COMMANDS] + [[name, "--no-such-flag"] for name in COMMANDS]


@pytest.mark.parametrize("argv", ARGVS, ids=" ".join)
@pytest.mark.parametrize("columns", ["100", "47"])
def test_lazy_parser_is_the_whole_parser(
    argv: list[str], columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert _outcome(_build_parser(lazy=True), argv) == _outcome(_build_parser(), argv)


def test_lazy_parser_builds_only_what_argv_names() -> None:
    import argparse

    parser = _build_parser(lazy=True)
    parser.parse_args(["logout", "x.io"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    built = [name for name, p in sub.choices.items() if p is not None]
    assert built == ["logout"]
    assert list(sub.choices) == COMMANDS  # the order of the choices did not change


@pytest.mark.parametrize("value", [None, "120", "7", "0", "-3", "wide"])
def test_terminal_columns_as_shutil(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", value)
    monkeypatch.setenv("LINES", "40")  # shutil asks the terminal when LINES is unset: same answer
    assert _cli_extra._terminal_columns() == shutil.get_terminal_size().columns
    monkeypatch.delenv("LINES")
    assert _cli_extra._terminal_columns() == shutil.get_terminal_size().columns


def test_help_width_follows_columns() -> None:
    env = {**os.environ, "COLUMNS": "50"}
    proc = subprocess.run(
        [sys.executable, "-m", "regauth", "login", "--help"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 0
    assert max(len(line) for line in proc.stdout.splitlines()) <= 48


QUICK_ARGV = [
    ["logout"], ["logout", "h.example"], ["logout", ""], ["logout", "HTTPS://H.example/v2/"],
    ["-D", "logout"], ["--config", "/c", "logout", "h"], ["--config=/c", "-D", "logout"],
    ["login"], ["login", "h.example"], ["login", "-u", "me", "--password-stdin", "h.example"],
    ["login", "--username", "me", "--password-stdin", "h.example:5000"],
    ["login", "--username=me", "--password=pw", "h"], ["login", "h", "-u", "me", "-p", "pw"],
    ["login", "-u", "", "--password-stdin"], ["login", "--identity-token-stdin", "-u", "x", "h"],
    ["login", "--scope", "repository:a/b:pull", "--scope=repository:c:pull", "h"],
    ["login", "--tls-verify=false", "--cert-dir", "/d", "--timeout", "2.5", "h"],
    ["login", "--tls-verify=TRUE", "--timeout=1e1", "h"], ["login", "-u", "a", "-u", "b", "h"],
    ["--config", "/c", "login", "-u", "me", "--password-stdin", "h"],
]  # fmt: skip


@pytest.mark.parametrize("argv", QUICK_ARGV)
def test_quick_args_are_argparse_args(argv: list[str]) -> None:
    """The usual login/logout argv skip argparse and give exactly its namespace (issue 6)."""
    quick = _quick_args(argv)
    assert quick is not None
    assert vars(quick) == vars(_build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [[], ["logout", "-x"], ["logout", "-"], ["logout", "a", "b"], ["logout", "--all"], ["-D"],
     ["logout", "--", "x"], ["logou"], ["login", "a", "b"], ["login", "--user", "me"],
     ["login", "-u"], ["login", "-u", "-p"], ["login", "--tls-verify"], ["login", "--tls-verify", "h"],
     ["login", "--tls-verify=maybe"], ["login", "--timeout", "soon"], ["login", "-h"],
     ["login", "--", "h"], ["login", "-u=me"], ["login", "--password-stdin=1"], ["--config", "logout"],
     ["--config", "-D", "logout"], ["login", "--config", "/c"], ["--version"], ["status"]],
)  # fmt: skip
def test_quick_args_leaves_the_rest_to_argparse(argv: list[str]) -> None:
    assert _quick_args(argv) is None


_ARGV_TOKENS = st.sampled_from(
    ["login", "logout", "h", "h.example:5000", "", "-", "--", "-u", "-p", "--username", "--username=",
     "--username=me", "--password", "--password=pw", "--password-stdin", "--identity-token-stdin",
     "--scope", "--scope=s", "--tls-verify", "--tls-verify=no", "--tls-verify=x", "--cert-dir",
     "--timeout", "--timeout=3", "7", "-1", "nan", "--config", "--config=/c", "-D", "--debug", "--all",
     "-h", "--user", "-uX", "me"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_ARGV_TOKENS, max_size=7))
def test_quick_args_never_disagree_with_argparse(argv: list[str]) -> None:
    """Whatever argv the quick path accepts, argparse accepts too, with the same namespace."""
    quick = _quick_args(argv)
    if quick is None:
        return
    try:
        parsed = _build_parser().parse_args(argv)
    except (UsageError, SystemExit) as exc:
        raise AssertionError(f"quick path accepted {argv!r}, argparse refused it: {exc}") from None
    assert vars(quick) == vars(parsed)


def test_logout_imports_no_parser(tmp_path: object) -> None:
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path)}
    code = (
        "import sys\nfrom regauth.cli.main import main\nrc = main(['logout', 'h.example'])\n"
        "sys.stderr.write(' '.join(sys.modules))\nsys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and proc.stdout == "Not logged in to h.example\n"
    modules = set(proc.stderr.split())
    assert not {"argparse", "subprocess", "shutil", "secrets", "regauth.transport.session"} & modules


def test_main_restores_the_garbage_collector(tmp_path: object) -> None:
    """main() runs without the cyclic GC (start-up time) and gives it back, even on errors."""
    import gc

    from regauth.cli.main import main

    assert gc.isenabled()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["--config", str(tmp_path), "logout", "h.example"]) == 0
        assert main(["--bogus"]) == 125
        assert main(["logout", "bad host"]) == 125
    assert gc.isenabled()
    gc.disable()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            main(["--config", str(tmp_path), "list"])
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
