"""Pool-wide flow control for the Odyssey client: one gate every call passes.

Why: a server's rate limit (429 ``Retry-After``, ``SITE_BUSY``) is about the whole client,
not the one call that saw it. If only that call waits, the other slots keep sending and every
one of them is throttled too. So the gate:

  * lets at most ``limit`` calls be in flight (urgent ones, e.g. FindParties pages that
    discover more work, go first);
  * on a throttle answer pauses every slot until the Retry-After has passed (one shared
    back-off; requests already in flight excepted) and halves ``limit``;
  * adds one slot back per ``limit`` successful replies (AIMD) up to ``max_limit``;
  * learns the server's rate from a 429 with a whole-second Retry-After: the requests this
    gate let through in the second before the throttled one was sent, minus one, become a
    send rate (at most that many in any one-second window), raised by one per ``10 x rate``
    clean replies. A strict per-second limit then throttles a handful of times per sync,
    not every second.

Wake-ups run from ``call_soon``, never inside ``release``: a caller that releases its slot
and then learns, without awaiting, that the reply was a throttle (``SITE_BUSY`` is parsed
after the release) pauses the gate before anyone else is let through.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

RATE_MARGIN_SECONDS = 0.05  # arrival times jitter: a send waits this long past the window


@dataclass
class GateStats:
    """What the gate did over one client's life (exact counts, for tests and run metadata)."""

    peak_in_flight: int = 0
    pauses: int = 0  # throttle answers that started or extended a pause
    throttled: int = 0  # throttle answers seen
    sent_while_paused: int = 0  # must stay 0: a slot granted during a pause
    limit_low: int = 0  # the lowest limit the AIMD reached
    rate: int | None = None  # the learned sends per second (None = not throttled yet)
    paused_seconds: list[float] = field(default_factory=list)


class Gate:
    """At most ``limit`` calls in flight; a throttle answer pauses all of them."""

    def __init__(self, max_limit: int) -> None:
        if max_limit < 1:
            raise ValueError("the gate needs at least one slot")
        self.max_limit = max_limit
        self.limit = max_limit
        self.in_flight = 0
        self.stats = GateStats(limit_low=max_limit)
        self._urgent: collections.deque[asyncio.Future[float]] = collections.deque()
        self._normal: collections.deque[asyncio.Future[float]] = collections.deque()
        self._paused_until = 0.0
        self._credit = 0
        self._wake_timer: asyncio.TimerHandle | None = None
        self._rate_timer: asyncio.TimerHandle | None = None
        self._sent: collections.deque[float] = collections.deque()  # grant times, last 2 s
        self._rate_credit = 0

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def paused(self) -> bool:
        return self._now() < self._paused_until

    async def acquire(self, *, urgent: bool = False) -> float:
        """Wait for a slot (queued FIFO, urgent first); returns the loop time it was granted."""
        if not self._urgent and not self._normal and self._free():
            return self._take()
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(future)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(ok=False)  # granted, then cancelled: give the slot back
            else:
                for queue in (self._urgent, self._normal):
                    if future in queue:
                        queue.remove(future)
            raise

    def release(self, *, ok: bool) -> None:
        """A call's exchange is over; ``ok`` = a usable reply (grows the limit)."""
        self.in_flight -= 1
        if ok and self.limit < self.max_limit:
            self._credit += 1
            if self._credit >= self.limit:
                self._credit = 0
                self.limit += 1
        if ok and self.stats.rate is not None:
            self._rate_credit += 1
            if self._rate_credit >= 10 * self.stats.rate:
                self._rate_credit = 0
                self.stats.rate += 1
        asyncio.get_running_loop().call_soon(self._wake)

    def throttled(self, retry_after: float, sent_at: float | None = None) -> None:
        """The server said slow down: pause every slot ``retry_after`` s, halve the limit,
        and (given when the throttled request was sent) learn the send rate."""
        self.stats.throttled += 1
        now = self._now()
        if sent_at is not None:
            seen = sum(1 for t in self._sent if sent_at - 1.0 < t <= sent_at)
            learned = max(1, seen - 1)
            if self.stats.rate is None or learned < self.stats.rate:
                self.stats.rate = learned
                self._rate_credit = 0
        until = now + max(retry_after, 0.0)
        if now >= self._paused_until:  # a new throttle episode: decrease once
            self.limit = max(1, self.limit // 2)
            self._credit = 0
            self.stats.limit_low = min(self.stats.limit_low, self.limit)
        if until > self._paused_until:
            self.stats.pauses += 1
            self.stats.paused_seconds.append(round(retry_after, 3))
            self._paused_until = until
            if self._wake_timer is not None:
                self._wake_timer.cancel()
            self._wake_timer = asyncio.get_running_loop().call_at(until, self._wake)

    def _free(self) -> bool:
        if self.in_flight >= self.limit or self.paused():
            return False
        return self._under_rate()

    def _under_rate(self) -> bool:
        """Fewer than ``rate`` sends in the last second; else wake when the oldest leaves."""
        now = self._now()
        while self._sent and self._sent[0] <= now - 2.0:
            self._sent.popleft()
        rate = self.stats.rate
        if rate is None:
            return True
        in_window = [t for t in self._sent if t > now - 1.0]
        if len(in_window) < rate:
            return True
        if self._rate_timer is None or self._rate_timer.cancelled():
            at = in_window[len(in_window) - rate] + 1.0 + RATE_MARGIN_SECONDS
            self._rate_timer = asyncio.get_running_loop().call_at(at, self._rate_wake)
        return False

    def _rate_wake(self) -> None:
        self._rate_timer = None
        self._wake()

    def _take(self) -> float:
        if self.paused():
            self.stats.sent_while_paused += 1
        self.in_flight += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.in_flight)
        now = self._now()
        self._sent.append(now)
        return now

    def _wake(self) -> None:
        if self.paused():  # a timer may fire a clock tick early: look again at the end
            if self._urgent or self._normal:
                loop = asyncio.get_running_loop()
                self._wake_timer = loop.call_at(self._paused_until + 0.001, self._wake)
            return
        while self._free():
            queue = self._urgent if self._urgent else self._normal
            if not queue:
                return
            future = queue.popleft()
            if future.done():  # its caller went away while queued: never sent
                continue
            future.set_result(self._take())
