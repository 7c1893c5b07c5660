"""IP literals in regauth.registry.address: loopback checks, NO_PROXY networks, bracketed IPv6 hosts."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regauth.errors import UsageError
from regauth.registry.address import in_network, is_loopback_literal, normalise

# (text, is_loopback_literal(text), is_loopback_literal("[text]"), "[text]:5000" accepted as a key)
LITERALS = [
    ("127.0.0.1", True, True, False),
    ("127.255.255.254", True, True, False),
    ("128.0.0.1", False, False, False),
    ("0.0.0.0", False, False, False),
    ("255.255.255.255", False, False, False),
    ("256.0.0.1", None, None, False),
    ("01.2.3.4", None, None, False),  # leading zeros: not a literal (octal to some resolvers)
    ("1.2.3.04", None, None, False),
    ("1.2.3", None, None, False),
    ("1.2.3.4.5", None, None, False),
    ("127.1", None, None, False),
    ("0x7f.0.0.1", None, None, False),
    ("1.2.3.4 ", None, None, False),
    (" 1.2.3.4", None, None, False),
    ("\u0661\u0662\u0667.0.0.1", None, None, False),  # digits are ASCII
    ("1.2.3.4%eth0", False, False, False),  # the zone id is dropped, whatever the family
    ("::", False, False, True),
    ("::1", True, True, True),
    ("0:0:0:0:0:0:0:1", True, True, True),
    ("::0:1", True, True, True),
    ("::ffff:127.0.0.1", True, True, True),  # IPv4-mapped: judged by its IPv4 part
    ("::ffff:7f00:1", True, True, True),
    ("::ffff:10.0.0.1", False, False, True),
    ("::127.0.0.1", False, False, True),  # IPv4-compatible (deprecated) is not mapped
    ("::ffff:127.0.0.01", None, None, False),
    ("1:2:3:4:5:6:7:8", False, False, True),
    ("1:2:3:4:5:6:7::", False, False, True),
    ("::2:3:4:5:6:7:8", False, False, True),
    ("1:2:3:4:5:6::7:8", None, None, False),  # "::" must stand for at least one group
    ("1:2:3:4:5:6:7:8:9", None, None, False),
    ("1::2::3", None, None, False),
    (":1::2", None, None, False),
    ("1::2:", None, None, False),
    ("12345::1", None, None, False),
    ("g::1", None, None, False),
    ("1:2:3:4:5:6:1.2.3.4", False, False, True),
    ("1:2:3:4:5:6:7:1.2.3.4", None, None, False),
    ("::1.2.3.4", False, False, True),
    ("::1.2.3", None, None, False),
    ("1.2.3.4::", None, None, False),
    ("fe80::1%eth0", False, False, True),
    ("fe80::1%", False, False, False),  # an empty zone id
    ("fe80::1%%", False, False, False),
    ("fe80::1%a%b", False, False, False),
    ("::1%lo", True, True, True),
    ("fe80::1%é", False, False, True),
    ("fe80::1% ", False, False, False),  # whitespace or a control character in a key: refused
    ("fe80::1%\x00", False, False, False),
    ("::1\x00", None, None, False),
    ("FE80::A", False, False, True),
    ("::ffff:1.2.3.4%z", False, False, True),
    ("\udcff::1", None, None, False),
]


@pytest.mark.parametrize(("text", "bare", "bracketed", "key_ok"), LITERALS)
def test_literals(text: str, bare: bool | None, bracketed: bool | None, key_ok: bool) -> None:
    """Loopback judgement of IP literals (None: not a literal), bare and bracketed, and whether
    ``[text]:5000`` is a valid storage key."""
    assert is_loopback_literal(text) is bare
    assert is_loopback_literal(f"[{text}]") is bracketed
    try:
        normalise(f"[{text}]:5000")
    except UsageError as exc:
        assert not key_ok, exc
        assert str(exc).isprintable()
    else:
        assert key_ok


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("[::1]", True),
        ("::1/128", None),
        ("1.2.3.4/32", None),
        ("127.0.0.1%x", True),
        ("[127.0.0.1]", True),
        ("[::1", None),
        ("::1]", None),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("a.localhost", True),
        ("localhost.x", None),
        ("", None),
        ("reg.example", None),
    ],
)
def test_is_loopback_literal_names_and_brackets(host: str, expected: bool | None) -> None:
    """localhost and its subdomains are loopback; other names are for the transport to resolve."""
    assert is_loopback_literal(host) is expected


@pytest.mark.parametrize(
    ("host", "network", "expected"),
    [
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("10.1.2.3", "10.9.9.9/8", True),  # host bits in the network are allowed
        ("10.1.2.3", "10.0.0.0/255.0.0.0", True),  # a netmask
        ("10.1.2.3", "10.0.0.0/0.255.255.255", True),  # a host mask
        ("10.1.2.3", "10.0.0.0/33", False),
        ("10.1.2.3", "10.0.0.0/", False),
        ("10.1.2.3", "10.0.0.0/08", True),
        ("10.1.2.3", "10.0.0.0/8/8", False),
        ("10.1.2.3", "10.0.0.0/-1", False),
        ("10.1.2.3", "10.0.0.0/ 8", False),
        ("10.1.2.3", "10.0.0.0/\u0668", False),
        ("1.2.3.4", "0.0.0.0/0", True),
        ("1.2.3.4", "1.2.3.4/32", True),
        ("1.2.3.5", "1.2.3.4/32", False),
        ("::1", "::/0", True),
        ("1.2.3.4", "::/0", False),  # families differ
        ("::1", "0.0.0.0/0", False),
        ("fe80::1", "fe80::/10", True),
        ("fe80::1%eth0", "fe80::%eth1/64", True),
        ("febf::1", "fe80::/10", True),
        ("fec0::1", "fe80::/10", False),
        ("::ffff:10.0.0.1", "10.0.0.0/8", False),
        ("::1", "::1/129", False),
        ("reg.example", "10.0.0.0/8", False),
        ("10.1.2.3", "reg.example/8", False),
        ("[::1]", "::/0", False),  # brackets are the caller's to strip
        ("10.1.2.3", "10.0.0.0/8%x", False),
    ],
)
def test_in_network(host: str, network: str, expected: bool) -> None:
    """NO_PROXY network entries: CIDR or address/mask; anything unparsable matches nothing."""
    assert in_network(host, network) is expected


@given(st.integers(0, 2**24 - 1))
def test_every_127_address_is_loopback(offset: int) -> None:
    """Property: all of 127.0.0.0/8 is loopback, bare, bracketed or IPv4-mapped."""
    address = str(ipaddress.IPv4Address((127 << 24) + offset))
    assert is_loopback_literal(address) is True
    assert is_loopback_literal(f"[::ffff:{address}]") is True


@given(st.ip_addresses(), st.integers(0, 128))
def test_an_address_is_in_its_own_networks(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int
) -> None:
    """Property: an address lies in every network of its family built around it."""
    expected = prefix <= address.max_prefixlen
    assert in_network(str(address), f"{address}/{prefix}") is expected


@given(st.text(max_size=40), st.text(max_size=40))
def test_never_raises(host: str, network: str) -> None:
    """Property: arbitrary text gives an answer, never an exception."""
    assert is_loopback_literal(host) in (True, False, None)
    assert in_network(host, network) in (True, False)
    try:
        normalise(f"[{host}]")
    except UsageError as exc:
        assert "\n" not in str(exc)
