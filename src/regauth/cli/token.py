"""``regauth token SERVER``: a registry bearer token obtained with the stored credentials."""

from __future__ import annotations

import argparse
import json
from typing import IO

from regauth.cli.output import EXIT_OK

__all__ = ["token"]


def token(args: argparse.Namespace, stdin: IO[str]) -> int:
    """Print ``Authorization: Bearer TOKEN`` (or, with ``--format json``, the token's fields)."""
    from regauth.api.token import check_scope
    from regauth.api.token import token as fetch

    scopes = [check_scope(s) for s in args.scope]
    got = fetch(
        args.server,
        scopes,
        config=args.config,
        anonymous=args.anonymous,
        tls_verify=args.tls_verify,
        cert_dir=args.cert_dir,
        timeout=args.timeout,
    )
    if args.format == "json":
        doc = {
            "token": got.access_token,
            "expires_in": got.expires_in,
            "issued_at": got.issued_at.isoformat().replace("+00:00", "Z") if got.issued_at else None,
            "scope": got.scope.split() if got.scope else list(scopes),
        }
        print(json.dumps(doc, indent=2))
    else:
        print(f"Authorization: Bearer {got.access_token}")
    return EXIT_OK
