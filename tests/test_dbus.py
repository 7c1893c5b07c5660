"""regauth.helpers.dbus: the wire format (D-Bus specification, "Message Protocol") and a real bus + keyring.

Marshalling is checked three ways: hand-computed byte vectors, hypothesis round trips in both
byte orders, and messages sent to ourselves through a real ``dbus-daemon`` (which validates every
body against its signature and disconnects a client that sends a malformed one).  The Secret
Service calls the helper uses run against gnome-keyring (observed.md §7 set-up), and the helper's
locked-collection path is checked by locking the keyring and unlocking it again with its password.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regauth.helpers.dbus as _dbus
from regauth.helpers.dbus import (
    Connection,
    DBusConnectError,
    DBusError,
    DBusProtocolError,
    marshal,
    method_call,
    parse_address,
    parse_message,
    split_signature,
    unmarshal,
)
from tests.support.keyring_env import secretservice_env  # noqa: F401
from tests.support.require import require

VENV_BIN = os.path.dirname(sys.executable)
SECRETS = "org.freedesktop.secrets"
ROOT = "/org/freedesktop/secrets"
SERVICE = "org.freedesktop.Secret.Service"
ITEM = "org.freedesktop.Secret.Item"
COLLECTION = "org.freedesktop.Secret.Collection"
PROPS = "org.freedesktop.DBus.Properties"
KEYRING_PASSWORD = b"regauth-test-keyring"  # tests/support/keyring_env.py


# -- hand-computed vectors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sig", "values", "expected"),
    [
        ("yu", [1, 2], "01000000 02000000"),
        ("yq", [1, 0x0203], "0100 0302"),
        ("yt", [1, 2], "01000000 00000000 02000000 00000000"),
        ("b", [True], "01000000"),
        ("s", ["é"], "02000000 c3a9 00"),
        ("o", ["/a"], "02000000 2f61 00"),
        ("g", ["a{sv}"], "05 617b73767d 00"),
        ("ay", [b""], "00000000"),
        ("at", [[]], "00000000 00000000"),  # padding to the element's alignment, even when empty
        ("at", [[1]], "08000000 00000000 01000000 00000000"),  # length excludes that padding
        ("a{sv}", [{"k": ("u", 5)}], "10000000 00000000 01000000 6b00 017500 000000 05000000"),
        (
            "(oayays)",
            [("/", b"", b"ab", "t")],
            "01000000 2f00 0000 00000000 02000000 6162 0000 01000000 7400",
        ),
        ("v", [("(yt)", (1, 2))], "04 28797429 00 0000 01 00000000000000 02000000 00000000"),
        ("yv", [1, ("y", 2)], "01 01 79 00 02"),
        ("ad", [[1.5]], "08000000 00000000 000000000000f83f"),
    ],
)
def test_known_vectors(sig: str, values: list[Any], expected: str) -> None:
    """Little-endian bytes and alignment as the specification's marshalling rules give them."""
    data = marshal(sig, values)
    assert data.hex() == expected.replace(" ", "")
    assert unmarshal(sig, data) == tuple(values)


def test_big_endian() -> None:
    """'B' messages: the same layout, most significant byte first."""
    assert marshal("yu", [1, 2], "big").hex() == "0100000000000002"
    assert (
        marshal("a{ss}", [{"a": "b"}], "big").hex()
        == "0000000e" + "00000000" + "00000001610000000000000162" + "00"
    )
    assert unmarshal("a{ss}", marshal("a{ss}", [{"a": "b"}], "big"), "big") == ({"a": "b"},)


def test_split_signature() -> None:
    """Complete types, nested containers, and invalid signatures."""
    assert split_signature("sa{sv}(oayays)b") == ["s", "a{sv}", "(oayays)", "b"]
    assert split_signature("aa{s(ai)}v") == ["aa{s(ai)}", "v"]
    assert split_signature("") == []
    for bad in ("a", "(", "()", "(s", "a{vs}", "{ss}", "a{sss}", "z", "a{s}", "s)"):
        with pytest.raises(DBusProtocolError):
            split_signature(bad)
    with pytest.raises(DBusProtocolError):
        split_signature("a" * 80 + "s")  # deeper than the specification allows


@pytest.mark.parametrize(
    ("sig", "values"),
    [
        ("s", ["a\0b"]),
        ("o", ["relative"]),
        ("y", [256]),
        ("i", [2**31]),
        ("u", [-1]),
        ("b", [2]),
        ("s", [b"bytes"]),
        ("ay", ["text"]),
        ("as", ["not a list"]),
        ("(ss)", [("one",)]),
        ("v", [("ss", ("a", "b"))]),
        ("u", [True]),
        ("ss", ["only one"]),
    ],
)
def test_marshal_rejects(sig: str, values: list[Any]) -> None:
    """Values that do not fit their type raise DBusProtocolError (a ValueError)."""
    with pytest.raises(DBusProtocolError):
        marshal(sig, values)


@pytest.mark.parametrize(
    ("sig", "data"),
    [
        ("u", "010000"),  # truncated
        ("b", "02000000"),  # boolean other than 0/1
        ("s", "02000000 c3 00"),  # not NUL-terminated where the length says
        ("s", "01000000 ff 00"),  # not UTF-8
        ("yu", "01 01 0000 02000000"),  # non-zero padding
        ("ay", "ffffff7f"),  # longer than the data
        ("ay", "02000000 01 02 03"),  # trailing bytes
        ("at", "08000000 00000000 01000000"),  # element cut short
        ("v", "02 7373 00"),  # variant holding two types
    ],
)
def test_unmarshal_rejects(sig: str, data: str) -> None:
    """Malformed bytes raise DBusProtocolError, never IndexError or UnicodeDecodeError."""
    with pytest.raises(DBusProtocolError):
        unmarshal(sig, bytes.fromhex(data.replace(" ", "")))


def test_nesting_limit() -> None:
    """Variants nested past the specification's depth (64) are refused both ways, never RecursionError."""
    value: Any = ("u", 1)
    for _ in range(100):
        value = ("v", value)
    with pytest.raises(DBusProtocolError, match="nested too deeply"):
        marshal("v", [value])
    data = b"\x01v\x00" * 100 + b"\x01u\x00" + b"\0" + b"\x01\0\0\0"
    with pytest.raises(DBusProtocolError, match="nested too deeply"):
        unmarshal("v", data)
    shallow: Any = ("u", 1)
    for _ in range(30):
        shallow = ("v", shallow)
    assert unmarshal("v", marshal("v", [shallow])) == (shallow,)


# -- hypothesis round trips --------------------------------------------------------------------------
_BASIC = "ybnqiuxtdhsog"
_RANGES = {
    "y": (0, 255), "n": (-(2**15), 2**15 - 1), "q": (0, 2**16 - 1), "i": (-(2**31), 2**31 - 1),
    "u": (0, 2**32 - 1), "h": (0, 2**32 - 1), "x": (-(2**63), 2**63 - 1), "t": (0, 2**64 - 1),
}  # fmt: skip
_text = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=12)
_path = st.lists(st.from_regex(r"[A-Za-z0-9_]{1,6}", fullmatch=True), max_size=3).map(
    lambda p: "/" + "/".join(p)
)
_types = st.recursive(
    st.sampled_from(_BASIC + "v"),
    lambda inner: st.one_of(
        inner.map(lambda t: "a" + t),
        st.lists(inner, min_size=1, max_size=3).map(lambda ts: "(" + "".join(ts) + ")"),
        st.tuples(st.sampled_from(_BASIC), inner).map(lambda kv: "a{" + kv[0] + kv[1] + "}"),
    ),
    max_leaves=5,
).filter(lambda t: len(t) < 60)


def _values(t: str) -> st.SearchStrategy[Any]:
    c = t[0]
    if c in _RANGES:
        return st.integers(*_RANGES[c])
    if c == "b":
        return st.booleans()
    if c == "d":
        return st.floats(allow_nan=False)
    if c == "s":
        return _text
    if c == "o":
        return _path
    if c == "g":
        return _types
    if c == "v":
        return _types.flatmap(lambda vt: st.tuples(st.just(vt), _values(vt)))
    if t == "ay":
        return st.binary(max_size=8)
    if t.startswith("a{"):
        key, value = split_signature(t[2:-1])
        return st.dictionaries(_values(key), _values(value), max_size=3)
    if c == "a":
        return st.lists(_values(t[1:]), max_size=3)
    return st.tuples(*(_values(sub) for sub in split_signature(t[1:-1])))


_typed = _types.flatmap(lambda t: st.tuples(st.just(t), _values(t)))


@settings(max_examples=300, deadline=None)
@given(st.lists(_typed, min_size=1, max_size=4), st.sampled_from(["little", "big"]))
def test_round_trip(typed: list[tuple[str, Any]], order: str) -> None:
    """unmarshal(marshal(v)) == v for random nested signatures, in both byte orders."""
    sig = "".join(t for t, _ in typed)
    values = [v for _, v in typed]
    assert unmarshal(sig, marshal(sig, values, order), order) == tuple(values)


@settings(max_examples=100, deadline=None)
@given(st.lists(_typed, max_size=3), st.integers(1, 2**32 - 1))
def test_message_round_trip(typed: list[tuple[str, Any]], serial: int) -> None:
    """A method call parses back to its header fields and body; header and body are 8-aligned."""
    sig = "".join(t for t, _ in typed)
    body = [v for _, v in typed]
    data = method_call(
        serial, "/a/b", "Member", interface="x.Y", destination="x.Dest", signature=sig, body=body
    )
    msg = parse_message(data)
    assert (msg.type, msg.serial, msg.signature, msg.body) == (1, serial, sig, tuple(body))
    assert msg.fields[1] == "/a/b" and msg.fields[3] == "Member" and msg.fields[2] == "x.Y"
    assert msg.fields[6] == "x.Dest"
    assert (len(data) - len(marshal(sig, body))) % 8 == 0


def test_parse_message_rejects() -> None:
    """Truncated or over-long messages and an unknown endianness byte are protocol errors."""
    data = method_call(1, "/", "M", signature="s", body=["x"])
    for bad in (data[:-1], data + b"\0", b"X" + data[1:], data[:10]):
        with pytest.raises(DBusProtocolError):
            parse_message(bad)


def test_parse_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """unix:path= and unix:abstract= (with %-escapes); other transports are skipped."""
    assert parse_address("unix:path=/run/user/0/bus") == [b"/run/user/0/bus"]
    assert parse_address("unix:abstract=/tmp/dbus-x,guid=0123") == [b"\0/tmp/dbus-x"]
    assert parse_address("tcp:host=h,port=1;unix:path=/a%20b%2c") == [b"/a b,"]
    assert parse_address("tcp:host=h,port=1") == []
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with pytest.raises(DBusConnectError, match="DBUS_SESSION_BUS_ADDRESS is unset"):
        Connection()
    with pytest.raises(DBusConnectError, match="no usable"):
        Connection("tcp:host=127.0.0.1,port=1")
    with pytest.raises(DBusConnectError, match=r"cannot connect to /\S*no-such-bus-\w+: No such"):
        Connection(f"unix:path={tempfile.gettempdir()}/regauth-no-such-bus-{uuid.uuid4().hex}")


def test_refused_authentication() -> None:
    """A server answering REJECTED gives DBusConnectError at the first reply (fake server, in addition)."""
    base = tempfile.mkdtemp(prefix="regauth-fakebus-")
    path = os.path.join(base, "bus")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    seen: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            seen.append(conn.recv(4096))
            conn.sendall(b"REJECTED DBUS_COOKIE_SHA1\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        conn = Connection(f"unix:path={path}", timeout=5)
        with pytest.raises(DBusConnectError, match="refused authentication: REJECTED"):
            conn.call("x.Y", "/", "x.Y", "M")
        thread.join(5)
        uid_hex = str(os.getuid()).encode().hex().encode()
        assert seen[0].startswith(b"\0AUTH EXTERNAL " + uid_hex + b"\r\nBEGIN\r\n")
    finally:
        server.close()
        shutil.rmtree(base, ignore_errors=True)


def test_no_socket_imports() -> None:
    """The helper's `get` path imports neither socket (enum, selectors) nor json/re nor jeepney."""
    code = (
        "import sys\n"
        "from regauth.helpers.serve import secretservice\n"
        "from regauth import _dbus, _helperproto\n"
        "_helperproto.encode_creds('s', 'u', 'p')\n"
        "_dbus._socket_module()\n"
        "print(sorted(m for m in ('socket', 'enum', 're', 'json', 'jeepney', 'typing', 'struct')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- against a real dbus-daemon and gnome-keyring ---------------------------------------------------
@pytest.fixture(scope="module")
def bus(secretservice_env: dict[str, str]) -> Iterator[Connection]:  # noqa: F811
    """One connection to the private session bus."""
    conn = Connection(secretservice_env["DBUS_SESSION_BUS_ADDRESS"], timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def _echo(bus: Connection, sig: str, body: list[Any]) -> tuple[Any, ...]:
    """Send a call to ourselves through the daemon (which validates it) and read it back."""
    serial = bus.send_call(bus.unique_name, "/regauth/echo", "org.regauth.Test", "Echo", sig, body)
    bus.flush()
    while True:
        msg = bus.read_message()
        if msg.type == _dbus.METHOD_CALL and msg.serial == serial:
            assert msg.signature == sig and msg.fields[3] == "Echo"
            return msg.body


@pytest.mark.real
def test_bus_basics(bus: Connection) -> None:
    """Hello gives a unique name; bus methods answer; error replies carry name and text."""
    assert bus.unique_name.startswith(":")
    (bus_id,) = bus.call(_dbus.BUS_NAME, _dbus.BUS_PATH, _dbus.BUS_NAME, "GetId")
    assert len(bus_id) == 32
    (owner,) = bus.call(_dbus.BUS_NAME, _dbus.BUS_PATH, _dbus.BUS_NAME, "GetNameOwner", "s", (SECRETS,))
    assert owner.startswith(":")
    with pytest.raises(DBusError) as err:
        bus.call(_dbus.BUS_NAME, _dbus.BUS_PATH, _dbus.BUS_NAME, "GetNameOwner", "s", ("org.regauth.Nobody",))
    assert (
        err.value.name == "org.freedesktop.DBus.Error.NameHasNoOwner"
        and "org.regauth.Nobody" in err.value.message
    )
    with pytest.raises(DBusError) as err:
        bus.call(_dbus.BUS_NAME, _dbus.BUS_PATH, _dbus.BUS_NAME, "NoSuchMethod")
    assert err.value.name == "org.freedesktop.DBus.Error.UnknownMethod"


@pytest.mark.real
def test_replies_out_of_order(bus: Connection) -> None:
    """Queued calls leave together; replies can be collected in any order."""
    first = bus.send_call(_dbus.BUS_NAME, _dbus.BUS_PATH, _dbus.BUS_NAME, "GetNameOwner", "s", (SECRETS,))
    second = bus.send_call(_dbus.BUS_NAME, _dbus.BUS_PATH, _dbus.BUS_NAME, "GetId")
    bad = bus.send_call(
        _dbus.BUS_NAME, _dbus.BUS_PATH, _dbus.BUS_NAME, "NameHasOwner", "s", ("org.regauth.X",)
    )
    assert bus.reply(bad) == (False,)
    assert len(bus.reply(second)[0]) == 32
    assert bus.reply(first)[0].startswith(":")
    with pytest.raises(ValueError):
        bus.reply(first)  # already collected


@pytest.mark.real
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_typed, min_size=1, max_size=3))
def test_daemon_accepts_our_marshalling(bus: Connection, typed: list[tuple[str, Any]]) -> None:
    """dbus-daemon validates bodies: random nested values come back unchanged (no disconnect)."""
    sig = "".join(t for t, _ in typed)
    body = [v for _, v in typed]
    assert _echo(bus, sig, body) == tuple(body)


@pytest.mark.real
def test_daemon_accepts_secret_service_shapes(bus: Connection) -> None:
    """The exact shapes the helper sends (a{sv} of a{ss}, (oayays), ao), with UTF-8 text."""
    props = {
        ITEM + ".Label": ("s", "registry.example:5000/ü"),
        ITEM + ".Attributes": ("a{ss}", {"server": "ü", "a": ""}),
    }
    body = [props, ("/org/x/1", b"", "sécret\n".encode(), "text/plain"), True]
    assert _echo(bus, "a{sv}(oayays)b", body) == tuple(body)
    assert _echo(bus, "ao", [["/a", "/b/c"]]) == (["/a", "/b/c"],)
    assert _echo(bus, "a{o(oayays)}", [{"/i/1": ("/s", b"", b"\xff\x00", "t")}]) == (
        {"/i/1": ("/s", b"", b"\xff\x00", "t")},
    )


@pytest.mark.real
def test_secret_service_calls(bus: Connection) -> None:
    """Every Secret Service call the helper uses, against gnome-keyring (observed.md §5 item shape)."""
    _, session = bus.call(SECRETS, ROOT, SERVICE, "OpenSession", "sv", ("plain", ("s", "")))
    (collection,) = bus.call(SECRETS, ROOT, SERVICE, "ReadAlias", "s", ("default",))
    assert collection.startswith(ROOT + "/collection/")
    assert bus.call(SECRETS, collection, PROPS, "Get", "ss", (COLLECTION, "Locked")) == (("b", False),)
    server = f"dbus-{uuid.uuid4().hex[:8]}.example"
    attrs = {"label": "Docker Credentials", "server": server, "username": "ü", "docker_cli": "1",
             "xdg:schema": "io.docker.Credentials"}  # fmt: skip
    props = {ITEM + ".Label": ("s", server), ITEM + ".Attributes": ("a{ss}", attrs)}
    items = []
    for secret in ("first", "sécret-2"):  # replace=true: the second replaces the first
        item, prompt = bus.call(
            SECRETS, collection, COLLECTION, "CreateItem", "a{sv}(oayays)b",
            (props, (session, b"", secret.encode(), "text/plain"), True),
        )  # fmt: skip
        assert prompt == "/"
        items.append(item)
    assert items[0] == items[1]
    unlocked, locked = bus.call(SECRETS, ROOT, SERVICE, "SearchItems", "a{ss}", ({"server": server},))
    assert (unlocked, locked) == ([items[0]], [])
    (secrets,) = bus.call(SECRETS, ROOT, SERVICE, "GetSecrets", "aoo", (unlocked, session))
    assert secrets == {items[0]: (session, b"", "sécret-2".encode(), "text/plain")}
    (value,) = bus.call(SECRETS, items[0], ITEM, "GetSecret", "o", (session,))
    assert value[2] == "sécret-2".encode()
    assert bus.call(SECRETS, items[0], PROPS, "Get", "ss", (ITEM, "Label")) == (("s", server),)
    assert bus.call(SECRETS, items[0], PROPS, "Get", "ss", (ITEM, "Attributes")) == (("a{ss}", attrs),)
    assert bus.call(SECRETS, items[0], ITEM, "Delete") == ("/",)
    assert bus.call(SECRETS, ROOT, SERVICE, "SearchItems", "a{ss}", ({"server": server},)) == ([], [])


def _helper(action: str, stdin: bytes, env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [os.path.join(VENV_BIN, "docker-credential-regauth-secretservice"), action],
        input=stdin, capture_output=True, env=dict(os.environ, **env), timeout=60, check=False,
    )  # fmt: skip
    assert done.stderr == b""
    return done.returncode, done.stdout.decode()


@pytest.mark.real
def test_helper_locked_collection(bus: Connection, secretservice_env: dict[str, str]) -> None:  # noqa: F811
    """Locked keyring: get/store fail with one line (no prompt is ever shown), list still works."""
    server = f"locked-{uuid.uuid4().hex[:8]}.example"
    creds = b'{"ServerURL":"%s","Username":"u","Secret":"s"}' % server.encode()
    assert _helper("store", creds, secretservice_env) == (0, "")
    (collection,) = bus.call(SECRETS, ROOT, SERVICE, "ReadAlias", "s", ("default",))
    _, session = bus.call(SECRETS, ROOT, SERVICE, "OpenSession", "sv", ("plain", ("s", "")))
    bus.call(SECRETS, ROOT, SERVICE, "Lock", "ao", ([collection],))
    try:
        assert _helper("get", server.encode(), secretservice_env) == (
            1, "Cannot read an item in a locked collection (unlocking needs a prompt)\n",
        )  # fmt: skip
        assert _helper("store", creds, secretservice_env) == (
            1, "Cannot create an item in a locked collection (unlocking needs a prompt)\n",
        )  # fmt: skip
        code, out = _helper("list", b"", secretservice_env)
        assert code == 0 and f'"{server}":"u"' in out
    finally:
        internal = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
        master = (session, b"", KEYRING_PASSWORD, "text/plain")
        bus.call(SECRETS, ROOT, internal, "UnlockWithMasterPassword", "o(oayays)", (collection, master))
    assert _helper("get", server.encode(), secretservice_env) == (
        0, '{"ServerURL":"%s","Username":"u","Secret":"s"}\n' % server,
    )  # fmt: skip
    assert _helper("erase", server.encode(), secretservice_env) == (0, "")


@pytest.mark.real
def test_helper_get_picks_newest_of_several(bus: Connection, secretservice_env: dict[str, str]) -> None:  # noqa: F811
    """Several Docker items of one server (as Go 0.6.4 leaves them): get returns the newest one."""
    require(shutil.which("docker-credential-secretservice") is not None, "Go secretservice helper missing")
    server = f"many-{uuid.uuid4().hex[:8]}.example"
    env = dict(os.environ, **secretservice_env)
    for user in ("b-user", "a-user"):
        request = '{"ServerURL":"%s","Username":"%s","Secret":"p-%s"}' % (server, user, user)
        subprocess.run(
            ["docker-credential-secretservice", "store"],
            input=request.encode(),
            env=env,
            check=True,
            timeout=30,
        )
    unlocked, _ = bus.call(SECRETS, ROOT, SERVICE, "SearchItems", "a{ss}", ({"server": server},))
    assert len(unlocked) == 2
    times = {p: bus.call(SECRETS, p, PROPS, "Get", "ss", (ITEM, "Modified"))[0][1] for p in unlocked}
    attrs = {p: bus.call(SECRETS, p, PROPS, "Get", "ss", (ITEM, "Attributes"))[0][1] for p in unlocked}
    newest = min(unlocked, key=lambda p: (-times[p], attrs[p]["username"]))
    user = attrs[newest]["username"]
    code, out = _helper("get", server.encode(), secretservice_env)
    assert (code, out) == (0, '{"ServerURL":"%s","Username":"%s","Secret":"p-%s"}\n' % (server, user, user))
    assert _helper("erase", server.encode(), secretservice_env) == (0, "")
    assert bus.call(SECRETS, ROOT, SERVICE, "SearchItems", "a{ss}", ({"server": server},)) == ([], [])


@pytest.mark.real
def test_daemon_drops_malformed_messages(secretservice_env: dict[str, str]) -> None:  # noqa: F811
    """The oracle above is strict: a body that breaks its signature gets the client disconnected."""
    path = parse_address(secretservice_env["DBUS_SESSION_BUS_ADDRESS"])[0]
    auth = b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\nBEGIN\r\n"
    hello = method_call(1, _dbus.BUS_PATH, "Hello", interface=_dbus.BUS_NAME, destination=_dbus.BUS_NAME)
    good = method_call(2, _dbus.BUS_PATH, "GetId", interface=_dbus.BUS_NAME, destination=_dbus.BUS_NAME,
                       signature="u", body=[2])  # fmt: skip
    bad = good.replace(b"\x01u\x00", b"\x01b\x00")  # the same body declared as a boolean: 2 is invalid
    assert bad != good
    for message, closed in ((good, False), (bad, True)):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(path)
            sock.sendall(auth + hello + message)
            received = b""
            while b"Error.InvalidArgs" not in received and (chunk := sock.recv(65536)):
                received += chunk
            assert received.startswith(b"OK ")
            # good: GetId takes no argument, so an InvalidArgs error reply; bad: disconnected unanswered
            assert (b"Error.InvalidArgs" not in received) is closed
