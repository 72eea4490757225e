"""The Odyssey API client: httpx ``AsyncClient`` (keep-alive), a pool-wide gate, stamina retries.

Connections: one httpx pool of at most ``concurrency`` keep-alive connections (``transport``);
proxies from ``HTTPS_PROXY``/``NO_PROXY`` or the registry's ``proxy`` field; TLS verified.
Every call passes one ``throttle.Gate``: at most ``concurrency`` in flight (FindParties pages
first), and a 429 or ``SITE_BUSY`` pauses every slot until Retry-After, then ramps back.

Retry policy (``retry_decision``), in one place:
  * throttled (429, ``SITE_BUSY``): waited out in the gate, not counted against
    ``max_attempts``; still bounded by ``max_retry_seconds`` per call;
  * retried with backoff: timeouts, refused/dropped connections, 5xx, SOAP faults, garbage
    (malformed) replies, error pages (a 200 that is not XML: HTML, wrong Content-Type);
  * never retried: 401 (raises ``OdysseyAuthError`` and ends the sync), ``INVALID_MESSAGE``,
    not-found answers, hostile XML (DTD/entities inside an XML SOAP reply), other 4xx.
Attempts are bounded by ``max_attempts`` and by ``max_retry_seconds`` of total time per call
(counted from its first send: queueing behind this client's own calls is not failing);
retries queue ahead of first attempts;
backoff is capped exponential with jitter (stamina). A slot is held only while a request is
in flight, never while backing off.

Secrets come from the environment variables the registry names; they are never logged and
never part of an exception message.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element  # noqa: S405 - type only

import dagster as dg
import httpx
import stamina
from pydantic import Field

from court_pipeline.odyssey import elements as E
from court_pipeline.odyssey.errors import (
    OdysseyAuthError,
    OdysseyConfigError,
    OdysseyError,
    OdysseyHTTPError,
    OdysseyReplyError,
    OdysseyTransportError,
)
from court_pipeline.odyssey.messages import OdysseyRequest, assert_read_only, soap_envelope
from court_pipeline.odyssey.parse import parse_fault, parse_reply
from court_pipeline.odyssey.throttle import Gate, GateStats
from court_pipeline.odyssey.transport import (
    DEFAULT_MAX_REPLY_BYTES,
    ReplyTooLarge,
    connection_counter,
    open_http_client,
    read_capped,
)
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
    gate: GateStats = field(default_factory=GateStats)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "retries": self.retries,
            "by_message_type": dict(self.by_message_type),
            "errors": dict(self.errors),
            "peak_in_flight": self.gate.peak_in_flight,
            "throttle_pauses": self.gate.pauses,
            "sent_while_paused": self.gate.sent_while_paused,
            "in_flight_at_429": self.gate.in_flight_at_429,
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


THROTTLE_CODES = frozenset({"HTTP_429", "SITE_BUSY"})
DEFAULT_BUSY_SECONDS = 1.0  # pause after a SITE_BUSY or a 429 without Retry-After


def _is_xml_content_type(value: str) -> bool:
    kind = value.split(";", 1)[0].strip().lower()
    return kind in ("text/xml", "application/xml", "application/soap+xml") or kind.endswith("+xml")


def _looks_like_html(raw: bytes) -> bool:
    head = raw[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


class _Deadline:
    """A call's time budget (``max_retry_seconds``), counted from its first send, not from
    when it was queued: at a 20 req/s limit a sync's last calls wait minutes for their first
    slot, and that wait is this client's own queue, not the call failing."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at: float | None = None

    def start(self) -> None:
        if self.at is None:
            self.at = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.seconds if self.at is None else self.at - time.monotonic()


REQUEST_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "court-pipeline-odyssey",
    "Content-Type": E.CONTENT_TYPE,
    "SOAPAction": E.SOAP_ACTION,
}


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
        proxy: str | None = None,
        requests_per_second: int | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        on_reply: ReplyHook | None = None,
        auth_hint: str = "",
        count_connections: bool = False,
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
        self.proxy = proxy
        self.max_reply_bytes = max_reply_bytes
        self.on_reply = on_reply
        self.auth_hint = auth_hint
        self.stats = ClientStats()
        self.gate = Gate(concurrency, rate_cap=requests_per_second)
        self.stats.gate = self.gate.stats
        self.http: httpx.AsyncClient | None = None
        self.connections: dict[str, int] = {"opened": 0}
        # an httpcore trace hook runs a coroutine per request event (about 8% of a sync's
        # client CPU): only when asked (tests proving keep-alive), never by default
        self._extensions = (
            {"trace": connection_counter(self.connections)} if count_connections else {}
        )
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
            "proxy": source.proxy,
            "requests_per_second": source.requests_per_second,
            "auth_hint": (
                f"check env vars {source.username_env}, {source.password_env} and "
                f"{source.site_key_env}"
            ),
        }
        settings.update(overrides)
        return cls(source.base_url, Credentials.from_env(source, env), **settings)

    async def __aenter__(self) -> OdysseyClient:
        self.http = open_http_client(
            concurrency=self.concurrency,
            timeout_seconds=self.timeout_seconds,
            verify=self.verify,
            proxy=self.proxy,
            headers=REQUEST_HEADERS,
            auth=httpx.BasicAuth(self._credentials.username, self._credentials.password),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        http, self.http = self.http, None
        if http is not None:
            await http.aclose()

    # --- retry policy --------------------------------------------------------------------
    def retry_decision(self, exc: Exception) -> bool | float:
        """stamina hook: False = give up, True = backoff (throttling never reaches here)."""
        return isinstance(exc, OdysseyError) and exc.retryable

    async def call(self, request: OdysseyRequest) -> Element:
        """Send one message (with retries) and return the parsed result root.

        The first attempt runs before stamina is involved: nearly every call succeeds at
        once, and building a stamina retry context costs more CPU than the exchange. A
        failure is handed to stamina as its own first attempt's outcome (the same exception,
        re-raised inside the context), so stamina alone decides whether and how long to wait
        and runs every further attempt, within ``max_attempts`` and ``max_retry_seconds``
        counted from the first attempt. Throttle answers are waited out inside an attempt
        (``_unthrottled``), so they never use up ``max_attempts``.
        """
        if self._auth_failed is not None:  # another call already got 401: stop hammering
            raise self._auth_failed
        deadline = _Deadline(self.max_retry_seconds)
        attempt_no = 1
        try:
            return await self._unthrottled(request, attempt_no, deadline)
        except OdysseyError as exc:
            if not exc.retryable or self.max_attempts <= 1:
                raise
            first_failure: OdysseyError | None = exc
        async for attempt in stamina.retry_context(
            on=self.retry_decision,
            attempts=self.max_attempts,
            timeout=max(deadline.left(), 0.001),
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        ):
            with attempt:
                if first_failure is not None:  # stamina's attempt 1 is the one already made
                    failure, first_failure = first_failure, None
                    raise failure
                attempt_no += 1
                self.stats.retries += 1
                return await self._unthrottled(request, attempt_no, deadline)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _unthrottled(self, request: OdysseyRequest, attempt_no: int, deadline: _Deadline):
        """One attempt, repeated through the gate while the server says slow down.

        The pause is the gate's (every slot waits), so this only re-queues; the call's time
        budget still bounds it: a throttle that would outlast the deadline is the answer.
        """
        while True:
            try:
                return await self._attempt(request, attempt_no, deadline)
            except OdysseyError as exc:
                self.stats.errors[exc.code] += 1
                if exc.code not in THROTTLE_CODES:
                    raise
                wait = getattr(exc, "retry_after", None)
                wait = DEFAULT_BUSY_SECONDS if wait is None else wait
                # no await since the slot was freed. A rate is learned only from a 429 with
                # a Retry-After of whole seconds (a per-second window), not from SITE_BUSY
                if exc.code == "HTTP_429":
                    self.stats.gate.in_flight_at_429 += self.gate.in_flight
                learn = exc.code == "HTTP_429" and wait >= 1.0
                sent_at = getattr(exc, "sent_at", None) if learn else None
                self.gate.throttled(wait, sent_at)
                self.stats.retry_after_waits.append(wait)
                if wait > deadline.left():
                    raise
                attempt_no += 1
                self.stats.retries += 1

    async def _attempt(
        self, request: OdysseyRequest, attempt_no: int, deadline: _Deadline | None = None
    ) -> Element:
        if self.http is None:
            raise RuntimeError("use 'async with OdysseyClient(...)'")
        assert_read_only(request)  # refuse before anything else touches the request
        mt = request.message_type.value
        ref = request.reference
        body = soap_envelope(request, self._credentials.site_key)
        assert_read_only(request)  # and again as the last step before bytes leave
        # FindParties pages discover the rest of the work, and a retry has already queued
        # once: both go ahead of first attempts, so a retry never waits out the whole queue
        sent_at = await self.gate.acquire(
            urgent=request.message_type is E.MessageType.FIND_PARTIES or attempt_no > 1
        )
        if deadline is not None:
            deadline.start()
        ok = False
        try:
            self.stats.calls += 1
            self.stats.by_message_type[mt] += 1
            status, content_type, retry_after, raw = await self._exchange(body, mt, ref)
            ok = status == 200
        finally:
            self.gate.release(ok=ok)
        try:
            return self._answer(request, attempt_no, status, content_type, retry_after, raw)
        except OdysseyError as exc:
            exc.sent_at = sent_at  # type: ignore[attr-defined]  # the gate learns the rate
            raise

    def _answer(
        self,
        request: OdysseyRequest,
        attempt_no: int,
        status: int,
        content_type: str,
        retry_after: str | None,
        raw: bytes,
    ) -> Element:
        """The result root of one reply, or the error it stands for."""
        mt = request.message_type.value
        ref = request.reference
        if self.on_reply is not None:
            self.on_reply(request, attempt_no, status, raw)
        if status == 401:
            self._auth_failed = OdysseyAuthError(
                f"Odyssey at {self.base_url} rejected the credentials or site key (HTTP 401)"
                + (f"; {self.auth_hint}" if self.auth_hint else ""),
                message_type=mt,
                reference=ref,
            )
            raise self._auth_failed
        if status == 200:
            self._refuse_error_page(content_type, raw, mt, ref)
            return parse_reply(raw, request.message_type, ref)
        if status == 500:
            fault = parse_fault(raw, message_type=mt, reference=ref)
            if fault is not None:
                raise fault
        raise OdysseyHTTPError(
            status,
            f"HTTP {status} from {self.base_url}",
            retry_after=_retry_after_seconds(retry_after),
            message_type=mt,
            reference=ref,
        )

    async def _exchange(self, body: bytes, mt: str, ref: str) -> tuple[int, str, str | None, bytes]:
        """POST one envelope; (status, content type, Retry-After, decoded body)."""
        assert self.http is not None
        try:
            async with asyncio.timeout(self.timeout_seconds):  # the whole reply, not one read
                async with self.http.stream(
                    "POST", self.url, content=body, extensions=self._extensions
                ) as response:
                    raw = await read_capped(response, self.max_reply_bytes)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise OdysseyTransportError(
                f"timed out after {self.timeout_seconds:g}s ({type(exc).__name__})",
                code="TIMEOUT",
                message_type=mt,
                reference=ref,
            ) from None
        except ReplyTooLarge as exc:
            raise OdysseyTransportError(
                f"reply refused ({exc}; cap {self.max_reply_bytes} bytes)",
                code="REPLY_TOO_LARGE",
                message_type=mt,
                reference=ref,
            ) from None
        except httpx.HTTPError as exc:  # transport, protocol and decoding failures
            raise OdysseyTransportError(
                f"connection failed ({type(exc).__name__}: {exc})",
                code="CONNECTION",
                message_type=mt,
                reference=ref,
            ) from None
        headers = response.headers
        return (
            response.status_code,
            headers.get("content-type", ""),
            headers.get("retry-after"),
            raw,
        )

    @staticmethod
    def _refuse_error_page(content_type: str, raw: bytes, mt: str, ref: str) -> None:
        """A 200 that is not an XML document is a gateway/IIS error page: transient, like a
        5xx. (A DTD or entity inside an XML reply is refused later as hostile XML.)"""
        if (content_type and not _is_xml_content_type(content_type)) or _looks_like_html(raw):
            raise OdysseyReplyError(
                f"error page instead of a SOAP reply (Content-Type {content_type[:60]!r})",
                retryable=True,
                code="ERROR_PAGE",
                message_type=mt,
                reference=ref,
            )


class OdysseyResource(dg.ConfigurableResource):
    """Dagster resource: client settings that may override the registry per deployment."""

    verify_tls: bool = Field(default=True, description="TLS certificate verification (keep on)")
    ca_bundle_path: str = Field(default="", description="custom CA bundle; empty = system CAs")
    wait_initial: float = Field(default=0.2, description="first retry backoff, seconds")
    wait_max: float = Field(default=10.0, description="backoff cap, seconds")
    max_reply_mb: int = Field(default=64, description="largest decoded reply accepted, MB")

    def client(self, source: OdysseySource, on_reply: ReplyHook | None = None) -> OdysseyClient:
        verify: bool | str = self.ca_bundle_path or self.verify_tls
        return OdysseyClient.from_source(
            source,
            verify=verify,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            max_reply_bytes=self.max_reply_mb << 20,
            on_reply=on_reply,
        )


def elapsed_since(start: float) -> float:
    return round(time.monotonic() - start, 3)
