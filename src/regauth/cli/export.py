"""``regauth export kubernetes NAME [SERVER...]``: stored logins as a dockerconfigjson Secret."""

from __future__ import annotations

import argparse
import sys
from typing import IO

from regauth.cli.output import EXIT_OK
from regauth.errors import RegauthError

__all__ = ["export"]


def export(args: argparse.Namespace, stdin: IO[str]) -> int:
    """Print the Secret's YAML; fails when there is nothing to export."""
    from regauth.api.export import kubernetes_secret, validate_name
    from regauth.api.inventory import collect_credentials

    validate_name(args.name)
    if args.namespace is not None:
        validate_name(args.namespace, what="namespace", label=True)
    logins = collect_credentials(args.servers, config=args.config, authfile=args.authfile)
    if not logins:
        raise RegauthError("no stored logins to export")
    sys.stdout.write(kubernetes_secret(args.name, logins, namespace=args.namespace))
    return EXIT_OK
