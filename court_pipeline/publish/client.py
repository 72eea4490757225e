"""HTTP client for CourtAnalyticsTX: OAuth2 client credentials, PUT with retries, breaker.

Why this shape:
- One token per county credential, cached and refreshed 5 minutes before it expires (or at
  half its life when the service hands out short tokens), and refreshed once when the
  Messages endpoint answers 401, then the request is resent once.
- Retries (retrying.py) use stamina: 5xx and dropped connections spend bounded failure
  attempts; a 429 pauses every request of the sender until ``Retry-After`` and spends none;
  the token endpoint is retried the same way. Everything else is answered to the caller,
  which decides per status.
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

from court_pipeline.publish.retrying import RateGate, RetryPolicy, call_with_retries


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
    """Cached client-credentials token for one credential (thread-safe).

    The token endpoint is retried like the Messages PUTs (5xx, dropped connections, 429 with
    Retry-After through the shared :class:`RateGate`), within the same bounds; refused
    credentials are never retried.
    """

    def __init__(
        self,
        http: httpx.Client,
        token_url: str,
        credential: Credential,
        *,
        refresh_margin_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        policy: RetryPolicy | None = None,
        gate: RateGate | None = None,
    ) -> None:
        self._http, self._url, self._credential = http, token_url, credential
        self._margin, self._clock = refresh_margin_seconds, clock
        self._policy, self._gate = policy or RetryPolicy(), gate or RateGate()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0
        self.requests = 0  # token requests sent, retries included
        self.rate_limited = 0  # 429 answers of the token endpoint

    def token(self, *, force: bool = False, stale: str | None = None) -> str:
        """The cached token, fetched again when near expiry, forced, or equal to ``stale``."""
        with self._lock:
            expired = self._token is None or self._clock() >= self._refresh_at
            if force and stale is not None and self._token != stale:
                return self._token or self._fetch()  # another thread already refreshed it
            if expired or force:
                return self._fetch()
            return self._token  # type: ignore[return-value]

    def _post(self) -> httpx.Response:
        return self._http.post(
            self._url,
            data={"grant_type": "client_credentials"},
            auth=(self._credential.client_id, self._credential.client_secret),
        )

    def _fetch(self) -> str:
        label = self._credential.label
        outcome = call_with_retries(self._post, self._policy, self._gate)
        self.requests += outcome.sends
        self.rate_limited += outcome.rate_limited
        response = outcome.response
        if outcome.gave_up or response is None:
            raise OcaTokenError(f"{label}: token endpoint {self._url}: {outcome.error}")
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


@dataclass
class PutResult:
    """The final answer for one envelope body after retries."""

    status: int | None  # None: no HTTP answer at all (dropped connections to the end)
    body: dict[str, Any]
    attempts: int  # requests sent
    gave_up: bool = False  # retries exhausted on 5xx/drops, or 429s beyond the time budget
    error: str | None = None  # short human-readable description when not 2xx
    rate_limited: int = 0  # 429 answers (they spend no failure attempt)

    @property
    def ok(self) -> bool:
        return self.status == 200


class MessagesClient:
    """PUTs envelope bodies to the Messages endpoint for one county credential."""

    def __init__(
        self,
        http: httpx.Client,
        messages_url: str,
        tokens: TokenProvider,
        policy: RetryPolicy | None = None,
        gate: RateGate | None = None,
    ) -> None:
        self._http, self._url, self._tokens = http, messages_url, tokens
        self.policy = policy or RetryPolicy()
        self.gate = gate or RateGate()
        self._lock = threading.Lock()
        self.rate_limited = 0  # 429 answers of the Messages endpoint

    def put(self, body: bytes) -> PutResult:
        """Send one body; retry 429/5xx/dropped connections; never raises for HTTP outcomes."""
        try:
            outcome = call_with_retries(lambda: self._put_once(body), self.policy, self.gate)
        except (OcaTokenError, OcaCredentialsError) as exc:  # the token call retried already
            return PutResult(None, {}, 0, gave_up=True, error=str(exc))
        with self._lock:
            self.rate_limited += outcome.rate_limited
        response = outcome.response
        status = response.status_code if response is not None else None
        if outcome.gave_up:
            return PutResult(status, _json(response) if response is not None else {},
                             outcome.sends, gave_up=True, error=outcome.error,
                             rate_limited=outcome.rate_limited)
        assert response is not None
        return PutResult(status, _json(response), outcome.sends, error=_describe(response),
                         rate_limited=outcome.rate_limited)

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
