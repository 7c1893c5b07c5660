"""Credential stores behind one interface.  Rule: stores never print to the terminal.

A store keeps, per server key, one username and one secret (password or identity token).
:mod:`regauth.stores.lookup` is the one chain that decides which store or auth file answers.
"""

from __future__ import annotations

from regauth.stores.base import Store

__all__ = ["Store"]
