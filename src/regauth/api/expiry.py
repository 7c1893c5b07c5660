"""How an expiry is written: RFC 3339 for machines, a short remaining time for people.

Rules (the README's ``list`` and ``status`` sections say the same):

- machines (``--format json``, the exported Secret's annotation): RFC 3339 in UTC to the second,
  ``2026-12-05T18:30:00Z`` (fractions of a second are dropped: the time shown is never later
  than the real one);
- people (the tables): ``expired`` once the time has come, else ``expires in`` the remaining
  time, rounded down so that it never promises more life than is left: ``expires in 42s`` under
  a minute, ``expires in 4m`` under an hour, ``expires in 3h12m`` under 48 hours, then
  ``expires in 5d3h``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from regauth.timestamps import rfc3339

__all__ = ["describe", "rfc3339"]


def describe(when: datetime, now: datetime | None = None) -> str:
    """``expired`` or ``expires in 3h12m`` (module docstring's rules)."""
    delta = when - (now or datetime.now(timezone.utc))
    if delta <= timedelta(0):  # as Credentials.expired: the expiry instant itself is too late
        return "expired"
    left = int(delta.total_seconds())
    minutes, seconds = divmod(left, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours_of_day = divmod(hours, 24)
    if not minutes and not hours:
        text = f"{seconds}s"
    elif not hours:
        text = f"{minutes}m"
    elif hours < 48:
        text = f"{hours}h{minutes}m"
    else:
        text = f"{days}d{hours_of_day}h"
    return f"expires in {text}"
