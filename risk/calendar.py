"""Trading-day boundaries for the daily loss limit, in a configurable time zone.

Pure: the time is passed in. A day starts at the first instant whose local date is that
date, which is local midnight except where a DST jump skips midnight (then it is the
first instant after the gap). Whole seconds are used throughout: a float timestamp would
round the last ~100 ns of a day into the next one.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from market.units import HOUR_NS, SECOND_NS

NS = SECOND_NS
_HOUR_S = HOUR_NS // SECOND_NS


@lru_cache(maxsize=16)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def _local_date(seconds: int, zone: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, zone).date()


def _first_second_of(date: dt.date, zone: ZoneInfo) -> int:
    """Epoch seconds of the first instant whose local date in ``zone`` is ``date``."""
    guess = int(dt.datetime(date.year, date.month, date.day, tzinfo=zone).timestamp())
    if _local_date(guess, zone) == date and _local_date(guess - 1, zone) < date:
        return guess  # the usual case: local midnight exists and is the boundary
    # The guess is midnight, or off by the size of a DST jump (at most a few hours) when
    # midnight is skipped or repeated; walk to the exact boundary by bisection.
    lo, hi = guess - 3 * _HOUR_S, guess + 3 * _HOUR_S
    while _local_date(lo, zone) >= date:
        lo -= 24 * _HOUR_S
    while _local_date(hi, zone) < date:
        hi += 24 * _HOUR_S
    while hi - lo > 1:  # invariant: local date at lo < date <= local date at hi
        mid = (lo + hi) // 2
        if _local_date(mid, zone) < date:
            lo = mid
        else:
            hi = mid
    return hi


def day_start_ns(now_ns: int, tz: str) -> int:
    """Start of ``now_ns``'s trading day in time zone ``tz``, as ns since the epoch (UTC)."""
    zone = _zone(tz)
    return _first_second_of(_local_date(now_ns // NS, zone), zone) * NS


def next_day_start_ns(now_ns: int, tz: str) -> int:
    """Start of the trading day after ``now_ns``'s: when a daily-loss halt expires."""
    zone = _zone(tz)
    tomorrow = _local_date(now_ns // NS, zone) + dt.timedelta(days=1)
    return _first_second_of(tomorrow, zone) * NS


def day_bounds(date: dt.date, tz: str) -> tuple[int, int]:
    """[start, end) of the trading day ``date`` in ``tz``, in ns (DST days are 23 or 25 h)."""
    zone = _zone(tz)
    return _first_second_of(date, zone) * NS, _first_second_of(date + dt.timedelta(days=1), zone) * NS
