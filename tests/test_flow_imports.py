"""Import budget of the login flows (issue 6), in a fresh interpreter, without any network.

A login runs regauth.registry.flow, _challenge, _token and _http: on the usual paths (Basic; token GET
with issued_at, scope and refresh_token; refresh_token POST with an identity token) they must
import none of the slow stdlib modules below.  Error paths may import them lazily (json for its
error message), but must still fail with regauth's errors, in a fresh interpreter too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.support.budget import SLOW_MODULES

SLOW = sorted(SLOW_MODULES)

PRELUDE = textwrap.dedent(
    """
    import sys
    SLOW = set(sys.argv[1].split())
    before = SLOW & set(sys.modules)
    from regauth.registry.flow import login_flow, token_flow
    from regauth.registry.messages import HttpResponse
    from regauth.credentials import Credentials

    def drive(flow, responses):
        request = next(flow)
        try:
            for response in responses:
                request = flow.send(response)
        except StopIteration as stop:
            return stop.value
        raise AssertionError(f"flow wants more: {request!r}")

    EP = "https://reg.example:5000"
    USER = Credentials(username="u", password="p")
    def r(status, body=b"", challenge=None):
        headers = (("WWW-Authenticate", challenge),) if challenge else ()
        return HttpResponse(status, EP, headers, body)
    BEARER = 'Bearer realm="https://auth.example:5001/token",service="reg"'
    """
)


def run(script: str) -> str:
    code = PRELUDE + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code, " ".join(SLOW)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_usual_logins_import_nothing_slow() -> None:
    """Basic, token GET (issued_at, scope, refresh_token), refresh POST, token_flow: no slow import."""
    out = run(
        """
        creds = Credentials(username="testuser", password="testpassword")
        IDENTITY = Credentials(identity_token="R1")
        token = (b'{"token":"T","access_token":"T","expires_in":300,'
                 b'"issued_at":"2026-05-09T07:35:25.123456789Z","refresh_token":"R1","scope":"x"}')
        results = [
            drive(login_flow(EP, creds), [r(401, b"", 'Basic realm="Registry Realm"'), r(200, b"{}")]),
            drive(login_flow(EP, creds), [r(401, b"", BEARER), r(200, token), r(200, b"{}")]),
            drive(login_flow(EP, IDENTITY), [r(401, b"", BEARER), r(200, token), r(200)]),
            drive(token_flow(EP, creds), [r(401, b"", BEARER), r(200, token)]),
        ]
        assert [x.verified for x in results[:3]] == [True, True, True], results
        assert results[3].issued_at.microsecond == 123456
        print(sorted((SLOW & set(sys.modules)) - before))
        """
    )
    assert json.loads(out.replace("'", '"')) == []


@pytest.mark.parametrize(
    "body",
    [b'{"token": "T"', b'{"token": "\x01"}', b"[1,", b'{"token" 1}', b"<html>", b"", b"\xff\xfe{\x00"],
)
def test_bad_token_bodies_in_a_fresh_interpreter(body: bytes) -> None:
    """JSON errors before json.decoder is imported are still ProtocolErrors (no SystemError)."""
    out = run(
        f"""
        from regauth.errors import ProtocolError
        try:
            drive(login_flow(EP, USER), [r(401, b"", BEARER), r(200, {body!r})])
        except ProtocolError as exc:
            print("ProtocolError", exc)
        """
    )
    assert out.startswith("ProtocolError authorization server sent a response that is not a JSON object")


def test_registry_errors_in_a_fresh_interpreter() -> None:
    """A refused login renders errors[] (or the status) in a fresh interpreter, bad JSON included."""
    out = run(
        """
        from regauth.errors import AuthError
        for body in (b'{"errors": [{"code": "DENIED", "message": "no"}]', b'{"details": "bad"}'):
            try:
                drive(login_flow(EP, USER), [r(401, b"", BEARER), r(401, body)])
            except AuthError as exc:
                print(exc)
        """
    )
    assert out.splitlines() == ["unauthorized: authentication required", "unauthorized: bad"]
