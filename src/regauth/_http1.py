"""A small HTTP/1.1 client connection over ``socket``/``ssl``: keep-alive, proxies, deadlines, caps.

Rule: bytes on the wire only; no redirect, TLS-policy or auth decisions here (``_transport`` makes them).
Why not ``http.client`` or ``requests``: importing them costs 50-200 ms, more than a whole Docker login
(issue 6); a registry login needs only GET/POST with Content-Length or chunked bodies.
"""

from __future__ import annotations

import socket
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl

__all__ = ["Connection", "HttpError", "Proxy", "RawResponse"]

MAX_HEADER_BYTES = 2 << 20  # a hostile 1 MB WWW-Authenticate still parses; more is refused
MAX_BODY_BYTES = 1 << 20
_RECV = 65536


class HttpError(Exception):
    """A connection or protocol failure (message free of secrets)."""


class Proxy:
    """An HTTP proxy: address and optional ``Proxy-Authorization`` header value."""

    __slots__ = ("authorization", "host", "port")

    def __init__(self, host: str, port: int, authorization: str = "") -> None:
        self.host = host
        self.port = port
        self.authorization = authorization

    def __repr__(self) -> str:
        return f"Proxy({self.host}:{self.port})"


class RawResponse:
    """Status, reason, every header (repeats kept, in order) and the body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


def host_header(host: str, port: int, tls: bool) -> str:
    """``Host`` value: IPv6 bracketed, default port omitted."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if tls else 80) else f"{shown}:{port}"


class Connection:
    """One keep-alive connection to ``host:port`` (through ``proxy`` if given), TLS when ``context``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        context: ssl.SSLContext | None,
        timeout: float,
        proxy: Proxy | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.context = context
        self.timeout = timeout
        self.proxy = proxy
        self._sock: socket.socket | None = None
        self._buf = b""
        self.connects = 0

    def __repr__(self) -> str:
        return f"Connection({'https' if self.context else 'http'}://{self.host}:{self.port})"

    # -- socket plumbing -------------------------------------------------------------------

    def _settimeout(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HttpError(f"timed out after {self.timeout:g}s")
        assert self._sock is not None
        self._sock.settimeout(min(self.timeout, remaining))

    def _recv(self, deadline: float) -> bytes:
        self._settimeout(deadline)
        assert self._sock is not None
        try:
            return self._sock.recv(_RECV)
        except TimeoutError:
            raise HttpError(f"timed out after {self.timeout:g}s") from None

    def _readline(self, deadline: float, limit: int) -> bytes:
        while b"\r\n" not in self._buf:
            if len(self._buf) > limit:
                raise HttpError("response line too long")
            chunk = self._recv(deadline)
            if not chunk:
                raise HttpError("connection closed by server")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

    def _read_head(self, deadline: float) -> bytes:
        while b"\r\n\r\n" not in self._buf:
            if len(self._buf) > MAX_HEADER_BYTES:
                raise HttpError("response headers larger than 2 MiB")
            chunk = self._recv(deadline)
            if not chunk:
                if self._buf:
                    raise HttpError("connection closed by server in the middle of the headers")
                raise _EarlyClose("connection closed by server before a response")
            self._buf += chunk
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        return head

    def _read_exact(self, size: int, deadline: float) -> bytes:
        while len(self._buf) < size:
            chunk = self._recv(deadline)
            if not chunk:
                raise HttpError("connection closed by server in the middle of the body")
            self._buf += chunk
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def _connect(self, deadline: float) -> None:
        target = (self.proxy.host, self.proxy.port) if self.proxy else (self.host, self.port)
        try:
            sock = socket.create_connection(target, timeout=min(self.timeout, deadline - time.monotonic()))
        except TimeoutError:
            raise HttpError(f"connect to {target[0]}:{target[1]}: timed out") from None
        except socket.gaierror as exc:
            raise HttpError(f"lookup {target[0]}: {exc.strerror or exc}") from None
        except OSError as exc:
            raise HttpError(f"dial tcp {target[0]}:{target[1]}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._buf = sock, b""
        self.connects += 1
        if self.proxy is not None and self.context is not None:
            self._tunnel(deadline)
        if self.context is not None:
            try:
                self._settimeout(deadline)
                self._sock = self.context.wrap_socket(self._sock, server_hostname=self.host)
            except OSError as exc:  # ssl.SSLError is an OSError
                self.close()
                reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
                raise HttpError(f"TLS handshake with {self.host}:{self.port}: {reason}") from None

    def _tunnel(self, deadline: float) -> None:
        assert self.proxy is not None and self._sock is not None
        authority = host_header(self.host, self.port, tls=False)
        if ":" not in authority.rsplit("]", 1)[-1]:
            authority = f"{authority}:{self.port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if self.proxy.authorization:
            lines.append(f"Proxy-Authorization: {self.proxy.authorization}")
        self._sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), deadline)
        head = self._read_head(deadline).decode("latin-1")
        status_line = head.split("\r\n", 1)[0]
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].startswith("2"):
            self.close()
            raise HttpError(f"proxy {self.proxy.host}:{self.proxy.port} refused CONNECT: {status_line[:100]}")

    def _sendall(self, data: bytes, deadline: float) -> None:
        assert self._sock is not None
        self._settimeout(deadline)
        try:
            self._sock.sendall(data)
        except TimeoutError:
            raise HttpError(f"timed out after {self.timeout:g}s") from None

    def close(self) -> None:
        """Close the socket (the next request reconnects)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buf = b""

    # -- one exchange ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        deadline: float,
    ) -> RawResponse:
        """Send one request and read its whole response (reconnecting once if a kept-alive socket died)."""
        lines = [f"{method} {target} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (0, 1):
            reused = self._sock is not None
            if not reused:
                self._connect(deadline)
            try:
                self._sendall(data, deadline)
                return self._read_response(method, deadline)
            except (_EarlyClose, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if reused and attempt == 0:
                    continue  # the server dropped an idle kept-alive connection: retry once, fresh
                raise HttpError(str(exc) or "connection reset by server") from None
            except OSError as exc:
                self.close()
                raise HttpError(f"{exc.strerror or exc}") from None
            except HttpError:
                self.close()
                raise
        raise HttpError("connection closed by server")  # pragma: no cover

    def _read_response(self, method: str, deadline: float) -> RawResponse:
        while True:
            head = self._read_head(deadline)
            status_line, _, rest = head.partition(b"\r\n")
            parts = status_line.decode("latin-1").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise HttpError(f"malformed HTTP status line {status_line[:60]!r}")
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                continue  # 100 Continue and friends: the real answer follows
            break
        version, reason = parts[0], (parts[2] if len(parts) > 2 else "")
        headers: list[tuple[str, str]] = []
        for raw in rest.split(b"\r\n") if rest else []:
            if raw[:1] in (b" ", b"\t") and headers:  # obsolete line folding
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {raw.decode('latin-1').strip()}")
                continue
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise HttpError("malformed response header")
            headers.append((name, value.strip()))
        response = RawResponse(status, reason, headers, b"")
        connection = (response.header("Connection") or "").lower()
        keep = version == "HTTP/1.1" and "close" not in connection
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in (response.header("Transfer-Encoding") or "").lower():
            body = self._read_chunked(deadline)
        elif response.header("Content-Length") is not None:
            length_text = response.header("Content-Length") or ""
            if not length_text.isdigit():
                raise HttpError("malformed Content-Length")
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                raise HttpError("response larger than 1 MiB")
            body = self._read_exact(length, deadline)
        else:
            body = self._read_to_close(deadline)
            keep = False
        response.body = body
        if not keep:
            self.close()
        return response

    def _read_chunked(self, deadline: float) -> bytes:
        out = bytearray()
        while True:
            size_text = self._readline(deadline, 1024).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpError("malformed chunked encoding") from None
            if size == 0:
                while self._readline(deadline, 8192):  # trailers
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY_BYTES:
                raise HttpError("response larger than 1 MiB")
            out += self._read_exact(size, deadline)
            if self._read_exact(2, deadline) != b"\r\n":
                raise HttpError("malformed chunked encoding")

    def _read_to_close(self, deadline: float) -> bytes:
        out = bytearray(self._buf)
        self._buf = b""
        while True:
            if len(out) > MAX_BODY_BYTES:
                raise HttpError("response larger than 1 MiB")
            chunk = self._recv(deadline)
            if not chunk:
                return bytes(out)
            out += chunk


class _EarlyClose(HttpError):
    """The server closed before sending any response byte (retryable on a reused socket)."""
