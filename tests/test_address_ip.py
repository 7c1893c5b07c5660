"""IP literal checks of regauth.registry.address without ``ipaddress`` (issue 6: ``_socket.inet_pton``).

``ipaddress`` is the oracle: the old implementations are kept below and every check is compared with
them on tricky pinned cases and on generated text (hypothesis).
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from regauth.errors import UsageError
from regauth.registry.address import in_network, ip_packed, is_loopback_literal, normalise

# --------------------------------------------------------------------------- oracles (the old code)


def old_ip_packed(text: str) -> bytes | None:
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


def old_is_loopback_literal(host: str) -> bool | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    name = text.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def old_in_network(host: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def old_bracket_ok(inner: str) -> bool:
    """The old ``_validate_authority`` test of a bracketed host: ``ipaddress.IPv6Address(inner)``."""
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- generators

_HEX = "0123456789abcdefABCDEF"


def _hextet() -> st.SearchStrategy[str]:
    return st.text(_HEX, min_size=0, max_size=5)


def _octet() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(0, 300).map(str),
        st.sampled_from(["00", "01", "007", "0x1", "", "256", "1000", "٣", "+1", " 1"]),
    )


ipv4_texts = st.lists(_octet(), min_size=1, max_size=5).map(".".join)


@st.composite
def ipv6_texts(draw: st.DrawFn) -> str:
    groups = draw(st.lists(_hextet(), min_size=0, max_size=9))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(groups)))
        groups = [*groups[:at], "", *groups[at:]]  # room for "::"
    text = ":".join(groups)
    if draw(st.booleans()):
        text += draw(st.sampled_from([":", "::", ""])) + draw(ipv4_texts)
    if draw(st.booleans()):
        text = draw(st.sampled_from(["::", ":", ""])) + text
    if draw(st.integers(0, 3)) == 0:
        text += "%" + draw(st.text(max_size=6))
    return text


any_ip_text = st.one_of(
    ipv4_texts,
    ipv6_texts(),
    st.text("0123456789abcdef:.%[]/ xé\x00", max_size=40),
    st.text(max_size=20),
)

# --------------------------------------------------------------------------- pinned cases

TRICKY = [
    "127.0.0.1", "127.255.255.254", "128.0.0.1", "0.0.0.0", "255.255.255.255", "256.0.0.1",
    "01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.5", "127.1", "0x7f.0.0.1", "1.2.3.4 ", " 1.2.3.4",
    "1.2.3.4/32", "١٢٧.0.0.1", "1.2.3.4%eth0",
    "::", "::1", "0:0:0:0:0:0:0:1", "::0:1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1",
    "::127.0.0.1", "::ffff:127.0.0.01", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
    "1:2:3:4:5:6::7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::2", "1::2:", "12345::1", "g::1",
    "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4", "::1.2.3", "1.2.3.4::",
    "fe80::1%eth0", "fe80::1%", "fe80::1%%", "fe80::1%a%b", "::1%lo", "fe80::1%é", "fe80::1% ",
    "fe80::1%\x00", "::1\x00", "[::1]", "::1/128", "FE80::A", "::ffff:1.2.3.4%z", "\udcff::1",
]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY)
def test_ip_packed_matches_ipaddress(text: str) -> None:
    assert ip_packed(text) == old_ip_packed(text)


@pytest.mark.parametrize(
    "host",
    [*TRICKY, *(f"[{t}]" for t in TRICKY), "localhost", "LOCALHOST.", "a.localhost", "localhost.x",
     "127.0.0.1%x", "[127.0.0.1]", "[::1", "::1]", "", "reg.example"],
)  # fmt: skip
def test_is_loopback_literal_matches_ipaddress(host: str) -> None:
    assert is_loopback_literal(host) is old_is_loopback_literal(host)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("::ffff:127.0.0.1", True),  # IPv4-mapped: judged by its IPv4 part
        ("[::ffff:7f00:1]", True),
        ("::127.0.0.1", False),  # IPv4-compatible (deprecated) is not mapped
        ("::1%lo", True),  # the zone id is ignored
        ("fe80::1%eth0", False),
        ("127.0.0.1%x", True),  # ... whatever the family
        ("0:0:0:0:0:0:0:1", True),
        ("127.1", None),  # not an IP literal: a name to resolve
        ("01.0.0.1", None),
    ],
)
def test_is_loopback_literal_pinned(host: str, expected: bool | None) -> None:
    assert is_loopback_literal(host) is expected


@pytest.mark.parametrize(
    ("host", "network"),
    [
        ("10.1.2.3", "10.0.0.0/8"), ("11.1.2.3", "10.0.0.0/8"), ("10.1.2.3", "10.9.9.9/8"),
        ("10.1.2.3", "10.0.0.0/255.0.0.0"), ("10.1.2.3", "10.0.0.0/0.255.255.255"),
        ("10.1.2.3", "10.0.0.0/33"), ("10.1.2.3", "10.0.0.0/"), ("10.1.2.3", "10.0.0.0/08"),
        ("10.1.2.3", "10.0.0.0/8/8"), ("10.1.2.3", "10.0.0.0/-1"), ("10.1.2.3", "10.0.0.0/ 8"),
        ("10.1.2.3", "10.0.0.0/٨"), ("1.2.3.4", "0.0.0.0/0"), ("1.2.3.4", "1.2.3.4/32"),
        ("1.2.3.5", "1.2.3.4/32"), ("::1", "::/0"), ("1.2.3.4", "::/0"), ("::1", "0.0.0.0/0"),
        ("fe80::1", "fe80::/10"), ("fe80::1%eth0", "fe80::%eth1/64"), ("febf::1", "fe80::/10"),
        ("fec0::1", "fe80::/10"), ("::ffff:10.0.0.1", "10.0.0.0/8"), ("::1", "::1/129"),
        ("reg.example", "10.0.0.0/8"), ("10.1.2.3", "reg.example/8"), ("[::1]", "::/0"),
        ("10.1.2.3", "10.0.0.0/8%x"),
    ],
)  # fmt: skip
def test_in_network_matches_ipaddress(host: str, network: str) -> None:
    assert in_network(host, network) is old_in_network(host, network)


@pytest.mark.parametrize("inner", TRICKY)
def test_bracketed_host_validation_matches_ipaddress(inner: str) -> None:
    """``[inner]:5000`` is accepted exactly when ``ipaddress.IPv6Address(inner)`` was."""
    if any(ch in inner for ch in "/?#@[]"):
        return  # those end or garble the authority before the bracket check
    try:
        normalise(f"[{inner}]:5000")
    except UsageError:
        accepted = False
    else:
        accepted = True
    assert accepted is old_bracket_ok(inner)


# --------------------------------------------------------------------------- properties


@settings(max_examples=600)
@given(any_ip_text)
@example("::ffff:127.0.0.1")
def test_property_ip_packed(text: str) -> None:
    assert ip_packed(text) == old_ip_packed(text)


@settings(max_examples=600)
@given(any_ip_text, st.sampled_from(["", "[]", "%"]))
def test_property_is_loopback_literal(text: str, wrap: str) -> None:
    host = f"[{text}]" if wrap == "[]" else (f"{text}%lo" if wrap == "%" else text)
    assert is_loopback_literal(host) is old_is_loopback_literal(host)


@settings(max_examples=600)
@given(
    st.one_of(ipv4_texts, ipv6_texts(), st.sampled_from(["10.1.2.3", "::1", "fe80::9", "::ffff:10.0.0.1"])),
    st.one_of(ipv4_texts, ipv6_texts(), st.sampled_from(["10.0.0.0", "::", "fe80::", "0.0.0.0"])),
    st.one_of(st.integers(-1, 130).map(str), st.sampled_from(["", "255.0.0.0", "0.0.0.255", "08", "x"])),
)
def test_property_in_network(host: str, base: str, prefix: str) -> None:
    network = f"{base}/{prefix}"
    assert in_network(host, network) is old_in_network(host, network)


@settings(max_examples=600)
@given(ipv6_texts())
def test_property_bracketed_host(inner: str) -> None:
    if any(ch in inner for ch in "/?#@[]"):
        return
    try:
        normalise(f"[{inner}]")
    except UsageError:
        accepted = False
    else:
        accepted = True
    assert accepted is old_bracket_ok(inner)


def test_address_imports_no_ipaddress() -> None:
    code = "import sys, regauth.registry.address as a; a.normalise('[::1]:5000'); print('ipaddress' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
