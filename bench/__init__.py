"""Rule: benchmarks of regauth against Docker CLI 28 and the Go helpers 0.6.4, never part of the tests.

Run ``python -m bench --help``; see bench/README.md.
"""

from __future__ import annotations

__all__: list[str] = []
