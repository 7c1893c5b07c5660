"""Rule: a real OpenID provider (npm ``oidc-provider``, device flow on) on 127.0.0.1, and its user.

The package is installed once into a cache directory outside the repository (npm's registry in
CI; afterwards offline).  :class:`OidcProvider` runs ``oidc_provider.mjs`` with Node and is
stopped by pid.  :func:`approve` and :func:`deny` play the person at the browser: they drive the
provider's own verification pages over HTTP with a cookie jar.
"""

from __future__ import annotations

import html.parser
import http.cookiejar
import json
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "OIDC_PROVIDER_MAJOR",
    "OidcProvider",
    "approve",
    "deny",
    "have_node",
    "install_oidc_provider",
    "start_oidc_provider",
]

OIDC_PROVIDER_MAJOR = 8
_SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
_INSTALL_LOCK = threading.Lock()


def have_node() -> bool:
    """True when both ``node`` and ``npm`` are on PATH."""
    return shutil.which("node") is not None and shutil.which("npm") is not None


def _cache_dir() -> Path:
    base = os.environ.get("REGAUTH_TEST_NPM_CACHE") or os.path.join(tempfile.gettempdir(), "regauth-test-npm")
    return Path(base) / f"oidc-provider-{OIDC_PROVIDER_MAJOR}"


def install_oidc_provider() -> Path | None:
    """The directory holding ``node_modules/oidc-provider`` (installing it if needed), or None.

    None means npm could not install it (offline with an empty cache): the caller skips (or
    fails in CI through tests/support/require.py).
    """
    prefix = _cache_dir()
    marker = prefix / "node_modules" / "oidc-provider" / "package.json"
    with _INSTALL_LOCK:
        if not marker.exists():
            npm = shutil.which("npm")
            if npm is None:
                return None
            prefix.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                 f"oidc-provider@{OIDC_PROVIDER_MAJOR}"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0 or not marker.exists():
                return None
        version = json.loads(marker.read_text(encoding="utf-8"))["version"]
        if not str(version).startswith(f"{OIDC_PROVIDER_MAJOR}."):
            return None
        # ESM resolves packages from the script's own directory: run a copy that sits beside them.
        shutil.copyfile(_SCRIPT, prefix / _SCRIPT.name)
    return prefix


@dataclass
class OidcProvider:
    """A running provider: ``issuer`` is ``http://127.0.0.1:PORT``; ``client_id`` its public client."""

    issuer: str
    client_id: str
    account: str
    proc: subprocess.Popen[bytes] = field(repr=False)
    cafile: str | None = None  # the CA of an HTTPS provider

    def _context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=self.cafile) if self.cafile else None

    @property
    def token_endpoint(self) -> str:
        """The provider's token endpoint (also in its discovery document)."""
        return str(self.discovery()["token_endpoint"])

    def discovery(self) -> dict[str, Any]:
        """``/.well-known/openid-configuration``."""
        url = self.issuer + "/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=10, context=self._context()) as resp:
            document: dict[str, Any] = json.loads(resp.read())
            return document

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the Node process by pid, wait, kill on timeout."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> OidcProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_oidc_provider(
    prefix: Path,
    workdir: Path,
    *,
    client_id: str = "regauth-test-client",
    account: str = "oidc-user",
    device_code_ttl: int = 600,
    tls: tuple[Path, Path, Path] | None = None,
    timeout: float = 20.0,
) -> OidcProvider:
    """Start ``node oidc_provider.mjs`` from ``prefix`` (see :func:`install_oidc_provider`).

    ``tls``: (certificate, key, CA) paths for an HTTPS provider; plain HTTP otherwise.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / f"oidc-{secrets.token_hex(4)}.json"
    settings = {
        "port": 0,
        "client_id": client_id,
        "account": account,
        "device_code_ttl": device_code_ttl,
        "cookie_key": secrets.token_hex(16),
        "tls_cert": None if tls is None else str(tls[0]),
        "tls_key": None if tls is None else str(tls[1]),
    }
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(settings, fh)
    node = shutil.which("node")
    assert node is not None
    with open(workdir / "oidc-provider.log", "ab") as log:
        proc = subprocess.Popen(
            [node, str(prefix / _SCRIPT.name), str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=str(prefix),
        )
    line: list[bytes] = []
    assert proc.stdout is not None
    out = proc.stdout
    reader = threading.Thread(target=lambda: line.append(out.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0].startswith(b"LISTENING "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"oidc-provider did not start (rc={proc.returncode})")
    port = int(line[0].split()[1])
    scheme = "http" if tls is None else "https"
    cafile = None if tls is None else str(tls[2])
    return OidcProvider(f"{scheme}://127.0.0.1:{port}", client_id, account, proc, cafile)


class _FormFields(html.parser.HTMLParser):
    """The name/value pairs of every ``<input>`` in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            named = dict(attrs)
            if named.get("name"):
                self.fields[str(named["name"])] = named.get("value") or ""


def _browser(cafile: str | None) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPSHandler(context=context),
    )


def _xsrf(page: bytes) -> str:
    parser = _FormFields()
    parser.feed(page.decode("utf-8", "replace"))
    xsrf: str = parser.fields["xsrf"]
    return xsrf


def _submit(verification_uri: str, user_code: str, decision: str, cafile: str | None) -> str:
    """Open the verification page, enter ``user_code``, press the ``decision`` button; final page."""
    browser = _browser(cafile)
    with browser.open(verification_uri, timeout=10) as resp:
        xsrf = _xsrf(resp.read())
    page = b""
    # The first post shows the confirmation page; the second presses its button.
    for extra in ({}, {decision: "yes"}):
        form = urllib.parse.urlencode({"xsrf": xsrf, "user_code": user_code, **extra}).encode()
        with browser.open(verification_uri, data=form, timeout=10) as resp:
            page = bytes(resp.read())
    return page.decode("utf-8", "replace")


def approve(verification_uri: str, user_code: str, cafile: str | None = None) -> str:
    """Confirm ``user_code`` on the provider's pages (signs in the provider's account); final page."""
    page = _submit(verification_uri, user_code, "confirm", cafile)
    if "Sign-in Success" not in page:
        raise AssertionError("the provider did not confirm the device")
    return page


def deny(verification_uri: str, user_code: str, cafile: str | None = None) -> str:
    """Press the provider's abort button for ``user_code``; final page."""
    return _submit(verification_uri, user_code, "abort", cafile)
