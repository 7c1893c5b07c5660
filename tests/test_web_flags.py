"""``regauth login --web/--no-web``: refused combinations fail before any network traffic."""

from __future__ import annotations

import re

import pytest

from regauth.api.weblogin import user_agent
from tests.cliutil import regauth


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["login", "--web", "--no-web"], 125, "cannot specify both --web and --no-web"),
        (["login", "--web", "registry.example.com"], 125, "for Docker Hub only"),
        (["login", "--no-web", "registry.example.com"], 125, "for Docker Hub only"),
        (["login", "--web", "-u", "alice"], 125, "--web takes no username"),
        (["login", "--web"], 1, "non-TTY"),  # stdin is a pipe here
    ],
)
def test_refused(argv: list[str], code: int, words: str, isolated_env: object) -> None:
    env = {"HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}  # any request would fail loudly
    res = regauth(*argv, stdin="", env=env)
    assert res.code == code, res.err
    assert words in res.err
    assert res.err.count("\n") <= 2


def test_user_agent_has_dockers_shape() -> None:
    """docs/hub-web-login.md "Exchange": NAME:VERSION:OS-ARCH, dots as underscores."""
    assert re.fullmatch(r"regauth:[0-9A-Za-z_+-]+:[a-z0-9]+-[a-z0-9_]+", user_agent())
