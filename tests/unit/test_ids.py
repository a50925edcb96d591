"""Canonical ids: one spelling per event and market, strict parsers, round trips."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.ids import (
    MARKET_KINDS,
    PERIODS,
    IdError,
    event_id,
    market_key,
    parse_event_id,
    parse_market_key,
    slug,
)


def test_worked_examples() -> None:
    assert event_id("nba", "Lakers", "Celtics", dt.date(2026, 1, 20)) == "nba_lakers_celtics_2026_01_20"
    assert event_id("NBA", "Los Angeles Lakers", "Boston  Celtics!", dt.date(2026, 1, 2)) == \
        "nba_los_angeles_lakers_boston_celtics_2026_01_02"
    assert market_key("spread") == "SPREAD:FULL_GAME"
    assert market_key(" total ", "q1") == "TOTAL:Q1"
    assert parse_market_key("MONEYLINE:FIRST_HALF") == ("MONEYLINE", "FIRST_HALF")
    assert parse_event_id("nba_lakers_celtics_2026_01_20") == ("nba", "lakers_celtics", dt.date(2026, 1, 20))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Lakers", "lakers"), ("  --St. Louis Blues--  ", "st_louis_blues"), ("76ers", "76ers"),
     ("Atlético Madrid", "atletico_madrid"), ("Atletico Madrid", "atletico_madrid"),
     ("Borussia Mönchengladbach", "borussia_monchengladbach"), ("A__B", "a_b"), ("Straße", "strasse")],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "!!!", "—", "東京"])
def test_slug_rejects_text_without_letters_or_digits(text: str) -> None:
    with pytest.raises(IdError, match="no letters or digits") as info:
        slug(text)
    assert repr(text) in str(info.value)


def test_league_with_separators_stays_one_field() -> None:
    eid = event_id("NBA G-League", "A", "B", dt.date(2026, 3, 4))
    assert eid == "nbagleague_a_b_2026_03_04"
    assert parse_event_id(eid)[0] == "nbagleague"


def test_early_years_are_zero_padded() -> None:
    assert event_id("x", "a", "b", dt.date(999, 1, 2)) == "x_a_b_0999_01_02"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("nba_lakers_2026_01_20", "home and an away team"),
        ("nba__celtics_2026_01_20", "home and an away team"),
        ("nba_a__b_2026_01_20", "home and an away team"),
        ("nba_lakers_celtics_2026_02_30", "day is out of range"),
        ("nba_lakers_celtics_2026_13_01", "month must be in 1..12"),
        ("NBA_lakers_celtics_2026_01_20", "lower case"),
        ("nba_lakers_celtics_2026_1_20", "yyyy_mm_dd"),
        ("nba_lakers_celtics_2026_01_20\n", "yyyy_mm_dd"),
        ("nba_lakers_celtics_\u0662\u0660\u0662\u0666_01_20", "yyyy_mm_dd"),
        ("nba-lakers-celtics-2026-01-20", "yyyy_mm_dd"),
        ("", "yyyy_mm_dd"),
        (None, "yyyy_mm_dd"),
    ],
)
def test_parse_event_id_rejects_naming_the_problem(value, why: str) -> None:
    with pytest.raises(IdError, match=why) as info:
        parse_event_id(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("SPREAD", "expected KIND:PERIOD"),
        ("spread:FULL_GAME", "kind 'spread' not one of MONEYLINE"),
        ("SPREADS:FULL_GAME", "kind 'SPREADS'"),
        ("SPREAD:HALF", "period 'HALF' not one of FULL_GAME"),
        ("SPREAD:FULL_GAME:X", "period 'FULL_GAME:X'"),
        ("SPREAD:FULL_GAME\n", "period 'FULL_GAME\\\\n'"),
        (None, "expected a string"),
    ],
)
def test_parse_market_key_rejects_naming_the_problem(value, why: str) -> None:
    with pytest.raises(IdError, match=why) as info:
        parse_market_key(value)
    assert repr(value) in str(info.value)


def test_market_key_rejects_unknown_kind_or_period() -> None:
    with pytest.raises(IdError, match="kind 'H2H'"):
        market_key("h2h")
    with pytest.raises(IdError, match="period 'OT'"):
        market_key("total", "ot")


names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20).filter(
    lambda t: any(c.isascii() and c.isalnum() for c in t))
dates = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))


@settings(max_examples=300)
@given(names, names, names, dates)
def test_event_id_round_trip(league: str, home: str, away: str, date: dt.date) -> None:
    eid = event_id(league, home, away, date)
    assert parse_event_id(eid) == (slug(league).replace("_", ""), f"{slug(home)}_{slug(away)}", date)
    # Canonical: re-spelling the parts as their slugs gives the same id.
    assert event_id(slug(league), slug(home), slug(away), date) == eid


@settings(max_examples=100)
@given(st.sampled_from(MARKET_KINDS), st.sampled_from(PERIODS), st.booleans())
def test_market_key_round_trip(kind: str, period: str, lower: bool) -> None:
    key = market_key(kind.lower() if lower else kind, period.lower() if lower else period)
    assert key == f"{kind}:{period}"
    assert parse_market_key(key) == (kind, period)


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_parsers_fuzz_either_canonical_or_id_error(text: str) -> None:
    try:
        league, teams, date = parse_event_id(text)
    except IdError:
        pass
    else:
        assert f"{league}_{teams}_{date.year:04d}_{date.month:02d}_{date.day:02d}" == text
    try:
        kind, period = parse_market_key(text)
    except IdError:
        pass
    else:
        assert f"{kind}:{period}" == text
