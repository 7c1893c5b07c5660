"""Command sources: a program the user configures prints short-lived credentials for a registry.

The ``credential-commands`` setting (:mod:`regauth.config.settings` documents the entries) maps a
registry pattern to a command such as ``gcloud auth print-access-token`` or
``az acr login --name R --expose-token --output json``.  For a registry that matches, regauth

* serves the credential cached by :mod:`regauth.sources.cache` while it has more than
  :func:`margin` left to live;
* else runs the command: no shell, stdin closed, the environment plus ``REGAUTH_REGISTRY`` (the
  registry's ``host[:port]``, for a command that serves several), at most ``timeout`` seconds, after
  which its whole process group is killed; then reads stdout and caches what it printed.

What the command prints (``format``):

``token``
    stdout, stripped of surrounding white space, is the secret: one line, not empty.  The username
    is the entry's ``username`` (``oauth2accesstoken`` for Google's registries).
``json``
    one JSON object.  Field names are matched ignoring case.  The secret is the first of
    ``password``, ``secret``, ``token``, ``accessToken``, ``access_token`` (so the output of a
    ``docker-credential-*`` helper's ``get`` works too); the username is ``username``, else the
    entry's ``username``, else, for the output of ``az acr login --expose-token`` (``accessToken``
    and ``loginServer``), ``00000000-0000-0000-0000-000000000000`` as Azure Container Registry
    requires.  The expiry is the first of ``expires_at``, ``expiresAt``, ``expires_on``,
    ``expiresOn``, ``expiry``, ``expiration``: a number of seconds since the epoch, or an ISO 8601 /
    RFC 3339 time; a time without a zone is local time (``az account get-access-token``'s
    ``expiresOn`` is).

The expiry is the JSON's, or the run's start plus ``lifetime``, the earlier of the two when both
are given.  Without either the credential is not cached and the command runs on every lookup.

The secret is never logged, never part of an error, and never reaches argv (the command's argv is
the setting's, which holds none).  A failure is one line: the command's exit status and the first
lines of its stderr, never its stdout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from regauth.config.settings import CredentialCommand
from regauth.credentials import Credentials
from regauth.errors import ExpiredError, StoreError
from regauth.registry.address import HUB_KEY
from regauth.sources import cache
from regauth.timestamps import rfc3339

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ACR_USERNAME",
    "cached",
    "margin",
    "matches",
    "matching",
    "mint",
    "parse_output",
    "source_name",
]

#: The username Azure Container Registry expects with a token from ``az acr login --expose-token``.
ACR_USERNAME = "00000000-0000-0000-0000-000000000000"

_SECRET_FIELDS = ("password", "secret", "token", "accesstoken", "access_token")
_EXPIRY_FIELDS = ("expires_at", "expiresat", "expires_on", "expireson", "expiry", "expiration")
_MAX_OUTPUT = 1024 * 1024  # bytes of stdout: a credential is a few kilobytes at most
_MAX_STDERR_SHOWN = 300  # characters of stderr in an error line
_STOP_GRACE = 5.0  # seconds to collect a killed command's pipes
_ISO_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:[.,](\d+))?\s*(?:([Zz])|([+-]\d{2}):?(\d{2}))?"
)


def _debug(message: str, *args: object) -> None:
    """A --debug line (``logging`` is only there when a program loaded it, so nothing to configure)."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(__name__).debug(message, *args)


# --------------------------------------------------------------------------- which entry


def _split(key: str) -> tuple[str, str]:
    """(lower-case host, ``:port`` or "") of a storage key ``host[:port]``."""
    if key.endswith("]") or key.count(":") != 1:  # bracketed IPv6 without a port, or no port
        return key.lower().rstrip("."), ""
    host, _, port = key.rpartition(":")
    return host.lower().rstrip("."), ":" + port


def matches(rule: CredentialCommand, key: str) -> bool:
    """True when ``rule``'s pattern covers registry ``key`` (a storage key: ``host[:port]``)."""
    if key == HUB_KEY or rule.host == HUB_KEY:
        return key == rule.host
    host, port = _split(key)
    pattern_host, pattern_port = _split(rule.host)
    if port != pattern_port:
        return False
    if not rule.wildcard:
        return host == pattern_host
    return host.endswith("." + pattern_host) and len(host) > len(pattern_host) + 1


def matching(rules: Iterable[CredentialCommand], key: str) -> CredentialCommand | None:
    """The first of ``rules`` whose pattern covers ``key``, or None."""
    return next((rule for rule in rules if matches(rule, key)), None)


# --------------------------------------------------------------------------- the cache


def source_name(rule: CredentialCommand) -> str:
    """The cache's source name for ``rule``: a changed command, username or format mints afresh."""
    what = json.dumps([list(rule.command), rule.username, rule.format, rule.lifetime])
    return "command:" + hashlib.sha256(what.encode()).hexdigest()[:16]


def margin(rule: CredentialCommand) -> timedelta:
    """How long before expiry a cached credential stops being reused: the cache's five minutes, or a
    quarter of a shorter ``lifetime``."""
    if rule.lifetime is not None and rule.lifetime < 4 * cache.MARGIN.total_seconds():
        return timedelta(seconds=rule.lifetime / 4)
    return cache.MARGIN


def cached(rules: Iterable[CredentialCommand]) -> dict[str, tuple[CredentialCommand, Credentials]]:
    """Every usable cached credential of ``rules``, by registry key (first matching rule wins)."""
    rules = tuple(rules)
    found: dict[str, tuple[CredentialCommand, Credentials]] = {}
    for rule in rules:
        for key, creds in cache.entries(source_name(rule), margin(rule)).items():
            if key not in found and matching(rules, key) is rule:
                found[key] = (rule, creds)
    return found


# --------------------------------------------------------------------------- minting


def mint(rule: CredentialCommand, key: str, *, now: datetime | None = None) -> Credentials:
    """``rule``'s credentials for ``key``: cached, else from a run of its command (then cached).

    Raises StoreError, one line, when the command cannot run, fails, times out or prints no credential.
    """
    source = source_name(rule)
    hit = cache.load(source, key, margin(rule), now=now)
    if hit is not None:
        _debug("credential command for %s: a cached credential", key)
        return hit
    started = now or datetime.now(timezone.utc)
    output = _run(rule, key)
    try:
        creds = parse_output(rule, output, started)
    except ValueError as exc:
        raise StoreError(f"{_label(rule, key)}: {exc}") from None
    creds = Credentials(
        username=creds.username, password=creds.password, server=key, expires_at=creds.expires_at
    )
    if creds.expires_at is not None and creds.expired(started):
        when = rfc3339(creds.expires_at)
        message = f"{_label(rule, key)}: printed a credential that expired at {when}"
        raise ExpiredError(message, creds.expires_at)
    if cache.save(source, key, creds):
        _debug("credential command for %s: cached until its expiry", key)
    return creds


def _label(rule: CredentialCommand, key: str) -> str:
    return f"credential command {rule.command[0]!r} for {key}"


def _run(rule: CredentialCommand, key: str) -> bytes:
    """The command's stdout; StoreError (one line, stderr's first lines) on any failure."""
    label = _label(rule, key)
    program = shutil.which(rule.command[0])
    if program is None:
        raise StoreError(f"{label}: program not found")
    _debug("credential command for %s (registry pattern %s): running %s", key, rule.registry, rule.command[0])
    try:
        proc = subprocess.Popen(
            [program, *rule.command[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "REGAUTH_REGISTRY": key},
            # its own process group (session on POSIX), so that a timeout kills all it started
            start_new_session=sys.platform != "win32",
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
        )
    except OSError as exc:
        raise StoreError(f"{label}: cannot run: {exc.strerror or type(exc).__name__}") from None
    try:
        stdout, stderr = proc.communicate(timeout=rule.timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise StoreError(f"{label}: timed out after {rule.timeout:g}s; it was stopped") from None
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C) or timed out: nothing of it may linger
            _stop(proc)
    if proc.returncode != 0:
        code = proc.returncode
        status = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        said = _stderr_lines(stderr)
        raise StoreError(f"{label} failed ({status})" + (f": {said}" if said else ""))
    if len(stdout) > _MAX_OUTPUT:
        raise StoreError(f"{label}: printed more than {_MAX_OUTPUT // 1024} KiB")
    return bytes(stdout)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and every process it started in its group, then reap it."""
    try:
        if sys.platform == "win32":
            proc.kill()
        else:
            import signal

            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:  # already gone
        pass
    # A descendant that left the group may hold the pipes open: stop waiting for it.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=_STOP_GRACE)


def _stderr_lines(stderr: bytes) -> str:
    """The first lines of stderr, on one line, printable, trimmed."""
    text = stderr.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()][:3]
    joined = " | ".join("".join(c if c.isprintable() else "?" for c in line) for line in lines)
    return joined if len(joined) <= _MAX_STDERR_SHOWN else joined[: _MAX_STDERR_SHOWN - 1] + "…"


# --------------------------------------------------------------------------- what it printed


def parse_output(rule: CredentialCommand, output: bytes, started: datetime) -> Credentials:
    """The credential in a command's stdout (module docstring); ValueError (no secret in it) when
    there is none.  ``started`` is when the command ran, the start of ``lifetime``."""
    try:
        text = output.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("printed something that is not UTF-8 text") from None
    expiry: datetime | None = None
    if rule.format == "json":
        username, secret, expiry = _from_json(rule, text)
    else:
        username, secret = rule.username, text.strip()
        if not secret:
            raise ValueError("printed no token")
        if "\n" in secret or "\r" in secret:
            raise ValueError('printed more than one line (is its output JSON? set "format": "json")')
    if not secret.isprintable():
        raise ValueError("printed a secret holding control characters")
    if rule.lifetime is not None:
        by_lifetime = started + timedelta(seconds=rule.lifetime)
        expiry = by_lifetime if expiry is None else min(expiry, by_lifetime)
    return Credentials(username=username, password=secret, expires_at=expiry)


def _from_json(rule: CredentialCommand, text: str) -> tuple[str, str, datetime | None]:
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("printed no JSON object (format is json)") from None
    if not isinstance(data, dict):
        raise ValueError("printed JSON that is not an object")
    fields = {str(name).lower(): value for name, value in data.items()}
    secret = next((fields[name] for name in _SECRET_FIELDS if fields.get(name)), None)
    if not isinstance(secret, str):
        raise ValueError(
            "printed JSON without a secret (a string password, secret, token, accessToken or access_token)"
        )
    username = fields.get("username")
    if not isinstance(username, str) or not username:
        if rule.username:
            username = rule.username
        elif "loginserver" in fields and "accesstoken" in fields:
            username = ACR_USERNAME
        else:
            raise ValueError('printed JSON without a username; set "username" in the setting')
    expiry = next((fields[name] for name in _EXPIRY_FIELDS if fields.get(name) is not None), None)
    return username, secret, None if expiry is None else _expiry(expiry)


def _expiry(value: object) -> datetime:
    """An expiry field's value as an aware UTC datetime; ValueError when it is no time."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value) / 1000 if value > 1e11 else float(value)  # milliseconds, as JavaScript's
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError("printed an expiry out of range") from None
    if isinstance(value, str):
        match = _ISO_TIME.fullmatch(value.strip())
        if match is not None:
            day, clock, fraction, zulu, hours, minutes = match.groups()
            text = f"{day}T{clock}.{(fraction or '0')[:6].ljust(6, '0')}"
            if zulu:
                text += "+00:00"
            elif hours:
                text += f"{hours}:{minutes}"
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError("printed an expiry that is no valid time") from None
            if moment.tzinfo is None:  # local time, as az prints expiresOn
                moment = moment.astimezone()
            return moment.astimezone(timezone.utc)
    raise ValueError("printed an expiry that is neither seconds since the epoch nor an ISO 8601 time")
