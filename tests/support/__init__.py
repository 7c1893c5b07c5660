"""Rule: reusable real-component test support; only ``require`` may import pytest."""

from __future__ import annotations

__all__: list[str] = []
