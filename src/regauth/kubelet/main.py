"""``regauth-kubelet-credential-provider``: the program the kubelet runs for each image pull it asks
credentials for (docs/kubelet-credential-provider.md).

Arguments (the ``args`` of the kubelet's CredentialProviderConfig): ``--config DIR`` is Docker's
config directory (else ``$DOCKER_CONFIG``, else ``~/.docker`` of the user the kubelet runs as);
``--authfile FILE`` an auth file read before config.json (else ``$REGISTRY_AUTH_FILE``).

Exit 0 with a response on stdout, also when there is no credential (an empty ``auth``).  Exit 1
with one line on stderr and nothing on stdout when the request is bad or a source fails: the
kubelet then logs the line and pulls without this provider's help, caching nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from regauth._exit import exit_process
from regauth.errors import RegauthError, UsageError
from regauth.kubelet.protocol import MAX_REQUEST, parse_request
from regauth.kubelet.provider import respond

__all__ = ["PROG", "main"]

PROG = "regauth-kubelet-credential-provider"


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one-line errors like every other failure here."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Kubelet image credential provider: reads a CredentialProviderRequest on stdin "
        "and answers a CredentialProviderResponse from regauth's credentials.",
    )
    parser.add_argument("--config", metavar="DIR", help="Docker's config directory")
    parser.add_argument("--authfile", metavar="FILE", help="an auth file read before config.json")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Serve one request; the exit code (the response or the error line already written)."""
    try:
        options = _parser().parse_args(argv)
        try:
            data = sys.stdin.buffer.read(MAX_REQUEST + 1)
        except OSError as exc:
            raise UsageError(f"cannot read the request on stdin: {exc.strerror or exc}") from None
        request = parse_request(data)
        response = respond(request, config=options.config, authfile=options.authfile)
    except RegauthError as exc:
        print(f"{PROG}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    sys.stdout.write(response.to_json() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    return exit_process(run(argv))
