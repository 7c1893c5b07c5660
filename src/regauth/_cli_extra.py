"""The commands beyond Docker's (status, list, token, get, migrate, export, completion).

Rule: like cli.py, only argparse and the standard library at import time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import IO, Any

__all__ = ["COMMANDS", "add_parsers"]

COMMANDS: dict[str, Callable[[argparse.Namespace, IO[str]], int]] = {}


def add_parsers(sub: Any) -> None:
    """Add this module's sub-commands to the ``regauth`` parser's sub-parsers."""
