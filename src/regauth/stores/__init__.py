"""Credential stores behind one interface.  Rule: stores never print to the terminal.

A store keeps, per server key, one username and one secret (password or identity token).
``Store`` (a ``typing.Protocol``) is loaded on first use so that the login path skips ``typing``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from regauth.stores.base import Store

__all__ = ["Store"]


def __getattr__(name: str) -> object:
    if name == "Store":
        from regauth.stores.base import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
