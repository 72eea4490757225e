"""The Odyssey API client: one pooled httpx.AsyncClient, bounded concurrency, stamina retries.

Connections: one pool (``KeepAlivePool``, an httpx transport) of at most ``concurrency``
HTTP/1.1 keep-alive connections. httpx's default pool rescans every connection on each request
and each response close (with a readability syscall per idle connection, and queued requests
racing for the same idle connection); at 16 connections that cost more CPU than everything else
in a call. ``KeepAlivePool`` checks a connection out and back in O(1); each connection is still
httpcore's own ``AsyncHTTPConnection`` (HTTP/1.1 framing, TLS with verification, timeouts).

Retry policy (``retry_decision``), in one place:
  * retried: timeouts, refused/dropped connections, HTTP 429 (waiting ``Retry-After``, capped
    by the total retry budget), 5xx, SOAP faults, ``SITE_BUSY``, garbage (malformed) replies;
  * never retried: 401 (raises ``OdysseyAuthError`` and ends the sync), ``INVALID_MESSAGE``,
    not-found answers, hostile XML, other 4xx.
Attempts are bounded by ``max_attempts`` and by ``max_retry_seconds`` of total time per call;
backoff is capped exponential with jitter (stamina). The semaphore is held only while a
request is in flight, never while backing off, so one slow call does not idle the pool.

Secrets come from the environment variables the registry names; they are never logged and
never part of an exception message.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import logging
import os
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element  # noqa: S405 - type only

import dagster as dg
import httpcore
import httpx
import stamina
from pydantic import Field

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.errors import (
    OdysseyAuthError,
    OdysseyConfigError,
    OdysseyError,
    OdysseyHTTPError,
    OdysseyTransportError,
)
from court_pipeline.odyssey.messages import OdysseyRequest, assert_read_only, soap_envelope
from court_pipeline.odyssey.parse import parse_fault, parse_reply
from court_pipeline.registry import OdysseySource

log = logging.getLogger(__name__)

ReplyHook = Callable[[OdysseyRequest, int, int, bytes], None]
"""Called with (request, attempt, http status, raw body) for every HTTP reply: the archive."""


@dataclass
class ClientStats:
    """Counters for one client's life (one sync)."""

    calls: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    by_message_type: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # error code -> count (every attempt)
    retry_after_waits: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "retries": self.retries,
            "by_message_type": dict(self.by_message_type),
            "errors": dict(self.errors),
        }


@dataclass(frozen=True)
class Credentials:
    """Basic auth + site key. ``repr`` never shows the values."""

    username: str
    password: str = field(repr=False)
    site_key: str = field(repr=False)

    @classmethod
    def from_env(cls, source: OdysseySource, env: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if env is None else env
        missing = [
            name
            for name in (source.username_env, source.password_env, source.site_key_env)
            if not env.get(name)
        ]
        if missing:
            raise OdysseyConfigError(
                "Odyssey credentials missing: set environment variable(s) " + ", ".join(missing)
            )
        return cls(env[source.username_env], env[source.password_env], env[source.site_key_env])


def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    """TLS as httpx sets it up (certifi CAs, or SSL_CERT_FILE / the given CA bundle);
    verification stays on unless explicitly turned off."""
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- the connection pool ------------------------------------------------------------------
_HTTPCORE_TO_HTTPX: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


def _as_httpx_error(exc: BaseException) -> httpx.HTTPError | None:
    """httpcore's exception as the httpx one (what httpx's own transport raises), or None."""
    for source, target in _HTTPCORE_TO_HTTPX:
        if isinstance(exc, source):
            return target(str(exc))
    return None


class _CoalescingStream(httpcore.AsyncNetworkStream):
    """Holds written bytes back until the connection next reads, so a request's head and
    body leave in one send (one syscall here, one packet and one wake-up at the server).

    HTTP/1.1 as httpcore speaks it always reads the reply after writing the request, so
    nothing waits on held-back bytes; a failed send surfaces from that read as a WriteError.
    """

    _FLUSH_AT = 1 << 16  # a big body is sent as it comes

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._held: list[bytes] = []
        self._held_size = 0

    async def _flush(self, timeout: float | None) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._held_size = 0
            await self._stream.write(data, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._held.append(buffer)
            self._held_size += len(buffer)
            if self._held_size >= self._FLUSH_AT:
                await self._flush(timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush(timeout)
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._held.clear()
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        await self._flush(timeout)
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return _CoalescingStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CoalescingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's asyncio (anyio) backend, streams wrapped in ``_CoalescingStream``."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _CoalescingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _PooledStream(httpx.AsyncByteStream):
    """A response body; closing it hands the connection back to the pool."""

    def __init__(
        self, pool: KeepAlivePool, conn: httpcore.AsyncHTTPConnection, stream: Any
    ) -> None:
        self._pool, self._conn, self._stream = pool, conn, stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            mapped = _as_httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await self._stream.aclose()  # httpcore: IDLE if the reply was complete, else closed
        finally:
            await self._pool.check_in(conn)


class KeepAlivePool(httpx.AsyncBaseTransport):
    """One pool of at most ``size`` keep-alive connections to one origin, reused LIFO.

    A request waits for a free slot (httpx's ``pool`` timeout), takes the most recently used
    idle connection that is still usable (not closed, keep-alive not expired, server has not
    hung up) or opens a new one, and gets it back when its response body is closed.
    """

    def __init__(
        self,
        size: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self.size = size
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(size)
        self._idle: collections.deque[httpcore.AsyncHTTPConnection] = collections.deque()
        self._network = _CoalescingBackend()
        self.opened = 0  # connections opened over the pool's life (keep-alive proof)

    async def _checkout(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        while self._idle:
            conn = self._idle.pop()
            if conn.can_handle_request(origin) and conn.is_idle() and not conn.has_expired():
                return conn
            await conn.aclose()
        self.opened += 1
        return httpcore.AsyncHTTPConnection(
            origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            network_backend=self._network,
        )

    async def check_in(self, conn: httpcore.AsyncHTTPConnection) -> None:
        try:
            if conn.is_idle():
                self._idle.append(conn)
            else:
                await conn.aclose()
        finally:
            self._slots.release()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        pool_timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in the pool") from None
        conn: httpcore.AsyncHTTPConnection | None = None
        try:
            conn = await self._checkout(core_request.url.origin)
            response = await conn.handle_async_request(core_request)
        except BaseException as exc:
            try:
                if conn is not None:
                    await conn.aclose()
            finally:
                self._slots.release()
            mapped = _as_httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_PooledStream(self, conn, response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        idle, self._idle = self._idle, collections.deque()
        for conn in idle:
            await conn.aclose()


class OdysseyClient:
    """Async client. Use as ``async with OdysseyClient(...) as client``."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        concurrency: int = 16,
        timeout_seconds: float = 30.0,
        max_attempts: int = 5,
        max_retry_seconds: float = 120.0,
        wait_initial: float = 0.2,
        wait_max: float = 10.0,
        wait_jitter: float = 0.5,
        verify: bool | str = True,
        on_reply: ReplyHook | None = None,
        auth_hint: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + E.SERVICE_PATH
        self._credentials = credentials
        self.concurrency = concurrency
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.max_retry_seconds = max_retry_seconds
        self.wait_initial, self.wait_max, self.wait_jitter = wait_initial, wait_max, wait_jitter
        self.verify = verify
        self.on_reply = on_reply
        self.auth_hint = auth_hint
        self.stats = ClientStats()
        self._semaphore = asyncio.Semaphore(concurrency)
        self.pool: KeepAlivePool | None = None
        self._target = httpx.URL(self.url)
        self._headers = httpx.Headers()
        self._extensions = {"timeout": httpx.Timeout(timeout_seconds).as_dict()}
        self._auth_failed: OdysseyAuthError | None = None

    @classmethod
    def from_source(
        cls, source: OdysseySource, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> OdysseyClient:
        """Build from the registry's OdysseySource; secrets from the env vars it names."""
        settings: dict[str, Any] = {
            "concurrency": source.concurrency,
            "timeout_seconds": source.timeout_seconds,
            "max_attempts": source.max_attempts,
            "max_retry_seconds": source.max_retry_seconds,
            "auth_hint": (
                f"check env vars {source.username_env}, {source.password_env} and "
                f"{source.site_key_env}"
            ),
        }
        settings.update(overrides)
        return cls(source.base_url, Credentials.from_env(source, env), **settings)

    async def __aenter__(self) -> OdysseyClient:
        # Every call is the same POST to one URL: headers (Basic auth applied once by httpx's
        # BasicAuth flow) and timeouts are built here, and each call hands an httpx.Request
        # straight to the pool. httpx.AsyncClient.post would rebuild and re-parse the URL,
        # run the auth and redirect machinery and fill a cookie jar on every call: a quarter
        # of a call's CPU for features a SOAP endpoint does not use (redirects stay refused:
        # a 3xx is an error like any other non-200 status).
        template = httpx.Request(
            "POST",
            self._target,
            headers={
                "Accept": "*/*",
                "Accept-Encoding": "gzip, deflate",
                "Connection": "keep-alive",
                "User-Agent": f"python-httpx/{httpx.__version__}",
                "Content-Type": E.CONTENT_TYPE,
                "SOAPAction": E.SOAP_ACTION,
            },
        )
        auth = httpx.BasicAuth(self._credentials.username, self._credentials.password)
        headers = next(auth.sync_auth_flow(template)).headers
        headers.pop("Content-Length", None)  # each call's Request sets its own
        self._headers = headers
        self.pool = KeepAlivePool(self.concurrency, ssl_context=_ssl_context(self.verify))
        return self

    async def __aexit__(self, *exc: object) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.aclose()

    async def _post(self, body: bytes) -> httpx.Response:
        """One HTTP exchange on the pool; the body is read in full and the connection freed."""
        assert self.pool is not None
        request = httpx.Request(
            "POST", self._target, headers=self._headers, content=body, extensions=self._extensions
        )
        response = await self.pool.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    # --- retry policy --------------------------------------------------------------------
    def retry_decision(self, exc: Exception) -> bool | float:
        """stamina hook: False = give up, True = backoff, float = wait exactly that long."""
        if not isinstance(exc, OdysseyError) or not exc.retryable:
            return False
        if isinstance(exc, OdysseyHTTPError) and exc.status == 429 and exc.retry_after is not None:
            wait = min(exc.retry_after, self.max_retry_seconds)
            self.stats.retry_after_waits.append(wait)
            return wait
        return True

    async def call(self, request: OdysseyRequest) -> Element:
        """Send one message (with retries) and return the parsed result root."""
        if self._auth_failed is not None:  # another call already got 401: stop hammering
            raise self._auth_failed
        attempt_no = 0
        async for attempt in stamina.retry_context(
            on=self.retry_decision,
            attempts=self.max_attempts,
            timeout=self.max_retry_seconds,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        ):
            with attempt:
                attempt_no += 1
                if attempt_no > 1:
                    self.stats.retries += 1
                try:
                    return await self._attempt(request, attempt_no)
                except OdysseyError as exc:
                    self.stats.errors[exc.code] += 1
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, request: OdysseyRequest, attempt_no: int) -> Element:
        if self.pool is None:
            raise RuntimeError("use 'async with OdysseyClient(...)'")
        assert_read_only(request)  # refuse before anything else touches the request
        mt = request.message_type.value
        ref = request.reference
        body = soap_envelope(request, self._credentials.site_key)
        assert_read_only(request)  # and again as the last step before bytes leave
        async with self._semaphore:
            self.stats.calls += 1
            self.stats.by_message_type[mt] += 1
            try:
                response = await self._post(body)
                raw = response.content
            except httpx.TimeoutException as exc:
                raise OdysseyTransportError(
                    f"timed out after {self.timeout_seconds:g}s ({type(exc).__name__})",
                    code="TIMEOUT",
                    message_type=mt,
                    reference=ref,
                ) from None
            except httpx.TransportError as exc:
                raise OdysseyTransportError(
                    f"connection failed ({type(exc).__name__}: {exc})",
                    code="CONNECTION",
                    message_type=mt,
                    reference=ref,
                ) from None
        if self.on_reply is not None:
            self.on_reply(request, attempt_no, response.status_code, raw)
        status = response.status_code
        if status == 401:
            self._auth_failed = OdysseyAuthError(
                f"Odyssey at {self.base_url} rejected the credentials or site key (HTTP 401)"
                + (f"; {self.auth_hint}" if self.auth_hint else ""),
                message_type=mt,
                reference=ref,
            )
            raise self._auth_failed
        if status == 200:
            return parse_reply(raw, request.message_type, ref)
        if status == 500:
            fault = parse_fault(raw, message_type=mt, reference=ref)
            if fault is not None:
                raise fault
        raise OdysseyHTTPError(
            status,
            f"HTTP {status} from {self.base_url}",
            retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
            message_type=mt,
            reference=ref,
        )


class OdysseyResource(dg.ConfigurableResource):
    """Dagster resource: client settings that may override the registry per deployment."""

    verify_tls: bool = Field(default=True, description="TLS certificate verification (keep on)")
    ca_bundle_path: str = Field(default="", description="custom CA bundle; empty = system CAs")
    wait_initial: float = Field(default=0.2, description="first retry backoff, seconds")
    wait_max: float = Field(default=10.0, description="backoff cap, seconds")

    def client(self, source: OdysseySource, on_reply: ReplyHook | None = None) -> OdysseyClient:
        verify: bool | str = self.ca_bundle_path or self.verify_tls
        return OdysseyClient.from_source(
            source,
            verify=verify,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            on_reply=on_reply,
        )


def elapsed_since(start: float) -> float:
    return round(time.monotonic() - start, 3)
