"""``regauth migrate --to HELPER``: plaintext credentials of config.json into a credential helper."""

from __future__ import annotations

import argparse
from typing import IO

from regauth.cli.output import EXIT_FAIL, EXIT_OK, warn

__all__ = ["migrate"]


def migrate(args: argparse.Namespace, stdin: IO[str]) -> int:
    """One line per entry (moved, skipped, not moved); exit 1 if any entry was not moved."""
    from regauth.stores.migrate import migrate as move

    def report(key: str, what: str) -> None:
        if what == "moved":
            print(f"Moved {key} to {args.to}")
        elif what == "skipped":
            print(f"Skipped {key}: it changed meanwhile")
        else:
            warn(f"Not moved {key}: {what}")

    outcome = move(args.to, config=args.config, set_default=args.set_creds_store, report=report)
    if not (outcome.moved or outcome.failed or outcome.skipped):
        print("No plaintext credentials to migrate")
    return EXIT_OK if outcome.ok else EXIT_FAIL
