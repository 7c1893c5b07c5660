"""RFC 3339 time stamps, written and read in one place.  Rule: pure functions, UTC out.

Written as ``2026-12-05T18:30:00Z`` (UTC, to the second; a fraction is dropped, so the time shown
is never later than the real one).  Read from any RFC 3339 date-time (section 5.6): ``Z`` or an
offset, up to nine fraction digits, ASCII digits only.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

__all__ = ["parse_rfc3339", "rfc3339"]

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def rfc3339(when: datetime) -> str:
    """``when`` as RFC 3339 UTC to the second, e.g. ``2026-12-05T18:30:00Z``."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime | None:
    """``text`` as an aware datetime (cut to microseconds), or None when it is no RFC 3339 date-time.

    ``datetime.fromisoformat`` reads the normalised text: before Python 3.11 it accepts neither
    ``Z`` nor more than six fraction digits.  The pattern bounds the fraction to nine digits, so a
    hostile value costs nothing.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    date, time, fraction, zone = match.groups()
    microseconds = (fraction or "")[:6].ljust(6, "0")
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        return datetime.fromisoformat(f"{date}T{time}.{microseconds}{offset}")
    except ValueError:  # a month 13, a February 30, an offset of 24 hours...
        return None
