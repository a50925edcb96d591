"""Token bucket: stay under a venue's request rate instead of finding it with 429s.

A caller takes a token; when the bucket is empty it *reserves* the next one (the level goes
negative) and sleeps until that token would have arrived. Reserving before sleeping keeps
concurrent callers in a fair queue without a lock, and means one sleep per call, so a
recorded (fake) sleep in tests gives the exact schedule without looping on a real clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up (default: one second's worth)."""

    def __init__(self, rate: float, capacity: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if not rate > 0:
            raise ValueError(f"token bucket: rate {rate!r} must be positive")
        capacity = rate if capacity is None else capacity
        if not capacity >= 1:
            raise ValueError(f"token bucket: capacity {capacity!r} must be at least 1")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._stamp = clock()
        self.waits = 0
        """How many acquisitions had to wait."""
        self.wait_seconds = 0.0
        """Total time those acquisitions were told to wait."""

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._stamp = max(self._stamp, now)

    def reserve(self) -> float:
        """Take a token now and return how long to wait before using it (0 when available)."""
        self._refill()
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        delay = -self._tokens / self.rate
        self.waits += 1
        self.wait_seconds += delay
        return delay

    def take_now(self) -> bool:
        """Take a token only if one is here now (no reservation): the caller goes on at once
        or takes the waiting path (``acquire``)."""
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1.0
        return True

    async def acquire(self) -> float:
        """Wait for a token; returns the wait (seconds)."""
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)
        return delay

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens
