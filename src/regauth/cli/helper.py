"""``regauth helper NAME ACTION``: run a bundled credential helper through the ``regauth`` command."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import IO

__all__ = ["HELPERS", "helper"]

#: helper name -> the module whose ``main(argv)`` serves it
HELPERS = {
    "pass": "regauth.helpers.pass_",
    "secretservice": "regauth.helpers.secretservice",
    "keyring": "regauth.helpers.keyring_",
}


def helper(args: argparse.Namespace, stdin: IO[str]) -> int:
    """Serve one helper-protocol action (``get``, ``store``...) with the named back-end."""
    module = importlib.import_module(HELPERS[args.name])  # only the back-end asked for
    helper_main: Callable[[list[str] | None], int] = module.main
    return helper_main([args.action] if args.action else [])
