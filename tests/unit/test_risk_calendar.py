"""Trading-day boundaries: start ≤ now < next start, in any zone, across DST jumps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.calendar import day_start_ns, next_day_start_ns

NS = 1_000_000_000
# Zones with DST, half-hour and 45-minute offsets, and DST jumps at midnight.
ZONES = ["UTC", "America/New_York", "Europe/London", "Asia/Kolkata", "Pacific/Chatham",
         "America/Santiago", "America/Havana", "Asia/Beirut", "Australia/Lord_Howe"]


def local_date(ns: int, tz: str) -> dt.date:
    return dt.datetime.fromtimestamp(ns // NS, ZoneInfo(tz)).date()


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 4_000_000_000 * NS), st.sampled_from(ZONES))
def test_day_contains_now_and_starts_on_its_date(now_ns: int, tz: str) -> None:
    start, nxt = day_start_ns(now_ns, tz), next_day_start_ns(now_ns, tz)
    assert start <= now_ns < nxt
    assert start % NS == 0 and nxt % NS == 0
    assert local_date(start, tz) == local_date(now_ns, tz)
    assert local_date(start - NS, tz) < local_date(start, tz)  # the first second of the date
    assert local_date(nxt, tz) == local_date(now_ns, tz) + dt.timedelta(days=1)
    assert day_start_ns(nxt, tz) == nxt and day_start_ns(nxt - 1, tz) == start
    assert 22 * 3_600 * NS <= nxt - start <= 26 * 3_600 * NS


def test_new_york_days_around_the_dst_changes() -> None:
    tz = "America/New_York"
    at = lambda *a: int(dt.datetime(*a, tzinfo=ZoneInfo(tz)).timestamp()) * NS  # noqa: E731
    spring = at(2026, 3, 8, 12)  # a 23-hour day
    assert next_day_start_ns(spring, tz) - day_start_ns(spring, tz) == 23 * 3_600 * NS
    autumn = at(2026, 11, 1, 12)  # a 25-hour day
    assert next_day_start_ns(autumn, tz) - day_start_ns(autumn, tz) == 25 * 3_600 * NS
    assert day_start_ns(at(2026, 1, 20, 23, 59, 59) + NS - 1, tz) == at(2026, 1, 20)


def test_a_skipped_midnight_starts_the_day_after_the_gap() -> None:
    # Santiago, 2026-09-06: clocks jump from 00:00 to 01:00 (UTC−4 → UTC−3); the day starts at 01:00.
    tz = "America/Santiago"
    noon = int(dt.datetime(2026, 9, 6, 12, tzinfo=ZoneInfo(tz)).timestamp()) * NS
    start = day_start_ns(noon, tz)
    assert dt.datetime.fromtimestamp(start // NS, ZoneInfo(tz)).time() == dt.time(1, 0)
    assert local_date(start - NS, tz) == dt.date(2026, 9, 5)


def test_unknown_zone_is_an_error() -> None:
    with pytest.raises(Exception, match="Mars"):
        day_start_ns(0, "Mars/Olympus")


def test_day_bounds_follow_dst_and_meet_end_to_start() -> None:
    from risk.calendar import day_bounds

    start, end = day_bounds(dt.date(2026, 3, 8), "America/New_York")  # spring forward: 23 h
    assert end - start == 23 * 3_600 * 10**9
    assert day_bounds(dt.date(2026, 3, 9), "America/New_York")[0] == end
    assert day_bounds(dt.date(2026, 11, 1), "America/New_York")[1] - day_bounds(dt.date(2026, 11, 1), "America/New_York")[0] == 25 * 3_600 * 10**9
