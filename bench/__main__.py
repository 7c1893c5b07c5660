"""Rule: ``python -m bench`` is the only entry point; it delegates to :func:`bench.runner.main`."""

from __future__ import annotations

import sys

from bench.runner import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
