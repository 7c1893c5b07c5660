"""The fields Docker reads from ``config.json``: their types, and the ``auths`` entries.

Docker decodes the file into a typed struct, so a field of the wrong type fails the whole load
(docs/config-file.md, "Loading"); :func:`validate` refuses the same files, with one line naming the
field.  ``null`` is accepted where Go accepts it for a typed field (``auths``, ``credsStore``,
``credHelpers`` and the entry strings read as absent); an ``auths`` entry must be an object.  Keys
Docker does not know are not checked: regauth keeps them untouched.

An entry's ``auth`` is standard base64 of ``user:password``, split at the first ``:``, NULs trimmed
from the password; no ``:`` or an empty username makes Docker's load fail, and so does ours.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from regauth.config.document import quote
from regauth.credentials import Credentials

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["ENTRY_STRING_FIELDS", "decode_auth", "encode_auth", "entry_credentials", "validate"]

#: The string fields of an ``auths`` entry that regauth reads, in the order they are checked.
ENTRY_STRING_FIELDS = ("auth", "identitytoken", "registrytoken")


def encode_auth(username: str, password: str) -> str:
    """The ``auth`` field: standard base64 of ``user:password``."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def decode_auth(value: str) -> tuple[str, str]:
    """Split an ``auth`` field into (username, password) as Docker does.

    Raises ValueError, whose message never contains the value, when it is not base64, has no
    ``:``, an empty username, or is not UTF-8.
    """
    cleaned = value.replace("\r", "").replace("\n", "")  # Go's StdEncoding skips these
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):  # ValueError: a non-ASCII character
        raise ValueError("is not valid base64") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not valid UTF-8") from None
    username, sep, password = text.partition(":")
    if not sep:
        raise ValueError("has no ':' separator")
    if not username:
        raise ValueError("has an empty username")
    return username, password.strip("\x00")


def _string_field(entry: Mapping[str, Any], name: str) -> str:
    value = entry.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def entry_credentials(key: str, entry: Mapping[str, Any]) -> Credentials:
    """The credentials of the ``auths`` entry ``key`` (``auth``, ``identitytoken``, ``registrytoken``)."""
    auth = _string_field(entry, "auth")
    username, password = decode_auth(auth) if auth else ("", "")
    return Credentials(
        username=username,
        password=password,
        identity_token=_string_field(entry, "identitytoken"),
        registry_token=_string_field(entry, "registrytoken"),
        server=key,
    )


def validate(data: Any) -> None:
    """Raise ValueError (one line, no secret) unless ``data`` is a config Docker could load."""
    if not isinstance(data, dict):
        raise ValueError(f"the top level must be a JSON object, not {_kind(data)}")
    auths = data.get("auths")
    if auths is not None:
        if not isinstance(auths, dict):
            raise ValueError(f'"auths" must be a JSON object, not {_kind(auths)}')
        for key, entry in auths.items():
            _validate_entry(key, entry)
    store = data.get("credsStore")
    if store is not None and not isinstance(store, str):
        raise ValueError(f'"credsStore" must be a string, not {_kind(store)}')
    helpers = data.get("credHelpers")
    if helpers is not None:
        if not isinstance(helpers, dict):
            raise ValueError(f'"credHelpers" must be a JSON object, not {_kind(helpers)}')
        for key, value in helpers.items():
            if not isinstance(value, str):
                raise ValueError(f"credHelpers[{quote(key)}] must be a string, not {_kind(value)}")


def _validate_entry(key: str, entry: Any) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"auths[{quote(key)}] must be a JSON object, not {_kind(entry)}")
    for name in ENTRY_STRING_FIELDS:
        value = entry.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"auths[{quote(key)}].{name} must be a string, not {_kind(value)}")
    auth = entry.get("auth")
    if auth:
        try:
            decode_auth(auth)
        except ValueError as exc:
            raise ValueError(f"auths[{quote(key)}].auth {exc}") from None


def _kind(value: Any) -> str:
    """How a JSON value's type is named in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
