"""docker-credential-regauth-keyring.  Rule: any ``keyring`` back-end, imported only when used.

Storage: the secret of (ServerURL, Username) is keyring password ``service="regauth:<ServerURL>"``,
``username=<Username>``; an index (JSON object ServerURL -> Username) is kept as the password of
``service="regauth-docker-credentials-index"``, ``username="index"`` so ``list`` works on back-ends
that cannot enumerate.  One credential per server: storing another username replaces the entry.

NOT storage-compatible with the Go osxkeychain/wincred/secretservice helpers (their items are not
seen, and they do not see ours).  Concurrent stores from several processes may lose index
updates (keyring has no transactions); the secrets themselves are unaffected.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from regauth.helpers.serve import Backend, BackendError, serve

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["INDEX_SERVICE", "INDEX_USER", "NAME", "KeyringBackend", "main", "service_name"]

NAME = "docker-credential-regauth-keyring"
INDEX_SERVICE = "regauth-docker-credentials-index"
INDEX_USER = "index"


def service_name(server: str) -> str:
    """The keyring service holding ``server``'s secret."""
    return f"regauth:{server}"


class KeyringBackend(Backend):
    """Docker credentials in the default ``keyring`` back-end."""

    program = NAME

    def __init__(self) -> None:
        self._kr: Any = None

    def _keyring(self) -> Any:
        if self._kr is None:
            try:
                import keyring
            except ImportError:
                raise BackendError("the keyring package is missing: pip install 'regauth[keyring]'") from None
            self._kr = keyring
        return self._kr

    def _guard(self, func: Any, *args: Any) -> Any:
        from keyring.errors import KeyringError

        try:
            return func(*args)
        except KeyringError as exc:
            raise BackendError(f"keyring: {type(exc).__name__}: {exc}".rstrip(": ")) from None

    def _index(self) -> dict[str, str]:
        raw = self._guard(self._keyring().get_password, INDEX_SERVICE, INDEX_USER)
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise BackendError(f"keyring: index entry {INDEX_SERVICE} is not JSON") from None
        if not isinstance(data, dict):
            raise BackendError(f"keyring: index entry {INDEX_SERVICE} is not a JSON object")
        return {str(k): str(v) for k, v in data.items()}

    def _save_index(self, index: dict[str, str]) -> None:
        kr = self._keyring()
        self._guard(kr.set_password, INDEX_SERVICE, INDEX_USER, json.dumps(index, sort_keys=True))

    def add(self, server: str, username: str, secret: str) -> None:
        """Store the secret, drop a previous username's secret, update the index."""
        kr = self._keyring()
        index = self._index()
        self._guard(kr.set_password, service_name(server), username, secret)
        previous = index.get(server)
        if previous is not None and previous != username:
            self._delete_secret(server, previous)
        if previous != username:
            index[server] = username
            self._save_index(index)

    def _delete_secret(self, server: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            self._keyring().delete_password(service_name(server), username)
        except PasswordDeleteError:  # already gone
            pass
        except Exception as exc:
            raise BackendError(f"keyring: {type(exc).__name__}: {exc}") from None

    def get(self, server: str) -> tuple[str, str] | None:
        """(username, secret) via the index, or None."""
        username = self._index().get(server)
        if username is None:
            return None
        secret = self._guard(self._keyring().get_password, service_name(server), username)
        if secret is None:
            return None
        return username, str(secret)

    def delete(self, server: str) -> None:
        """Delete the server's secret and index entry."""
        index = self._index()
        username = index.pop(server, None)
        if username is None:
            return
        self._delete_secret(server, username)
        self._save_index(index)

    def list(self) -> dict[str, str]:
        """The index."""
        return self._index()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``docker-credential-regauth-keyring``."""
    return serve(KeyringBackend(), argv)


if __name__ == "__main__":
    sys.exit(main())
