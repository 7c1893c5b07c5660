"""Atheris fuzz harness for the sans-I/O core.  Rule: only RegauthError subclasses may escape.

Run: ``python fuzz/fuzz_core.py -atheris_runs=100000`` (needs ``pip install atheris``).  Without
atheris the same targets run over a fixed corpus plus random inputs, so the file always works as a
smoke test: ``python fuzz/fuzz_core.py -atheris_runs=2000``.

Targets: WWW-Authenticate parsing, server-address normalisation, token response parsing, and a
login flow driven by fuzzed responses.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

try:
    atheris: Any = importlib.import_module("atheris")
except ImportError:
    atheris = None

# Instrument regauth for coverage feedback when atheris is there.
with atheris.instrument_imports() if atheris is not None else contextlib.nullcontext():
    from regauth.credentials import Credentials
    from regauth.errors import RegauthError
    from regauth.registry.address import logout_keys, matches_key, normalise
    from regauth.registry.challenge import parse_www_authenticate
    from regauth.registry.flow import login_flow
    from regauth.registry.messages import HttpResponse
    from regauth.registry.token import parse_token_response

__all__ = ["fuzz_one", "main"]

_CREDS = Credentials(username="fuzzuser", password="fuzzpassword")
_SECRETS = ("fuzzpassword",)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _split(data: bytes, parts: int) -> list[bytes]:
    chunks = data.split(b"\x00", parts - 1)
    return chunks + [b""] * (parts - len(chunks))


def _check_no_secret(exc: RegauthError) -> None:
    for secret in _SECRETS:
        if secret in str(exc):
            raise AssertionError("a secret leaked into an error message")


def fuzz_one(data: bytes) -> None:
    """Run every target on ``data``; raises only on a real bug."""
    if not data:
        return
    selector, rest = data[0] % 4, data[1:]
    try:
        if selector == 0:
            values = [_text(v) for v in rest.split(b"\n")]
            for challenge in parse_www_authenticate(values):
                assert challenge.scheme == challenge.scheme.lower()
        elif selector == 1:
            server = _text(rest)
            key = normalise(server)
            assert normalise(key) == key
            assert logout_keys(server)[0] == key
            matches_key(server, key)
        elif selector == 2:
            header, body = _split(rest, 2)
            status = 100 + (rest[0] if rest else 0) * 2
            resp = HttpResponse(status, "https://t/", (("WWW-Authenticate", _text(header)),), body)
            parse_token_response(resp, _SECRETS)
        else:
            _fuzz_flow(rest)
    except RegauthError as exc:
        _check_no_secret(exc)


def _fuzz_flow(data: bytes) -> None:
    pieces = _split(data, 6)
    flow = login_flow("https://reg.example", _CREDS)
    next(flow)
    try:
        for i in range(3):
            header, body = pieces[2 * i], pieces[2 * i + 1]
            status = (200, 401, 401, 404, 500, 403)[(body[0] if body else i) % 6]
            flow.send(
                HttpResponse(status, "https://reg.example/v2/", (("WWW-Authenticate", _text(header)),), body)
            )
    except StopIteration:
        pass


_CORPUS = [
    b'\x00Basic realm="x", Bearer realm="y",service="z"',
    b'\x00bEaReR realm="a\\"b", scope=""\nNegotiate abc==',
    b"\x01docker.io",
    b"\x01https://[::1]:5000/foo",
    b"\x01localhost:5000",
    "\x01https://b\u00fccher.example:5000/v2/".encode(),
    b"\x01[fe80::1%eth0]:5000",
    b'\x02\x32Bearer error="invalid_token"\x00{"details":"no"}',
    b'\x02\x32\x00{"token":"A","refresh_token":"R","expires_in":1,"issued_at":"2024-01-01T00:00:00Z"}',
    b'\x02\x32\x00{"token":"A","issued_at":"2024-01-01t00:00:00.123456789+05:30"}',
    b'\x03Bearer realm="https://a/t"\x00\x01\x00\x00{"token":"T"}\x00\x00{}',
    b'\x03Bearer realm="http://[x/t"\x00\x01',
]


def _fallback(runs: int, target: Callable[[bytes], None]) -> None:
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "0")))
    alphabet = b' \t,="\\=abcBearerBasicrealm@;:/[]\r\n{}0123456789\x00\xff'
    for sample in _CORPUS:
        target(sample)
    for _ in range(runs):
        base = bytearray(rng.choice(_CORPUS))
        for _ in range(rng.randint(0, 8)):
            op = rng.randint(0, 2)
            pos = rng.randint(0, len(base))
            if op == 0:
                base[pos:pos] = bytes([rng.choice(alphabet)])
            elif op == 1 and pos < len(base):
                del base[pos]
            elif pos < len(base):
                base[pos] = rng.randint(0, 255)
        target(bytes(base))


def main(argv: list[str] | None = None) -> int:
    """Fuzz with atheris if installed, else run the corpus and mutations."""
    argv = list(sys.argv if argv is None else argv)
    if atheris is None:
        runs = 1000
        for arg in argv[1:]:
            if arg.startswith("-atheris_runs="):
                runs = int(arg.split("=", 1)[1])
        _fallback(runs, fuzz_one)
        print(f"atheris not installed: ran {len(_CORPUS)} corpus inputs and {runs} mutations, no failures")
        return 0
    atheris.Setup(argv, fuzz_one)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
