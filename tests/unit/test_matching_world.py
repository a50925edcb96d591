"""The simulated world behind the built-in exchange: seeded determinism, the market
lifecycle, and the favourite–longshot shape of its prices against the truth."""

from __future__ import annotations

import statistics

import pytest

from daemon.venues.sim.exchange import SimExchange
from daemon.venues.sim.world import FlbBias, SimWorld
from market.orders import Side
from strategies.flb import KALSHI_FLB_TABLE

START = 1_772_366_400 * 10**9
S = 10**9


def snapshot(world: SimWorld) -> list[tuple]:
    return [(g.game_id, g.ticker, g.event_ticker, g.home_team, g.away_team, g.true_home_prob,
             g.outcome, g.status, g.result, g.commence_ns) for g in world.games]


def test_same_seed_same_world_and_history() -> None:
    a, b = SimWorld(42, 8, START), SimWorld(42, 8, START)
    assert snapshot(a) == snapshot(b)
    for t in range(0, 400, 7):
        a.advance(START + t * S)
        b.advance(START + t * S)
    assert snapshot(a) == snapshot(b) and len(a.games) > 8
    assert snapshot(SimWorld(43, 8, START)) != snapshot(SimWorld(42, 8, START))


def test_games_have_what_the_odds_feed_and_the_exchange_need() -> None:
    world = SimWorld(1, 5, START)
    for g in world.games:
        assert g.sport_key == "basketball_nba" and g.home_team != g.away_team
        assert g.ticker.startswith(g.event_ticker + "-") and g.event_ticker.startswith(g.series_ticker + "-")
        assert 0.0 < g.true_home_prob < 1.0 and g.open_ns == START < g.close_ns == g.commence_ns
        assert 100 <= world.quoted_price(g) <= 9_900 and world.quoted_price(g) % 100 == 0
    assert len({g.ticker for g in world.games}) == 5


def test_lifecycle_active_closed_determined_finalized_and_n_stay_open() -> None:
    world = SimWorld(5, 3, START, market_life_s=60, settle_delay_s=10)
    first = min(world.games, key=lambda g: g.close_ns)
    world.advance(first.close_ns)
    assert first.status == "closed" and first.result is None
    assert len(world.open_games()) == 3  # a new game replaced it
    world.advance(first.close_ns + 5 * S)
    assert first.status == "determined" and first.result is first.outcome
    changed = world.advance(first.settle_ns)
    assert first.status == "finalized" and first in changed
    # A long pause takes a game straight from active to finalized.
    later = world.open_games()[0]
    world.advance(later.settle_ns + S)
    assert later.status == "finalized" and later.result is later.outcome


def test_prices_carry_the_favourite_longshot_bias() -> None:
    bias = FlbBias(scale=1.0)
    for price, win_rate in KALSHI_FLB_TABLE:  # the real table's points are reproduced
        assert bias.true_for(price) == pytest.approx(win_rate, abs=1e-9)
        assert bias.price_for(win_rate) == pytest.approx(price, abs=2e-4)
    assert bias.price_for(0.05) > 0.05  # longshots overpriced
    assert bias.price_for(0.95) < 0.95  # favourites underpriced
    prices = [bias.price_for(p / 100) for p in range(1, 100)]
    assert prices == sorted(prices)  # a monotone map: it never reorders games


def test_outcomes_follow_the_truth_not_the_price() -> None:
    world = SimWorld(9, 20_000, START, bias_scale=3.0)
    low = [g for g in world.games if world.quoted_price(g) <= 1_500]
    high = [g for g in world.games if world.quoted_price(g) >= 8_500]
    assert len(low) > 1_000 and len(high) > 1_000

    def mean_price(games):
        return statistics.fmean(world.quoted_price(g) / 10_000 for g in games)

    def win_rate(games):
        return statistics.fmean(g.outcome is Side.YES for g in games)

    assert win_rate(low) < mean_price(low) - 0.02  # buying longshots loses
    assert win_rate(high) > mean_price(high) + 0.02  # buying favourites wins
    truth_low = statistics.fmean(g.true_home_prob for g in low)
    assert abs(win_rate(low) - truth_low) < 0.02


def test_exchange_is_deterministic_for_a_seed_and_clock() -> None:
    from daemon.venues.kalshi_auth import generate_keypair

    _, public = generate_keypair()

    def run() -> list:
        clock = iter(range(START, START + 10**12, S // 4))
        sim = SimExchange(public, "k", seed=3, markets=4, clock=lambda: next(clock))
        for _ in range(40):
            sim.step()
        return [(t, b.levels(Side.YES), b.levels(Side.NO), b.last_price, b.volume)
                for t, b in sorted(sim.engine.books.items())]

    first = run()
    assert any(volume for *_, volume in first)  # the background traders did trade
    assert first == run()
