"""The Odyssey API client: one keep-alive connection pool, bounded concurrency, stamina retries.

Connections: one pool (``pool.KeepAlivePool``) of at most ``concurrency`` HTTP/1.1 keep-alive
connections; its slots are the concurrency bound. httpx supplies the TLS context (certifi CAs,
verification on), the Basic auth header and the exception types the retry policy reads.

Retry policy (``retry_decision``), in one place:
  * retried: timeouts, refused/dropped connections, HTTP 429 (waiting ``Retry-After``, capped
    by the total retry budget), 5xx, SOAP faults, ``SITE_BUSY``, garbage (malformed) replies;
  * never retried: 401 (raises ``OdysseyAuthError`` and ends the sync), ``INVALID_MESSAGE``,
    not-found answers, hostile XML, other 4xx.
Attempts are bounded by ``max_attempts`` and by ``max_retry_seconds`` of total time per call;
backoff is capped exponential with jitter (stamina). A pool slot is held only while a request
is in flight, never while backing off, so one slow call does not idle the pool.

Secrets come from the environment variables the registry names; they are never logged and
never part of an exception message.
"""

from __future__ import annotations

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
    OdysseyTransportError,
)
from court_pipeline.odyssey.messages import OdysseyRequest, assert_read_only, soap_envelope
from court_pipeline.odyssey.parse import parse_fault, parse_reply
from court_pipeline.odyssey.pool import KeepAlivePool, Timeouts, ssl_context_for
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
        self.pool: KeepAlivePool | None = None
        self._head = b""
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
        # Every call is the same POST to one URL with the same headers: the request head
        # (Basic auth included) is built once here and each call only appends its
        # Content-Length and body. Redirects stay refused: a 3xx is an error like any other
        # non-200 status.
        target = httpx.URL(self.url)
        self.pool = KeepAlivePool(
            self.base_url,
            self.concurrency,
            ssl_context=ssl_context_for(self.verify) if target.scheme == "https" else None,
            # no pool timeout: the slots are the concurrency bound, and waiting for one is
            # queueing behind this client's own calls (thousands in a large sync), not a fault
            timeouts=Timeouts(self.timeout_seconds, self.timeout_seconds, None),
        )
        auth = httpx.BasicAuth(self._credentials.username, self._credentials.password)
        authorization = next(auth.sync_auth_flow(httpx.Request("POST", target))).headers[
            "Authorization"
        ]
        self._head = self.pool.request_head(
            "POST",
            target.raw_path.decode("ascii"),
            [
                ("Accept", "*/*"),
                ("Accept-Encoding", "gzip, deflate"),
                ("Connection", "keep-alive"),
                ("User-Agent", "court-pipeline-odyssey"),
                ("Content-Type", E.CONTENT_TYPE),
                ("SOAPAction", E.SOAP_ACTION),
                ("Authorization", authorization),
            ],
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.aclose()

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
        """Send one message (with retries) and return the parsed result root.

        The first attempt runs before stamina is involved: nearly every call succeeds at
        once, and building a stamina/tenacity retry context costs more CPU than the HTTP
        exchange. A failure is handed to stamina as its own first attempt's outcome (the
        same exception, re-raised inside the context), so stamina alone decides whether and
        how long to wait (``retry_decision``: Retry-After, backoff, give up) and runs every
        further attempt, within ``max_attempts`` and ``max_retry_seconds`` counted from the
        first attempt.
        """
        if self._auth_failed is not None:  # another call already got 401: stop hammering
            raise self._auth_failed
        started = time.monotonic()
        try:
            return await self._attempt(request, 1)
        except OdysseyError as exc:
            self.stats.errors[exc.code] += 1
            if not exc.retryable or self.max_attempts <= 1:
                raise
            first_failure: OdysseyError | None = exc
        attempt_no = 0
        async for attempt in stamina.retry_context(
            on=self.retry_decision,
            attempts=self.max_attempts,
            timeout=max(self.max_retry_seconds - (time.monotonic() - started), 0.001),
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        ):
            with attempt:
                attempt_no += 1
                if first_failure is not None:  # stamina's attempt 1 is the one already made
                    failure, first_failure = first_failure, None
                    raise failure
                self.stats.retries += 1
                return await self._counted_attempt(request, attempt_no)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _counted_attempt(self, request: OdysseyRequest, attempt_no: int) -> Element:
        try:
            return await self._attempt(request, attempt_no)
        except OdysseyError as exc:
            self.stats.errors[exc.code] += 1
            raise

    async def _attempt(self, request: OdysseyRequest, attempt_no: int) -> Element:
        if self.pool is None:
            raise RuntimeError("use 'async with OdysseyClient(...)'")
        assert_read_only(request)  # refuse before anything else touches the request
        mt = request.message_type.value
        ref = request.reference
        body = soap_envelope(request, self._credentials.site_key)
        assert_read_only(request)  # and again as the last step before bytes leave
        self.stats.calls += 1
        self.stats.by_message_type[mt] += 1
        try:
            response = await self.pool.send(  # the pool bounds concurrency
                self._head, body, urgent=request.message_type is E.MessageType.FIND_PARTIES
            )
        except httpx.TimeoutException as exc:
            raise OdysseyTransportError(
                f"timed out after {self.timeout_seconds:g}s ({type(exc).__name__})",
                code="TIMEOUT",
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
        raw, status = response.body, response.status
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
            return parse_reply(raw, request.message_type, ref)
        if status == 500:
            fault = parse_fault(raw, message_type=mt, reference=ref)
            if fault is not None:
                raise fault
        raise OdysseyHTTPError(
            status,
            f"HTTP {status} from {self.base_url}",
            retry_after=_retry_after_seconds(response.headers.get("retry-after")),
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
