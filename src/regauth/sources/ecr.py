"""Amazon ECR: credentials for ``ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]``, minted on demand.

As amazon-ecr-credential-helper does (github.com/awslabs/amazon-ecr-credential-helper,
ecr-login/api/client.go): the registry host names the account and the region, regauth calls ECR's
GetAuthorizationToken in *that* region (whatever ``AWS_REGION`` says) for that account, and decodes
the token, base64 of ``AWS:<password>``, into a username and a password valid until ``expiresAt``
(twelve hours).  A ``-fips`` host is asked through ECR's FIPS endpoint; a ``.cn`` host's region
(``cn-north-1``, ``cn-northwest-1``) puts botocore in the China partition by itself.

The AWS side is botocore's (the ``regauth[ecr]`` extra), imported only when a token is minted: its
usual credential chain (environment, ``AWS_PROFILE`` and the shared config files, SSO, container
and instance roles), its retries (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``) and its endpoint
settings (``AWS_ENDPOINT_URL_ECR``, ``AWS_ENDPOINT_URL``) all apply.

Tokens are cached (:mod:`regauth.sources.cache`) and reused until 5 minutes before they expire.
When ECR cannot be asked (throttled, unreachable) and the cache still holds a token that has not
expired, that token is served, as the Go helper falls back on its cache.  Every failure is one
:class:`~regauth.errors.StoreError` line naming the registry, never a secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from regauth.credentials import Credentials
from regauth.errors import StoreError
from regauth.sources import cache

__all__ = ["SOURCE", "EcrRegistry", "client", "get", "parse"]

#: The name of this source in the cache and in messages.
SOURCE = "ecr"

# The pattern Kubernetes' ECR provider and the Go helper accept (12-digit account, optional -fips,
# region, amazonaws.com or amazonaws.com.cn), anchored on the whole host.
_HOST = re.compile(r"(\d{12})\.dkr\.ecr(-fips)?\.([a-z0-9][a-z0-9-]*)\.amazonaws\.com(\.cn)?")
_CONNECT_TIMEOUT = 10.0  # seconds; botocore's default (60 s) would stall a pull for a minute
_READ_TIMEOUT = 20.0
_MAX_MESSAGE = 300  # characters of an AWS error message kept in the one-line error


@dataclass(frozen=True, slots=True)
class EcrRegistry:
    """A private ECR registry, as its host names it."""

    host: str
    account: str
    region: str
    fips: bool = False

    @property
    def china(self) -> bool:
        """True for a registry in the AWS China partition (``.amazonaws.com.cn``)."""
        return self.host.endswith(".cn")


def parse(server: str) -> EcrRegistry | None:
    """The ECR registry ``server`` names, or None when it is not an ECR registry.

    ``server`` is a registry key or address: a host, optionally with ``https://`` before it and a
    path after it (``/v2/...``, a repository), as Docker, kubelet and users write them.
    """
    host = server.strip()
    for scheme in ("https://", "http://"):
        if host[: len(scheme)].lower() == scheme:
            host = host[len(scheme) :]
            break
    host = host.split("/", 1)[0].lower()
    match = _HOST.fullmatch(host)
    if match is None:
        return None
    return EcrRegistry(host=host, account=match[1], region=match[3], fips=bool(match[2]))


def client(registry: EcrRegistry) -> Any:
    """A botocore ECR client for ``registry``'s region (FIPS endpoint for a ``-fips`` host).

    Raises StoreError when botocore is not installed or the AWS configuration is unusable.
    """
    try:
        import botocore.config  # type: ignore[import-untyped]
        import botocore.exceptions  # type: ignore[import-untyped]
        import botocore.session  # type: ignore[import-untyped]
    except ImportError:
        raise StoreError(
            f"{registry.host}: the ECR source needs botocore: pip install 'regauth[ecr]'"
        ) from None
    _quiet_botocore_debug()
    options: dict[str, Any] = {"connect_timeout": _CONNECT_TIMEOUT, "read_timeout": _READ_TIMEOUT}
    if registry.fips:
        options["use_fips_endpoint"] = True
    try:
        session = botocore.session.get_session()
        return session.create_client(
            "ecr", region_name=registry.region, config=botocore.config.Config(**options)
        )
    except botocore.exceptions.BotoCoreError as exc:  # a bad profile or config file
        problem = _one_line(str(exc))
        raise StoreError(f"{registry.host}: cannot use the AWS configuration: {problem}") from None


def get(
    server: str,
    *,
    now: datetime | None = None,
    margin: timedelta = cache.MARGIN,
) -> Credentials | None:
    """Credentials for the ECR registry ``server``, or None when ``server`` is not one.

    A cached token is reused unless it expires within ``margin`` of ``now`` (default: the current
    time); otherwise a new one is minted through botocore and cached.  Raises StoreError (one
    line) when no token can be had.
    """
    registry = parse(server)
    if registry is None:
        return None
    cached = cache.load(SOURCE, registry.host, margin, now=now)
    if cached is not None:
        return cached
    try:
        creds = _mint(registry)
    except StoreError:
        still_valid = cache.load(SOURCE, registry.host, timedelta(0), now=now)
        if still_valid is not None:
            return still_valid
        raise
    cache.save(SOURCE, registry.host, creds)
    return creds


def _mint(registry: EcrRegistry) -> Credentials:
    """Call GetAuthorizationToken for ``registry``'s account in its region and decode the answer."""
    ecr = client(registry)
    import botocore.exceptions

    what = f"{registry.host}: ECR GetAuthorizationToken in {registry.region} failed"
    try:
        answer = ecr.get_authorization_token(registryIds=[registry.account])
    except botocore.exceptions.NoCredentialsError:
        raise StoreError(
            f"{registry.host}: no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or configure ~/.aws)"
        ) from None
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code") or "error"
        message = _one_line(str(error.get("Message") or ""))
        raise StoreError(f"{what}: {code}" + (f": {message}" if message else "")) from None
    except botocore.exceptions.BotoCoreError as exc:  # endpoint unreachable, timeout, bad profile
        raise StoreError(f"{what}: {_one_line(str(exc))}") from None
    finally:
        ecr.close()
    for data in answer.get("authorizationData") or []:
        token = data.get("authorizationToken")
        if isinstance(token, str) and token:
            username, password = _decode(token, registry.host)
            return Credentials(
                username=username,
                password=password,
                server=registry.host,
                expires_at=_utc(data.get("expiresAt"), registry.host),
            )
    raise StoreError(f"{what}: the answer holds no authorization token")


def _decode(token: str, host: str) -> tuple[str, str]:
    """(username, password) from the base64 of ``USER:PASSWORD`` ECR returns."""
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise StoreError(f"{host}: ECR returned an authorization token that is not base64 text") from None
    username, sep, password = text.partition(":")
    if not sep or not username:
        raise StoreError(f"{host}: ECR returned an authorization token that is not USER:PASSWORD")
    return username, password


def _utc(value: object, host: str) -> datetime:
    """``expiresAt`` as botocore parses it (an aware datetime) in UTC."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise StoreError(f"{host}: ECR returned an authorization token without a valid expiresAt")
    return value.astimezone(timezone.utc)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."


def _quiet_botocore_debug() -> None:
    """Keep botocore's DEBUG records (request headers with signatures and session tokens, response
    bodies with the ECR token) out of logs, including regauth's own ``--debug`` output.

    Only a botocore logger nobody configured is touched: a program that set its level keeps it.
    """
    import logging

    logger = logging.getLogger("botocore")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
