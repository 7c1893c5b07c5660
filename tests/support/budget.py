"""The import budget of a plain login or logout (issue 6): Python modules it must never load.

On the bench machine each module costs ~0.5-1 ms to import (``re`` with ``enum`` ~17 ms, ``ssl`` and
``socket`` ~40 ms) against a whole ``docker login`` of ~25 ms; C modules (``_ssl``, ``_socket``,
``_json``, ``binascii``...) and regauth's own are fine.  A rare path (an error message, ``--scope``,
a proxy, a non-ASCII host name) may still import one of these.
"""

from __future__ import annotations

SLOW_MODULES = frozenset(
    """re enum argparse gettext locale shutil pathlib fnmatch ntpath urllib urllib.parse ipaddress
    json json.decoder json.encoder json.scanner ssl socket selectors base64 struct contextlib
    collections collections.abc functools types encodings.idna stringprep unicodedata warnings
    datetime typing dataclasses inspect logging subprocess tempfile random hashlib getpass string
    operator""".split()  # noqa: SIM905 - one word per module reads better than a 44-item list
)
