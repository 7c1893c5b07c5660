"""``regauth export kubernetes NAME [SERVER...]``: stored logins as a dockerconfigjson Secret."""

from __future__ import annotations

import argparse
import sys
from typing import IO

from regauth.cli.output import EXIT_OK
from regauth.errors import RegauthError

__all__ = ["export"]


def export(args: argparse.Namespace, stdin: IO[str]) -> int:
    """Print the Secret's YAML; fails (nothing on stdout) when there is nothing to export, or a
    login expires and ``--allow-expiring`` was not given."""
    from regauth.api.export import kubernetes_secret, validate_name
    from regauth.api.inventory import collect_credentials

    validate_name(args.name)
    if args.namespace is not None:
        validate_name(args.namespace, what="namespace", label=True)
    logins = collect_credentials(args.servers, config=args.config, authfile=args.authfile)
    if not logins:
        raise RegauthError("no stored logins to export")
    secret = kubernetes_secret(
        args.name, logins, namespace=args.namespace, allow_expiring=args.allow_expiring
    )
    sys.stdout.write(secret)
    return EXIT_OK
