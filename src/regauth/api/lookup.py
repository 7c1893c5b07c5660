"""The library's read of stored credentials: the first source of the one lookup chain that has them."""

from __future__ import annotations

import os

from regauth.credentials import Credentials
from regauth.registry.address import normalise
from regauth.stores.lookup import find

__all__ = ["get_credentials"]

PathLike = str | os.PathLike[str]


def get_credentials(
    server: str | None = None,
    *,
    config: PathLike | None = None,
    authfile: PathLike | None = None,
) -> Credentials | None:
    """The stored credentials for ``server``, or None.

    Sources, first hit wins (:mod:`regauth.stores.lookup`): ``DOCKER_AUTH_CONFIG``, ``authfile``
    (else ``$REGISTRY_AUTH_FILE``), config.json (``credHelpers`` -> ``credsStore`` -> ``auths``),
    minted credentials (regauth's ``credential-commands``, Amazon ECR), podman's ``auth.json`` files.
    Raises ConfigError for a broken config.json, auth file or settings file, and StoreError when a
    helper, a credential command or ECR fails.
    """
    found = next(find(normalise(server), config=config, authfile=authfile), None)
    return None if found is None else found.credentials
