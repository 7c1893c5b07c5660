"""``_record``: the frozen value classes that stand in for ``dataclasses`` (start-up cost, issue 6)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from regauth._record import FrozenInstanceError, field, record, replace
from regauth.credentials import Credentials


@record
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    secret: str = field(default="", repr=False)
    note: str = field(default="", compare=False)


def test_init_defaults_factories_and_errors() -> None:
    p = Point(1, tags=["a"])
    assert (p.x, p.y, p.tags, p.secret) == (1, 0, ["a"], "")
    assert Point(1).tags is not Point(1).tags
    with pytest.raises(TypeError, match="missing argument 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected"):
        Point(1, z=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 5 arguments"):
        Point(1, 2, [], "", "", 6)  # type: ignore[call-arg]


def test_frozen_eq_hash_repr_replace() -> None:
    p = Point(1, 2, secret="hunter2", note="a")
    with pytest.raises(FrozenInstanceError):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.x  # type: ignore[misc]
    assert p == Point(1, 2, secret="hunter2", note="b")  # note is not compared
    assert p != Point(1, 3)
    assert hash(Point(1, 2, ("t",))) == hash(Point(1, 2, ("t",)))  # type: ignore[arg-type]
    assert "hunter2" not in repr(p) and repr(p).startswith("Point(x=1, y=2")
    q = replace(p, y=5)
    assert (q.x, q.y, q.secret) == (1, 5, "hunter2") and p.y == 2


def test_post_init_and_own_methods_win() -> None:
    seen: list[int] = []

    @record
    class Checked:
        value: int

        def __post_init__(self) -> None:
            seen.append(self.value)

        def __repr__(self) -> str:
            return "custom"

    assert repr(Checked(4)) == "custom" and seen == [4]


def test_credentials_repr_never_shows_secrets() -> None:
    creds = Credentials("alice", "s3cret-pw", identity_token="tok-123", server="r.example")
    assert "s3cret-pw" not in repr(creds) and "tok-123" not in str(creds)
    assert replace(creds, password="") == Credentials("alice", identity_token="tok-123", server="r.example")


def test_login_path_does_not_import_dataclasses_inspect_or_typing() -> None:
    """Start-up (issue 6): these cost ~45 ms together and the login path needs none of them."""
    code = (
        "import sys, regauth.cli.main, regauth.api.login, regauth.transport.session, regauth.registry.flow; "
        "print(sorted({'dataclasses', 'inspect', 'typing', 'datetime'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
