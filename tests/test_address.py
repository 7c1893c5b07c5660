"""Tests of regauth.registry.address: storage keys, Hub aliases, logout keys, loopback literals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regauth.errors import RegauthError, UsageError
from regauth.registry.address import (
    HUB_ENDPOINT_HOST,
    HUB_KEY,
    endpoint_host,
    hostname,
    is_hub,
    is_loopback_literal,
    logout_keys,
    matches_key,
    matching_keys,
    normalise,
    split_host_port,
)

# (input, key).  Docker's rules: docs/docker-cli.md.
KEY_TABLE = [
    # Hub: Docker maps only None/""/docker.io; regauth maps every Hub spelling
    # (github.com/docker/cli/issues/7326).
    (None, HUB_KEY),
    ("", HUB_KEY),
    ("docker.io", HUB_KEY),
    ("index.docker.io", HUB_KEY),
    ("registry-1.docker.io", HUB_KEY),
    ("https://index.docker.io/v1", HUB_KEY),
    ("https://index.docker.io/v1/", HUB_KEY),
    ("https://index.docker.io", HUB_KEY),
    ("http://index.docker.io", HUB_KEY),
    ("https://registry-1.docker.io/v2/", HUB_KEY),
    ("docker.io/library/alpine", HUB_KEY),
    ("DOCKER.IO", HUB_KEY),
    ("Index.Docker.IO:443", HUB_KEY),
    ("docker.io.", HUB_KEY),
    # What Docker stores for these (docs/docker-cli.md)
    ("localhost:5000", "localhost:5000"),
    ("https://127.0.0.1:5000", "127.0.0.1:5000"),
    ("https://127.0.0.1:5000/", "127.0.0.1:5000"),
    ("https://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
    ("http://127.0.0.1:5000", "127.0.0.1:5000"),
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    # With :// keep host[:port]; else cut at the first '/' (Docker's ConvertToHostname).
    ("https://reg.example:5000/foo/", "reg.example:5000"),
    ("reg.example/some/path", "reg.example"),
    ("reg.example:5000/", "reg.example:5000"),
    ("reg.example", "reg.example"),
    ("https://reg.example?x=1", "reg.example"),
    ("https://reg.example#frag", "reg.example"),
    ("HTTPS://reg.example", "reg.example"),
    # IPv6, bracketed
    ("[::1]:5000", "[::1]:5000"),
    ("[::1]", "[::1]"),
    ("https://[::1]:5000/foo", "[::1]:5000"),
    ("[2001:db8::1]:443", "[2001:db8::1]:443"),
    # Case kept (helpers look keys up by exact string); Docker does not lower-case either.
    ("Reg.Example:5000", "Reg.Example:5000"),
    ("https://Reg.Example:5000/V2/", "Reg.Example:5000"),
    # Not Hub: another port, or a look-alike.
    ("docker.io:5000", "docker.io:5000"),
    ("notdocker.io", "notdocker.io"),
    ("my_registry.internal", "my_registry.internal"),
    ("bücher.example", "bücher.example"),  # IDNA-encodable; the key keeps the Unicode spelling
    ("https://BÜCHER.example:5000/v2/", "BÜCHER.example:5000"),
    ("docker.io.", HUB_KEY),
    ("a" * 63 + ".example", "a" * 63 + ".example"),
]


@pytest.mark.parametrize(("server", "key"), KEY_TABLE)
def test_normalise_table(server: str | None, key: str) -> None:
    """Docker's server-address rules (docs/docker-cli.md), plus regauth's Hub aliases."""
    assert normalise(server) == key


BAD = [
    "reg example",
    " reg.example",
    "reg.example ",
    "reg\x00example",
    "reg\nexample",
    "reg.example:",
    "reg.example:0",
    "reg.example:65536",
    "reg.example:99999999999999999999",
    "reg.example:http",
    "reg.example:５０００",
    ":5000",
    "/path",
    "https://",
    "https:///v2/",
    "ftp://reg.example",
    "::1",
    "::1:5000",
    "[::1",
    "[::1]x",
    "[not-ipv6]:5000",
    "[::1]:",
    "a" * 5000,
    "...",
    "reg.example\t",
    "a" * 64 + ".example",  # a DNS label is at most 63 characters
    "reg..example",  # an empty label
    ".example",
    "reg\u3000example",  # a character IDNA refuses (ideographic space)
    "b\u00fc cher.example",
    "reg.example\u200e",  # a bidi mark
]


@pytest.mark.parametrize("server", BAD)
def test_normalise_rejects_garbage(server: str) -> None:
    """Garbage raises UsageError naming the input (printable, truncated)."""
    with pytest.raises(UsageError) as info:
        normalise(server)
    message = str(info.value)
    assert "invalid registry address" in message
    assert message.isprintable()
    assert len(message) < 400


@pytest.mark.parametrize(
    ("server", "why"),
    [
        ("127.0.0.1:5001?x=1", "a query string is not allowed in a registry address"),
        ("reg.example?", "a query string is not allowed in a registry address"),
        ("127.0.0.1:5001#top", "a fragment ('#') is not allowed in a registry address"),
        ("a" * 64 + ".example", "label 1 of the host name is 64 characters long; at most 63 are allowed"),
        (
            "x." + "\u00fc" * 60 + ":5000",
            "label 2 of the host name is 66 characters long; at most 63 are allowed",
        ),
        ("reg..example", "a host name has no empty labels ('..', or a leading '.')"),
        ("reg.example\u200e", "label 2 of the host name is not a valid international (IDNA) name"),
    ],
    ids=["query", "empty-query", "fragment", "long-label", "long-idna-label", "empty-label", "bidi-mark"],
)
def test_normalise_says_what_is_wrong(server: str, why: str) -> None:
    """A query string or fragment is named as such (not "bad port"); an IDNA refusal is said in
    words (which label, how long), not with the codec's own error."""
    with pytest.raises(UsageError) as info:
        normalise(server)
    assert str(info.value).endswith(f": {why}")


def test_a_url_keeps_only_its_host_query_and_all() -> None:
    """With a scheme the address is a URL: its path, query and fragment are dropped, as Docker does."""
    assert normalise("https://127.0.0.1:5001/v2/?x=1#top") == "127.0.0.1:5001"
    assert normalise("127.0.0.1:5001/v2/?x=1") == "127.0.0.1:5001"  # cut at the first '/'


def test_normalise_never_echoes_userinfo() -> None:
    """A user:password@ in the address is refused without repeating the password."""
    for server in (
        "https://user:s3cret@reg.example",
        "user:s3cret@reg.example",
        "u:s3cret@[::1]:5000",
    ):
        with pytest.raises(UsageError) as info:
            normalise(server)
        assert "s3cret" not in str(info.value)


def test_endpoint_host() -> None:
    """Hub is contacted at registry-1.docker.io (docs/registry-auth.md)."""
    assert endpoint_host(HUB_KEY) == HUB_ENDPOINT_HOST == "registry-1.docker.io"
    assert endpoint_host("127.0.0.1:5000") == "127.0.0.1:5000"


def test_logout_keys_plain_host() -> None:
    """Docker's logout keys (docs/docker-cli.md): SERVER, hostname, http://host, https://host, once each."""
    assert logout_keys("127.0.0.1:5000") == [
        "127.0.0.1:5000",
        "http://127.0.0.1:5000",
        "https://127.0.0.1:5000",
    ]


def test_logout_keys_url_argument_keeps_argument() -> None:
    """`logout https://127.0.0.1:PORT/` also erases the argument as typed (docs/docker-cli.md)."""
    assert logout_keys("https://127.0.0.1:5000/") == [
        "127.0.0.1:5000",
        "https://127.0.0.1:5000/",
        "http://127.0.0.1:5000",
        "https://127.0.0.1:5000",
    ]


@pytest.mark.parametrize("server", [None, "", "docker.io", "index.docker.io", "https://index.docker.io/v1/"])
def test_logout_keys_hub(server: str | None) -> None:
    """Every Hub spelling erases the Hub key first, then the legacy spellings (better than Docker:
    github.com/docker/cli/issues/7326)."""
    keys = logout_keys(server)
    assert keys[0] == HUB_KEY
    for legacy in (
        "https://index.docker.io/v1",
        "index.docker.io",
        "docker.io",
        "registry-1.docker.io",
    ):
        assert legacy in keys
    assert len(keys) == len(set(keys))


def test_logout_keys_rejects_garbage() -> None:
    """Logout of a garbage address is a usage error, not a silent no-op."""
    with pytest.raises(UsageError):
        logout_keys("bad host")


@pytest.mark.parametrize(
    ("stored", "key", "expected"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000", True),
        ("https://127.0.0.1:5000", "127.0.0.1:5000", True),
        ("http://127.0.0.1:5000/v1/", "127.0.0.1:5000", True),
        ("https://Reg.Example:5000/", "reg.example:5000", True),
        ("127.0.0.1:5001", "127.0.0.1:5000", False),
        ("https://index.docker.io/v1/", HUB_KEY, True),
        ("index.docker.io", HUB_KEY, True),
        ("https://index.docker.io/v1", HUB_KEY, True),
        ("docker.io", HUB_KEY, True),
        ("reg.example", HUB_KEY, False),
        ("garbage key with spaces", HUB_KEY, False),
        ("", "reg.example", False),
    ],
)
def test_matches_key(stored: str, key: str, expected: bool) -> None:
    """File store lookup (docs/credential-stores.md): ConvertToHostname(stored) == key, plus Hub."""
    assert matches_key(stored, key) is expected


def test_hostname_is_dockers_lenient_convert() -> None:
    """Docker's ConvertToHostname: strip http(s)://, cut at the first '/'; never raises."""
    assert hostname("https://reg.example:5000/foo/") == "reg.example:5000"
    assert hostname("reg.example/x") == "reg.example"
    assert hostname("weird key") == "weird key"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("127.0.0.1:5000", ("127.0.0.1", 5000)),
        ("localhost", ("localhost", None)),
        ("[::1]:5000", ("::1", 5000)),
        ("[::1]", ("::1", None)),
        (HUB_KEY, ("registry-1.docker.io", None)),
    ],
)
def test_split_host_port(key: str, expected: tuple[str, int | None]) -> None:
    """Host without brackets, port as int or None."""
    assert split_host_port(key) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", False),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("foo.localhost", True),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("2001:db8::1", False),
        ("example.com", None),
        ("localhost.example.com", None),
        ("", None),
    ],
)
def test_is_loopback_literal(host: str, expected: bool | None) -> None:
    """127.0.0.0/8 and ::1 are loopback; names are the transport's job."""
    assert is_loopback_literal(host) is expected


def test_is_hub() -> None:
    """is_hub never raises."""
    assert is_hub("docker.io") and is_hub(None)
    assert not is_hub("bad host") and not is_hub("127.0.0.1:5000")


@given(st.text(max_size=300))
def test_normalise_only_raises_regauth_errors(server: str) -> None:
    """Property: arbitrary text gives a key or a UsageError, nothing else; keys are stable."""
    try:
        key = normalise(server)
    except RegauthError as exc:
        assert isinstance(exc, UsageError)
        return
    assert normalise(key) == key
    assert matches_key(key, key)
    assert logout_keys(server)[0] == key


@given(st.text(max_size=100), st.text(max_size=100))
def test_matches_key_never_raises(stored: str, key: str) -> None:
    """Property: legacy lookup accepts anything a config file may hold."""
    assert isinstance(matches_key(stored, key), bool)
    assert isinstance(is_loopback_literal(stored), (bool, type(None)))


# --------------------------------------------------------------------------- matching_keys

_SPELLINGS = [
    "",
    "h.example",
    "H.Example",
    "h.example:5000",
    "http://h.example",
    "HTTPS://H.EXAMPLE/v2/",
    "h.example/path",
    "xh.example",
    "h.example.",
    "docker.io",
    "Index.Docker.IO:443",
    "https://index.docker.io/v1/",
    "https://index.docker.io/v1",
    "registry-1.docker.io/x",
    "ftp://h.example",
    "[::1]:5000",
    "hé.example",
    "HÉ.EXAMPLE",
    "İ.example",
    "ΣΑΣ.example",
    "σας.example",
    "h.ex\x00ample",
    "\x00h.example",
    "h.example\x00",
]


@given(
    st.lists(st.one_of(st.sampled_from(_SPELLINGS), st.text(max_size=30)), max_size=30, unique=True)
    | st.lists(st.sampled_from(_SPELLINGS), max_size=30),
    st.sampled_from(["h.example", "h.example:5000", HUB_KEY, "hé.example", "σας.example", "[::1]:5000"]),
)
def test_matching_keys_is_matches_key_filter(stored: list[str], key: str) -> None:
    """The fast scan logout uses over 10,000 entries selects exactly what matches_key selects."""
    assert matching_keys(stored, key) == [s for s in stored if matches_key(s, key)]


def test_matching_keys_examples() -> None:
    """Case-insensitive host match, scheme and path ignored; Hub gathers every Hub spelling and ""."""
    assert matching_keys(_SPELLINGS, "h.example") == [
        "h.example", "H.Example", "http://h.example", "HTTPS://H.EXAMPLE/v2/", "h.example/path",
    ]  # fmt: skip
    hub = matching_keys(_SPELLINGS, HUB_KEY)
    assert "" in hub and "docker.io" in hub and "Index.Docker.IO:443" in hub and "h.example" not in hub
