"""Credential helpers (the server side of the protocol) and their stores."""
