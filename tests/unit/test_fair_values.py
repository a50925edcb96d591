"""Fair values from the odds feed: the vectorised fold equals de-vigging game by game."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.feeds.odds_api import OddsSnapshot, Quota
from daemon.feeds.odds_parse import BookmakerOdds, OddsEvent, OddsMarket, OddsOutcome
from strategies.devig import METHODS, DevigError, consensus, devig
from strategies.fair_values import FairValues

TS = 1_800_000_000 * 10**9


def event(eid: str, home: str, away: str, books: list[list[float]], draw: bool = False,
          renamed: int | None = None) -> OddsEvent:
    names = [home, away] + (["Draw"] if draw else [])
    bookmakers = []
    for b, prices in enumerate(books):
        outcome_names = list(names)
        if renamed == b:
            outcome_names[0] = home + " FC"  # a bookmaker naming the outcomes differently
        outcomes = tuple(OddsOutcome(n, p) for n, p in zip(outcome_names, prices, strict=True))
        bookmakers.append(BookmakerOdds(f"book{b}", f"Book {b}", TS, (OddsMarket("h2h", TS, outcomes),)))
    return OddsEvent(eid, "soccer_epl" if draw else "basketball_nba", TS + 10**12, home, away, tuple(bookmakers))


def snapshot(events: list[OddsEvent]) -> OddsSnapshot:
    return OddsSnapshot("any", TS, tuple(events), (), Quota(None, None, None))


def game_by_game(events: list[OddsEvent], method: str, min_books: int) -> dict[str, dict[str, float]]:
    """The plain definition: de-vig each bookmaker that names the same outcomes, average."""
    out = {}
    for ev in events:
        names, vectors = None, []
        for book in ev.bookmakers:
            prices = {o.name: o.price for o in book.markets[0].outcomes}
            names = names or sorted(prices)
            if sorted(prices) != names:
                continue
            try:
                vectors.append(devig([prices[n] for n in names], method))
            except DevigError:
                continue
        if len(vectors) >= min_books:
            out[ev.id] = dict(zip(names, consensus(vectors).tolist(), strict=True))
    return out


prices = st.floats(min_value=1.01, max_value=60, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(METHODS), st.integers(1, 3),
       st.lists(st.tuples(st.booleans(), st.lists(st.lists(prices, min_size=3, max_size=3), min_size=1, max_size=5),
                          st.one_of(st.none(), st.integers(0, 4))), min_size=1, max_size=8))
def test_the_vectorised_fold_equals_devigging_game_by_game(method, min_books, games):
    events = [event(f"e{i}", f"Home {i}", f"Away {i}", [b[: 3 if draw else 2] for b in books], draw, renamed)
              for i, (draw, books, renamed) in enumerate(games)]
    fair = FairValues(method, min_books, 120.0)
    updated = fair.update(snapshot(events))
    expected = game_by_game(events, method, min_books)
    assert [ev.id for ev, _ in updated] == [ev.id for ev in events if ev.id in expected]  # poll order
    for ev, game in updated:
        assert game.probabilities.keys() == expected[ev.id].keys()
        for name, p in game.probabilities.items():
            assert p == pytest.approx(expected[ev.id][name], abs=1e-12)
        assert math.isclose(sum(game.probabilities.values()), 1.0, abs_tol=1e-12)


def test_lookup_by_teams_and_age() -> None:
    fair = FairValues("shin", 2, 60.0)
    fair.update(snapshot([event("e1", "Boston Celtics", "Los Angeles Lakers", [[1.5, 2.8], [1.55, 2.6]]),
                          event("e2", "Utah Jazz", "Miami Heat", [[1.9, 1.9]])]))  # one book: too few
    p = fair.fair_yes("Boston Celtics", "Los Angeles Lakers", TS + 10**9)
    q = fair.fair_yes("Los Angeles Lakers", "Boston Celtics", TS + 10**9)
    assert 0.6 < p < 0.7 and p + q == pytest.approx(1.0)
    assert math.isnan(fair.fair_yes("Utah Jazz", "Miami Heat", TS))
    assert math.isnan(fair.fair_yes("Boston Celtics", "Los Angeles Lakers", TS + 61 * 10**9))  # too old
    assert math.isnan(fair.fair_yes(None, "Boston Celtics", TS))


def test_a_line_that_cannot_be_devigged_is_left_out_and_logged(capsys: pytest.CaptureFixture[str]) -> None:
    # Additive de-vigging gives the longshot a negative probability here: that book is skipped.
    fair = FairValues("additive", 1, 60.0)
    updated = fair.update(snapshot([event("e1", "A", "B", [[1.01, 1.5, 60.0], [2.5, 2.8, 3.4]], draw=True)]))
    assert len(updated) == 1 and updated[0][1].bookmakers == 1
    expected = np.array(devig([2.5, 2.8, 3.4], "additive"))  # sorted names: A, B, Draw
    assert [updated[0][1].probabilities[n] for n in ("A", "B", "Draw")] == pytest.approx(expected.tolist(), abs=1e-12)
    assert "odds_devig_failed" in capsys.readouterr().out
