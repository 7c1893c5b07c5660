"""docker-credential-regauth-ecr: Amazon ECR tokens for Docker, skopeo and podman, through credHelpers.

Install it for a registry in Docker's config.json (docs/credential-helpers.md)::

    {"credHelpers": {"123456789012.dkr.ecr.eu-west-1.amazonaws.com": "regauth-ecr"}}

``get`` answers ``{"ServerURL": host, "Username": "AWS", "Secret": <token>}`` from
:mod:`regauth.sources.ecr` (cached tokens first, else GetAuthorizationToken with the usual AWS
credential chain).  A host that is no ECR registry is ``credentials not found in native keychain``,
as with amazon-ecr-credential-helper.  ``store`` and ``erase`` answer ``not implemented``, that
helper's wording: a minted token is not something a login stores or a logout erases.  ``list``
shows the cached tokens still in use, host -> ``AWS``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from regauth.errors import StoreError
from regauth.helpers.serve import BackendError, MintedBackend, serve
from regauth.sources import cache, ecr

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["NAME", "EcrBackend", "main"]

NAME = "docker-credential-regauth-ecr"


class EcrBackend(MintedBackend):
    """Minted ECR credentials behind the helper protocol."""

    program = NAME

    def get(self, server: str) -> tuple[str, str] | None:
        """("AWS", token) for an ECR host; None for any other host."""
        try:
            creds = ecr.get(server)
        except StoreError as exc:
            raise BackendError(str(exc)) from None
        return None if creds is None else (creds.username, creds.password)

    def list(self) -> dict[str, str]:
        """Cached ECR tokens not about to expire: host -> username."""
        return {host: creds.username for host, creds in cache.entries(ecr.SOURCE).items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``docker-credential-regauth-ecr``."""
    return serve(EcrBackend(), argv)


if __name__ == "__main__":
    sys.exit(main())
