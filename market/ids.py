"""Canonical ids: one spelling per event and market, whatever feed it came from.

``event_id`` = ``league_home_away_yyyy_mm_dd`` in lower-case slugs
(``nba_lakers_celtics_2026_01_20``); ``market_key`` = ``KIND:PERIOD`` (``SPREAD:FULL_GAME``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

MARKET_KINDS = ("MONEYLINE", "SPREAD", "TOTAL", "BINARY")
PERIODS = ("FULL_GAME", "FIRST_HALF", "SECOND_HALF", "Q1", "Q2", "Q3", "Q4", "P1", "P2", "P3")

_SLUG_RUN = re.compile(r"[^a-z0-9]+")
_EVENT_ID = re.compile(r"([a-z0-9]+)_([a-z0-9_]+)_([0-9]{4})_([0-9]{2})_([0-9]{2})")


class IdError(ValueError):
    """An id that does not follow the canonical form."""


def slug(text: str) -> str:
    """Lower-case ASCII, every run of non-alphanumerics → one ``_``, trimmed.

    Accents are folded first (``Atlético`` → ``atletico``), so feeds that do and do not
    spell them agree on the id; letters with no ASCII form are dropped.
    """
    folded = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    value = _SLUG_RUN.sub("_", folded).strip("_")
    if not value:
        raise IdError(f"{text!r} has no letters or digits to make an id from")
    return value


def event_id(league: str, home: str, away: str, date: dt.date) -> str:
    """``nba_lakers_celtics_2026_01_20``; the league loses its inner ``_`` so it stays one field."""
    when = f"{date.year:04d}_{date.month:02d}_{date.day:02d}"  # %Y is not zero-padded everywhere
    return f"{slug(league).replace('_', '')}_{slug(home)}_{slug(away)}_{when}"


def parse_event_id(value: str) -> tuple[str, str, dt.date]:
    """→ (league, "home_away" slug, date); the team boundary is not recoverable from a slug."""
    match = _EVENT_ID.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise IdError(f"event_id {value!r}: expected league_home_away_yyyy_mm_dd in lower case")
    league, teams, year, month, day = match.groups()
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError as exc:
        raise IdError(f"event_id {value!r}: {exc}") from None
    if "_" not in teams or "" in teams.split("_"):
        raise IdError(f"event_id {value!r}: needs a home and an away team, no empty parts")
    return league, teams, date


def market_key(kind: str, period: str = "FULL_GAME") -> str:
    key = f"{kind.strip().upper()}:{period.strip().upper()}"
    parse_market_key(key)
    return key


def parse_market_key(value: str) -> tuple[str, str]:
    if not isinstance(value, str):
        raise IdError(f"market_key {value!r}: expected a string")
    kind, sep, period = value.partition(":")
    if not sep:
        raise IdError(f"market_key {value!r}: expected KIND:PERIOD, e.g. SPREAD:FULL_GAME")
    if kind not in MARKET_KINDS:
        raise IdError(f"market_key {value!r}: kind {kind!r} not one of {', '.join(MARKET_KINDS)}")
    if period not in PERIODS:
        raise IdError(f"market_key {value!r}: period {period!r} not one of {', '.join(PERIODS)}")
    return kind, period
