"""atheris harnesses: helper output (``decode_creds``/``decode_list``) and the config loader.

Rule: each harness takes the fuzzer's bytes and raises only on a real defect.  Run one with
``python -m fuzz.fuzz_parsers NAME [libFuzzer flags]``; ``python -m fuzz`` runs them all.  Without
atheris the module still imports (the harness functions are plain functions) and ``main`` says so.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["HARNESSES", "fuzz_config_load", "fuzz_helper_output", "main"]

_DIR = Path(tempfile.mkdtemp(prefix="regauth-fuzz-"))


def fuzz_helper_output(data: bytes) -> None:
    """``decode_creds`` and ``decode_list`` on ``data``: a result or ValueError, never anything else."""
    from regauth.stores.wire import decode_creds, decode_list

    for decode in (decode_creds, decode_list):
        with contextlib.suppress(ValueError):
            decode(data)


def fuzz_config_load(data: bytes) -> None:
    """``_config.load`` on a file holding ``data``: a config or a one-line ConfigError."""
    from regauth.config.file import dumps, load
    from regauth.errors import ConfigError

    path = _DIR / "config.json"
    path.write_bytes(data)
    try:
        cfg = load(path)
    except ConfigError as exc:
        if "\n" in str(exc):
            raise AssertionError(f"multi-line ConfigError: {exc!r}") from None
        return
    dumps(cfg.data)


HARNESSES: dict[str, Callable[[bytes], None]] = {
    "helper_output": fuzz_helper_output,
    "config_load": fuzz_config_load,
}


def main(argv: list[str] | None = None) -> int:
    """``python -m fuzz.fuzz_parsers NAME [libFuzzer flags]``: run one harness under atheris."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in HARNESSES:
        print(
            f"usage: python -m fuzz.fuzz_parsers {{{','.join(HARNESSES)}}} [libFuzzer flags]", file=sys.stderr
        )
        return 2
    try:
        import atheris  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        print("atheris is not installed (pip install atheris)", file=sys.stderr)
        return 3
    name = args.pop(0)
    with atheris.instrument_imports():
        import regauth.config.file
        import regauth.stores.wire  # noqa: F401
    os.makedirs(_DIR, exist_ok=True)
    atheris.Setup([sys.argv[0], *args], HARNESSES[name])
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
