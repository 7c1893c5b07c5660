"""``python -m regauth``."""

from __future__ import annotations

import sys

from regauth.cli.main import main

sys.exit(main())
