"""A lean HTTP/1.1 keep-alive connection pool for the Odyssey client (one origin, one endpoint).

``KeepAlivePool`` holds at most ``size`` connections; its slots are the client's concurrency
bound. Each connection is an asyncio protocol that writes a request in one send and parses the
reply off the socket (status line, headers, Content-Length or chunked body, gzip/deflate, 1xx,
``Connection: close``; replies capped at 64 MB decoded). The client speaks to exactly one SOAP
endpoint, so httpx's general machinery (per-call URL and header objects, httpcore/h11 event
layers, anyio streams, auth, redirect and cookie hooks) cost more CPU than everything else in a
call; httpx still supplies the TLS context (certifi CAs, verification on) and the exception
types the retry policy reads. Proxies are not used: connections go straight to the origin.
"""

from __future__ import annotations

import asyncio
import collections
import os
import ssl
import zlib
from dataclasses import dataclass

import httpx


def ssl_context_for(verify: bool | str) -> ssl.SSLContext:
    """TLS as httpx sets it up (certifi CAs, or SSL_CERT_FILE / the given CA bundle);
    verification stays on unless explicitly turned off."""
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


# --- the connection pool ------------------------------------------------------------------
@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed to open a connection, to receive a whole reply, to wait for a slot."""

    connect: float | None = 30.0
    read: float | None = 30.0
    pool: float | None = 30.0


@dataclass(frozen=True)
class HTTPReply:
    """A complete HTTP reply: status, headers (lower-case names) and the decoded body."""

    status: int
    headers: dict[str, str]
    body: bytes


_MAX_HEAD = 1 << 16
_MAX_BODY = 64 << 20  # decoded; a reply (or a decompression bomb) beyond this is refused


def _decode_body(body: bytes, encoding: str) -> bytes:
    """Undo ``Content-Encoding`` gzip/deflate, refusing anything larger than _MAX_BODY."""
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise httpx.DecodingError(f"unsupported Content-Encoding {encoding!r}")
    wbits = zlib.MAX_WBITS | 32 if encoding != "deflate" else zlib.MAX_WBITS
    try:
        try:
            inflater = zlib.decompressobj(wbits)
            out = inflater.decompress(body, _MAX_BODY)
        except zlib.error:
            if encoding != "deflate":
                raise
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            out = inflater.decompress(body, _MAX_BODY)
    except zlib.error as exc:
        raise httpx.DecodingError(f"bad {encoding} body: {exc}") from None
    if inflater.unconsumed_tail:
        raise httpx.DecodingError("decoded reply body is too large")
    return out


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A complete chunked body from ``buffer[start:]``: (body, end offset), None if partial."""
    parts: list[bytes] = []
    pos = start
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buffer[pos:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise httpx.RemoteProtocolError("bad chunk size in the reply") from None
        pos = eol + 2
        if size == 0:
            trailers_end = buffer.find(b"\r\n", pos)
            while trailers_end > pos:  # skip trailer lines up to the empty line
                pos = trailers_end + 2
                trailers_end = buffer.find(b"\r\n", pos)
            if trailers_end < 0:
                return None
            return b"".join(parts), trailers_end + 2
        if len(buffer) < pos + size + 2:
            return None
        parts.append(bytes(buffer[pos : pos + size]))
        pos += size + 2


@dataclass
class _Job:
    """One queued or in-flight exchange: the request bytes and the future of its reply."""

    data: bytes
    future: asyncio.Future[HTTPReply]
    timer: asyncio.TimerHandle | None = None  # the pool timeout while queued


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection: one exchange at a time, the reply parsed as it
    arrives (status line, headers, Content-Length or chunked body) straight off the socket.

    When a reply is complete the connection resolves its job and hands itself back to the
    pool in the same I/O callback, which writes the next queued request at once: the
    connection never waits for the event loop to get round to the task that made a call.
    """

    def __init__(self, pool: KeepAlivePool, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._job: _Job | None = None
        self._head: tuple[int, dict[str, str], int] | None = None  # status, headers, body at
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0

    # asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._pool._open_connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._pool._open_connections.discard(self)
        self.closed = True
        self.reusable = False
        self._transport = None
        if self._job is not None:
            if exc is None:
                error: Exception = httpx.RemoteProtocolError(
                    "Server disconnected without sending a response."
                )
            else:
                error = httpx.ReadError(str(exc) or type(exc).__name__)
            self._fail(error)

    def data_received(self, data: bytes) -> None:
        if self._job is None:
            self.close()  # bytes nobody asked for: this connection cannot be trusted again
            return
        self._buffer += data
        try:
            if len(self._buffer) > _MAX_HEAD + _MAX_BODY:
                raise httpx.RemoteProtocolError("reply too large")
            self._parse()
        except httpx.HTTPError as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost fails any pending exchange

    # exchange -----------------------------------------------------------------------------
    def usable(self) -> bool:
        return (
            not self.closed
            and self.reusable
            and self._loop.time() - self.idle_since < self._pool.keepalive_expiry
        )

    def start(self, job: _Job) -> None:
        """Send a job's request (one write); its future gets the whole reply."""
        self._job = job
        self.reusable = False
        self._buffer.clear()
        self._head = None
        read_timeout = self._pool.timeouts.read
        if read_timeout is not None:
            self._timer = self._loop.call_later(read_timeout, self._timed_out)
        assert self._transport is not None
        self._transport.write(job.data)

    def close(self) -> None:
        self.closed = True
        self.reusable = False
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self.closed = True
        self.reusable = False
        if self._transport is not None:
            self._transport.abort()

    def _timed_out(self) -> None:
        self._timer = None
        self._fail(httpx.ReadTimeout("timed out waiting for the reply"))

    def _finish_job(self) -> _Job | None:
        job, self._job = self._job, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._buffer.clear()
        self._head = None
        return job

    def _fail(self, error: Exception) -> None:
        job = self._finish_job()
        self.abort()
        if job is not None:
            if not job.future.done():
                job.future.set_exception(error)
            self._pool._released(self)

    def _parse(self) -> None:
        buffer = self._buffer
        if self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    raise httpx.RemoteProtocolError("reply head too large")
                return
            self._head = self._read_head(bytes(buffer[:end]).decode("latin-1"), end + 4)
            if self._head[0] < 200:  # 100 Continue and friends: the real reply follows
                del buffer[: end + 4]
                self._head = None
                self._parse()
                return
        status, headers, at = self._head
        if "chunked" in headers.get("transfer-encoding", "").lower():
            found = _dechunk(buffer, at)
            if found is None:
                return
            body, end = found
        elif status in (204, 304):
            body, end = b"", at
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise httpx.RemoteProtocolError("bad Content-Length in the reply") from None
            if length > _MAX_BODY:
                raise httpx.RemoteProtocolError("reply too large")
            if len(buffer) < at + length:
                return
            body, end = bytes(buffer[at : at + length]), at + length
        else:
            raise httpx.RemoteProtocolError("reply without a length (read-until-close refused)")
        if len(buffer) != end:
            raise httpx.RemoteProtocolError("more bytes than the reply announced")
        body = _decode_body(body, headers.get("content-encoding", "").strip().lower())
        keep_alive = headers.get("connection", "").lower() != "close"
        self._complete(HTTPReply(status, headers, body), keep_alive)

    @staticmethod
    def _read_head(head: str, body_at: int) -> tuple[int, dict[str, str], int]:
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise httpx.RemoteProtocolError(f"not an HTTP/1.x reply: {lines[0][:80]!r}")
        try:
            status = int(parts[1])
        except ValueError:
            raise httpx.RemoteProtocolError(f"bad status line {lines[0][:80]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise httpx.RemoteProtocolError("malformed header line in the reply")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        if parts[0] == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
            headers["connection"] = "close"
        return status, headers, body_at

    def _complete(self, reply: HTTPReply, keep_alive: bool) -> None:
        job = self._finish_job()
        if keep_alive and not self.closed:
            self.reusable = True
            self.idle_since = self._loop.time()
        else:
            self.close()
        if job is not None:
            if not job.future.done():
                job.future.set_result(reply)
            self._pool._released(self)


class KeepAlivePool:
    """One pool of at most ``size`` HTTP/1.1 keep-alive connections to one origin, LIFO.

    ``send`` queues a request (FIFO; ``urgent`` ones first) and waits for its reply. At most
    ``size`` exchanges are in flight. A connection whose reply is complete writes the next
    queued request itself, from the I/O callback; otherwise a request takes the most recently
    used idle connection that is still usable (not closed by the server, keep-alive not
    expired, last reply complete) or opens a new one (TLS verified with ``ssl_context``). A
    connection that timed out, failed or saw a malformed reply is closed, never reused. A
    request still queued after ``Timeouts.pool`` fails with ``httpx.PoolTimeout``.
    """

    def __init__(
        self,
        origin: str,
        size: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float = 5.0,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        url = httpx.URL(origin)
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self.host = url.host
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.tls = url.scheme == "https"
        if self.tls and ssl_context is None:
            ssl_context = httpx.create_ssl_context()  # certifi CAs, verification on
        self.size = size
        self._ssl_context = ssl_context if self.tls else None
        self.keepalive_expiry = keepalive_expiry
        self.timeouts = timeouts
        self._queue: collections.deque[_Job] = collections.deque()
        self._idle: collections.deque[_Connection] = collections.deque()
        self._active = 0  # exchanges in flight or connections being opened for one
        self._tasks: set[asyncio.Task[None]] = set()
        self._open_connections: set[_Connection] = set()
        self.opened = 0  # connections opened over the pool's life (keep-alive proof)
        self.peak_in_flight = 0
        default_port = self.port == (443 if self.tls else 80)
        self.host_header = self.host if default_port else f"{self.host}:{self.port}"

    def request_head(self, method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
        """A request's head up to (not including) its Content-Length line, built once and
        reused for every call with the same headers."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")

    async def send(self, head: bytes, body: bytes = b"", *, urgent: bool = False) -> HTTPReply:
        """One exchange: ``head`` (from ``request_head``) plus the body, on a pooled
        connection. ``urgent`` requests jump the queue (e.g. pages that discover more work)."""
        loop = asyncio.get_running_loop()
        job = _Job(
            b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body), loop.create_future()
        )
        if self._active < self.size:
            self._active += 1
            self.peak_in_flight = max(self.peak_in_flight, self._active)
            self._dispatch(job)
        else:
            if urgent:
                self._queue.appendleft(job)
            else:
                self._queue.append(job)
            if self.timeouts.pool is not None:
                job.timer = loop.call_later(self.timeouts.pool, self._expire, job)
        return await job.future  # cancelling the caller leaves the exchange to complete

    def _expire(self, job: _Job) -> None:
        job.timer = None
        try:
            self._queue.remove(job)
        except ValueError:
            return
        if not job.future.done():
            job.future.set_exception(httpx.PoolTimeout("no free connection in the pool"))

    def _dispatch(self, job: _Job) -> None:
        """Start ``job`` on a usable idle connection, or open one for it (slot already held)."""
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                conn.start(job)
                return
            conn.close()
        task = asyncio.get_running_loop().create_task(self._open_for(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open_for(self, job: _Job) -> None:
        try:
            conn = await self._open()
        except (httpx.HTTPError, asyncio.CancelledError) as exc:
            if not job.future.done():
                if isinstance(exc, asyncio.CancelledError):
                    job.future.cancel()
                else:
                    job.future.set_exception(exc)
            self._slot_free()
            return
        if job.future.done():  # the caller went away while the connection was opening
            conn.reusable, conn.idle_since = True, asyncio.get_running_loop().time()
            self._released(conn)
            return
        conn.start(job)

    def _released(self, conn: _Connection) -> None:
        """A connection finished its exchange (well or not): give its slot to the next job."""
        if conn.reusable:
            self._idle.append(conn)
        self._slot_free()

    def _slot_free(self) -> None:
        while self._queue:
            job = self._queue.popleft()
            if job.timer is not None:
                job.timer.cancel()
                job.timer = None
            if not job.future.done():  # a cancelled caller's request is never sent
                self._dispatch(job)
                return
        self._active -= 1

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        self.opened += 1
        try:
            async with asyncio.timeout(self.timeouts.connect):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self, loop),
                    self.host,
                    self.port,
                    ssl=self._ssl_context,
                    server_hostname=self.host if self.tls else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out opening a connection") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return conn

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._idle.clear()
        for conn in list(self._open_connections):
            conn.close()
        while self._queue:
            job = self._queue.popleft()
            if not job.future.done():
                job.future.set_exception(httpx.PoolTimeout("the pool was closed"))


