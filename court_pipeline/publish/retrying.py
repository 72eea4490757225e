"""Retrying one HTTP call to CourtAnalyticsTX (token or Messages) with stamina.

Why this shape:
- 5xx answers and dropped connections spend *failure attempts*, bounded by ``max_attempts``,
  with stamina's capped, jittered exponential backoff between them.
- A 429 spends no failure attempt. It pauses the whole sender: a :class:`RateGate` shared by
  every request of the county run holds each request back until ``Retry-After`` has passed,
  so the requests in flight do not keep hitting the limit. Only the time budget
  (``max_seconds``) bounds 429s; a pause that would end past the budget gives up at once
  (the records wait for the next run) instead of sleeping beyond it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import stamina


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying one call (stamina: capped exponential backoff + jitter)."""

    max_attempts: int = 6  # failure attempts (5xx, dropped connections); 429s do not count
    max_seconds: float = 120.0  # time budget per call, 429 pauses included
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 1.0
    max_retry_after: float = 60.0


class RateGate:
    """A shared pause: after a 429 no request of the sender leaves before Retry-After ends."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._until = 0.0
        self.pauses = 0  # 429s that (re)started or extended the pause
        self.waits = 0  # requests that were held back by a pause before leaving

    def pause(self, seconds: float) -> float:
        """Hold every request until ``seconds`` from now (or later, if already paused)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)
            self.pauses += 1
            return self._until

    @property
    def until(self) -> float:
        with self._lock:
            return self._until

    def wait(self, deadline: float) -> bool:
        """Sleep while paused; False (without sleeping) when the pause outlasts ``deadline``."""
        counted = False
        while True:
            until = self.until
            now = self._clock()
            if until <= now:
                return True
            if until > deadline:
                return False
            if not counted:
                with self._lock:
                    self.waits += 1
                counted = True
            self._sleep(until - now)


@dataclass
class CallOutcome:
    """The last answer of a call after retries."""

    response: httpx.Response | None  # None: no answer at all (dropped connection to the end)
    sends: int  # requests that left
    failures: int  # 5xx answers and dropped connections
    rate_limited: int  # 429 answers
    gave_up: bool = False
    error: str | None = None  # why it gave up, without secrets


class _RateLimited(Exception):
    def __init__(self, response: httpx.Response | None, message: str) -> None:
        super().__init__(message)
        self.response = response


class _Failed(Exception):
    def __init__(self, response: httpx.Response | None, message: str) -> None:
        super().__init__(message)
        self.response = response


def retry_after(response: httpx.Response, cap: float) -> float | None:
    """``Retry-After`` in seconds, capped; None when absent or an HTTP date."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), cap))
    except ValueError:
        return None


def call_with_retries(
    send: Callable[[], httpx.Response],
    policy: RetryPolicy,
    gate: RateGate,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> CallOutcome:
    """Call ``send`` until it answers something other than 429/5xx, within the bounds.

    Exceptions other than httpx transport errors (e.g. a refused credential) pass through.
    """
    outcome = CallOutcome(None, 0, 0, 0)
    deadline = clock() + policy.max_seconds

    def hook(exc: Exception) -> bool | float:
        if isinstance(exc, _RateLimited):
            return 0.0 if gate.until <= deadline else False  # the gate does the waiting
        if isinstance(exc, _Failed):
            return outcome.failures < policy.max_attempts
        return False

    try:
        for attempt in stamina.retry_context(
            on=hook, attempts=None, timeout=policy.max_seconds,
            wait_initial=policy.wait_initial, wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with attempt:
                if not gate.wait(deadline):
                    raise _RateLimited(outcome.response, "rate limited (429) beyond the "
                                       f"{policy.max_seconds:g}s time budget")
                outcome.sends += 1
                try:
                    response = send()
                except httpx.TransportError as exc:
                    outcome.failures += 1
                    raise _Failed(None, f"{type(exc).__name__} (no answer)") from None
                outcome.response = response
                if response.status_code == 429:
                    outcome.rate_limited += 1
                    wait = retry_after(response, policy.max_retry_after)
                    if wait is None:  # no usable Retry-After: our own capped backoff
                        wait = min(policy.wait_max,
                                   policy.wait_initial * 2 ** (outcome.rate_limited - 1))
                    gate.pause(wait)
                    raise _RateLimited(response, "rate limited (429) beyond the "
                                       f"{policy.max_seconds:g}s time budget")
                if response.status_code >= 500:
                    outcome.failures += 1
                    raise _Failed(response, f"HTTP {response.status_code}")
                return outcome
    except (_RateLimited, _Failed) as exc:
        outcome.gave_up = True
        outcome.error = f"{exc} after {outcome.sends} request(s)"
        if isinstance(exc, _Failed):
            outcome.error = (f"{exc} after {outcome.failures} failed attempt(s) "
                             f"({outcome.sends} request(s))")
        outcome.response = exc.response
        return outcome
    raise AssertionError("unreachable: stamina either returns or raises")
