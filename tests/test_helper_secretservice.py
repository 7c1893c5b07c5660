"""docker-credential-regauth-secretservice against a real dbus-daemon and gnome-keyring.

The session the helper negotiates is checked on the bus itself: a monitor connection
(``org.freedesktop.DBus.Monitoring.BecomeMonitor``) records every message while the helper runs,
so the tests see the algorithm asked for in ``OpenSession`` and whether the secret crosses the
bus in clear.  Set-up of the private bus and keyring: docs/testing.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from regauth.helpers.secretservice import (
    _PRIME,
    ALGORITHM_DH,
    ALGORITHM_PLAIN,
    SCHEMA,
    SecretServiceBackend,
    Session,
)
from regauth.helpers.serve import BackendError
from tests.support.keyring_env import KEYRING_PASSWORD, PLAIN_HELPER_CODE, secretservice_env  # noqa: F401
from tests.support.require import require, require_module

jeepney = require_module("jeepney")
from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call  # noqa: E402
from jeepney.io.blocking import DBusConnection, open_dbus_connection  # noqa: E402

HELPER = os.path.join(os.path.dirname(sys.executable), "docker-credential-regauth-secretservice")
PLAIN_HELPER = [sys.executable, "-c", PLAIN_HELPER_CODE]
SECRETS = "org.freedesktop.secrets"
ROOT = "/org/freedesktop/secrets"
SERVICE = "org.freedesktop.Secret.Service"
ITEM = "org.freedesktop.Secret.Item"
PROPS = "org.freedesktop.DBus.Properties"


def _call(conn: DBusConnection, path: str, iface: str, method: str, sig: str = "", *body: Any) -> Any:
    """A method call of the test's own (jeepney) connection to the Secret Service."""
    dest = "org.freedesktop.DBus" if path == "/org/freedesktop/DBus" else SECRETS
    msg = new_method_call(DBusAddress(path, dest, iface), method, sig or None, body)
    reply = conn.send_and_get_reply(msg, timeout=10)
    assert reply.header.message_type is MessageType.method_return, reply.body
    return reply.body


def _prop(conn: DBusConnection, path: str, iface: str, name: str) -> Any:
    return _call(conn, path, PROPS, "Get", "ss", iface, name)[0][1]


def _helper(action: str, stdin: bytes, env: dict[str, str], argv: list[str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [*(argv or [HELPER]), action],
        input=stdin, capture_output=True, env=dict(os.environ, **env), timeout=60, check=False,
    )  # fmt: skip
    assert done.stderr == b""
    return done.returncode, done.stdout.decode()


def _creds(server: str, user: str, secret: str) -> bytes:
    return f'{{"ServerURL":"{server}","Username":"{user}","Secret":"{secret}"}}'.encode()


@pytest.fixture(scope="module")
def bus(secretservice_env: dict[str, str]) -> Iterator[DBusConnection]:  # noqa: F811
    """The test's own connection to the private session bus."""
    conn = open_dbus_connection(secretservice_env["DBUS_SESSION_BUS_ADDRESS"])
    try:
        yield conn
    finally:
        conn.close()


# -- the session: encrypted when cryptography is importable, plain otherwise -------------------------
class Monitor:
    """Every message that crosses the bus while it is open (eavesdropping needs no policy change)."""

    def __init__(self, address: str) -> None:
        self.conn = open_dbus_connection(address)
        _call(
            self.conn,
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.Monitoring",
            "BecomeMonitor",
            "asu",
            [],
            0,
        )

    def messages(self) -> list[Any]:
        """The messages seen so far (waits until the bus has been quiet for half a second)."""
        seen = []
        try:
            while True:
                seen.append(self.conn.receive(timeout=0.5))
        except TimeoutError:
            return seen
        finally:
            self.conn.close()


def _calls(messages: list[Any], member: str) -> list[Any]:
    calls = [m for m in messages if m.header.message_type is MessageType.method_call]
    return [m for m in calls if m.header.fields.get(HeaderFields.member) == member]


def _reply(messages: list[Any], call: Any) -> Any:
    sender = call.header.fields[HeaderFields.sender]
    (reply,) = [
        m for m in messages
        if m.header.message_type is MessageType.method_return
        and m.header.fields.get(HeaderFields.reply_serial) == call.header.serial
        and m.header.fields.get(HeaderFields.destination) == sender
    ]  # fmt: skip
    return reply


def _mentions(value: Any, needle: bytes) -> bool:
    """Whether ``needle`` occurs in a message body (any string, byte array or container in it)."""
    if isinstance(value, bytes):
        return needle in value
    if isinstance(value, str):
        return needle in value.encode("utf-8", "surrogatepass")
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    return isinstance(value, (list, tuple)) and any(_mentions(v, needle) for v in value)


def _in_process(action: str, stdin: bytes, env: dict[str, str]) -> tuple[int, str]:
    """The helper run in this process with ``SecretServiceBackend(encrypt=False)``."""
    from io import BytesIO

    from regauth.helpers.serve import serve

    out = BytesIO()
    saved = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = env["DBUS_SESSION_BUS_ADDRESS"]
    try:
        code = serve(SecretServiceBackend(encrypt=False), [action], BytesIO(stdin), out)
    finally:
        if saved is None:
            del os.environ["DBUS_SESSION_BUS_ADDRESS"]
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = saved
    return code, out.getvalue().decode()


def _subprocess(argv: list[str] | None) -> Callable[[str, bytes, dict[str, str]], tuple[int, str]]:
    return lambda action, stdin, env: _helper(action, stdin, env, argv)


@pytest.mark.real
@pytest.mark.parametrize(
    ("run", "algorithm"),
    [
        pytest.param(_subprocess(None), ALGORITHM_DH, id="installed-helper"),
        pytest.param(_subprocess(PLAIN_HELPER), ALGORITHM_PLAIN, id="no-cryptography"),
        pytest.param(_in_process, ALGORITHM_PLAIN, id="encrypt-false"),
    ],
)
def test_session_on_the_bus(
    run: Callable[[str, bytes, dict[str, str]], tuple[int, str]],
    algorithm: str,
    secretservice_env: dict[str, str],  # noqa: F811
) -> None:
    """store and get negotiate ``algorithm``; an encrypted secret never crosses the bus in clear."""
    server = f"session-{uuid.uuid4().hex[:8]}.example"
    secret = f"needle-{uuid.uuid4().hex}"
    monitor = Monitor(secretservice_env["DBUS_SESSION_BUS_ADDRESS"])
    assert run("store", _creds(server, "u", secret), secretservice_env) == (0, "")
    assert run("get", server.encode(), secretservice_env) == (0, _creds(server, "u", secret).decode() + "\n")
    messages = monitor.messages()
    assert run("erase", server.encode(), secretservice_env) == (0, "")

    opens = [m for m in _calls(messages, "OpenSession") if m.header.fields[HeaderFields.interface] == SERVICE]
    assert [m.body[0] for m in opens] == [algorithm, algorithm]  # one session for store, one for get
    (create,) = _calls(messages, "CreateItem")
    (get_secret,) = _calls(messages, "GetSecret")
    sent = create.body[1]
    received = _reply(messages, get_secret).body[0]
    for secret_struct in (sent, received):
        _, params, value, content_type = secret_struct
        assert content_type == "text/plain"
        if algorithm == ALGORITHM_DH:
            assert len(params) == 16 and len(value) % 16 == 0 and value != secret.encode()
        else:
            assert (params, value) == (b"", secret.encode())
    for call in opens:
        output = _reply(messages, call).body[0]
        if algorithm == ALGORITHM_DH:
            assert output[0] == "ay" and len(output[1]) == 128  # the service's DH public value
        else:
            assert output == ("s", "")
    clear = any(_mentions(m.body, secret.encode()) for m in messages)
    assert clear is (algorithm == ALGORITHM_PLAIN)


def _hkdf_sha256(ikm: bytes, length: int) -> bytes:
    """RFC 5869 with no salt (HashLen zeros) and empty info, from the standard library."""
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def test_session_key_agreement() -> None:
    """Both sides of the exchange derive one 16-byte key: HKDF-SHA256 of the 128-byte shared value."""
    ours, our_public = Session.key_pair()
    theirs, their_public = Session.key_pair()
    assert len(our_public) == len(their_public) == 128
    key = Session.derive_key(ours, their_public)
    assert key == Session.derive_key(theirs, our_public)
    shared = pow(int.from_bytes(their_public, "big"), ours, _PRIME).to_bytes(128, "big")
    assert key == _hkdf_sha256(shared, 16)
    assert _PRIME.bit_length() == 1024 and pow(2, _PRIME - 1, _PRIME) == 1  # the RFC 2409 prime
    for bad in (0, 1, _PRIME - 1, _PRIME):
        with pytest.raises(BackendError, match="invalid Diffie-Hellman"):
            Session.derive_key(ours, bad.to_bytes(128, "big"))


def test_session_secret_round_trip_and_malformed() -> None:
    """Encrypted secrets round-trip with a fresh IV each time; malformed ones fail with one line."""
    session = Session("/s", bytes(range(16)))
    first, second = session.encode(b"pw"), session.encode(b"pw")
    assert first[1] != second[1] and first[2] != second[2] and len(first[2]) == 16
    assert session.decode(first) == session.decode(second) == b"pw"
    assert session.decode(session.encode(b"x" * 16)) == b"x" * 16  # a full block of padding
    for bad in (("/s", b"short", first[2], "text/plain"), ("/s", first[1], first[2][:15], "text/plain")):
        with pytest.raises(BackendError, match="malformed encrypted secret"):
            session.decode(bad)
    assert Session("/s", None).encode(b"pw") == ("/s", b"", b"pw", "text/plain")


# -- item shape and the helper's choices -------------------------------------------------------------
@pytest.mark.real
def test_item_shape_and_replacement(bus: DBusConnection, secretservice_env: dict[str, str]) -> None:  # noqa: F811
    """One item per server: label = ServerURL, the Go helper's attributes, the secret as text/plain."""
    server = f"shape-{uuid.uuid4().hex[:8]}.example"
    for user, secret in (("first", "one"), ("ü-second", "sécret-2")):
        assert _helper("store", _creds(server, user, secret), secretservice_env) == (0, "")
    unlocked, locked = _call(bus, ROOT, SERVICE, "SearchItems", "a{ss}", {"server": server})
    assert len(unlocked) == 1 and locked == []
    (item,) = unlocked
    assert _prop(bus, item, ITEM, "Label") == server
    assert _prop(bus, item, ITEM, "Attributes") == {
        "label": "Docker Credentials", "server": server, "username": "ü-second", "docker_cli": "1",
        "xdg:schema": SCHEMA,
    }  # fmt: skip
    _, session = _call(bus, ROOT, SERVICE, "OpenSession", "sv", "plain", ("s", ""))
    (value,) = _call(bus, item, ITEM, "GetSecret", "o", session)
    assert value[2:] == ("sécret-2".encode(), "text/plain")
    assert _helper("erase", server.encode(), secretservice_env) == (0, "")
    assert _call(bus, ROOT, SERVICE, "SearchItems", "a{ss}", {"server": server}) == ([], [])


@pytest.mark.real
def test_locked_collection(bus: DBusConnection, secretservice_env: dict[str, str]) -> None:  # noqa: F811
    """Locked keyring: get/store fail with one line (no prompt is ever shown), list still works."""
    server = f"locked-{uuid.uuid4().hex[:8]}.example"
    creds = _creds(server, "u", "s")
    assert _helper("store", creds, secretservice_env) == (0, "")
    (collection,) = _call(bus, ROOT, SERVICE, "ReadAlias", "s", "default")
    _, session = _call(bus, ROOT, SERVICE, "OpenSession", "sv", "plain", ("s", ""))
    _call(bus, ROOT, SERVICE, "Lock", "ao", [collection])
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
        _call(bus, ROOT, internal, "UnlockWithMasterPassword", "o(oayays)", collection, master)
    assert _helper("get", server.encode(), secretservice_env) == (0, creds.decode() + "\n")
    assert _helper("erase", server.encode(), secretservice_env) == (0, "")


@pytest.mark.real
def test_get_picks_newest_of_several(bus: DBusConnection, secretservice_env: dict[str, str]) -> None:  # noqa: F811
    """Several Docker items of one server (as the Go helper leaves them): get returns the newest one."""
    require(shutil.which("docker-credential-secretservice") is not None, "Go secretservice helper missing")
    server = f"many-{uuid.uuid4().hex[:8]}.example"
    env = dict(os.environ, **secretservice_env)
    for user in ("b-user", "a-user"):
        subprocess.run(["docker-credential-secretservice", "store"], input=_creds(server, user, "p-" + user),
                       env=env, check=True, timeout=30)  # fmt: skip
    unlocked, _ = _call(bus, ROOT, SERVICE, "SearchItems", "a{ss}", {"server": server})
    assert len(unlocked) == 2
    times = {p: _prop(bus, p, ITEM, "Modified") for p in unlocked}
    users = {p: _prop(bus, p, ITEM, "Attributes")["username"] for p in unlocked}
    user = users[min(unlocked, key=lambda p: (-times[p], users[p]))]
    expected = _creds(server, user, "p-" + user).decode() + "\n"
    assert _helper("get", server.encode(), secretservice_env) == (0, expected)
    assert _helper("erase", server.encode(), secretservice_env) == (0, "")
    assert _call(bus, ROOT, SERVICE, "SearchItems", "a{ss}", {"server": server}) == ([], [])


@pytest.mark.real
def test_nul_in_server_or_username(secretservice_env: dict[str, str]) -> None:  # noqa: F811
    """D-Bus strings cannot carry NUL: one line, before anything reaches the bus (which would drop us)."""
    line = "a server URL or username with a NUL character cannot be stored in D-Bus\n"
    bad_server = b'{"ServerURL":"a\\u0000b","Username":"u","Secret":"s"}'
    bad_user = b'{"ServerURL":"nul.example","Username":"u\\u0000","Secret":"s"}'
    assert _helper("store", bad_server, secretservice_env) == (1, line)
    assert _helper("store", bad_user, secretservice_env) == (1, line)
    assert _helper("get", b"a\0b", secretservice_env) == (1, line)
    assert _helper("erase", b"a\0b", secretservice_env) == (1, line)
    secret_with_nul = b'{"ServerURL":"nul.example","Username":"u","Secret":"s\\u0000x"}'
    assert _helper("store", secret_with_nul, secretservice_env) == (0, "")  # a byte array: fine
    assert _helper("get", b"nul.example", secretservice_env) == (0, secret_with_nul.decode() + "\n")
    assert _helper("erase", b"nul.example", secretservice_env) == (0, "")


# -- no usable bus: one line on stdout, exit 1 ---------------------------------------------------------
def _fake_bus(reply: bytes) -> tuple[str, threading.Thread, Callable[[], None]]:
    """A Unix socket that answers the client's AUTH line with ``reply``, then waits for it to hang up."""
    base = tempfile.mkdtemp(prefix="regauth-fakebus-")
    path = os.path.join(base, "bus")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(20)
            try:
                received = b""
                while b"\r\n" not in received:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    received += chunk
                conn.sendall(reply)
                while conn.recv(4096):
                    pass
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def cleanup() -> None:
        server.close()
        shutil.rmtree(base, ignore_errors=True)

    return f"unix:path={path}", thread, cleanup


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"REJECTED DBUS_COOKIE_SHA1\r\n", "Bus sent: bytearray(b'REJECTED DBUS_COOKIE_SHA1')"),
        # jeepney caps an authentication line at 8 KiB: a bus that never ends its line is refused
        (b"X" * 100_000, "Too much data received without line ending"),
    ],
    ids=["rejected", "endless-auth-line"],
)
def test_bus_refuses_authentication(reply: bytes, expected: str) -> None:
    """A bus that does not accept us gives one line naming the reason."""
    address, thread, cleanup = _fake_bus(reply)
    try:
        code, out = _helper("get", b"h.test", {"DBUS_SESSION_BUS_ADDRESS": address})
        thread.join(20)
    finally:
        cleanup()
    assert code == 1 and out.count("\n") == 1
    assert out.startswith("cannot reach the D-Bus session bus: ") and expected in out


@pytest.mark.parametrize(
    "address",
    ["tcp:host=127.0.0.1,port=1", "unix:path=/nonexistent/regauth-no-such-bus", "garbage"],
)
def test_unusable_bus_address(address: str) -> None:
    """Transports jeepney cannot use, a missing socket, a malformed address: one line, exit 1."""
    code, out = _helper("get", b"h.test", {"DBUS_SESSION_BUS_ADDRESS": address})
    assert code == 1 and out.count("\n") == 1 and out.startswith("cannot reach the D-Bus session bus: ")


def _without_bus_address(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus the process environment, minus DBUS_SESSION_BUS_ADDRESS."""
    merged = dict(os.environ, **env)
    merged.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return merged


def test_user_bus_socket_when_no_address_is_set(
    secretservice_env: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    """No DBUS_SESSION_BUS_ADDRESS: the bus is found at $XDG_RUNTIME_DIR/bus, as GLib (and so the
    Go helper) finds it; both helpers then read what the other stored."""
    require(shutil.which("docker-credential-secretservice") is not None, "Go secretservice helper missing")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (runtime / "bus").symlink_to(secretservice_env["DBUS_SESSION_BUS_ADDRESS"].removeprefix("unix:path="))
    env = _without_bus_address({**secretservice_env, "XDG_RUNTIME_DIR": str(runtime)})
    server = "user-bus.test"
    ours = subprocess.run([HELPER, "store"], input=_creds(server, "u", "s-ours"), env=env,
                          capture_output=True, timeout=60, check=False)  # fmt: skip
    assert ours.returncode == 0, ours.stdout
    go = subprocess.run(["docker-credential-secretservice", "get"], input=server.encode(), env=env,
                        capture_output=True, timeout=60, check=False)  # fmt: skip
    assert go.returncode == 0 and json.loads(go.stdout)["Secret"] == "s-ours"
    assert subprocess.run([HELPER, "erase"], input=server.encode(), env=env, capture_output=True,
                          timeout=60, check=False).returncode == 0  # fmt: skip


def test_no_bus_at_all_is_one_line(tmp_path: Path) -> None:
    """Neither an address nor a user bus socket: one line saying both are missing."""
    env = _without_bus_address({"XDG_RUNTIME_DIR": str(tmp_path)})
    done = subprocess.run([HELPER, "get"], input=b"h.test", env=env, capture_output=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stdout.decode() == (
        "cannot reach the D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset "
        "and $XDG_RUNTIME_DIR/bus is no socket\n"
    )


def test_without_jeepney() -> None:
    """jeepney missing: one line saying what to install; version and usage still answer."""
    argv = [sys.executable, "-c", PLAIN_HELPER_CODE.replace("'cryptography'", "'jeepney'")]
    assert _helper("get", b"h.test", {}, argv) == (
        1, "the jeepney package is missing: pip install 'regauth[secretservice]'\n",
    )  # fmt: skip
    code_v, out = _helper("version", b"", {}, argv)
    assert code_v == 0 and out.startswith("docker-credential-regauth-secretservice (regauth) ")
