"""regauth.registry.flow without enum, re and urllib.parse (issue 6): the replacements against the originals.

States and events are plain constants now, endpoint and realm URLs are split by
regauth.registry.messages.split_url; the urllib.parse versions are kept here as oracles.
"""

from __future__ import annotations

import copy
import pickle
import re
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from regauth.credentials import Credentials
from regauth.errors import TransportError, UsageError
from regauth.registry.address import is_loopback_literal
from regauth.registry.challenge import Challenge
from regauth.registry.flow import TRANSITIONS, Event, State, _check_endpoint, _token_request, _verify_url
from regauth.registry.token import sanitise, token_get_request


def outcome(function: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", function(*args)  # type: ignore[operator]
    except Exception as exc:
        return "error", (type(exc), str(exc))


# --- the oracles: _flow as it was before issue 6 ------------------------------------------------


def old_check_endpoint(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018
    except ValueError:
        raise UsageError(f"invalid registry endpoint {sanitise(endpoint)!r}") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise UsageError(f"invalid registry endpoint {sanitise(endpoint)!r}: want http(s)://host[:port]")
    return endpoint


def old_refuses(endpoint: str, url: str) -> bool:
    """The old plain-HTTP check of _token_request, for a request URL that sends a secret."""
    realm_parts = urlsplit(url)
    if realm_parts.scheme.lower() == "http":
        ep_parts = urlsplit(endpoint)
        realm_host = (realm_parts.hostname or "").lower()
        same_host = realm_host == (ep_parts.hostname or "").lower()
        return ep_parts.scheme != "http" or not (same_host or is_loopback_literal(realm_host))
    return False


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO_NAME = re.compile(f"{_COMPONENT}(?:/{_COMPONENT})*")


def old_verify_url(endpoint: str, scopes: list[str]) -> tuple[str, bool]:
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, _actions = rest.rpartition(":")
        if kind == "repository" and _REPO_NAME.fullmatch(name):
            return f"{endpoint}/v2/{quote(name, safe='/')}/tags/list", True
    return f"{endpoint}/v2/", False


# --- states and events --------------------------------------------------------------------------


def test_states_and_events_look_like_the_enums_they_were() -> None:
    """Names, values and reprs as enum members had them; identity survives copy and pickle."""
    assert [(s.name, s.value) for s in (State.PING, State.TOKEN, State.VERIFY, State.DONE, State.FAILED)] == [
        ("PING", "ping"),
        ("TOKEN", "token"),
        ("VERIFY", "verify"),
        ("DONE", "done"),
        ("FAILED", "failed"),
    ]
    assert repr(State.PING) == "<State.PING: 'ping'>"
    assert repr(Event.ACCEPTED) == "<Event.ACCEPTED: 'accepted'>"
    assert State.TOKEN is not Event.TOKEN and State.TOKEN != Event.TOKEN
    for member in (State.VERIFY, Event.ERROR):
        assert copy.deepcopy(member) is member
        assert pickle.loads(pickle.dumps(member)) is member
    with pytest.raises(TypeError):
        TRANSITIONS[(State.PING, Event.OPEN)] = State.FAILED  # type: ignore[index]
    assert TRANSITIONS[(State.PING, Event.BEARER)] is State.TOKEN


# --- endpoints ----------------------------------------------------------------------------------

ENDPOINT_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTPS://",
        "ftp://",
        "reg.example",
        "Reg.Example",
        "127.0.0.1",
        "[::1]",
        "[::1",
        "ho%St",
        ":5000",
        ":",
        ":99999",
        ":x",
        "@",
        "u:p@",
        "/",
        "//",
        "/v2",
        "?",
        "?q",
        "#",
        "#f",
        " ",
        "\t",
        "\n",
        "\x00",
        "é",
    ]
)


@given(st.lists(ENDPOINT_PIECES, max_size=6).map("".join))
@settings(max_examples=1000)
@example("https://reg.example:5000")
@example("https://reg.example:5000///")
@example("HTTP://Reg.Example")
@example("http://[::1]:5000")
@example("https://reg.example:65536")
@example("https://u@reg.example")
@example("https:// reg.example")
def test_check_endpoint_as_before(endpoint: str) -> None:
    """The endpoint (or the UsageError and its message) is what the urllib.parse check gave."""
    assert outcome(_check_endpoint, endpoint) == outcome(old_check_endpoint, endpoint)


REALM_HOSTS = ["reg.example", "REG.example", "127.0.0.1", "127.0.0.2", "localhost", "[::1]", "other.example"]


@given(
    st.sampled_from(["http", "https"]),
    st.sampled_from(["reg.example", "Reg.Example", "[::1]", "127.0.0.1"]),
    st.sampled_from(["http", "https", "HTTP"]),
    st.sampled_from(REALM_HOSTS),
    st.sampled_from(["", ":5001", ":80"]),
)
def test_plain_http_realm_decision_as_before(
    ep_scheme: str, ep_host: str, realm_scheme: str, realm_host: str, realm_port: str
) -> None:
    """Credentials go to an http:// realm exactly when they did before (same host or loopback)."""
    endpoint = f"{ep_scheme}://{ep_host}:5000"
    realm = f"{realm_scheme}://{realm_host}{realm_port}/token"
    challenge = Challenge("bearer", {"realm": realm, "service": "reg"})
    creds = Credentials(username="u", password="pw-secret")
    refused = old_refuses(endpoint, token_get_request(realm, "reg", (), creds).url)
    got = outcome(_token_request, endpoint, challenge, creds, (), "docker")
    assert got[0] == ("error" if refused else "ok")
    if refused:
        assert got[1][0] is TransportError  # type: ignore[index]


SCOPES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "repository:a/b:pull",
                "repository:library/ubuntu:pull,push",
                "repository:A/b:pull",
                "repository:a__b/c--d/e.f_g:pull",
                "repository:a___b:pull",
                "repository:a..b:pull",
                "repository:-a:pull",
                "repository:a-:pull",
                "repository:a//b:pull",
                "repository::pull",
                "repository:a",
                "registry:catalog:*",
                "repository:reg.example:5000/a:pull",
            ]
        ),
        st.text(st.sampled_from("repository:ab._-/"), max_size=20),
    ),
    max_size=3,
)


@given(SCOPES)
def test_verify_url_as_before(scopes: list[str]) -> None:
    """The repository-scoped verify URL is chosen as the regex and quote() chose it."""
    assert _verify_url("https://reg.example", scopes) == old_verify_url("https://reg.example", scopes)
