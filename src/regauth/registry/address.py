"""Registry server addresses: storage key, endpoint host, logout keys.  Rule: pure, no I/O.

What Docker does with server addresses on login and logout: docs/docker-cli.md; how the file store
looks keys up: docs/credential-stores.md.

Decisions (where regauth deliberately differs from Docker, and why):

* **Hub aliases.**  ``None``, ``""`` and every address whose host is ``docker.io``,
  ``index.docker.io`` or ``registry-1.docker.io`` (any case, no port or port 443, any scheme, any
  path: also ``https://index.docker.io/v1`` and ``docker.io/library/x``) map to :data:`HUB_KEY`,
  for login **and** logout.  Docker maps only ``docker.io``/empty on login and only empty on
  logout, so ``docker logout docker.io`` leaves the Hub credentials behind
  (github.com/docker/cli/issues/7326).
* **Case.**  The key keeps the spelling the user typed (Docker does not lower-case it, and helpers
  look keys up by exact string); Hub detection and :func:`matches_key` ignore host case.
* **Garbage is refused.**  An empty host, whitespace or control characters, ``user@``
  credentials, a scheme other than http/https, an unbracketed IPv6 address, a bad port, or a
  ``?`` or ``#`` in an address without a scheme (``127.0.0.1:5001?x=1``; with ``https://`` the
  address is a URL and its query is dropped with its path) raise :class:`~regauth.UsageError`
  (Docker would silently store such a key).  A message never repeats userinfo (it may hold a
  password).
* **Host names** must be IDNA-encodable (the ``idna`` codec ``socket`` and ``ssl`` use too) into
  letters, digits, ``-``, ``_`` and ``.``, each label at most 63 characters (RFC 1035); the key
  keeps the Unicode spelling.  A refusal says which label is wrong and why.

Addresses are cut at ``://`` and ``/`` by hand, as Docker's ``ConvertToHostname`` does, rather than
with ``urlsplit``, which silently drops tabs and newlines that must be refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from regauth.errors import UsageError

__all__ = [
    "ACCESS_TOKEN_KEY",
    "HUB_ENDPOINT_HOST",
    "HUB_KEY",
    "HUB_TOKEN_KEYS",
    "REFRESH_TOKEN_KEY",
    "endpoint_host",
    "hostname",
    "in_network",
    "is_hub",
    "is_loopback_literal",
    "logout_keys",
    "matches_key",
    "matching_keys",
    "normalise",
    "split_host_port",
]

HUB_KEY = "https://index.docker.io/v1/"
"""Docker's storage key for Docker Hub (``IndexServer``)."""

HUB_ENDPOINT_HOST = "registry-1.docker.io"
"""The host Docker really talks to for Hub logins."""

ACCESS_TOKEN_KEY = "https://index.docker.io/v1/access-token"
REFRESH_TOKEN_KEY = "https://index.docker.io/v1/refresh-token"
HUB_TOKEN_KEYS = frozenset({ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY})
"""The keys under which Docker's web login keeps Hub's OAuth tokens (docs/hub-web-login.md): stored
beside the Hub login, never registries of their own."""

_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# Older Docker versions stored Hub credentials under these spellings; logout erases them too.
_HUB_LEGACY_KEYS = (
    "https://index.docker.io/v1",
    "index.docker.io",
    "registry-1.docker.io",
    "docker.io",
    "https://index.docker.io",
    "https://registry-1.docker.io",
)

_MAX_ADDRESS = 2048
_HOST_PUNCTUATION = frozenset("-._")


def _bad(server: str, why: str) -> UsageError:
    shown = server if len(server) <= 200 else server[:200] + "…"
    shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return UsageError(f"invalid registry address {shown!r}: {why}")


def _split_scheme(server: str) -> tuple[str | None, str]:
    """``("https", "rest")`` for ``https://rest``, ``(None, server)`` without ``://``."""
    scheme, sep, rest = server.partition("://")
    if not sep:
        return None, server
    return scheme, rest


def _authority(server: str) -> str:
    """Docker's ConvertToHostname, strict: host[:port] of ``server``; UsageError on garbage."""
    if len(server) > _MAX_ADDRESS:
        raise _bad(server, "too long")
    scheme, rest = _split_scheme(server)
    if scheme is not None and scheme.lower() not in ("http", "https"):
        raise _bad(server, "only http:// and https:// addresses are supported")
    end = len(rest)
    stops = "/?#" if scheme is not None else "/"
    for stop in stops:
        idx = rest.find(stop)
        if idx != -1:
            end = min(end, idx)
    auth = rest[:end]
    if "@" in auth:
        # Never echo the input: user:password@ may be in it.
        raise UsageError("invalid registry address: credentials in the address are not supported")
    # Without a scheme only '/' ends the host[:port] (as in Docker), so a '?' or '#' would be read
    # as part of the port or host: name the mistake rather than "bad port".
    if "?" in auth:
        raise _bad(server, "a query string is not allowed in a registry address")
    if "#" in auth:
        raise _bad(server, "a fragment ('#') is not allowed in a registry address")
    _validate_authority(server, auth)
    return auth


def _validate_authority(server: str, auth: str) -> None:
    host, port = _split_raw(server, auth)
    if port is not None and (not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536):
        raise _bad(server, "bad port")
    if host.startswith("["):
        inner = host[1:-1]
        try:
            ipaddress.IPv6Address(inner)  # a zone id (%eth0) may hold any character: not in a key
        except ValueError:
            raise _bad(server, "bad IPv6 address") from None
        if not inner.isprintable() or " " in inner:
            raise _bad(server, "bad IPv6 zone id")
        return
    if not host:
        raise _bad(server, "empty host")
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise _bad(server, _label_problem(host)) from None
    for ch in encoded:
        if not (ch.isascii() and ch.isalnum()) and ch not in _HOST_PUNCTUATION:
            raise _bad(server, f"character {ch!r} not allowed in a host name")
    if not any(ch.isalnum() for ch in encoded):
        raise _bad(server, "host name has no letters or digits")


def _label_problem(host: str) -> str:
    """Why the ``idna`` codec refused ``host``, in words (its own errors name codec internals)."""
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    for number, label in enumerate(labels, 1):
        if not label:
            return "a host name has no empty labels ('..', or a leading '.')"
        try:
            size = len(label.encode("idna"))
        except UnicodeError:
            # The codec says only "label empty or too long"; its encoded size tells which.
            size = len(label) if label.isascii() else len("xn--") + len(label.lower().encode("punycode"))
            if size <= 63:
                return f"label {number} of the host name is not a valid international (IDNA) name"
        if size > 63:
            return f"label {number} of the host name is {size} characters long; at most 63 are allowed"
    return "not a valid host name (IDNA)"


def _split_raw(server: str, auth: str) -> tuple[str, str | None]:
    """``(host, port-text|None)``; the host keeps IPv6 brackets."""
    if auth.startswith("["):
        close = auth.find("]")
        if close == -1:
            raise _bad(server, "unclosed '[' in IPv6 address")
        host, after = auth[: close + 1], auth[close + 1 :]
        if not after:
            return host, None
        if not after.startswith(":"):
            raise _bad(server, "junk after IPv6 address")
        return host, after[1:]
    if auth.count(":") > 1:
        raise _bad(server, "an IPv6 address must be written in brackets, e.g. [::1]:5000")
    host, sep, port = auth.partition(":")
    return host, (port if sep else None)


def _is_hub_authority(auth: str) -> bool:
    host, sep, port = auth.rpartition(":") if auth.count(":") == 1 else (auth, "", "")
    if not sep:
        host = auth
    host = host.lower().rstrip(".")
    return host in _HUB_HOSTS and (not sep or port == "443")


def normalise(server: str | None) -> str:
    """The storage key for ``server``: :data:`HUB_KEY` for Hub, else ``host[:port]``.

    Raises:
        UsageError: the address is garbage (see the module docstring).
    """
    if server is None or server == "" or server == HUB_KEY:
        return HUB_KEY
    auth = _authority(server)
    if _is_hub_authority(auth):
        return HUB_KEY
    return auth


def is_hub(server: str | None) -> bool:
    """True when ``server`` names Docker Hub (never raises; garbage is not Hub)."""
    try:
        return normalise(server) == HUB_KEY
    except UsageError:
        return False


def hostname(server: str) -> str:
    """Docker's lenient ConvertToHostname: drop ``http(s)://``, cut at the first ``/``."""
    scheme, rest = _split_scheme(server)
    if scheme is not None and scheme.lower() in ("http", "https"):
        server = rest
    return server.split("/", 1)[0]


def endpoint_host(key: str) -> str:
    """The host[:port] to contact for storage key ``key`` (Hub → :data:`HUB_ENDPOINT_HOST`)."""
    return HUB_ENDPOINT_HOST if key == HUB_KEY else key


def logout_keys(server: str | None) -> list[str]:
    """The keys ``logout server`` erases, in order, without duplicates.

    Docker erases ``arg``, ``hostname(arg)``, ``http://host``, ``https://host``
    (docs/docker-cli.md).  regauth erases the normalised key first,
    then the argument as typed (when it differs), then ``http://host`` and ``https://host``; for
    Hub, :data:`HUB_KEY` then the spellings older Docker versions stored
    (``https://index.docker.io/v1``, ``index.docker.io``, ``registry-1.docker.io``,
    ``docker.io``, ``https://index.docker.io``, ``https://registry-1.docker.io``).

    Raises:
        UsageError: the address is garbage.
    """
    key = normalise(server)
    keys = [key]
    if server and server != key:
        keys.append(server)
    if key == HUB_KEY:
        keys.extend(_HUB_LEGACY_KEYS)
    else:
        keys.extend((f"http://{key}", f"https://{key}"))
    seen: set[str] = set()
    out: list[str] = []
    for k in keys:
        if k not in seen:
            seen.add(k)
            out.append(k)
    return out


def matches_key(stored_key: str, key: str) -> bool:
    """True when stored entry ``stored_key`` belongs to key ``key`` (file-store legacy lookup).

    Exact match; else Docker's ``ConvertToHostname(stored_key) == key``, compared
    case-insensitively; else both name Docker Hub.  Never raises, whatever ``stored_key`` holds.
    """
    if stored_key == key:
        return True
    if hostname(stored_key).lower() == key.lower():
        return True
    # the web login's token keys name Hub but hold no Hub login (docs/hub-web-login.md)
    return key == HUB_KEY and stored_key not in HUB_TOKEN_KEYS and is_hub(stored_key)


def matching_keys(stored_keys: Iterable[str], key: str) -> list[str]:
    """The ``stored_keys`` for which :func:`matches_key` holds, in order.

    Logout runs this over every entry of a config (10,000 in the benchmark), so a cheap necessary
    condition comes first: an ASCII stored key can only match if it holds ``key`` (or, for Hub,
    ``docker.io``) ignoring case, or is empty.  Non-ASCII keys always get the full check (Unicode
    case mapping is not always per character).
    """
    needle = "docker.io" if key == HUB_KEY else key.lower()

    def may_match(stored: str) -> bool:
        return not stored or not stored.isascii() or needle in stored.lower()

    return [stored for stored in stored_keys if may_match(stored) and matches_key(stored, key)]


def split_host_port(key: str) -> tuple[str, int | None]:
    """``(host, port)`` of a storage key; IPv6 hosts lose their brackets; Hub → its endpoint host.

    Raises:
        UsageError: ``key`` is not a valid host[:port].
    """
    auth = _authority(endpoint_host(key))
    host, port = _split_raw(key, auth)
    if host.startswith("["):
        host = host[1:-1]
    return host, (int(port) if port is not None else None)


def is_loopback_literal(host: str) -> bool | None:
    """True/False for IP literals, True for ``localhost``/``*.localhost``, else None.

    ``None`` means "a name: the transport must resolve it".  ``host`` may carry IPv6 brackets and
    a zone id (``fe80::1%eth0``, ignored); an IPv4-mapped IPv6 address is judged by its IPv4 part.
    """
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    name = text.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def in_network(host: str, network: str) -> bool:
    """True when IP literal ``host`` lies in ``network`` (CIDR or address/netmask, host bits
    allowed); False when either does not parse or their families differ."""
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
