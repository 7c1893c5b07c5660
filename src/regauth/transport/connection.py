"""A small HTTP/1.1 client connection over ``_socket``/``_ssl``: keep-alive, proxies, deadlines, caps.

Rule: bytes on the wire only; no redirect, TLS-policy or auth decisions here (``_transport`` makes them).
Why not ``http.client`` or ``requests``: importing them costs 50-200 ms, more than a whole Docker login
(issue 6); a registry login needs only GET/POST with Content-Length or chunked bodies.  Why the C
modules ``_socket``/``_ssl`` rather than ``socket``/``ssl``: those two import enum, re, selectors,
base64, struct and warnings, about 40 ms here (issue 6).  Where ``_ssl`` does not offer what CPython's
does (another interpreter), :func:`direct_tls` is False and the ``ssl`` module is used instead.
"""

from __future__ import annotations

import _socket
import _thread
import sys
import time

from regauth.registry.messages import first_header

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _ssl import _SSLContext
    from typing import Protocol

    class _Stream(Protocol):
        def settimeout(self, value: float | None, /) -> None: ...
        def sendall(self, data: bytes, /) -> None: ...
        def recv(self, size: int, /) -> bytes: ...
        def close(self) -> None: ...

    class _TlsObject(Protocol):  # _ssl._SSLSocket (no stub)
        def do_handshake(self) -> None: ...
        def read(self, size: int, /) -> bytes: ...
        def write(self, data: memoryview, /) -> int: ...

__all__ = [
    "Connection",
    "HttpError",
    "Proxy",
    "RawResponse",
    "client_context",
    "direct_tls",
    "encode_host",
]

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
        """First value of header ``name`` (case-insensitive), or None."""
        return first_header(self.headers, name)


def host_header(host: str, port: int, tls: bool) -> str:
    """``Host`` value: IPv6 bracketed, default port omitted."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if tls else 80) else f"{shown}:{port}"


def encode_host(host: str) -> bytes:
    """``host`` as the ``idna`` codec encodes it (what ``socket``/``ssl`` send to the resolver and
    as SNI), without loading ``encodings.idna`` for ASCII names (non-ASCII ones load it: rare).

    Raises:
        UnicodeError: an empty or over-long label, or a name IDNA cannot encode (the codec's error).
    """
    if host.isascii():
        labels = host.split(".")
        if all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64:
            return host.encode("ascii")
    return host.encode("idna")


_DIRECT_TLS: bool | None = None  # decided once by direct_tls(); tests set False to force the fallback


def direct_tls() -> bool:
    """True when ``_ssl._SSLContext._wrap_socket`` has CPython's signature: TLS without ``ssl.py``.

    Otherwise (PyPy, a future CPython) TLS goes through the ``ssl`` module, imported then.
    """
    global _DIRECT_TLS
    if _DIRECT_TLS is None:
        try:
            import _ssl
        except ImportError:
            _DIRECT_TLS = False
        else:
            wrap = getattr(_ssl._SSLContext, "_wrap_socket", None)
            signature = getattr(wrap, "__text_signature__", None) or ""
            _DIRECT_TLS = signature.replace(" ", "").replace("\n", "").startswith(
                "($self,/,sock,server_side,server_hostname=None,*,owner=None,session=None)"
            ) and all(hasattr(_ssl, name) for name in ("SSLZeroReturnError", "SSLEOFError"))
    return _DIRECT_TLS


def client_context() -> _SSLContext:
    """A new TLS client context (``PROTOCOL_TLS_CLIENT``: hostname check and verification on).

    An ``_ssl._SSLContext`` on the direct path, an ``ssl.SSLContext`` (a subclass) otherwise or on
    Windows (where the system store is read by ``ssl.SSLContext.load_default_certs``).
    """
    if direct_tls() and sys.platform != "win32":
        import _ssl

        return _ssl._SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    import ssl

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _Sock(_socket.socket):
    """A plain ``_socket.socket`` that ``_ssl`` can hold a weak reference to."""

    __slots__ = ("__weakref__",)


class _TlsStream:
    """A TLS connection made with ``_ssl`` directly: the socket and its ``_ssl._SSLSocket``."""

    __slots__ = ("_eof", "_sock", "_tls")

    def __init__(self, sock: _Sock, context: _SSLContext, server_hostname: str) -> None:
        import _ssl

        self._sock = sock  # _ssl only holds a weak reference to it
        self._eof = (_ssl.SSLZeroReturnError, _ssl.SSLEOFError)
        self._tls: _TlsObject = context._wrap_socket(sock, False, server_hostname)  # type: ignore[attr-defined]
        self._tls.do_handshake()

    def settimeout(self, value: float | None, /) -> None:
        self._sock.settimeout(value)

    def sendall(self, data: bytes, /) -> None:
        view = memoryview(data)
        while view:
            view = view[self._tls.write(view) :]

    def recv(self, size: int, /) -> bytes:
        try:
            return self._tls.read(size)
        except self._eof:  # close_notify, or a TCP close without one (ssl's suppress_ragged_eofs)
            return b""

    def close(self) -> None:
        self._sock.close()


def _open_tcp(host: str, port: int, timeout: float) -> _Sock:
    """``socket.create_connection``: each resolved address in turn; the last error is raised."""
    infos = _socket.getaddrinfo(encode_host(host), port, 0, _socket.SOCK_STREAM)
    error: OSError = OSError("getaddrinfo returns an empty list")
    for family, kind, proto, _name, address in infos:
        sock = None
        try:
            sock = _Sock(family, kind, proto)
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
            continue
        return sock
    raise error


class Connection:
    """One keep-alive connection to ``host:port`` (through ``proxy`` if given), TLS when ``context``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        context: _SSLContext | None,
        timeout: float,
        proxy: Proxy | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.context = context
        self.timeout = timeout
        self.proxy = proxy
        self._sock: _Stream | None = None
        self._buf = b""
        self.connects = 0
        self._pending: _thread.LockType | None = None  # held while a preconnect() runs
        self._failed: HttpError | None = None  # how the last preconnect() failed
        self._abandoned = False
        self.preconnected = False  # a request used the socket a preconnect() opened

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

    def preconnect(self) -> None:
        """Open the connection (TCP, proxy tunnel, TLS handshake) in a background thread.

        Nothing is sent but the handshake.  :meth:`request` waits for it, then uses the socket or
        raises the error the connect met (once: no second attempt at a host that just failed).
        :meth:`close` does not wait: the thread closes what it opened.
        """
        if self._sock is not None or self._pending is not None:
            return
        done = _thread.allocate_lock()
        done.acquire()
        self._pending = done
        deadline = time.monotonic() + self.timeout

        def run() -> None:
            try:
                self._connect(deadline)
            except HttpError as exc:
                self._failed = exc
            except Exception as exc:  # reported by request(), in this thread's stead
                self._failed = HttpError(f"connect to {self.host}:{self.port}: {exc}")
            finally:
                if self._abandoned:
                    self._close_socket()
                done.release()

        _thread.start_new_thread(run, ())

    def _await_preconnect(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.acquire()  # bounded by the connect timeout
            self.preconnected = self._sock is not None
            failed, self._failed = self._failed, None
            if failed is not None:
                raise failed

    def _connect(self, deadline: float) -> None:
        target = (self.proxy.host, self.proxy.port) if self.proxy else (self.host, self.port)
        try:
            sock = _open_tcp(target[0], target[1], min(self.timeout, deadline - time.monotonic()))
        except TimeoutError:
            raise HttpError(f"connect to {target[0]}:{target[1]}: timed out") from None
        except _socket.gaierror as exc:
            raise HttpError(f"lookup {target[0]}: {exc.strerror or exc}") from None
        except OSError as exc:
            raise HttpError(f"dial tcp {target[0]}:{target[1]}: {exc.strerror or exc}") from None
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)  # else 40 ms per request (delayed ACK)
        self._sock, self._buf = sock, b""
        self.connects += 1
        try:
            if self.proxy is not None and self.context is not None:
                self._tunnel(deadline)
            if self.context is not None:
                try:
                    self._settimeout(deadline)
                    self._sock = self._wrap(sock, self.context)
                except OSError as exc:  # _ssl.SSLError is an OSError
                    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
                    raise HttpError(f"TLS handshake with {self.host}:{self.port}: {reason}") from None
        except BaseException:  # never leave a half-made (say, not yet TLS) socket behind
            self._close_socket()
            raise

    def _wrap(self, sock: _Sock, context: _SSLContext) -> _Stream:
        """The TLS handshake over ``sock`` (its timeout applies), SNI from ``self.host``."""
        if direct_tls():
            hostname = encode_host(self.host).decode("ascii")  # as ssl.py encodes it (IDNA)
            return _TlsStream(sock, context, hostname)
        import ssl

        if not isinstance(context, ssl.SSLContext):
            raise TypeError("without direct _ssl support the context must be an ssl.SSLContext")
        return context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[arg-type]

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
        pending = self._pending
        if pending is not None:
            if not pending.acquire(False):  # a preconnect() still runs: it closes its socket
                self._abandoned = True
                return
            self._pending = None
        self._close_socket()

    def _close_socket(self) -> None:
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
        self._await_preconnect()
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
