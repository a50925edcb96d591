"""Strategies: which markets they propose, at what price, with which fair probability."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.base import SIDE_NO, SIDE_YES, MarketView, Proposals
from strategies.flb import KALSHI_FLB_TABLE, CalibrationCurve, FavouriteLongshot
from strategies.market_board import MarketBoard
from strategies.odds_edge import OddsEdge
from tests import strategy_reference as reference

CURVE = CalibrationCurve.from_points(KALSHI_FLB_TABLE)


def view(yes_bid, yes_ask, size=10_000, fair_yes=None) -> MarketView:
    n = len(yes_bid)
    return MarketView(
        yes_bid=np.array(yes_bid, dtype=np.int64),
        yes_ask=np.array(yes_ask, dtype=np.int64),
        yes_bid_size=np.full(n, size, dtype=np.int64),
        yes_ask_size=np.full(n, size, dtype=np.int64),
        book_ts_ns=np.zeros(n, dtype=np.int64),
        fair_yes=np.array(fair_yes if fair_yes is not None else [np.nan] * n, dtype=np.float64),
    )


def test_curve_reproduces_the_table_points_and_keeps_excess_beyond_them() -> None:
    for price, win in KALSHI_FLB_TABLE:
        assert CURVE.fair_yes(np.array([round(price * 10_000)]))[0] == pytest.approx(win, abs=1e-4)
    assert CURVE.fair_yes(np.array([9_900]))[0] == pytest.approx(0.99 + (0.9823 - 0.9748))


def test_curve_rejects_bad_tables() -> None:
    with pytest.raises(ValueError, match="increasing"):
        CalibrationCurve.from_points([(0.5, 0.5), (0.4, 0.4)])
    with pytest.raises(ValueError, match="between 0 and 1"):
        CalibrationCurve.from_points([(0.0, 0.5), (0.4, 0.4)])


def test_flb_buys_favourites_yes_and_longshots_no_only_when_edge_clears() -> None:
    flb = FavouriteLongshot(9_000, 1_000, min_edge=0.0105, fee_rate_ppm=70_000, curve=CURVE)
    # slot 0: YES ask 92¢, fair 93.73%, fee 0.52¢ → net edge 1.21pp → buy YES at 92¢
    # slot 1: mid-priced → outside both thresholds
    # slot 2: YES bid 6¢ → NO ask 94¢, fair NO 95.47%, fee 0.39¢ → net 1.08pp → buy NO at 94¢
    # slot 3: YES bid 10¢ → NO ask 90¢, fair NO 91.67%, fee 0.63¢ → net 1.04pp < 1.05pp → nothing
    # slot 4: YES ask 89¢ is below the favourite threshold → nothing
    proposals = flb.propose(
        view([9_100, 4_000, 600, 1_000, 8_800], [9_200, 4_200, 700, 1_100, 8_900])
    )
    assert proposals.slot.tolist() == [0, 2]
    assert proposals.side.tolist() == [SIDE_YES, SIDE_NO]
    assert proposals.price.tolist() == [9_200, 9_400]
    assert proposals.fair[0] == pytest.approx(float(CURVE.fair_yes(np.array([9_200]))[0]))
    assert proposals.fair[1] == pytest.approx(1 - float(CURVE.fair_yes(np.array([600]))[0]))


def test_flb_longshot_no_side_uses_the_no_ask_and_no_fair() -> None:
    flb = FavouriteLongshot(9_000, 1_000, min_edge=0.0, fee_rate_ppm=0, curve=CURVE)
    proposals = flb.propose(view([500], [5_000]))  # YES bid 5¢ → NO ask 95¢
    assert proposals.side.tolist() == [SIDE_NO]
    assert proposals.price.tolist() == [9_500]
    assert proposals.fair[0] == pytest.approx(1 - float(CURVE.fair_yes(np.array([500]))[0]))


def test_fee_can_eat_the_edge() -> None:
    free = FavouriteLongshot(9_000, 1_000, min_edge=0.015, fee_rate_ppm=0, curve=CURVE)
    taxed = FavouriteLongshot(9_000, 1_000, min_edge=0.015, fee_rate_ppm=70_000, curve=CURVE)
    v = view([9_100], [9_200])
    assert len(free.propose(v)) == 1
    assert len(taxed.propose(v)) == 0


def test_disabled_strategy_proposes_nothing() -> None:
    flb = FavouriteLongshot(9_000, 1_000, 0.0, 0, CURVE, enabled=False)
    assert len(flb.propose(view([9_100], [9_200]))) == 0


def test_odds_edge_buys_the_cheap_side() -> None:
    strategy = OddsEdge(min_edge=0.02, fee_rate_ppm=70_000)
    # fair YES 60%: YES ask 50¢ is cheap; second market fair YES 30%: NO ask = 1 − 55¢ bid = 45¢ cheap
    proposals = strategy.propose(view([4_800, 5_500], [5_000, 5_700], fair_yes=[0.60, 0.30]))
    assert list(zip(proposals.slot, proposals.side, proposals.price, strict=True)) == [
        (0, SIDE_YES, 5_000), (1, SIDE_NO, 4_500)
    ]
    assert proposals.fair.tolist() == pytest.approx([0.60, 0.70])


def test_odds_edge_ignores_markets_without_fair_value() -> None:
    assert len(OddsEdge(0.0, 0).propose(view([4_000], [4_100]))) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9_999), st.integers(0, 9_999), st.floats(0.01, 0.99)),
        min_size=1, max_size=30,
    ),
    st.floats(0.0, 0.05),
)
def test_every_proposal_has_a_positive_screened_edge(rows, min_edge) -> None:
    bids, asks, fair = zip(*rows, strict=True)
    v = view(list(bids), list(asks), fair_yes=list(fair))
    for strategy in (
        OddsEdge(min_edge, 70_000),
        FavouriteLongshot(9_000, 1_000, min_edge, 70_000, CURVE),
    ):
        p: Proposals = strategy.propose(v)
        assert np.all(p.price > 0) and np.all(p.price < 10_000)
        assert np.all(p.fair - p.price / 10_000 > min_edge)
        assert np.all(p.size_cap > 0)


quote = st.integers(0, 10_000)
size = st.integers(0, 5_000)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(quote, quote, size, size, st.one_of(st.floats(0.0, 1.0), st.just(float("nan")))),
             min_size=0, max_size=40),
    st.integers(5_000, 9_999), st.integers(1, 5_000), st.floats(-0.05, 0.05), st.integers(0, 200_000),
    st.lists(st.tuples(st.floats(0.001, 0.999), st.floats(0.001, 0.999)), min_size=2, max_size=8),
)
def test_kernels_select_exactly_what_the_numpy_reference_selects(
    rows, favourite, longshot, min_edge, rate, points
) -> None:
    """Same rows, order, prices, sizes and fair probabilities, bit for bit (strategy_reference)."""
    prices = sorted({round(p, 3) for p, _ in points})
    if len(prices) < 2:
        return
    curve = CalibrationCurve.from_points([(p, w) for p, (_, w) in zip(prices, points, strict=False)])
    n = len(rows)
    v = MarketView(
        yes_bid=np.array([r[0] for r in rows], np.int64), yes_ask=np.array([r[1] for r in rows], np.int64),
        yes_bid_size=np.array([r[2] for r in rows], np.int64),
        yes_ask_size=np.array([r[3] for r in rows], np.int64),
        book_ts_ns=np.zeros(n, np.int64), fair_yes=np.array([r[4] for r in rows], np.float64),
    )
    pairs = [(FavouriteLongshot(favourite, longshot, min_edge, rate, curve), reference.flb_propose),
             (OddsEdge(min_edge, rate), reference.odds_edge_propose)]
    for strategy, numpy_form in pairs:
        got, want = strategy.propose(v), numpy_form(strategy, v)
        for column in ("slot", "side", "price", "size_cap"):
            assert getattr(got, column).tolist() == getattr(want, column).tolist(), column
            assert getattr(got, column).dtype == getattr(want, column).dtype, column
        assert got.fair.tobytes() == want.fair.tobytes()


def test_the_board_view_zeroes_closed_markets() -> None:
    board = MarketBoard(capacity=2)
    for slot, ticker in enumerate(["A", "B", "C"]):  # the third grows the columns
        board.add(ticker, slot)
        board.update(slot, 4_000 + slot, 4_100 + slot, 10 + slot, 20 + slot, 7, is_open=slot != 1)
    v = board.view()
    assert v.yes_bid.tolist() == [4_000, 0, 4_002] and v.yes_ask.tolist() == [4_100, 0, 4_102]
    assert v.yes_bid_size.tolist() == [10, 0, 12] and v.yes_ask_size.tolist() == [20, 0, 22]
