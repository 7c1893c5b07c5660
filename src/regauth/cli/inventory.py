"""What is stored where: ``regauth list``, ``status``, ``get`` and ``logout --all``.

Read commands take ``--format table|json`` (stable JSON keys, never a secret); ``get`` alone prints
a secret, on purpose: it is for scripts.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import IO

from regauth.cli.output import EXIT_FAIL, EXIT_NOTHING, EXIT_OK, erase_status, table, warn

__all__ = ["get", "list_", "logout_all", "status"]


def _expiry_column(expiries: Sequence[datetime | None]) -> list[str]:
    """An EXPIRY column (``expires in 3h12m``, ``expired``, ``-``; regauth.api.expiry's rules),
    empty when no login carries an expiry: the table of passwords alone stays as it was."""
    if all(when is None for when in expiries):
        return []
    from regauth.api.expiry import describe

    now = datetime.now(timezone.utc)
    return [describe(when, now) if when is not None else "-" for when in expiries]


def list_(args: argparse.Namespace, stdin: IO[str]) -> int:
    """``regauth list``: every stored login; exit 1 if a store could not be read."""
    from regauth.api.inventory import list_logins

    logins = list_logins(config=args.config, authfile=args.authfile)
    if args.format == "json":
        print(json.dumps([login.as_dict() for login in logins], indent=2))
    elif logins:
        with_errors = any(login.error for login in logins)
        expiry = _expiry_column([x.expires_at for x in logins])
        headers = ["REGISTRY", "USERNAME", "AUTH", "STORE", "SOURCE"] + (["EXPIRY"] if expiry else [])
        headers += ["ERROR"] if with_errors else []
        rows = [
            [x.server, x.username, x.auth or "-", x.store, x.source]
            + ([expiry[i]] if expiry else [])
            + ([x.error] if with_errors else [])
            for i, x in enumerate(logins)
        ]
        print(table(headers, rows))
    else:
        warn("no stored logins")
    return EXIT_FAIL if any(login.error for login in logins) else EXIT_OK


def status(args: argparse.Namespace, stdin: IO[str]) -> int:
    """``regauth status``: re-validate stored logins; 0 all valid, 1 some not (``expired`` among
    them), 2 nothing stored."""
    from regauth.api.inventory import status as check

    results = check(
        args.servers,
        config=args.config,
        authfile=args.authfile,
        tls_verify=args.tls_verify,
        timeout=args.timeout,
    )
    if args.format == "json":
        print(json.dumps([r.as_dict() for r in results], indent=2))
    elif results:
        expiry = _expiry_column([r.login.expires_at for r in results])
        rows = []
        for i, r in enumerate(results):
            plain = not r.reason or r.result in ("valid", "expired")  # expired: the EXPIRY column says when
            shown = r.result if plain else f"{r.result}: {r.reason}"
            row = [r.login.server, r.login.username, r.login.store, r.login.auth or "-", shown]
            rows.append(row + ([expiry[i]] if expiry else []))
        headers = ["REGISTRY", "USERNAME", "STORE", "AUTH", "RESULT"] + (["EXPIRY"] if expiry else [])
        print(table(headers, rows))
    if not results:
        named = ", ".join(args.servers)
        warn(f"not logged in to {named}" if named else "no stored logins")
        return EXIT_NOTHING
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAIL


def get(args: argparse.Namespace, stdin: IO[str]) -> int:
    """``regauth get SERVER``: the stored credential as helper-protocol JSON, secret included."""
    from regauth.registry.address import normalise
    from regauth.stores.wire import TOKEN_USERNAME, go_json

    server: str = args.server
    if "/" in server and "://" not in server:  # an image reference: per-repository keys
        from regauth.stores.lookup import lookup

        found = lookup(server, config=args.config, authfile=args.authfile)
        creds = found.credentials if found is not None else None
        key = found.credentials.server if found is not None else server
    else:
        from regauth.api.lookup import get_credentials

        key = normalise(server)
        creds = get_credentials(key, config=args.config, authfile=args.authfile)
    if creds is None or not (creds.username or creds.password or creds.identity_token):
        warn(f"not logged in to {key}")
        return EXIT_FAIL
    if args.username_only:
        print(creds.username or TOKEN_USERNAME)
        return EXIT_OK
    if creds.identity_token:
        payload = {"ServerURL": key, "Username": TOKEN_USERNAME, "Secret": creds.identity_token}
    else:
        payload = {"ServerURL": key, "Username": creds.username, "Secret": creds.password}
    print(go_json(payload))
    return EXIT_OK


def logout_all(args: argparse.Namespace, stdin: IO[str]) -> int:
    """``logout --all``: one line per removal; non-zero if any erase failed."""
    from regauth.api.inventory import logout_all as remove_all

    outcome = remove_all(config=args.config, authfile=getattr(args, "authfile", None))
    for line in outcome.removed:
        store, _, key = line.rpartition(": ")
        print(f"Removing login credentials for {key} ({store})")
    if not outcome.removed and outcome.ok:
        print("Not logged in anywhere")
    for note in outcome.notes:
        warn(f"note: {note}")
    for line in outcome.warnings:  # after a successful erase: exit 0, as Docker
        warn(f"WARNING: {line}")
    return erase_status(outcome.errors)
