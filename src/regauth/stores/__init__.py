"""Credential stores behind one interface.  Rule: stores never print to the terminal.

A store keeps, per server key, one username and one secret (password or identity token).
:mod:`regauth.stores.lookup` is the one chain that decides which store or auth file answers.
The interface is :class:`regauth.stores.base.Store`.  This package module imports nothing, so a
credential helper that needs only the wire format (:mod:`regauth.stores.wire`) loads nothing more.
"""
