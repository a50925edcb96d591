"""Token bucket: burst, pacing, refill and the wait counters metrics read."""

from __future__ import annotations

import asyncio

import pytest

from daemon.venues.rate_limit import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_burst_then_paced() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, clock=t.clock, sleep=t.sleep)
    waits = [await bucket.acquire() for _ in range(13)]
    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.1, 0.1, 0.1])  # the clock advanced through each sleep
    assert bucket.waits == 3 and bucket.wait_seconds == pytest.approx(0.3)


async def test_concurrent_callers_queue_without_a_lock() -> None:
    t = FakeTime()
    bucket = TokenBucket(4, capacity=1, clock=t.clock, sleep=t.sleep)
    delays = [bucket.reserve() for _ in range(4)]  # all at the same instant
    assert delays == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_take_now_takes_only_a_token_that_is_here() -> None:
    t = FakeTime()
    bucket = TokenBucket(2, clock=t.clock, sleep=t.sleep)
    assert [bucket.take_now() for _ in range(3)] == [True, True, False]
    assert bucket.available == 0 and bucket.waits == 0  # the refusal reserved nothing
    t.now += 0.4  # 0.8 of a token
    assert not bucket.take_now()
    t.now += 0.1
    assert bucket.take_now() and bucket.reserve() == pytest.approx(0.5)


async def test_refill_is_capped_at_capacity() -> None:
    t = FakeTime()
    bucket = TokenBucket(2, capacity=3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        bucket.reserve()
    t.now += 100
    assert bucket.available == 3
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


async def test_clock_going_backwards_adds_nothing() -> None:
    t = FakeTime()
    bucket = TokenBucket(1, clock=t.clock, sleep=t.sleep)
    bucket.reserve()
    t.now -= 50
    assert bucket.reserve() == pytest.approx(1.0)
    t.now += 50.5  # back to the original instant + 0.5 s: half a token, still owed
    assert bucket.available == pytest.approx(-0.5)


async def test_real_sleep_works() -> None:
    bucket = TokenBucket(1000, capacity=1)
    await asyncio.gather(*(bucket.acquire() for _ in range(3)))
    assert bucket.waits == 2


@pytest.mark.parametrize("rate,capacity", [(0, None), (-1, None), (5, 0.5)])
def test_bad_settings(rate: float, capacity: float | None) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, capacity)
