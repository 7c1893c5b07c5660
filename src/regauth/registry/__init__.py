"""Registry authentication without I/O: addresses, challenges, tokens, the login flow."""

from __future__ import annotations
