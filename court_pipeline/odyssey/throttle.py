"""Pool-wide flow control for the Odyssey client: one gate every call passes.

Why: a server's rate limit (429 ``Retry-After``, ``SITE_BUSY``) is about the whole client,
not the one call that saw it. If only that call waits, the other slots keep sending and every
one of them is throttled too. So the gate:

  * lets at most ``limit`` calls be in flight (urgent ones, e.g. FindParties pages that
    discover more work, go first);
  * on a throttle answer pauses every slot until the Retry-After has passed (one shared
    back-off; requests already in flight excepted) and halves ``limit``;
  * adds one slot back per ``limit`` successful replies (AIMD) up to ``max_limit``.

Wake-ups run from ``call_soon``, never inside ``release``: a caller that releases its slot
and then learns, without awaiting, that the reply was a throttle (``SITE_BUSY`` is parsed
after the release) pauses the gate before anyone else is let through.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field


@dataclass
class GateStats:
    """What the gate did over one client's life (exact counts, for tests and run metadata)."""

    peak_in_flight: int = 0
    pauses: int = 0  # throttle answers that started or extended a pause
    throttled: int = 0  # throttle answers seen
    sent_while_paused: int = 0  # must stay 0: a slot granted during a pause
    limit_low: int = 0  # the lowest limit the AIMD reached
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
        self._urgent: collections.deque[asyncio.Future[None]] = collections.deque()
        self._normal: collections.deque[asyncio.Future[None]] = collections.deque()
        self._paused_until = 0.0
        self._credit = 0
        self._wake_timer: asyncio.TimerHandle | None = None

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def paused(self) -> bool:
        return self._now() < self._paused_until

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for a slot (queued FIFO, urgent first)."""
        if not self._urgent and not self._normal and self._free():
            self._take()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(future)
        try:
            await future
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
        asyncio.get_running_loop().call_soon(self._wake)

    def throttled(self, retry_after: float) -> None:
        """The server said slow down: pause every slot ``retry_after`` s, halve the limit."""
        self.stats.throttled += 1
        now = self._now()
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
        return self.in_flight < self.limit and not self.paused()

    def _take(self) -> None:
        if self.paused():
            self.stats.sent_while_paused += 1
        self.in_flight += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.in_flight)

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
            self._take()
            future.set_result(None)
