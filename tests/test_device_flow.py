"""The device authorization grant (RFC 8628) as generators, driven without a server.

The answers are the shapes an Auth0 tenant gives (docs/hub-web-login.md "Exchange").
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Generator
from typing import Any

import pytest

from regauth.errors import AuthError, ProtocolError
from regauth.registry.device import (
    DEVICE_GRANT,
    DeviceAuthorization,
    DeviceClient,
    TokenSet,
    Wait,
    device_code_flow,
    poll_flow,
    revoke_request,
    unverified_claims,
)
from regauth.registry.messages import HttpRequest, HttpResponse
from tests.support.certs import b64url

CLIENT = DeviceClient(
    client_id="L4v0dmlNBpYUjGGab0C2JtgTgXr1Qz4d",
    device_endpoint="https://login.docker.com/oauth/device/code",
    token_endpoint="https://login.docker.com/oauth/token",
    audience="https://hub.docker.com",
    headers=(("User-Agent", "docker-cli:28_2_2:linux-amd64"),),
)
AUTH = DeviceAuthorization("dev-code-secret", "ABCD-EFGH", "https://x/activate", None, 60, 5)


def _resp(status: int, body: Any) -> HttpResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, "https://login.docker.com/oauth/token", (), data)


def _form(request: HttpRequest) -> dict[str, str]:
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"
    return dict(urllib.parse.parse_qsl(request.body.decode()))


TOKENS = {
    "access_token": "a.b.c",
    "refresh_token": "r1",
    "id_token": "i",
    "expires_in": 300,
    "token_type": "Bearer",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _run_poll(
    answers: list[HttpResponse], auth: DeviceAuthorization = AUTH
) -> tuple[list[float], list[HttpRequest], TokenSet]:
    """Drive poll_flow: the clock advances by each Wait; returns the waits, requests and result."""
    clock = Clock()
    flow: Generator[HttpRequest | Wait, HttpResponse | None, TokenSet] = poll_flow(CLIENT, auth, clock)
    waits: list[float] = []
    requests: list[HttpRequest] = []
    pending = list(answers)
    try:
        step = next(flow)
        while True:
            if isinstance(step, Wait):
                waits.append(step.seconds)
                clock.now += step.seconds
                step = flow.send(None)
            else:
                requests.append(step)
                step = flow.send(pending.pop(0))
    except StopIteration as stop:
        return waits, requests, stop.value


def test_device_code_request_is_dockers() -> None:
    flow = device_code_flow(CLIENT)
    request = next(flow)
    assert (request.method, request.url) == ("POST", CLIENT.device_endpoint)
    assert request.header("User-Agent") == "docker-cli:28_2_2:linux-amd64"
    assert request.body == (
        b"audience=https%3A%2F%2Fhub.docker.com&client_id=L4v0dmlNBpYUjGGab0C2JtgTgXr1Qz4d"
        b"&scope=openid+offline_access"
    )
    answer = {
        "device_code": "dc",
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://login.docker.com/activate",
        "verification_uri_complete": "https://login.docker.com/activate?user_code=ABCD-EFGH",
        "expires_in": 900,
        "interval": 5,
    }
    with pytest.raises(StopIteration) as stop:
        flow.send(_resp(200, answer))
    auth: DeviceAuthorization = stop.value.value
    assert (auth.user_code, auth.expires_in, auth.interval) == ("ABCD-EFGH", 900, 5)
    assert auth.verification_uri_complete == answer["verification_uri_complete"]
    assert "dc" not in repr(auth)


@pytest.mark.parametrize(
    "resp",
    [
        _resp(500, b"<html>down</html>"),
        _resp(200, b"<html>not json</html>"),
        _resp(200, {"device_code": "dc", "expires_in": 900}),
        _resp(200, {"device_code": "dc", "user_code": "U", "verification_uri": "https://x"}),
        _resp(200, ["a list"]),
    ],
)
def test_device_code_unusable_answers(resp: HttpResponse) -> None:
    flow = device_code_flow(CLIENT)
    next(flow)
    with pytest.raises(ProtocolError):
        flow.send(resp)


def test_device_code_default_interval() -> None:
    flow = device_code_flow(DeviceClient("id", "https://i/device", "https://i/token"))
    request = next(flow)
    assert _form(request) == {"client_id": "id", "scope": "openid offline_access"}  # no audience
    with pytest.raises(StopIteration) as stop:
        flow.send(
            _resp(200, {"device_code": "d", "user_code": "u", "verification_uri": "v", "expires_in": 9})
        )
    assert stop.value.value.interval == 5


def test_pending_then_success() -> None:
    pending = _resp(403, {"error": "authorization_pending", "error_description": "wait"})
    waits, requests, tokens = _run_poll([pending, pending, _resp(200, TOKENS)])
    assert waits == [5, 5, 5]
    assert [_form(r) for r in requests] == [
        {"client_id": CLIENT.client_id, "device_code": "dev-code-secret", "grant_type": DEVICE_GRANT}
    ] * 3
    assert (tokens.access_token, tokens.refresh_token, tokens.id_token, tokens.expires_in) == (
        "a.b.c",
        "r1",
        "i",
        300,
    )
    assert "r1" not in repr(tokens) and "a.b.c" not in repr(tokens)


def test_slow_down_adds_five_seconds() -> None:
    slow = _resp(400, {"error": "slow_down"})
    pending = _resp(403, {"error": "authorization_pending"})
    waits, _, _ = _run_poll([slow, pending, slow, _resp(200, TOKENS)])
    assert waits == [5, 10, 10, 15]


@pytest.mark.parametrize(
    ("error", "words"),
    [("access_denied", "access denied"), ("expired_token", "expired"), ("invalid_grant", "invalid_grant")],
)
def test_final_errors(error: str, words: str) -> None:
    with pytest.raises(AuthError, match=words) as info:
        _run_poll([_resp(403, {"error": error, "error_description": "said dev-code-secret"})])
    assert info.value.errors == (error,)
    assert "dev-code-secret" not in str(info.value)


@pytest.mark.parametrize("resp", [_resp(500, b"<html>err</html>"), _resp(200, b"garbage"), _resp(200, {})])
def test_unusable_token_answers(resp: HttpResponse) -> None:
    with pytest.raises(ProtocolError):
        _run_poll([resp])


def test_timeout_when_expires_in_runs_out() -> None:
    pending = _resp(403, {"error": "authorization_pending"})
    auth = DeviceAuthorization("d", "u", "v", None, 12, 5)
    with pytest.raises(AuthError, match="timed out waiting for device token"):
        _run_poll([pending, pending, pending], auth)  # polls at 5 and 10; 15 is past 12


def test_revoke_request_and_claims() -> None:
    request = revoke_request("https://login.docker.com/oauth/revoke", "cid", "tok")
    assert request.body == b"client_id=cid&token=tok"
    assert "tok" not in repr(request)
    claims = {"https://hub.docker.com": {"username": "alice"}}
    token = ".".join((b64url(b'{"alg":"RS256"}'), b64url(json.dumps(claims).encode()), "sig"))
    assert unverified_claims(token) == claims
    for bad in ("nodots", "a.!!!.c", "a." + b64url(b"[1]") + ".c"):
        with pytest.raises(ProtocolError):
            unverified_claims(bad)
