"""Test doubles and the store conformance suite.  Rule: imported by tests only, never by regauth.

``StoreTests`` is a pytest mixin (like keyring's ``keyring/testing/backend.py``): a test class
subclasses it, provides ``make_store()``, and states the store's documented semantics in class
attributes instead of skipping cases.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from regauth.credentials import Credentials
from regauth.stores.base import Store

__all__ = ["MemoryStore", "StoreTests"]


class MemoryStore:
    """An in-memory :class:`~regauth.stores.Store`: one credential per server, like config.json."""

    def __init__(self) -> None:
        self._items: dict[str, Credentials] = {}

    def get(self, server: str) -> Credentials | None:
        """Stored credentials of ``server`` or None."""
        return self._items.get(server)

    def store(self, creds: Credentials) -> None:
        """Store ``creds`` (an identity token replaces username/password, as helpers do)."""
        if creds.identity_token:
            creds = Credentials(identity_token=creds.identity_token, server=creds.server)
        else:
            creds = Credentials(username=creds.username, password=creds.password, server=creds.server)
        self._items[creds.server] = creds

    def erase(self, server: str) -> bool:
        """Remove ``server``; True if it was there."""
        return self._items.pop(server, None) is not None

    def list(self) -> dict[str, str]:
        """server -> username (``<token>`` for identity tokens, as helpers report)."""
        return {s: ("<token>" if c.identity_token else c.username) for s, c in self._items.items()}


class StoreTests:
    """Conformance cases every store passes.  Subclasses implement :meth:`make_store`.

    Semantics a store declares (documented differences, not skips):

    * ``two_usernames``: what storing a 2nd username for one server does —
      ``"replace"`` (one entry, the last stored wins), ``"keep-first-by-name"`` (both kept, get and
      list report the alphabetically first: Go pass 0.6.4), ``"keep-any"`` (both kept, get returns
      either: Go secretservice 0.6.4).
    """

    two_usernames: ClassVar[str] = "replace"

    def make_store(self) -> Store:
        """A store to test (subclasses override)."""
        raise NotImplementedError

    @staticmethod
    def server() -> str:
        """A fresh server key, so cases never see each other's entries."""
        return f"registry-{uuid.uuid4().hex[:12]}.test:5000"

    def test_store_get(self) -> None:
        s, server = self.make_store(), self.server()
        s.store(Credentials("alice", "s3cret", server=server))
        got = s.get(server)
        assert got is not None
        assert (got.username, got.password, got.identity_token) == ("alice", "s3cret", "")

    def test_overwrite_same_username(self) -> None:
        s, server = self.make_store(), self.server()
        s.store(Credentials("alice", "one", server=server))
        s.store(Credentials("alice", "two", server=server))
        got = s.get(server)
        assert got is not None and got.password == "two"

    def test_erase_true_then_false(self) -> None:
        s, server = self.make_store(), self.server()
        s.store(Credentials("alice", "pw", server=server))
        assert s.erase(server) is True
        assert s.get(server) is None
        assert s.erase(server) is False

    def test_list(self) -> None:
        s, a, b = self.make_store(), self.server(), self.server()
        s.store(Credentials("alice", "pw", server=a))
        s.store(Credentials("bob", "pw", server=b))
        listed = s.list()
        assert listed[a] == "alice"
        assert listed[b] == "bob"
        s.erase(a)
        assert a not in s.list()

    def test_two_usernames_one_server(self) -> None:
        s, server = self.make_store(), self.server()
        s.store(Credentials("zed", "pw-z", server=server))
        s.store(Credentials("amy", "pw-a", server=server))
        got = s.get(server)
        assert got is not None
        pair = (got.username, got.password)
        if self.two_usernames == "replace":
            assert pair == ("amy", "pw-a")
            assert s.list()[server] == "amy"
        elif self.two_usernames == "keep-first-by-name":
            assert pair == ("amy", "pw-a")
        else:
            assert pair in {("amy", "pw-a"), ("zed", "pw-z")}
        assert s.erase(server) is True  # erase removes every username of the server
        assert s.get(server) is None

    def test_two_usernames_keep_first_by_name_order(self) -> None:
        s, server = self.make_store(), self.server()
        s.store(Credentials("amy", "pw-a", server=server))
        s.store(Credentials("zed", "pw-z", server=server))
        got = s.get(server)
        assert got is not None
        if self.two_usernames == "keep-first-by-name":  # Go pass returns the first by name
            assert got.username == "amy"
        elif self.two_usernames == "replace":
            assert got.username == "zed"
        s.erase(server)

    def test_identity_token(self) -> None:
        s, server = self.make_store(), self.server()
        s.store(Credentials("alice", identity_token="tok-123", server=server))
        got = s.get(server)
        assert got is not None
        assert (got.username, got.password, got.identity_token) == ("", "", "tok-123")
        assert s.list()[server] == "<token>"
        assert s.erase(server) is True

    def test_unicode(self) -> None:
        s, server = self.make_store(), self.server()
        s.store(Credentials("jürgen-名前", "päss-wörd-🔑<&>", server=server))
        got = s.get(server)
        assert got is not None
        assert (got.username, got.password) == ("jürgen-名前", "päss-wörd-🔑<&>")

    def test_large_secret(self) -> None:
        s, server = self.make_store(), self.server()
        secret = ("0123456789abcdef" * 256)[:4096]
        s.store(Credentials("alice", secret, server=server))
        got = s.get(server)
        assert got is not None and got.password == secret

    def test_missing_is_none(self) -> None:
        s = self.make_store()
        assert s.get(self.server()) is None

    def test_erase_missing_is_false(self) -> None:
        s = self.make_store()
        assert s.erase(self.server()) is False

    def test_server_kept_verbatim(self) -> None:
        s = self.make_store()
        server = f"https://{self.server()}/v1/"
        s.store(Credentials("alice", "pw", server=server))
        assert server in s.list()
        assert s.get(server.rstrip("/")) is None
        assert s.erase(server) is True
