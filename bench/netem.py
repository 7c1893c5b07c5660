"""Rule: a user-space TCP proxy on 127.0.0.1 that delays every chunk by RTT/2 each way and counts.

``tc netem`` is not available on the bench machine, so a link with a given round-trip time is
emulated here.  Each chunk read from one side is written to the other side half an RTT later
(order kept, chunks pipelined, no bandwidth limit).  Because the client's TCP handshake with the
proxy completes locally, the first client chunk of each connection also waits one extra RTT: that
is the SYN/SYN-ACK round trip a real link would charge before the client could send anything.
The proxy counts TCP connections and TLS ClientHellos (a connection whose first client bytes are
a TLS handshake record); it never decrypts anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass

__all__ = ["DelayProxy", "ProxyCounters"]

_CHUNK = 65536


@dataclass(frozen=True)
class ProxyCounters:
    """Cumulative counters of one proxy."""

    connections: int
    tls_handshakes: int
    bytes_up: int
    bytes_down: int


class DelayProxy:
    """TCP proxy ``127.0.0.1:port`` → ``upstream`` adding ``rtt`` of latency per round trip.

    Start it before the server behind it when the server must know the proxy's address
    (``start()`` binds and returns the port; set :attr:`upstream` afterwards).
    """

    def __init__(
        self,
        rtt: float,
        upstream: tuple[str, int] | None = None,
        *,
        connect_rtt: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.rtt = rtt
        self.upstream = upstream
        self.connect_rtt = connect_rtt
        self.host = host
        self.port = 0
        self._connections = 0
        self._tls = 0
        self._up = 0
        self._down = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> int:
        """Bind the listening socket and serve in a background thread; return the port."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="delay-proxy", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, self.host, 0), loop)
        self._server = future.result(timeout=10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def stop(self) -> None:
        """Close the listener and every open connection, stop the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def _shutdown() -> None:
            if self._server is not None:
                self._server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 1.0)
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None
        self._server = None

    def __enter__(self) -> DelayProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT`` of the listening side."""
        return f"{self.host}:{self.port}"

    def counters(self) -> ProxyCounters:
        """Snapshot of the cumulative counters."""
        with self._lock:
            return ProxyCounters(self._connections, self._tls, self._up, self._down)

    # -- data path --------------------------------------------------------------------------
    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        with self._lock:
            self._connections += 1
        upstream = self.upstream
        if upstream is None:
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*upstream)
        except OSError:
            client_w.close()
            return
        half = self.rtt / 2
        first_extra = self.rtt if self.connect_rtt else 0.0
        try:
            await asyncio.gather(
                self._pump(client_r, server_w, half, first_extra, up=True),
                self._pump(server_r, client_w, half, 0.0, up=False),
            )
        finally:
            for writer in (client_w, server_w):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        delay: float,
        first_extra: float,
        *,
        up: bool,
    ) -> None:
        """Copy reader → writer, each chunk released ``delay`` after it was read (order kept)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read_side() -> None:
            first = True
            while True:
                try:
                    data = await reader.read(_CHUNK)
                except (OSError, asyncio.IncompleteReadError):
                    data = b""
                due = loop.time() + delay + (first_extra if first else 0.0)
                if first and up and data[:2] == b"\x16\x03":
                    with self._lock:
                        self._tls += 1
                first = False
                with self._lock:
                    if up:
                        self._up += len(data)
                    else:
                        self._down += len(data)
                await queue.put((due, data))
                if not data:
                    return

        async def write_side() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    if not data:
                        if writer.can_write_eof():
                            writer.write_eof()
                        return
                    writer.write(data)
                    await writer.drain()
                except (OSError, RuntimeError):
                    return

        reader_task = asyncio.ensure_future(read_side())
        try:
            await write_side()
        finally:
            if not reader_task.done():
                reader_task.cancel()
            with contextlib.suppress(BaseException):
                await reader_task
