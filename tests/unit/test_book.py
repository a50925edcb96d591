"""Order book from two bid ladders: derived asks, order independence, rejections by name."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.book import BookError, Level, OrderBook
from market.orders import Side
from market.units import CONTRACT_PAYOUT

ladders = st.lists(st.tuples(st.integers(1, 9_999), st.integers(0, 10**7)), max_size=15)


def book(yes, no) -> OrderBook:
    return OrderBook.from_ladders("KX-T", yes, no, 42)


def test_example_book() -> None:
    b = book([(4_000, 500), (4_200, 100), (4_000, 250), (3_000, 0)], [(5_500, 300), (5_700, 50)])
    assert b.yes_bids == (Level(4_200, 100), Level(4_000, 750))
    assert b.no_bids == (Level(5_700, 50), Level(5_500, 300))
    assert b.best_bid(Side.YES) == Level(4_200, 100)
    assert b.best_ask(Side.YES) == Level(4_300, 50)  # 1 − best NO bid, with that bid's count
    assert b.best_ask(Side.NO) == Level(5_800, 100)
    assert b.asks(Side.YES) == (Level(4_300, 50), Level(4_500, 300))
    assert b.spread() == 100 and b.spread(Side.NO) == 100
    assert b.mid() == pytest.approx(0.425)
    assert b.depth(Side.YES, "bid") == 850
    assert b.depth(Side.YES, "bid", levels=1) == 100
    assert b.depth(Side.YES, "ask", levels=0) == 0
    assert b.depth(Side.NO, "ask") == 850
    assert not b.is_crossed
    assert (b.ticker, b.ts_ns) == ("KX-T", 42)


def test_empty_and_one_sided_books() -> None:
    empty = book([], [])
    assert empty.best_bid(Side.YES) is None and empty.best_ask(Side.YES) is None
    assert empty.spread() is None and empty.mid() is None and not empty.is_crossed
    assert empty.depth(Side.NO, "ask") == 0
    only_yes = book([(3_000, 10)], [])
    assert only_yes.best_ask(Side.NO) == Level(7_000, 10)
    assert only_yes.best_ask(Side.YES) is None and only_yes.spread() is None


def test_crossed_book_is_kept_and_flagged() -> None:
    """YES bid + NO bid > $1 happens between updates in real data: flagged, not rejected."""
    crossed = book([(6_000, 10)], [(4_500, 10)])
    assert crossed.is_crossed and crossed.spread() == -500
    locked = book([(6_000, 10)], [(4_000, 10)])
    assert not locked.is_crossed and locked.spread() == 0


@settings(max_examples=200)
@given(ladders, ladders, st.randoms(use_true_random=False))
def test_independent_of_input_order(yes, no, rnd) -> None:
    b = book(yes, no)
    yes2, no2 = list(yes), list(no)
    rnd.shuffle(yes2)
    rnd.shuffle(no2)
    assert book(yes2, no2) == b


@settings(max_examples=300)
@given(ladders, ladders)
def test_ladder_invariants(yes, no) -> None:
    b = book(yes, no)
    for side, raw in ((Side.YES, yes), (Side.NO, no)):
        bids = b.bids(side)
        prices = [lv.price for lv in bids]
        assert prices == sorted(set(prices), reverse=True)  # best first, duplicates merged
        assert all(lv.count > 0 for lv in bids)  # empty levels dropped
        for lv in bids:
            assert lv.count == sum(c for p, c in raw if p == lv.price)
        assert b.depth(side, "bid") == sum(c for _, c in raw)
        # Asks are the other side's bids mirrored at 1 − price, best (lowest) first.
        asks = b.asks(side)
        assert asks == tuple(Level(CONTRACT_PAYOUT - lv.price, lv.count) for lv in b.bids(side.opposite))
        assert [lv.price for lv in asks] == sorted(lv.price for lv in asks)
        assert b.best_ask(side) == (asks[0] if asks else None)
        assert b.best_bid(side) == (bids[0] if bids else None)
        assert b.depth(side, "ask") == b.depth(side.opposite, "bid")
        for n in range(len(asks) + 2):
            assert b.depth(side, "ask", n) == sum(lv.count for lv in asks[:n])


@settings(max_examples=300)
@given(ladders, ladders)
def test_spread_mid_and_crossing(yes, no) -> None:
    b = book(yes, no)
    if b.yes_bids and b.no_bids:
        yb, nb = b.yes_bids[0].price, b.no_bids[0].price
        assert b.spread(Side.YES) == b.spread(Side.NO) == CONTRACT_PAYOUT - yb - nb
        assert b.mid(Side.YES) + b.mid(Side.NO) == pytest.approx(1.0)
        assert b.is_crossed == (yb + nb > CONTRACT_PAYOUT)
        # Uncrossed: the best ask is at or above the best bid, on both sides.
        if not b.is_crossed:
            for side in Side:
                assert b.best_ask(side).price >= b.best_bid(side).price
                assert 0.0 < b.mid(side) < 1.0
    else:
        assert b.spread() is None and not b.is_crossed


@pytest.mark.parametrize(
    ("yes", "no", "message"),
    [
        ([(5_000, 1), (0, 1)], [], r"yes bids\[1\]: price 0 outside 1\.\.9999"),
        ([], [(5_000, 1), (10_000, 1)], r"no bids\[1\]: price 10000 outside"),
        ([], [(-1, 5)], r"no bids\[0\]: price -1"),
        ([(5_000, -1)], [], r"yes bids\[0\]: count -1 must be a non-negative integer"),
        ([(5_000.0, 1)], [], r"yes bids\[0\]: price 5000\.0"),
        ([("0.50", 1)], [], r"yes bids\[0\]: price '0\.50'"),
        ([(True, 1)], [], r"yes bids\[0\]: price True"),
        ([(5_000, 1.5)], [], r"yes bids\[0\]: count 1\.5"),
        ([(5_000, False)], [], r"yes bids\[0\]: count False"),
        ([], [(1, 2, 3)], r"no bids\[0\]: expected \[price, count\], got \(1, 2, 3\)"),
        ([], [(1, 1), None], r"no bids\[1\]: expected \[price, count\], got None"),
        ([5_000], [], r"yes bids\[0\]: expected \[price, count\], got 5000"),
    ],
)
def test_rejects_impossible_levels_naming_side_and_level(yes, no, message) -> None:
    with pytest.raises(BookError, match=message):
        book(yes, no)


def test_book_error_is_a_value_error_and_lists_accepted() -> None:
    assert issubclass(BookError, ValueError)
    b = book([[5_000, 1], [4_000, 2]], iter([(6_000, 3)]))  # lists and iterators are fine
    assert b.best_ask(Side.YES) == Level(4_000, 3)


def test_depth_rejects_bad_arguments() -> None:
    b = book([(5_000, 1)], [])
    with pytest.raises(ValueError, match="levels -1"):
        b.depth(Side.YES, "bid", -1)
    with pytest.raises(ValueError, match="book_side 'offer'"):
        b.depth(Side.YES, "offer")  # type: ignore[arg-type]


junk = st.one_of(
    st.integers(-10, 10_010), st.floats(allow_nan=True), st.text(max_size=3), st.none(), st.booleans()
)


@settings(max_examples=300)
@given(st.lists(st.one_of(st.tuples(junk, junk), st.lists(junk, max_size=3), junk), max_size=6))
def test_fuzz_either_a_valid_book_or_book_error(levels) -> None:
    try:
        b = book(levels, [])
    except BookError as exc:
        assert str(exc).startswith("yes bids[")
        return
    assert all(0 < lv.price < CONTRACT_PAYOUT and lv.count > 0 for lv in b.yes_bids)
