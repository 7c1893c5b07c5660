"""docker-credential-regauth-secretservice.  Rule: items byte-compatible with Go 0.6.4's.

Talks the freedesktop Secret Service API over the D-Bus session bus with regauth's own minimal
client (``regauth.helpers.dbus``: stdlib ``_socket`` only, cheap to import), using a ``plain`` session
(opened only by the actions that move a secret).  Items (observed.md §5): in the ``default``
collection, label = ServerURL, attributes exactly ``label="Docker Credentials"``, ``server``,
``username``, ``docker_cli="1"``, ``xdg:schema="io.docker.Credentials"``, secret with content
type ``text/plain``.

Documented choices and differences from the Go helper:

* ``store`` replaces the server's entry: the item of the same server+username is replaced and
  items of the same server with another username are deleted (Go keeps them).
* ``get`` considers items matching ``server`` + ``docker_cli=1`` with the Docker schema (as Go);
  when several match (written by the Go helper) it picks the most recently modified one, ties
  broken by the smallest username (Go picks the last one the service returns).
* ``list`` is keyed by the ``server`` attribute (Go reports item labels).
* A locked collection is unlocked with ``Unlock`` only when that needs no prompt; otherwise the
  action fails with one line (this helper never shows UI).
"""

from __future__ import annotations

import os
import sys

from regauth.helpers.serve import Backend, BackendError, serve
from regauth.stores.wire import LABEL

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["NAME", "SCHEMA", "SecretServiceBackend", "main"]

NAME = "docker-credential-regauth-secretservice"
SCHEMA = "io.docker.Credentials"
_BUS = "org.freedesktop.secrets"
_ROOT = "/org/freedesktop/secrets"
_SERVICE = "org.freedesktop.Secret.Service"
_COLLECTION = "org.freedesktop.Secret.Collection"
_ITEM = "org.freedesktop.Secret.Item"
_PROPS = "org.freedesktop.DBus.Properties"
_TIMEOUT = 25.0


class SecretServiceBackend(Backend):
    """Docker credentials as Secret Service items (session bus from the environment).

    Calls that do not depend on each other are queued and leave in one write (``_send`` then
    ``_reply``), so ``get`` costs two round trips: OpenSession + SearchItems, then the candidates'
    attributes + their secrets.
    """

    def __init__(self) -> None:
        self._conn: Any = None
        self._session = ""
        self._session_serial = 0

    # -- D-Bus plumbing --------------------------------------------------------------------------
    def _send(self, path: str, iface: str, method: str, sig: str = "", body: Any = ()) -> int:
        if self._conn is None:
            self._connect()
        return int(self._conn.send_call(_BUS, path, iface, method, sig, body))

    def _reply(self, serial: int) -> Any:
        from regauth.helpers.dbus import DBusConnectError, DBusError, DBusProtocolError

        try:
            return self._conn.reply(serial)
        except DBusError as exc:
            raise BackendError(exc.message or exc.name) from None
        except TimeoutError:
            raise BackendError(f"no answer from {_BUS} within {_TIMEOUT:g} s") from None
        except DBusConnectError as exc:
            raise BackendError(f"cannot reach the D-Bus session bus: {exc}") from None
        except DBusProtocolError as exc:
            raise BackendError(f"D-Bus session bus: {exc}") from None

    def _call(self, path: str, iface: str, method: str, sig: str = "", body: Any = ()) -> Any:
        return self._reply(self._send(path, iface, method, sig, body))

    def _connect(self) -> None:
        from regauth.helpers.dbus import Connection, DBusConnectError

        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            raise BackendError("cannot reach the D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset")
        try:
            self._conn = Connection(timeout=_TIMEOUT)
        except (OSError, DBusConnectError) as exc:
            raise BackendError(f"cannot reach the D-Bus session bus: {exc}") from None

    def _start_session(self) -> None:
        """Queue OpenSession (its reply is read by ``_open_session``)."""
        if not self._session and not self._session_serial:
            self._session_serial = self._send(_ROOT, _SERVICE, "OpenSession", "sv", ("plain", ("s", "")))

    def _open_session(self) -> str:
        self._start_session()
        if not self._session:
            _, self._session = self._reply(self._session_serial)
        return self._session

    def _send_prop(self, path: str, iface: str, name: str) -> int:
        return self._send(path, _PROPS, "Get", "ss", (iface, name))

    def _prop(self, path: str, iface: str, name: str) -> Any:
        return self._reply(self._send_prop(path, iface, name))[0][1]

    def _props(self, paths: list[str], iface: str, name: str) -> list[Any]:
        """Property ``name`` of every object in ``paths`` (one round trip)."""
        serials = [self._send_prop(path, iface, name) for path in paths]
        return [self._reply(serial)[0][1] for serial in serials]

    def _unlock(self, paths: list[str], what: str) -> None:
        if not paths:
            return
        _, prompt = self._call(_ROOT, _SERVICE, "Unlock", "ao", (paths,))
        if prompt != "/":
            raise BackendError(f"Cannot {what} in a locked collection (unlocking needs a prompt)")

    def _search(self, attributes: dict[str, str]) -> tuple[list[str], list[str]]:
        unlocked, locked = self._call(_ROOT, _SERVICE, "SearchItems", "a{ss}", (attributes,))
        return list(unlocked), list(locked)

    @staticmethod
    def _docker_only(paths: list[str], attributes: list[Any]) -> list[tuple[str, dict[str, str]]]:
        items = []
        for path, raw in zip(paths, attributes, strict=True):
            attrs = dict(raw)
            if attrs.get("xdg:schema") == SCHEMA:  # as Go: other schemas are invisible
                items.append((path, attrs))
        return items

    def _docker_items(self, server: str) -> list[tuple[str, dict[str, str]]]:
        unlocked, locked = self._search({"server": server, "docker_cli": "1"})
        paths = unlocked + locked
        return self._docker_only(paths, self._props(paths, _ITEM, "Attributes"))

    def _default_collection(self) -> str:
        (path,) = self._call(_ROOT, _SERVICE, "ReadAlias", "s", ("default",))
        if path == "/":
            raise BackendError("the Secret Service has no default collection")
        if self._prop(path, _COLLECTION, "Locked"):
            self._unlock([path], "create an item")
        return str(path)

    # -- Backend ---------------------------------------------------------------------------------
    def add(self, server: str, username: str, secret: str) -> None:
        """Create (or replace) the item of server+username; drop the server's other items."""
        self._start_session()
        collection = self._default_collection()
        attrs = {
            "label": LABEL,
            "server": server,
            "username": username,
            "docker_cli": "1",
            "xdg:schema": SCHEMA,
        }
        props = {
            _ITEM + ".Label": ("s", server),
            _ITEM + ".Attributes": ("a{ss}", attrs),
        }
        value = (self._open_session(), b"", secret.encode("utf-8"), "text/plain")
        item, prompt = self._call(
            collection, _COLLECTION, "CreateItem", "a{sv}(oayays)b", (props, value, True)
        )
        if item == "/" or prompt != "/":
            raise BackendError("Cannot create an item in a locked collection")
        others = [
            p for p, other in self._docker_items(server) if p != item and other.get("username") != username
        ]
        for serial in [self._send(path, _ITEM, "Delete") for path in others]:
            self._reply(serial)

    def get(self, server: str) -> tuple[str, str] | None:
        """The newest Docker item of ``server`` (see module docstring); empty secret = none."""
        self._start_session()
        unlocked, locked = self._search({"server": server, "docker_cli": "1"})
        paths = unlocked + locked
        if not paths:
            return None
        # One round trip (one write): every candidate's attributes, the unlocked ones' secrets and,
        # when there are several, their modification times.  The session's reply came with the search.
        session = self._open_session() if unlocked else ""
        attr_serials = [self._send_prop(path, _ITEM, "Attributes") for path in paths]
        secrets_serial = 0
        if unlocked:
            secrets_serial = self._send(_ROOT, _SERVICE, "GetSecrets", "aoo", (unlocked, session))
        many = len(paths) > 1
        modified_serials = [self._send_prop(path, _ITEM, "Modified") for path in paths] if many else []
        items = self._docker_only(paths, [self._reply(serial)[0][1] for serial in attr_serials])
        secrets: dict[str, Any] = self._reply(secrets_serial)[0] if secrets_serial else {}
        modified = dict(zip(paths, (self._reply(s)[0][1] for s in modified_serials), strict=False))
        if not items:
            return None
        if len(items) > 1:
            ranked = [(-int(modified[p]), a.get("username", ""), p, a) for p, a in items]
            ranked.sort(key=lambda r: (r[0], r[1]))
            items = [(ranked[0][2], ranked[0][3])]
        path, attrs = items[0]
        value = secrets.get(path)
        if value is None:  # locked (or locked since the search): unlock without a prompt
            self._unlock([path], "read an item")
            (value,) = self._call(path, _ITEM, "GetSecret", "o", (self._open_session(),))
        try:
            secret = bytes(value[2]).decode("utf-8")
        except UnicodeDecodeError:
            raise BackendError("stored secret is not valid UTF-8") from None
        if not secret:
            return None
        return attrs.get("username", ""), secret

    def delete(self, server: str) -> None:
        """Delete every Docker item of ``server``."""
        serials = [self._send(path, _ITEM, "Delete") for path, _ in self._docker_items(server)]
        for serial in serials:
            (prompt,) = self._reply(serial)
            if prompt != "/":
                raise BackendError("Cannot delete an item in a locked collection")

    def list(self) -> dict[str, str]:
        """server attribute -> username of every item labelled ``Docker Credentials``."""
        result: dict[str, str] = {}
        unlocked, locked = self._search({"label": LABEL})
        paths = unlocked + locked
        for raw in self._props(paths, _ITEM, "Attributes"):
            attrs = dict(raw)
            server = attrs.get("server")
            username = attrs.get("username", "account not defined")
            if server and (server not in result or username < result[server]):
                result[server] = username  # several items (Go-written): smallest username
        return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``docker-credential-regauth-secretservice``.

    Run as the helper process (``argv`` None), it ends the process itself once the reply is
    flushed: interpreter finalization costs ~4 ms of a ~30 ms ``get`` and there is nothing to clean
    up (no atexit handlers; the bus socket closes with the process).  With ``argv`` it returns.
    """
    return serve(SecretServiceBackend, NAME, argv, fast_exit=True)


if __name__ == "__main__":
    sys.exit(main())
