"""Rule: makes ``tests.support`` importable from the repository root."""

from __future__ import annotations

__all__: list[str] = []
