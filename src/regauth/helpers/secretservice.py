"""docker-credential-regauth-secretservice: items byte-compatible with the Go secretservice helper's.

Talks the freedesktop Secret Service API (specifications.freedesktop.org/secret-service-spec/)
over the D-Bus session bus with ``jeepney``.  Secrets travel in an encrypted session
(``dh-ietf1024-sha256-aes128-cbc-pkcs7``, see :class:`Session`) when ``cryptography`` is
importable and the service supports it, in a ``plain`` session otherwise, as libsecret and
secretstorage do.

Items, as the Go helper writes them (docs/credential-helpers.md): in the ``default`` collection,
label = ServerURL, attributes exactly ``label="Docker Credentials"``, ``server``, ``username``,
``docker_cli="1"``, ``xdg:schema="io.docker.Credentials"``, secret with content type
``text/plain``.

Documented choices and differences from the Go helper:

* ``store`` replaces the server's entry: the item of the same server+username is replaced and
  the server's other items are deleted (Go keeps items of other usernames).
* ``get`` considers items matching ``server`` + ``docker_cli=1`` with the Docker schema (as Go);
  when several match (written by the Go helper) it picks the most recently modified one, ties
  broken by the smallest username (Go picks the last one the service returns).
* ``list`` is keyed by the ``server`` attribute (Go reports item labels).
* A locked collection is unlocked with ``Unlock`` only when that needs no prompt; otherwise the
  action fails with one line (this helper never shows UI).
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from typing import TYPE_CHECKING, Any

from regauth.helpers.serve import Backend, BackendError, serve
from regauth.stores.wire import LABEL

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ALGORITHM_DH",
    "ALGORITHM_PLAIN",
    "NAME",
    "SCHEMA",
    "SecretServiceBackend",
    "Session",
    "main",
    "session_bus_address",
]

NAME = "docker-credential-regauth-secretservice"
SCHEMA = "io.docker.Credentials"
ALGORITHM_DH = "dh-ietf1024-sha256-aes128-cbc-pkcs7"
ALGORITHM_PLAIN = "plain"
_BUS = "org.freedesktop.secrets"
_ROOT = "/org/freedesktop/secrets"
_SERVICE = "org.freedesktop.Secret.Service"
_COLLECTION = "org.freedesktop.Secret.Collection"
_ITEM = "org.freedesktop.Secret.Item"
_PROPS = "org.freedesktop.DBus.Properties"
_NOT_SUPPORTED = "org.freedesktop.DBus.Error.NotSupported"
_CONTENT_TYPE = "text/plain"
_TIMEOUT = 25.0  # seconds for one call: the service may be starting (D-Bus activation)

# The 1024-bit MODP group of RFC 2409 section 6.2 (generator 2): the group the Secret Service
# specification names for dh-ietf1024-sha256-aes128-cbc-pkcs7.
_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)
_KEY_BYTES = 128  # DH values travel as 128-byte big-endian numbers


class _ServiceError(BackendError):
    """An error reply from the bus or the service; ``name`` is the D-Bus error name."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text or name)
        self.name = name


class Session:
    """An open Secret Service session: its object path and, when encrypted, its AES-128 key.

    ``dh-ietf1024-sha256-aes128-cbc-pkcs7``: Diffie-Hellman in the RFC 2409 1024-bit group, the
    shared value as 128 big-endian bytes, HKDF-SHA256 (RFC 5869) without salt or info to a 16-byte
    key; each secret is AES-128-CBC with a random 16-byte IV (sent as the secret's parameters)
    and PKCS#7 padding.
    """

    def __init__(self, path: str, key: bytes | None) -> None:
        self.path = path
        self.key = key

    @property
    def algorithm(self) -> str:
        """The algorithm negotiated for this session."""
        return ALGORITHM_PLAIN if self.key is None else ALGORITHM_DH

    @staticmethod
    def key_pair() -> tuple[int, bytes]:
        """A fresh private exponent and its public value (128 bytes) for OpenSession."""
        private = secrets.randbelow(_PRIME - 3) + 2  # in [2, p-2]
        return private, pow(2, private, _PRIME).to_bytes(_KEY_BYTES, "big")

    @staticmethod
    def derive_key(private: int, server_public: bytes) -> bytes:
        """The session's AES key from our private exponent and the service's public value."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        peer = int.from_bytes(server_public, "big")
        if not 1 < peer < _PRIME - 1:
            raise BackendError("the Secret Service sent an invalid Diffie-Hellman public value")
        shared = pow(peer, private, _PRIME).to_bytes(_KEY_BYTES, "big")
        return HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"").derive(shared)

    def encode(self, secret: bytes) -> tuple[str, bytes, bytes, str]:
        """The ``(oayays)`` Secret struct carrying ``secret`` in this session."""
        if self.key is None:
            return self.path, b"", secret, _CONTENT_TYPE
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        padder = padding.PKCS7(128).padder()
        padded = padder.update(secret) + padder.finalize()
        iv = os.urandom(16)
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(iv)).encryptor()
        return self.path, iv, encryptor.update(padded) + encryptor.finalize(), _CONTENT_TYPE

    def decode(self, value: tuple[str, bytes, bytes, str]) -> bytes:
        """The secret carried by a Secret struct received in this session."""
        _, params, data = value[0], bytes(value[1]), bytes(value[2])
        if self.key is None:
            return data
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        if len(params) != 16 or not data or len(data) % 16:
            raise BackendError("the Secret Service sent a malformed encrypted secret")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(params)).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
        except ValueError:
            raise BackendError("a secret from the Secret Service does not decrypt") from None


def _check_text(*texts: str) -> None:
    """D-Bus strings cannot hold NUL (the bus drops a client that sends one): refuse up front."""
    if any("\0" in text for text in texts):
        raise BackendError("a server URL or username with a NUL character cannot be stored in D-Bus")


def _have_cryptography() -> bool:
    try:
        import cryptography.hazmat.primitives.ciphers
        import cryptography.hazmat.primitives.kdf.hkdf  # noqa: F401
    except ImportError:
        return False
    return True


def session_bus_address(environ: Mapping[str, str]) -> str:
    """The session bus address as GLib (and so Docker's Go helper) finds it, or "".

    ``$DBUS_SESSION_BUS_ADDRESS``, else the user bus socket ``$XDG_RUNTIME_DIR/bus`` that systemd
    and dbus-broker provide, when it is a socket.
    """
    address = environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if address:
        return address
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if not runtime:
        return ""
    path = os.path.join(runtime, "bus")
    try:
        is_socket = stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return ""
    return f"unix:path={path}" if is_socket else ""


class SecretServiceBackend(Backend):
    """Docker credentials as Secret Service items (session bus from the environment).

    ``encrypt=False`` forces a ``plain`` session; by default the session is encrypted whenever
    ``cryptography`` can be imported.
    """

    program = NAME
    exit_fast = True  # the bus socket closes with the process; nothing else is held

    def __init__(self, *, encrypt: bool = True) -> None:
        self.encrypt = encrypt
        self._conn: Any = None
        self._session: Session | None = None

    # -- D-Bus plumbing --------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._conn is not None:
            return self._conn
        try:
            from jeepney.io.blocking import open_dbus_connection
        except ImportError:
            raise BackendError(
                "the jeepney package is missing: pip install 'regauth[secretservice]'"
            ) from None
        address = session_bus_address(os.environ)
        if not address:
            raise BackendError(
                "cannot reach the D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset "
                "and $XDG_RUNTIME_DIR/bus is no socket"
            )
        try:
            self._conn = open_dbus_connection(address, auth_timeout=_TIMEOUT)
        except (OSError, ValueError, RuntimeError) as exc:  # no socket, refused, bad address
            raise BackendError(f"cannot reach the D-Bus session bus: {exc}") from None
        return self._conn

    def close(self) -> None:
        """Close the bus connection (the service closes our session with it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._session = None

    def _call(self, path: str, iface: str, method: str, signature: str = "", *body: Any) -> Any:
        """Call ``method`` of the service's object ``path``; the reply's values."""
        conn = self._connect()  # first: it reports a missing jeepney
        from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call

        message = new_method_call(DBusAddress(path, _BUS, iface), method, signature or None, body)
        try:
            reply = conn.send_and_get_reply(message, timeout=_TIMEOUT)
        except TimeoutError:
            raise BackendError(f"no answer from {_BUS} within {_TIMEOUT:g} s") from None
        except OSError as exc:
            raise BackendError(f"lost the D-Bus session bus: {exc}") from None
        if reply.header.message_type is MessageType.error:
            name = str(reply.header.fields.get(HeaderFields.error_name, ""))
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise _ServiceError(name, text)
        return reply.body

    def _prop(self, path: str, iface: str, name: str) -> Any:
        ((_, value),) = self._call(path, _PROPS, "Get", "ss", iface, name)
        return value

    def _open_session(self) -> Session:
        if self._session is not None:
            return self._session
        if self.encrypt and _have_cryptography():
            private, public = Session.key_pair()
            try:
                (_, output), path = self._call(
                    _ROOT, _SERVICE, "OpenSession", "sv", ALGORITHM_DH, ("ay", public)
                )
            except _ServiceError as exc:
                if exc.name != _NOT_SUPPORTED:
                    raise
            else:
                self._session = Session(path, Session.derive_key(private, bytes(output)))
                return self._session
        _, path = self._call(_ROOT, _SERVICE, "OpenSession", "sv", ALGORITHM_PLAIN, ("s", ""))
        self._session = Session(path, None)
        return self._session

    def _unlock(self, paths: list[str], what: str) -> None:
        _, prompt = self._call(_ROOT, _SERVICE, "Unlock", "ao", paths)
        if prompt != "/":
            raise BackendError(f"Cannot {what} in a locked collection (unlocking needs a prompt)")

    def _search(self, attributes: dict[str, str]) -> tuple[list[str], list[str]]:
        unlocked, locked = self._call(_ROOT, _SERVICE, "SearchItems", "a{ss}", attributes)
        return list(unlocked), list(locked)

    def _docker_items(self, paths: list[str]) -> list[tuple[str, dict[str, str]]]:
        """(path, attributes) of the Docker-schema items among ``paths`` (as Go: others are invisible)."""
        found = [(path, dict(self._prop(path, _ITEM, "Attributes"))) for path in paths]
        return [(path, attrs) for path, attrs in found if attrs.get("xdg:schema") == SCHEMA]

    def _server_items(self, server: str) -> tuple[list[tuple[str, dict[str, str]]], list[str]]:
        """The Docker items of ``server``, and which of their paths are locked."""
        _check_text(server)
        unlocked, locked = self._search({"server": server, "docker_cli": "1"})
        return self._docker_items(unlocked + locked), locked

    def _default_collection(self) -> str:
        (path,) = self._call(_ROOT, _SERVICE, "ReadAlias", "s", "default")
        if path == "/":
            raise BackendError("the Secret Service has no default collection")
        if self._prop(path, _COLLECTION, "Locked"):
            self._unlock([path], "create an item")
        return str(path)

    # -- Backend ---------------------------------------------------------------------------------
    def add(self, server: str, username: str, secret: str) -> None:
        """Create (or replace) the item of server+username; delete the server's other items."""
        _check_text(server, username)
        collection = self._default_collection()
        attrs = {
            "label": LABEL,
            "server": server,
            "username": username,
            "docker_cli": "1",
            "xdg:schema": SCHEMA,
        }
        props = {_ITEM + ".Label": ("s", server), _ITEM + ".Attributes": ("a{ss}", attrs)}
        value = self._open_session().encode(secret.encode("utf-8"))
        item, prompt = self._call(collection, _COLLECTION, "CreateItem", "a{sv}(oayays)b", props, value, True)
        if item == "/" or prompt != "/":
            raise BackendError("Cannot create an item in a locked collection")
        for path, _ in self._server_items(server)[0]:
            if path != item:
                self._call(path, _ITEM, "Delete")

    def get(self, server: str) -> tuple[str, str] | None:
        """The newest Docker item of ``server`` (see module docstring); empty secret = none."""
        items, locked = self._server_items(server)
        if not items:
            return None
        if len(items) > 1:  # left by the Go helper: the newest, ties to the smallest username
            modified = {path: int(self._prop(path, _ITEM, "Modified")) for path, _ in items}
            items.sort(key=lambda item: (-modified[item[0]], item[1].get("username", "")))
        path, attrs = items[0]
        if path in locked:
            self._unlock([path], "read an item")
        session = self._open_session()
        (value,) = self._call(path, _ITEM, "GetSecret", "o", session.path)
        try:
            secret = session.decode(value).decode("utf-8")
        except UnicodeDecodeError:
            raise BackendError("stored secret is not valid UTF-8") from None
        return (attrs.get("username", ""), secret) if secret else None

    def delete(self, server: str) -> None:
        """Delete every Docker item of ``server``."""
        for path, _ in self._server_items(server)[0]:
            (prompt,) = self._call(path, _ITEM, "Delete")
            if prompt != "/":
                raise BackendError("Cannot delete an item in a locked collection")

    def list(self) -> dict[str, str]:
        """server attribute -> username of every item labelled ``Docker Credentials``."""
        result: dict[str, str] = {}
        unlocked, locked = self._search({"label": LABEL})
        for path in unlocked + locked:
            attrs = dict(self._prop(path, _ITEM, "Attributes"))
            server = attrs.get("server")
            username = attrs.get("username", "account not defined")
            if server and (server not in result or username < result[server]):
                result[server] = username  # several items (Go-written): smallest username
        return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``docker-credential-regauth-secretservice``."""
    return serve(SecretServiceBackend(), argv)


if __name__ == "__main__":
    sys.exit(main())
