"""``python -m regauth``."""

import sys

from regauth.cli.main import main

sys.exit(main())
