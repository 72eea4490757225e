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
    send rate (at most that many in any one-second window, plus a margin), raised by one per
    ``10 x rate`` clean replies, half as often after each such probe that drew a 429. A
    strict per-second limit then throttles a handful of times per sync, not every second;
  * starts slow (4 slots, doubled per round of clean replies until the first throttle), so
    the first 429 of a sync catches a few requests in flight, not all ``max_limit``;
  * given the site's published limit (``rate_cap``, the registry's
    ``odyssey.requests_per_second``), starts at that rate and never probes above it, so a
    sync that knows the limit is not throttled at all (only learning costs 429s).

Wake-ups run from ``call_soon``, never inside ``release``: a caller that releases its slot
and then learns, without awaiting, that the reply was a throttle (``SITE_BUSY`` is parsed
after the release) pauses the gate before anyone else is let through.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

SLOW_START_SLOTS = 4
RATE_MARGIN_SECONDS = 0.05  # arrival times jitter: a send waits this long past the window


@dataclass
class GateStats:
    """What the gate did over one client's life (exact counts, for tests and run metadata)."""

    peak_in_flight: int = 0
    pauses: int = 0  # throttle answers that started or extended a pause
    throttled: int = 0  # throttle answers seen
    sent_while_paused: int = 0  # must stay 0: a slot granted during a pause
    # requests already in flight when each 429 was seen (summed): the only ones that may
    # reach the server before its Retry-After has passed (counted by the client)
    in_flight_at_429: int = 0
    limit_low: int = 0  # the lowest limit the AIMD reached
    rate: int | None = None  # the learned sends per second (None = not throttled yet)
    paused_seconds: list[float] = field(default_factory=list)


class Gate:
    """At most ``limit`` calls in flight; a throttle answer pauses all of them."""

    def __init__(self, max_limit: int, rate_cap: int | None = None) -> None:
        if max_limit < 1:
            raise ValueError("the gate needs at least one slot")
        if rate_cap is not None and rate_cap < 1:
            raise ValueError("rate_cap must be at least one request per second")
        self.max_limit = max_limit
        self.rate_cap = rate_cap
        # slow start: begin at a quarter of the slots and double per full round of clean
        # replies until the first throttle, so the burst a rate limit catches in flight is
        # a few requests, not ``max_limit`` (reaches 16 slots after 12 clean replies)
        self.limit = max(1, min(max_limit, SLOW_START_SLOTS))
        self._slow_start = True
        self.in_flight = 0
        self.stats = GateStats(limit_low=max_limit, rate=rate_cap)
        self._urgent: collections.deque[asyncio.Future[float]] = collections.deque()
        self._normal: collections.deque[asyncio.Future[float]] = collections.deque()
        self._paused_until = 0.0
        self._credit = 0
        self._wake_timer: asyncio.TimerHandle | None = None
        self._rate_timer: asyncio.TimerHandle | None = None
        self._sent: collections.deque[float] = collections.deque()  # grant times, last 2 s
        self._rate_credit = 0
        self._probe_every = 10  # probe one send/s higher after this x rate clean replies

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
                grown = 2 * self.limit if self._slow_start else self.limit + 1
                self.limit = min(self.max_limit, grown)
        if ok and self.stats.rate is not None:
            self._rate_credit += 1
            if self._rate_credit >= self._probe_every * self.stats.rate:
                self._rate_credit = 0
                if self.rate_cap is None or self.stats.rate < self.rate_cap:
                    self.stats.rate += 1
        asyncio.get_running_loop().call_soon(self._wake)

    def throttled(self, retry_after: float, sent_at: float | None = None) -> None:
        """The server said slow down: pause every slot ``retry_after`` s, halve the limit,
        and (given when the throttled request was sent) learn the send rate."""
        self.stats.throttled += 1
        self._slow_start = False
        now = self._now()
        if sent_at is not None:
            seen = sum(1 for t in self._sent if sent_at - 1.0 < t <= sent_at)
            learned = max(1, seen - 1)
            if self.stats.rate is not None and now >= self._paused_until:
                # once known, the rate steps down by one per new throttle episode at most: a
                # 429 right after a pause (or jitter) sees few sends in its second and would
                # otherwise teach a rate far below the server's, recovered one probe at a
                # time. The 429s of requests in flight during a pause all teach in full (the
                # first burst: the lowest of them is the server's rate)
                learned = max(learned, self.stats.rate - 1)
            if self.stats.rate is None or learned < self.stats.rate:
                if self.stats.rate is not None:  # a probe above the rate failed: probe
                    self._probe_every = min(2 * self._probe_every, 80)  # half as often
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
        # the margin on both sides: a grant is held back until the send it would be the
        # (rate+1)-th with has been out of the server's window for RATE_MARGIN_SECONDS, as
        # arrival times there jitter against grant times here
        in_window = [t for t in self._sent if t > now - 1.0 - RATE_MARGIN_SECONDS]
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
