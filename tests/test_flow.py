"""Tests of regauth.registry.flow: the login and token flows, scripted and against real registries."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Generator
from typing import Any, TypeVar
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regauth.credentials import Credentials
from regauth.errors import AuthError, ProtocolError, RegauthError, TransportError, UsageError
from regauth.registry.challenge import Challenge
from regauth.registry.flow import LoginResult, login_flow, token_flow
from regauth.registry.messages import HttpRequest, HttpResponse
from regauth.registry.token import Token
from tests.conftest import REGISTRY_USERS
from tests.support.registry import RegistryStack

R = TypeVar("R")
Handler = Callable[[HttpRequest], HttpResponse]

EP = "https://reg.example:5000"
REALM = "https://auth.example/token"
CREDS = Credentials(username="testuser", password="testpassword")
BASIC = "Basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk"
UNAUTHORIZED_BODY = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}'


def drive(flow: Generator[HttpRequest, HttpResponse, R], handler: Handler) -> tuple[R, list[HttpRequest]]:
    """Run ``flow`` to completion, answering each request with ``handler``."""
    seen: list[HttpRequest] = []
    try:
        request = next(flow)
        while True:
            seen.append(request)
            request = flow.send(handler(request))
    except StopIteration as stop:
        return stop.value, seen


def script(*responses: HttpResponse) -> Handler:
    """A handler answering with ``responses`` in order (fails the test if more are asked)."""
    queue = list(responses)

    def handler(request: HttpRequest) -> HttpResponse:
        assert queue, f"unexpected extra request {request!r}"
        return queue.pop(0)

    return handler


def r(status: int, body: object = b"", *challenges: str) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, EP, tuple(("WWW-Authenticate", c) for c in challenges), raw)


CHALLENGE_SAMPLES = [
    'Bearer realm="http://127.0.0.1:1/t",service="s"',
    'Bearer realm="https://a.example/t"',
    'Bearer realm="http://[x/t"',
    "Basic realm=r",
    'Bearer realm="https://a/t",error="insufficient_scope"',
]
BODY_SAMPLES = [
    b'{"token":"T","refresh_token":"R"}',
    b'{"details":"testpassword is wrong"}',
    UNAUTHORIZED_BODY,
    b"{}",
]

BEARER_401 = r(401, UNAUTHORIZED_BODY, f'Bearer realm="{REALM}",service="reg"')
BASIC_401 = r(401, UNAUTHORIZED_BODY, 'Basic realm="Registry Realm"')


# --- Basic -------------------------------------------------------------------------------------


def test_basic_ok() -> None:
    """docs/registry-auth.md: ping 401 Basic → GET /v2/ with Basic → 200."""
    result, seen = drive(login_flow(EP, CREDS), script(BASIC_401, r(200, {})))
    assert result == LoginResult(None, True, "basic", EP)
    assert [(q.method, q.url) for q in seen] == [("GET", f"{EP}/v2/"), ("GET", f"{EP}/v2/")]
    assert seen[0].header("Authorization") is None
    assert seen[1].header("Authorization") == BASIC


def test_basic_wrong_password() -> None:
    """docs/registry-auth.md: wrong password → 401 with errors[] UNAUTHORIZED → truthful AuthError."""
    with pytest.raises(AuthError) as info:
        drive(login_flow(EP, CREDS), script(BASIC_401, BASIC_401))
    assert str(info.value) == "unauthorized: incorrect username or password"
    assert info.value.status == 401
    assert info.value.errors == ("unauthorized: authentication required",)


def test_basic_401_with_other_errors_renders_them() -> None:
    """A 401 whose errors[] say something else is rendered as the registry wrote it."""
    body = {"errors": [{"code": "DENIED", "message": "account locked"}]}
    with pytest.raises(AuthError, match=r"^denied: account locked$"):
        drive(login_flow(EP, CREDS), script(BASIC_401, r(401, body)))


@pytest.mark.parametrize(
    "creds",
    [Credentials(), Credentials(username="u"), Credentials(identity_token="IT")],
)
def test_basic_without_credentials(creds: Credentials) -> None:
    """docs/registry-auth.md: Basic needs user and password → `no basic auth credentials`."""
    with pytest.raises(AuthError, match=r"^no basic auth credentials$"):
        drive(login_flow(EP, creds), script(BASIC_401))


# --- Bearer ------------------------------------------------------------------------------------


def test_bearer_get_with_refresh_token() -> None:
    """docs/registry-auth.md: token GET with Basic, no scope; refresh_token → identity token."""
    token = {"token": "ACCESS", "refresh_token": "REFRESH-1", "expires_in": 300}
    result, seen = drive(login_flow(EP, CREDS), script(BEARER_401, r(200, token), r(200, {})))
    assert result.identity_token == "REFRESH-1"
    assert result.verified and result.scheme == "bearer"
    assert "REFRESH-1" not in repr(result)
    get = seen[1]
    assert get.method == "GET" and get.url.startswith(REALM + "?")
    assert parse_qsl(urlsplit(get.url).query) == [
        ("account", "testuser"),
        ("client_id", "docker"),
        ("offline_token", "true"),
        ("service", "reg"),
    ]
    assert get.header("Authorization") == BASIC
    assert seen[2].url == f"{EP}/v2/"
    assert seen[2].header("Authorization") == "Bearer ACCESS"


def test_bearer_without_refresh_token_stores_password() -> None:
    """docs/registry-auth.md: no refresh token issued → identity_token None (the password is stored)."""
    result, _ = drive(login_flow(EP, CREDS), script(BEARER_401, r(200, {"access_token": "A"}), r(200, {})))
    assert result.identity_token is None and result.verified


def test_bearer_refresh_post_keeps_old_token() -> None:
    """docs/registry-auth.md: with an identity token, POST grant_type=refresh_token."""
    creds = Credentials(username="testuser", identity_token="OLD-RT")
    result, seen = drive(login_flow(EP, creds), script(BEARER_401, r(200, {"access_token": "A"}), r(200, {})))
    post = seen[1]
    assert post.method == "POST" and post.url == REALM
    form = dict(parse_qsl(post.body.decode(), keep_blank_values=True))
    assert form == {
        "client_id": "docker",
        "grant_type": "refresh_token",
        "refresh_token": "OLD-RT",
        "scope": "",
        "service": "reg",
    }
    assert post.header("Authorization") is None
    assert result.identity_token == "OLD-RT"


def test_bearer_new_refresh_token_replaces_old() -> None:
    """docs/registry-auth.md: a refresh_token in the answer replaces the stored one."""
    creds = Credentials(identity_token="OLD-RT")
    result, _ = drive(
        login_flow(EP, creds),
        script(BEARER_401, r(200, {"access_token": "A", "refresh_token": "NEW-RT"}), r(200, {})),
    )
    assert result.identity_token == "NEW-RT"


def test_bearer_preferred_over_basic_in_any_order() -> None:
    """Better than Docker (Basic overwrites): Bearer wins, in one header or across headers."""
    for challenges in (
        ['Basic realm="b"', f'Bearer realm="{REALM}"'],
        [f'Basic realm="b", Bearer realm="{REALM}",service="reg"'],
    ):
        ping = r(401, b"", *challenges)
        result, seen = drive(login_flow(EP, CREDS), script(ping, r(200, {"token": "A"}), r(200, {})))
        assert result.scheme == "bearer"
        assert seen[2].header("Authorization") == "Bearer A"


def test_bearer_no_realm() -> None:
    """docs/registry-auth.md: `no realm specified for token auth challenge`."""
    with pytest.raises(ProtocolError, match=r"^no realm specified for token auth challenge$"):
        drive(login_flow(EP, CREDS), script(r(401, b"", 'Bearer service="reg"')))


@pytest.mark.parametrize(
    "realm", ["http://[x/token", "ftp://auth.example/t", "/relative/token", "https://h/a b"]
)
def test_bearer_bad_realm(realm: str) -> None:
    """A realm that is not an absolute http(s) URL is a ProtocolError (found by fuzzing: [x)."""
    with pytest.raises(ProtocolError, match="invalid token realm"):
        drive(login_flow("http://reg.example", CREDS), script(r(401, b"", f'Bearer realm="{realm}"')))


def test_bearer_token_server_refuses() -> None:
    """docs/registry-auth.md: the token endpoint's details → `unauthorized: incorrect username...`."""
    refused = r(401, {"details": "incorrect username or password"})
    with pytest.raises(AuthError) as info:
        drive(login_flow(EP, CREDS), script(BEARER_401, refused))
    assert str(info.value) == "unauthorized: incorrect username or password"
    assert "testpassword" not in str(info.value)


def test_bearer_token_accepted_then_registry_refuses() -> None:
    """docs/registry-auth.md: out-of-scope access → 401 insufficient_scope → `denied: ...`."""
    refused = r(
        401,
        UNAUTHORIZED_BODY,
        f'Bearer realm="{REALM}",service="reg",scope="repository:x:pull",error="insufficient_scope"',
    )
    with pytest.raises(AuthError) as info:
        drive(login_flow(EP, CREDS), script(BEARER_401, r(200, {"token": "A"}), refused))
    assert str(info.value).startswith("denied: requested access to the resource is denied")
    assert info.value.status == 401


@pytest.mark.parametrize(
    ("endpoint", "realm", "allowed"),
    [
        ("https://reg.example", "http://auth.example/token", False),
        ("http://reg.example", "http://auth.example/token", False),
        ("http://reg.example:5000", "http://reg.example:5001/token", True),
        ("http://reg.example:5000", "http://REG.example/token", True),
        ("http://reg.example:5000", "http://127.0.0.1:5001/token", True),
        ("http://reg.example:5000", "http://[::1]:5001/token", True),
        ("http://reg.example:5000", "http://localhost:5001/token", True),
        ("https://127.0.0.1:5000", "http://127.0.0.1:5001/token", False),
        ("http://reg.example", "https://auth.example/token", True),
        ("http://reg.example:5000", "HTTP://auth.example/token", False),
        ("http://[::1]:5000", "http://[::1]:5001/token", True),
        ("http://127.0.0.1:5000", "http://127.0.0.2/token", True),
        ("http://reg.example:5000", "http://localhost.example/token", False),
    ],
)
def test_plain_http_realm_policy(endpoint: str, realm: str, allowed: bool) -> None:
    """Credentials go to an http realm only from an http endpoint, same host or loopback."""
    ping = HttpResponse(401, endpoint, (("WWW-Authenticate", f'Bearer realm="{realm}"'),))
    flow = login_flow(endpoint, CREDS)
    if allowed:
        result, seen = drive(flow, script(ping, r(200, {"token": "A"}), r(200, {})))
        assert seen[1].url.startswith(realm)
        assert result.verified
    else:
        with pytest.raises(TransportError, match="refusing to send credentials to token realm"):
            drive(flow, script(ping))


def test_plain_http_realm_anonymous_allowed() -> None:
    """No secret to leak: an anonymous token request may use an http realm."""
    ping = r(401, b"", 'Bearer realm="http://auth.example/token"')
    result, seen = drive(login_flow(EP, Credentials()), script(ping, r(200, {"token": "A"}), r(200, {})))
    assert result.verified and seen[1].header("Authorization") is None


def test_scoped_verify_uses_tags_list_and_accepts_404() -> None:
    """With scopes, the verify request exercises the first repository scope; 404 = authorised."""
    scopes = ["registry:catalog:*", "repository:test/a:pull,push"]
    result, seen = drive(
        login_flow(EP, CREDS, scopes=scopes),
        script(BEARER_401, r(200, {"token": "A"}), r(404, {"errors": [{"code": "NAME_UNKNOWN"}]})),
    )
    assert result.verified
    assert parse_qs(urlsplit(seen[1].url).query)["scope"] == scopes
    assert seen[2].url == f"{EP}/v2/test/a/tags/list"


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        ("repository:library/ubuntu:pull,push", "/v2/library/ubuntu/tags/list"),
        ("repository:a__b/c--d/e.f_g:pull", "/v2/a__b/c--d/e.f_g/tags/list"),
        ("repository:A/b:pull", "/v2/"),  # not a valid name: upper case
        ("repository:a___b:pull", "/v2/"),
        ("repository:a..b:pull", "/v2/"),
        ("repository:-a:pull", "/v2/"),
        ("repository:a-:pull", "/v2/"),
        ("repository:a//b:pull", "/v2/"),
        ("repository::pull", "/v2/"),
        ("repository:a", "/v2/"),
        ("repository:reg.example:5000/a:pull", "/v2/"),  # a name, not a reference with a host
    ],
)
def test_verify_url_for_scope(scope: str, path: str) -> None:
    """Only a valid repository name (distribution's grammar) turns the verify request into tags/list."""
    _, seen = drive(
        login_flow(EP, CREDS, scopes=[scope]), script(BEARER_401, r(200, {"token": "A"}), r(200, {}))
    )
    assert seen[2].url == EP + path


def test_unscoped_404_is_not_success() -> None:
    """A 404 on /v2/ with credentials is not a login."""
    with pytest.raises(ProtocolError, match="failed with status: 404 Not Found"):
        drive(login_flow(EP, CREDS), script(BASIC_401, r(404)))


# --- ping outcomes -----------------------------------------------------------------------------


def test_ping_200_is_unverified() -> None:
    """docs/registry-auth.md: ping 200 → no auth sent, login 'succeeds' unchecked."""
    result, seen = drive(login_flow(EP + "/", CREDS), script(r(200, {})))
    assert result == LoginResult(None, False, None, EP)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (r(404), "no registry API at https://reg.example:5000/v2/"),
        (HttpResponse(503, EP, (), b"", "Service Unavailable"), "503 Service Unavailable"),
        (r(401, b"", "Negotiate abc==, NTLM"), "unsupported authentication scheme.*negotiate, ntlm"),
        (r(401), "without a usable WWW-Authenticate"),
        (r(403), "403 Forbidden without an authentication challenge"),
    ],
)
def test_ping_failures(response: HttpResponse, message: str) -> None:
    """Ping outcomes other than 200/401-with-a-known-scheme are ProtocolErrors."""
    with pytest.raises(ProtocolError, match=message):
        drive(login_flow(EP, CREDS), script(response))


def test_challenges_only_from_401() -> None:
    """docs/registry-auth.md: challenges are recorded only on 401; a 200 ping ignores them."""
    ok = r(200, {}, 'Basic realm="x"')
    result, _ = drive(login_flow(EP, CREDS), script(ok))
    assert not result.verified


# --- fail fast, types, endpoints ---------------------------------------------------------------


def test_generator_is_finished_after_an_error() -> None:
    """After any error the flow is done: sending again raises StopIteration."""
    flow = login_flow(EP, CREDS)
    next(flow)
    with pytest.raises(ProtocolError):
        flow.send(r(404))
    with pytest.raises(StopIteration):
        flow.send(r(200))


def test_sending_a_non_response_is_a_type_error() -> None:
    """A transport bug (sending None) is reported, not misread."""
    flow = login_flow(EP, CREDS)
    next(flow)
    with pytest.raises(TypeError):
        flow.send(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "endpoint",
    [
        "reg.example",
        "ftp://reg.example",
        "https://reg.example/v2",
        "https://u:p@reg.example",
        "https://u:p@[::1",
        "https://u@reg.example",
        "https://",
        "https://reg.example:65536",
        "https://reg.example:x",
        "https://[::1",
    ],
)
def test_bad_endpoint(endpoint: str) -> None:
    """The endpoint must be http(s)://host[:port]; the message never shows a password."""
    with pytest.raises(UsageError, match="invalid registry endpoint") as info:
        next(login_flow(endpoint, CREDS))
    assert "p@" not in str(info.value)


@pytest.mark.parametrize(
    ("endpoint", "used"),
    [
        ("https://reg.example:5000///", "https://reg.example:5000"),
        ("HTTP://Reg.Example", "HTTP://Reg.Example"),
        ("http://[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_endpoint_spellings(endpoint: str, used: str) -> None:
    """Trailing slashes go; the endpoint is otherwise used as given."""
    result, seen = drive(login_flow(endpoint, CREDS), script(r(200, {})))
    assert result.endpoint == used and seen[0].url == used + "/v2/"


# --- token_flow ----------------------------------------------------------------------------------


def test_token_flow_pings_then_fetches() -> None:
    """token_flow: ping, then the token GET with repeated scope=."""
    token, seen = drive(
        token_flow(EP, CREDS, ["repository:a:pull"]), script(BEARER_401, r(200, {"token": "T"}))
    )
    assert isinstance(token, Token) and token.access_token == "T"
    assert parse_qs(urlsplit(seen[1].url).query)["scope"] == ["repository:a:pull"]


def test_token_flow_with_known_challenge_skips_ping() -> None:
    """Given a challenge (e.g. from a 401 on a pull), token_flow goes straight to the realm."""
    challenge = Challenge("bearer", {"realm": REALM, "service": "reg"})
    _, seen = drive(token_flow(EP, CREDS, challenge=challenge), script(r(200, {"token": "T"})))
    assert len(seen) == 1 and seen[0].url.startswith(REALM)


@pytest.mark.parametrize(
    ("ping", "message"),
    [(r(200, {}), "asks for no authentication"), (BASIC_401, "offers no Bearer token auth")],
)
def test_token_flow_without_bearer(ping: HttpResponse, message: str) -> None:
    """No Bearer challenge → ProtocolError saying so."""
    with pytest.raises(ProtocolError, match=message):
        drive(token_flow(EP, CREDS), script(ping))


def test_token_flow_rejects_basic_challenge() -> None:
    """A non-Bearer challenge passed in is a ProtocolError."""
    with pytest.raises(ProtocolError):
        next(token_flow(EP, CREDS, challenge=Challenge("basic", {"realm": "x"})))


# --- against real registries (distribution 2.8, tests/support) ---------------------------------


def urllib_handler(stack: RegistryStack) -> Handler:
    """A tiny transport for tests: urllib, the stack's CA, no redirects followed."""
    context = ssl.create_default_context(cafile=str(stack.ca_path)) if stack.ca_path else None

    def handler(request: HttpRequest) -> HttpResponse:
        req = urllib.request.Request(
            request.url, data=request.body or None, method=request.method, headers=dict(request.headers)
        )
        try:
            with urllib.request.urlopen(req, timeout=10, context=context) as raw:
                resp: Any = raw
                return HttpResponse(
                    resp.status, request.url, tuple(resp.headers.items()), resp.read(), resp.reason
                )
        except urllib.error.HTTPError as err:
            return HttpResponse(err.code, request.url, tuple(err.headers.items()), err.read(), err.reason)

    return handler


@pytest.mark.real
@pytest.mark.parametrize("fixture", ["registry_basic_https", "registry_basic_http"])
def test_real_basic(fixture: str, request: pytest.FixtureRequest) -> None:
    """docs/registry-auth.md: htpasswd registry: right password → 200, wrong → 401."""
    stack: RegistryStack = request.getfixturevalue(fixture)
    handler = urllib_handler(stack)
    creds = Credentials(username=stack.username, password=stack.password)
    result, _ = drive(login_flow(stack.url, creds), handler)
    assert result == LoginResult(None, True, "basic", stack.url)
    with pytest.raises(AuthError, match="incorrect username or password") as info:
        drive(login_flow(stack.url, Credentials(username=stack.username, password="nope")), handler)
    assert info.value.status == 401


@pytest.mark.real
@pytest.mark.parametrize("fixture", ["registry_token_https", "registry_token_http"])
def test_real_bearer(fixture: str, request: pytest.FixtureRequest) -> None:
    """docs/registry-auth.md: token GET → refresh token → identity token; then refresh POST works."""
    stack: RegistryStack = request.getfixturevalue(fixture)
    handler = urllib_handler(stack)
    creds = Credentials(username=stack.username, password=stack.password)
    result, seen = drive(login_flow(stack.url, creds), handler)
    assert result.verified and result.scheme == "bearer" and result.identity_token
    assert [q.method for q in seen] == ["GET", "GET", "GET"]
    again, seen = drive(
        login_flow(stack.url, Credentials(username=stack.username, identity_token=result.identity_token)),
        handler,
    )
    assert again.verified and again.identity_token
    assert seen[1].method == "POST"
    with pytest.raises(AuthError, match=r"^unauthorized: ") as info:
        drive(login_flow(stack.url, Credentials(username=stack.username, password="nope")), handler)
    assert "nope" not in str(info.value)


@pytest.mark.real
def test_real_scope_checked(registry_token_https: RegistryStack) -> None:
    """docs/registry-auth.md: a scope the token server does not grant → 401 insufficient_scope → denied."""
    handler = urllib_handler(registry_token_https)
    limited = Credentials(username="limited", password=REGISTRY_USERS["limited"])
    ok, seen = drive(
        login_flow(registry_token_https.url, limited, scopes=["repository:test/a:pull"]), handler
    )
    assert ok.verified and seen[-1].url.endswith("/v2/test/a/tags/list")
    with pytest.raises(AuthError, match=r"^denied: "):
        drive(
            login_flow(registry_token_https.url, limited, scopes=["repository:test/b:pull"]),
            handler,
        )


def test_fuzz_harness_smoke() -> None:
    """fuzz/fuzz_core.py's corpus and 300 mutations run clean (the atheris harness stays alive)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "fuzz" / "fuzz_core.py"
    spec = importlib.util.spec_from_file_location("fuzz_core", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._fallback(300, module.fuzz_one)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([200, 401, 403, 404, 429, 500]),
            st.text(max_size=120) | st.sampled_from(CHALLENGE_SAMPLES),
            st.binary(max_size=80) | st.sampled_from(BODY_SAMPLES),
        ),
        min_size=3,
        max_size=3,
    ),
    st.sampled_from([CREDS, Credentials(identity_token="IT"), Credentials()]),
)
def test_flow_never_raises_foreign_errors(answers: list[tuple[int, str, bytes]], creds: Credentials) -> None:
    """Property: any three responses end the flow with a result or a RegauthError, never a leak."""
    flow = login_flow("http://reg.example", creds)
    try:
        next(flow)
        for status, header, body in answers:
            flow.send(HttpResponse(status, EP, (("WWW-Authenticate", header),), body))
    except StopIteration:
        return
    except RegauthError as exc:
        # no secret of these credentials in the message, even when a server echoes it back
        # (a body that holds "testpassword" is only a leak when that is the password sent)
        for secret in (creds.password, creds.identity_token, creds.registry_token):
            assert not secret or secret not in str(exc)
