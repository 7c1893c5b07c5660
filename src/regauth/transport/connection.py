"""One kept-alive HTTP/1.1 connection: ``http.client`` over a socket this module opens.

Rule: bytes on the wire only; no redirect, TLS-policy or auth decisions here (session.py makes them).

``http.client`` frames the exchange (status line, headers, Content-Length, chunked, 100 Continue,
keep-alive); this module adds what a login needs around it:

* a deadline per request: every send and receive gets the time left, so a server trickling a
  byte at a time cannot hold a login longer than the deadline;
* size caps: bodies over :data:`MAX_BODY_BYTES` are refused (read in bounded chunks, never
  whole); ``http.client`` caps header lines at 64 KiB and responses at 100 headers, and the
  bytes received before the end of the headers are counted against :data:`MAX_HEAD_BYTES`
  (interim ``100 Continue`` responses included), so a header block costs time linear in its
  size and no more than that cap;
* the TCP connect, the ``CONNECT`` tunnel through an HTTP proxy and the TLS handshake, in a
  background thread if :meth:`Connection.preconnect` asks for it, so they overlap other work;
* ``TCP_QUICKACK`` after every read where the platform has it (Linux): a kept-alive connection
  to a server that writes headers and body in separate segments would otherwise wait for the
  delayed ACK (tens of milliseconds) on each response.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from regauth.registry.messages import first_header
from regauth.transport.proxy import Proxy
from regauth.transport.tls import handshake_error

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEAD_BYTES",
    "Connection",
    "HttpError",
    "NotTlsError",
    "RawResponse",
    "host_header",
]

MAX_BODY_BYTES = 1 << 20
MAX_HEAD_BYTES = 1 << 20  # status line and headers of one response, interim responses included
_CHUNK = 1 << 16
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class HttpError(Exception):
    """A connection or protocol failure (message free of secrets)."""


class NotTlsError(HttpError):
    """The TLS handshake failed because the server does not speak TLS: it answered the ClientHello
    with bytes that are no TLS record, hung up, or said nothing before the deadline.

    Only this failure lets an insecure registry be tried over plain HTTP (docs/registry-auth.md);
    a server that answered in TLS and refused (an alert, an old protocol, a certificate that does
    not verify) is never retried in clear.
    """


class _HeadTooLarge(Exception):
    """More than :data:`MAX_HEAD_BYTES` received before the end of a response's headers."""


# OpenSSL reasons for a first record that is no TLS at all (a plain-HTTP server answering)
_NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "HTTP_REQUEST",
        "UNKNOWN_PROTOCOL",
    }
)


def _speaks_no_tls(exc: BaseException) -> bool:
    """True if a handshake failure shows the server does not speak TLS (see :class:`NotTlsError`)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False
    if isinstance(exc, (TimeoutError, ssl.SSLEOFError, ConnectionError)):
        return True
    return isinstance(exc, ssl.SSLError) and exc.reason in _NOT_TLS_REASONS


@dataclass(frozen=True, slots=True)
class RawResponse:
    """Status, reason, every header (repeats kept, in order) and the body."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(default=b"", repr=False)

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None."""
        return first_header(self.headers, name)


def host_header(host: str, port: int, tls: bool) -> str:
    """``Host`` value: IPv6 bracketed, IDNA for non-ASCII names, default port omitted."""
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if tls else 80) else f"{shown}:{port}"


class _Wire:
    """A connected socket (plain or TLS) whose sends and receives all end by ``deadline``.

    ``http.client`` reads through :meth:`makefile`; like :class:`socket.socket`, the socket is
    closed when both :meth:`close` was called and every file made from it is closed.
    """

    def __init__(self, sock: socket.socket, timeout: float, deadline: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.deadline = deadline
        self._files = 0
        self._closed = False
        self.head_budget: int | None = None  # bytes still allowed before the headers end; None: no cap

    def arm(self) -> None:
        """Give the next socket operation the time left (at most ``timeout``); TimeoutError if none."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self.sock.settimeout(min(self.timeout, remaining))

    def sendall(self, data: bytes) -> None:
        self.arm()
        self.sock.sendall(data)

    def recv_into(self, buffer: memoryview) -> int:
        self.arm()
        count = self.sock.recv_into(buffer)
        if self.head_budget is not None:
            self.head_budget -= count
            if self.head_budget < 0:
                raise _HeadTooLarge
        if _QUICKACK is not None:
            with contextlib.suppress(OSError):  # a socket the peer already closed
                self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        return count

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"unsupported mode {mode!r}")
        self._files += 1
        return io.BufferedReader(_WireReader(self))

    def file_closed(self) -> None:
        self._files -= 1
        if self._closed and self._files <= 0:
            self.sock.close()

    def close(self) -> None:
        self._closed = True
        if self._files <= 0:
            self.sock.close()


class _WireReader(io.RawIOBase):
    def __init__(self, wire: _Wire) -> None:
        self._wire: _Wire | None = wire

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        assert self._wire is not None
        return self._wire.recv_into(buffer)

    def close(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.file_closed()
        super().close()


class _Client(http.client.HTTPConnection):
    """``http.client`` over the socket of its :class:`Connection` (TCP, tunnel, TLS opened there)."""

    def __init__(self, owner: Connection) -> None:
        super().__init__(owner.host, owner.port, timeout=owner.timeout)
        self.owner = owner

    def connect(self) -> None:
        self.sock = self.owner.open(time.monotonic() + self.owner.timeout)


@dataclass(slots=True)
class _Attempt:
    """One background connect: its result, and whether its owner stopped waiting for it."""

    done: threading.Event = field(default_factory=threading.Event)
    wire: _Wire | None = None
    error: HttpError | None = None
    abandoned: bool = False


def _retryable(exc: BaseException) -> bool:
    """A failure of a kept-alive socket the server closed while idle (nothing was answered)."""
    return isinstance(exc, (ConnectionError, ssl.SSLEOFError))


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
        self.connects = 0  # TCP connections opened (tests and benchmarks read it)
        self.preconnected = False  # a request used the socket a preconnect() opened
        try:
            self._client = _Client(self)
        except (ValueError, http.client.HTTPException):  # http.client refuses control characters
            raise HttpError(f"invalid host name {host!r}") from None
        self._lock = threading.Lock()
        self._attempt: _Attempt | None = None

    def __repr__(self) -> str:
        return f"Connection({'https' if self.context else 'http'}://{self.host}:{self.port})"

    # -- opening ---------------------------------------------------------------------------

    def open(self, deadline: float) -> _Wire:
        """TCP connect, proxy tunnel and TLS handshake, all by ``deadline``; nothing half-made is
        left open when one fails.

        Raises:
            HttpError: with a one-line message naming the host.
        """
        host, port = (self.proxy.host, self.proxy.port) if self.proxy else (self.host, self.port)
        try:
            timeout = max(0.001, min(self.timeout, deadline - time.monotonic()))
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError:
            raise HttpError(f"connect to {host}:{port}: timed out after {self.timeout:g}s") from None
        except socket.gaierror as exc:
            raise HttpError(f"lookup {host}: {exc.strerror or exc}") from None
        except UnicodeError:
            raise HttpError(f"lookup {host}: not a valid host name") from None
        except OSError as exc:
            raise HttpError(f"dial tcp {host}:{port}: {exc.strerror or exc}") from None
        with self._lock:
            self.connects += 1
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            wire = _Wire(sock, self.timeout, deadline)
            if self.proxy is not None and self.context is not None:
                self._tunnel(wire, self.proxy)
            if self.context is None:
                return wire
            try:
                wire.arm()
                tls = self.context.wrap_socket(sock, server_hostname=self.host)
            except (OSError, ValueError) as exc:  # ssl.SSLError, certificate errors, deadline, bad name
                reason = handshake_error(exc)
                if isinstance(exc, TimeoutError):
                    reason = f"timed out after {self.timeout:g}s"
                kind = NotTlsError if _speaks_no_tls(exc) else HttpError
                raise kind(f"TLS handshake with {self.host}:{self.port}: {reason}") from None
            return _Wire(tls, self.timeout, deadline)
        except BaseException:
            sock.close()
            raise

    def _tunnel(self, wire: _Wire, proxy: Proxy) -> None:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        authority = f"{shown}:{self.port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        where = f"proxy {proxy.host}:{proxy.port}"
        response = None
        try:
            wire.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            response = http.client.HTTPResponse(wire, method="CONNECT")  # type: ignore[arg-type]
            response.begin()
        except TimeoutError:
            raise HttpError(f"{where}: timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            raise HttpError(f"{where}: no answer to CONNECT ({type(exc).__name__})") from None
        finally:
            if response is not None:
                response.close()  # the reader only: the tunnel goes on
        if not 200 <= response.status < 300:
            raise HttpError(f"{where} refused CONNECT: {response.status} {response.reason[:80]}")

    def preconnect(self) -> None:
        """Open the connection (TCP, proxy tunnel, TLS handshake) in a background thread.

        Nothing is sent but the handshakes.  :meth:`request` waits for it, then uses the socket or
        raises the error the connect met (once: no second attempt at a host that just failed).
        :meth:`close` does not wait: the thread closes what it opened.
        """
        with self._lock:
            if self._client.sock is not None or self._attempt is not None:
                return
            attempt = self._attempt = _Attempt()
        deadline = time.monotonic() + self.timeout
        threading.Thread(target=self._background, args=(attempt, deadline), daemon=True).start()

    def _background(self, attempt: _Attempt, deadline: float) -> None:
        wire, error = None, None
        try:
            wire = self.open(deadline)
        except HttpError as exc:
            error = exc
        except Exception as exc:  # reported by request(), in this thread's stead
            error = HttpError(f"connect to {self.host}:{self.port}: {exc}")
        with self._lock:
            if attempt.abandoned:
                if wire is not None:
                    wire.close()
            else:
                attempt.wire, attempt.error = wire, error
            attempt.done.set()

    def _await_preconnect(self) -> None:
        attempt = self._attempt
        if attempt is None:
            return
        attempt.done.wait()  # bounded by the connect deadline
        with self._lock:
            self._attempt = None
        self.preconnected = attempt.wire is not None
        if attempt.wire is not None:
            self._client.sock = attempt.wire
        if attempt.error is not None:
            raise attempt.error

    def close(self) -> None:
        """Close the socket (the next request reconnects); a running preconnect is abandoned."""
        with self._lock:
            attempt, self._attempt = self._attempt, None
            if attempt is not None:
                attempt.abandoned = True
                if attempt.wire is not None:
                    attempt.wire.close()
        self._client.close()

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
        """Send one request and read its whole response (reconnecting once if a kept-alive socket died).

        ``headers`` must hold ``Host``; ``Content-Length`` is added.

        Raises:
            HttpError: a connect, TLS, framing or size failure, or the deadline passed.
        """
        self._await_preconnect()
        for attempt in (0, 1):
            reused = self._client.sock is not None
            wire = self._client.sock if reused else self.open(deadline)
            assert isinstance(wire, _Wire)
            wire.deadline = deadline
            self._client.sock = wire
            try:
                try:
                    self._send(method, target, headers, body)
                    wire.head_budget = MAX_HEAD_BYTES
                    response = self._client.getresponse()
                    wire.head_budget = None
                except Exception as exc:
                    if reused and attempt == 0 and _retryable(exc):
                        self.close()
                        continue  # the server dropped an idle kept-alive connection: retry once, fresh
                    raise
                return _read(response, method)
            except BaseException as exc:
                self.close()
                if isinstance(exc, Exception) and not isinstance(exc, HttpError):
                    raise _http_error(exc, self.timeout) from None
                raise
        raise HttpError("connection closed by server")  # pragma: no cover

    def _send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> None:
        client = self._client
        try:
            client.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        except (ValueError, http.client.HTTPException):
            raise HttpError("the request target holds a space or control character") from None
        for name, value in headers:
            try:
                client.putheader(name, value)
            except (ValueError, UnicodeError):  # the message would repeat the value: it may be secret
                raise HttpError(f"invalid value for request header {name}") from None
        if body or method in ("POST", "PUT", "PATCH"):
            client.putheader("Content-Length", str(len(body)))
        client.endheaders(body or None)  # headers and body in one write


def _read(response: http.client.HTTPResponse, method: str) -> RawResponse:
    """The whole response, the body read in bounded chunks; the response is closed after."""
    try:
        return _read_open(response, method)
    finally:
        response.close()


def _read_open(response: http.client.HTTPResponse, method: str) -> RawResponse:
    if response.msg.defects:
        raise HttpError("malformed response header")
    headers = tuple((name, _unfold(value)) for name, value in response.getheaders())
    has_body = method != "HEAD" and response.status not in (204, 304) and response.status >= 200
    length_text = response.getheader("Content-Length")
    chunked = "chunked" in (response.getheader("Transfer-Encoding") or "").lower()
    length: int | None = None
    if has_body and length_text is not None and not chunked:
        if not length_text.strip().isdigit():
            raise HttpError("malformed Content-Length")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise HttpError("response larger than 1 MiB")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HttpError("response larger than 1 MiB")
        chunks.append(chunk)
    if length is not None and size < length:
        raise HttpError("connection closed by server in the middle of the body")
    return RawResponse(response.status, response.reason, headers, b"".join(chunks))


def _unfold(value: str) -> str:
    """A header value with obsolete line folding (CRLF + whitespace) joined by one space."""
    if "\n" not in value:
        return value
    return " ".join(line.strip() for line in value.splitlines() if line.strip())


def _http_error(exc: Exception, timeout: float) -> HttpError:
    """The one-line HttpError for what ``http.client`` or the socket raised during an exchange."""
    if isinstance(exc, TimeoutError):
        return HttpError(f"timed out after {timeout:g}s")
    if isinstance(exc, _HeadTooLarge):
        return HttpError("response headers larger than 1 MiB")
    if isinstance(exc, http.client.RemoteDisconnected):
        return HttpError("connection closed by server before a response")
    if isinstance(exc, http.client.IncompleteRead):
        return HttpError("connection closed by server in the middle of the body")
    if isinstance(exc, http.client.LineTooLong):
        return HttpError("response header line larger than 64 KiB")
    if isinstance(exc, http.client.HTTPException) and "more than 100 headers" in str(exc):
        return HttpError("more than 100 response headers")
    if isinstance(exc, http.client.BadStatusLine):
        return HttpError(f"malformed HTTP status line {str(exc)[:60]}")
    if isinstance(exc, http.client.HTTPException):
        return HttpError(f"malformed response: {str(exc)[:100] or type(exc).__name__}")
    if isinstance(exc, ConnectionError):
        return HttpError(f"{exc.strerror or 'connection reset'} (by server)")
    if isinstance(exc, OSError):
        return HttpError(exc.strerror or str(exc) or type(exc).__name__)
    return HttpError(f"{type(exc).__name__}: {exc}")
