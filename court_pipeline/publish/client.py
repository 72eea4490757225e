"""HTTP client for CourtAnalyticsTX: OAuth2 client credentials, PUT with retries, breaker.

Why this shape:
- One token per county credential, cached and refreshed 5 minutes before it expires (or at
  half its life when the service hands out short tokens), and refreshed once when the
  Messages endpoint answers 401, then the request is resent once.
- Retries use stamina (capped exponential backoff with jitter, bounded by attempts and
  time). A 429 waits what ``Retry-After`` asks for (capped); 5xx and dropped connections are
  retried; everything else is answered to the caller, which decides per status.
- The circuit breaker counts envelopes that failed after all retries; once open, the run
  stops sending and leaves the rest for the next run instead of hammering the service.
- Secrets are held in objects whose repr hides them and are never put in messages.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import stamina


class OcaCredentialsError(RuntimeError):
    """The credential is missing or the token endpoint refused it (do not retry)."""


class OcaTokenError(RuntimeError):
    """The token endpoint could not be reached or answered garbage."""


@dataclass(frozen=True)
class Credential:
    """A county's client id and secret, read from the environment variables the registry names."""

    client_id: str
    client_secret: str = field(repr=False)
    label: str = ""  # what to call it in messages: county and env var names, never values

    @classmethod
    def from_env(cls, client_id_env: str, client_secret_env: str, label: str = "") -> Credential:
        missing = [name for name in (client_id_env, client_secret_env) if not os.environ.get(name)]
        if missing:
            raise OcaCredentialsError(
                f"{label or 'OCA credential'}: environment variable(s) {', '.join(missing)} "
                "not set (the registry's oca.client_id_env / oca.client_secret_env)"
            )
        return cls(os.environ[client_id_env], os.environ[client_secret_env], label or client_id_env)


class TokenProvider:
    """Cached client-credentials token for one credential (thread-safe)."""

    def __init__(
        self,
        http: httpx.Client,
        token_url: str,
        credential: Credential,
        *,
        refresh_margin_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http, self._url, self._credential = http, token_url, credential
        self._margin, self._clock = refresh_margin_seconds, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    def token(self, *, force: bool = False, stale: str | None = None) -> str:
        """The cached token, fetched again when near expiry, forced, or equal to ``stale``."""
        with self._lock:
            expired = self._token is None or self._clock() >= self._refresh_at
            if force and stale is not None and self._token != stale:
                return self._token or self._fetch()  # another thread already refreshed it
            if expired or force:
                return self._fetch()
            return self._token  # type: ignore[return-value]

    def _fetch(self) -> str:
        label = self._credential.label
        try:
            response = self._http.post(
                self._url,
                data={"grant_type": "client_credentials"},
                auth=(self._credential.client_id, self._credential.client_secret),
            )
        except httpx.HTTPError as exc:
            raise OcaTokenError(
                f"{label}: token endpoint {self._url} unreachable ({type(exc).__name__})"
            ) from None
        body = _json(response)
        if response.status_code in (400, 401) and body.get("error") in (
            "invalid_client", "unauthorized_client", "invalid_grant",
        ):
            raise OcaCredentialsError(
                f"{label}: token endpoint refused the client credentials "
                f"({body.get('error')}); check the client id/secret values for this county"
            )
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise OcaTokenError(
                f"{label}: token endpoint {self._url} answered HTTP {response.status_code} "
                "without an access_token"
            )
        lifetime = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
        margin = min(self._margin, lifetime / 2)
        self._token, self._refresh_at = token, self._clock() + lifetime - margin
        self.fetches += 1
        return token


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), cap))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


@dataclass
class PutResult:
    """The final answer for one envelope body after retries."""

    status: int | None  # None: no HTTP answer at all (dropped connections to the end)
    body: dict[str, Any]
    attempts: int
    gave_up: bool = False  # retries exhausted on 429/5xx/transport errors
    error: str | None = None  # short human-readable description when not 2xx

    @property
    def ok(self) -> bool:
        return self.status == 200


class _Retryable(Exception):
    def __init__(self, response: httpx.Response, wait: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response, self.wait = response, wait


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying one envelope (stamina: capped exponential backoff + jitter)."""

    max_attempts: int = 6
    max_seconds: float = 120.0
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 1.0
    max_retry_after: float = 60.0


class MessagesClient:
    """PUTs envelope bodies to the Messages endpoint for one county credential."""

    def __init__(
        self,
        http: httpx.Client,
        messages_url: str,
        tokens: TokenProvider,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._http, self._url, self._tokens = http, messages_url, tokens
        self.policy = policy or RetryPolicy()

    def _backoff(self, exc: Exception) -> bool | float:
        if isinstance(exc, _Retryable):
            return exc.wait if exc.wait is not None else True
        return isinstance(exc, httpx.TransportError | OcaTokenError)

    def put(self, body: bytes) -> PutResult:
        """Send one body; retry 429/5xx/dropped connections; never raises for HTTP outcomes."""
        attempts = 0
        policy = self.policy
        try:
            for attempt in stamina.retry_context(
                on=self._backoff,
                attempts=policy.max_attempts,
                timeout=policy.max_seconds,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    attempts += 1
                    response = self._put_once(body)
                    status = response.status_code
                    if status == 429:
                        raise _Retryable(response, _retry_after(response, policy.max_retry_after))
                    if status >= 500:
                        raise _Retryable(response, None)
                    return PutResult(status, _json(response), attempts, error=_describe(response))
        except _Retryable as exc:
            return PutResult(
                exc.response.status_code, _json(exc.response), attempts, gave_up=True,
                error=f"HTTP {exc.response.status_code} after {attempts} attempt(s)",
            )
        except (OcaTokenError, OcaCredentialsError) as exc:
            return PutResult(None, {}, attempts, gave_up=True, error=str(exc))
        except httpx.TransportError as exc:
            return PutResult(
                None, {}, attempts, gave_up=True,
                error=f"{type(exc).__name__} after {attempts} attempt(s) (no answer)",
            )
        raise AssertionError("unreachable: stamina either returns or raises")

    def _put_once(self, body: bytes) -> httpx.Response:
        token = self._tokens.token()
        response = self._send(body, token)
        if response.status_code == 401:  # expired or revoked: refresh once, resend once
            token = self._tokens.token(force=True, stale=token)
            response = self._send(body, token)
        return response

    def _send(self, body: bytes, token: str) -> httpx.Response:
        return self._http.put(
            self._url,
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )


def _describe(response: httpx.Response) -> str | None:
    if response.status_code == 200:
        return None
    body = _json(response)
    message = body.get("Message") or body.get("message") or body.get("error") or ""
    return f"HTTP {response.status_code} {message}".strip()


class CircuitBreaker:
    """Opens after ``threshold`` consecutive envelopes failed despite retries."""

    def __init__(self, threshold: int = 3) -> None:
        self.threshold = threshold
        self._failures = 0
        self._lock = threading.Lock()
        self.opened = False

    def success(self) -> None:
        with self._lock:
            self._failures = 0

    def failure(self) -> bool:
        """Count a failure; True when this one opened the breaker."""
        with self._lock:
            self._failures += 1
            if not self.opened and self._failures >= self.threshold:
                self.opened = True
                return True
            return False

    @property
    def is_open(self) -> bool:
        return self.opened


def make_http_client(timeout_seconds: float = 30.0, concurrency: int = 4) -> httpx.Client:
    """A pooled httpx client with TLS verification on (always)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds),
        verify=True,
        limits=httpx.Limits(max_connections=max(concurrency, 1) + 2),
        follow_redirects=False,
    )
