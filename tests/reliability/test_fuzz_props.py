"""Fuzzing properties: helper output and config bytes raise only regauth's own errors.

The CI budget is ``REGAUTH_FUZZ_EXAMPLES`` (default 300) examples per property; ``python -m fuzz``
runs the same properties with a large budget plus the atheris harnesses.  The address normaliser and
the challenge/token parsers have their properties in tests/test_address.py, tests/test_challenge.py
and tests/test_token.py; they are not repeated here.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regauth.config.file import dumps, load
from regauth.errors import ConfigError, HelperError
from regauth.stores.helper import HelperStore
from regauth.stores.wire import decode_creds, decode_list, encode_creds, encode_list
from tests.reliability.figures import record

EXAMPLES = int(os.environ.get("REGAUTH_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
COUNT = {"inputs": 0}

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_docish = st.fixed_dictionaries(
    {},
    optional={
        "auths": st.dictionaries(
            st.text(max_size=20),
            st.fixed_dictionaries({}, optional={"auth": st.text(max_size=30) | _json, "identitytoken": _json})
            | _json,
            max_size=3,
        )
        | _json,
        "credsStore": st.text(max_size=10) | _json,
        "credHelpers": st.dictionaries(st.text(max_size=10), st.text(max_size=10) | _json, max_size=3)
        | _json,
        "other": _json,
    },
)


def _helper_output(data: bytes) -> None:
    """Both decoders on ``data``: a result, or ValueError (UnicodeDecodeError is one)."""
    COUNT["inputs"] += 1
    for decode in (decode_creds, decode_list):
        with contextlib.suppress(ValueError):
            decode(data)


def _config_bytes(data: bytes, directory: Path) -> None:
    """``load`` on a file holding ``data``: a ConfigFile or ConfigError; a loaded file re-saves stably."""
    COUNT["inputs"] += 1
    path = directory / "config.json"
    path.write_bytes(data)
    try:
        cfg = load(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    text = dumps(cfg.data)
    path.write_text(text, encoding="utf-8")
    assert dumps(load(path).data) == text


@FUZZ
@given(st.binary(max_size=2000))
def test_helper_output_bytes(data: bytes) -> None:
    """Arbitrary helper stdout never raises anything but ValueError from the decoders."""
    _helper_output(data)


@FUZZ
@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=40), st.binary(max_size=8))
def test_helper_output_round_trip(server: str, user: str, secret: str, tail: bytes) -> None:
    """What encode_creds writes decode_creds reads back; trailing bytes are an error or ignored whitespace."""
    COUNT["inputs"] += 1
    assert decode_creds(encode_creds(server, user, secret)) == (server, user, secret)
    assert decode_list(encode_list({server: user})) == {server: user}
    _helper_output(encode_creds(server, user, secret) + tail)


@FUZZ
@given(st.binary(max_size=3000))
def test_config_arbitrary_bytes(data: bytes) -> None:
    """Arbitrary bytes as config.json: ConfigError (one line) or a config that re-saves stably."""
    with tempfile.TemporaryDirectory() as directory:
        _config_bytes(data, Path(directory))


@FUZZ
@given(_docish, st.sampled_from(["\t", " ", None]))
def test_config_json_documents(doc: dict[str, Any], indent: str | None) -> None:
    """Config-shaped JSON documents of every type mix: ConfigError or success, nothing else."""
    with tempfile.TemporaryDirectory() as directory:
        _config_bytes(json.dumps(doc, indent=indent).encode(), Path(directory))


@FUZZ
@given(st.binary(max_size=500))
def test_helper_store_get_on_garbage(data: bytes) -> None:
    """HelperStore.get on any helper output: credentials, None or HelperError (exit 0 and exit 1)."""
    COUNT["inputs"] += 1
    for code in (0, 1):

        def runner(argv: list[str], stdin: bytes, timeout: float, c: int = code) -> tuple[int, bytes]:
            return c, data

        store = HelperStore("fuzz", runner=runner)
        try:
            store.get("h.example")
        except HelperError as exc:
            assert "\n" not in str(exc)


DEEP = b"[" * 100_000


def test_deeply_nested_helper_output_is_a_helper_error() -> None:
    """A helper printing 100 000 '[' gives a HelperError, not a RecursionError."""
    store = HelperStore("deep", runner=lambda argv, stdin, timeout: (0, DEEP))
    with pytest.raises(HelperError):
        store.get("h.example")


def test_deeply_nested_decode_is_value_error() -> None:
    """The decoders' contract: ValueError for anything that is not credentials JSON."""
    with pytest.raises(ValueError):
        decode_creds(DEEP)


def test_zz_record_fuzz_figures() -> None:
    """Record how many inputs the properties above fed (runs last in this module)."""
    record("fuzzing", "regauth", tests=6, faults=COUNT["inputs"], note=f"{EXAMPLES} examples per property")
    assert COUNT["inputs"] > 0
