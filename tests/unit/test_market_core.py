"""Market kernel: the fee schedule to the cent, unit round trips, books and positions."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.book import BookError, OrderBook
from market.fees import (
    FlatFee,
    KalshiQuadratic,
    ProfitFee,
    quadratic_fee,
    quadratic_fee_nb,
    schedule_from_name,
)
from market.orders import Action, Fill, Position, Side, make_client_order_id
from market.units import (
    UnitError,
    format_count,
    format_dollars,
    parse_count,
    parse_dollars,
    parse_price,
)


def reference_fee(rate: Fraction, contracts: int, cents: int) -> Decimal:
    """Kalshi's formula on exact rationals: round_up_to_cent(rate × C × P × (1 − P))."""
    p = Fraction(cents, 100)
    exact = rate * contracts * p * (1 - p)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_CEILING
    )


@pytest.mark.parametrize("multiplier", ["1", "0.5"])
@pytest.mark.parametrize("contracts", [1, 10, 100])
def test_fee_schedule_every_price_taker_and_maker(multiplier: str, contracts: int) -> None:
    schedule = schedule_from_name("quadratic_with_maker_fees", multiplier)
    mult = Fraction(multiplier)
    for cents in range(1, 100):
        price = cents * 100
        count = contracts * 100
        taker = reference_fee(Fraction(7, 100) * mult, contracts, cents)
        maker = reference_fee(Fraction(175, 10_000) * mult, contracts, cents)
        assert format_dollars(schedule.trade_fee(count, price, is_taker=True)) == f"{taker:.4f}"
        assert format_dollars(schedule.trade_fee(count, price, is_taker=False)) == f"{maker:.4f}"
        assert quadratic_fee(schedule.rate_ppm(True), count, price) == schedule.trade_fee(count, price, True)


@pytest.mark.parametrize(
    ("cents", "contracts", "dollars"),
    [(1, 1, "0.01"), (1, 100, "0.07"), (10, 1, "0.01"), (10, 100, "0.63"),
     (25, 1, "0.02"), (25, 100, "1.32"), (50, 1, "0.02"), (50, 100, "1.75")],
)
def test_kalshi_worked_values(cents: int, contracts: int, dollars: str) -> None:
    fee = KalshiQuadratic().trade_fee(contracts * 100, cents * 100, is_taker=True)
    assert fee == parse_dollars(dollars)


def test_maker_fees_only_on_maker_fee_series() -> None:
    assert KalshiQuadratic(maker_fees=True).trade_fee(10_000, 5_000, False) == parse_dollars("0.44")
    assert KalshiQuadratic(maker_fees=False).trade_fee(10_000, 5_000, False) == 0
    assert schedule_from_name("quadratic", "0").trade_fee(10_000, 5_000, True) == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12), st.integers(1, 9_999), st.sampled_from([70_000, 35_000, 17_500, 8_750, 1]))
def test_numba_fee_equals_python_fee_even_for_huge_counts(count: int, price: int, rate: int) -> None:
    exact = -(-rate * count * price * (10_000 - price) // 10**14) * 100
    assert quadratic_fee(rate, count, price) == exact
    assert quadratic_fee_nb(rate, count, price) == exact


def test_other_schedules() -> None:
    assert FlatFee().trade_fee(250, 5_000, True) == 300  # 2.5 contracts × 1¢ → 3¢ rounded up
    profit = ProfitFee()
    assert profit.trade_fee(10_000, 9_000, True) == 0
    assert profit.settlement_fee(10_000, 9_000, won=True) == parse_dollars("0.70")  # 7% of $10
    assert profit.settlement_fee(10_000, 9_000, won=False) == 0
    with pytest.raises(ValueError, match="expected one of"):
        schedule_from_name("percent")
    with pytest.raises(ValueError, match="six decimals"):
        schedule_from_name("quadratic", "0.1234567")


@settings(max_examples=300)
@given(st.integers(-(10**15), 10**15))
def test_units_round_trip(units: int) -> None:
    assert parse_dollars(format_dollars(units)) == units
    assert parse_count(format_count(units)) == units


@settings(max_examples=300)
@given(st.integers(-(10**30), 10**30))
def test_formatting_matches_decimal_arithmetic(units: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        assert format_dollars(units) == str((Decimal(units) / 10_000).quantize(Decimal("0.0001")))
        assert format_count(units) == str((Decimal(units) / 100).quantize(Decimal("0.01")))


@pytest.mark.parametrize(
    ("value", "why"),
    [("0.00001", "precision"), ("NaN", "finite"), ("abc", "not a decimal"),
     (True, "decimal string"), (0.5, "decimal string"), ("Infinity", "finite")],
)
def test_unit_rejections_name_the_value(value: object, why: str) -> None:
    with pytest.raises(UnitError, match=why) as info:
        parse_dollars(value)  # type: ignore[arg-type]
    assert repr(value) in str(info.value)


def test_price_and_count_rejections() -> None:
    with pytest.raises(UnitError, match="above 0 and below 1"):
        parse_price("1.00")
    with pytest.raises(UnitError, match="precision"):
        parse_count("1.005")
    assert parse_price("0.5600") == 5_600


@settings(max_examples=200)
@given(st.text(max_size=12))
def test_unit_parsers_fuzz(text: str) -> None:
    for parse in (parse_dollars, parse_count, parse_price):
        try:
            value = parse(text)
        except UnitError:
            continue
        assert isinstance(value, int)


ladder = st.lists(st.tuples(st.integers(1, 9_999), st.integers(0, 10**6)), max_size=12)


@settings(max_examples=200)
@given(ladder, ladder, st.randoms())
def test_book_is_independent_of_level_order(yes, no, rnd) -> None:
    book = OrderBook.from_ladders("T", yes, no, 0)
    shuffled_yes, shuffled_no = list(yes), list(no)
    rnd.shuffle(shuffled_yes)
    rnd.shuffle(shuffled_no)
    assert OrderBook.from_ladders("T", shuffled_yes, shuffled_no, 0) == book
    prices = [lv.price for lv in book.yes_bids]
    assert prices == sorted(prices, reverse=True)
    if book.no_bids:
        assert book.best_ask(Side.YES).price == 10_000 - book.no_bids[0].price
        assert book.asks(Side.YES)[0] == book.best_ask(Side.YES)
    assert book.depth(Side.YES, "bid") == sum(c for _, c in yes)


def test_book_rejects_impossible_levels_naming_them() -> None:
    with pytest.raises(BookError, match=r"no bids\[1\]: price 10000"):
        OrderBook.from_ladders("T", [], [(5_000, 1), (10_000, 1)], 0)
    with pytest.raises(BookError, match=r"yes bids\[0\]: count -1"):
        OrderBook.from_ladders("T", [(5_000, -1)], [], 0)


def test_client_order_id_is_deterministic_and_sensitive() -> None:
    base = ("flb", "KX-1", Side.YES, Action.BUY, 9_000, 100, 123)
    assert make_client_order_id(*base) == make_client_order_id(*base)
    for i, changed in enumerate(("x", "KX-2", Side.NO, Action.SELL, 9_001, 101, 124)):
        other = list(base)
        other[i] = changed
        assert make_client_order_id(*other) != make_client_order_id(*base)
    assert len(make_client_order_id(*base)) <= 64


fills = st.lists(
    st.tuples(st.sampled_from(list(Action)), st.sampled_from(list(Side)),
              st.integers(1, 50).map(lambda c: c * 100), st.integers(1, 99).map(lambda c: c * 100),
              st.integers(0, 200)),
    max_size=15,
)


@settings(max_examples=300)
@given(fills, st.sampled_from(list(Side)))
def test_position_pnl_equals_cash_flows(trades, result) -> None:
    """Realized P&L after settlement = Σ cash in − Σ cash out, to the unit."""
    position = Position("T")
    cash = 0
    for i, (action, side, count, price, fee) in enumerate(trades):
        position = position.apply(Fill(str(i), "o", "T", side, action, count, price, True, fee, i))
        # Buying pays the price; selling S at p is buying the other side at 1 − p.
        cash -= count * (price if action is Action.BUY else 10_000 - price) // 100 + fee
        # Holding YES and NO together pays $1 per pair at once (Kalshi nets them).
    flat, payout = position.settle(result)
    assert flat.quantity == 0 and flat.cost == 0
    held_pairs_payout = _pairs_paid(trades)
    assert flat.realized_pnl == cash + payout + held_pairs_payout
    assert flat.fees_paid == sum(t[4] for t in trades)


def _pairs_paid(trades) -> int:
    """Money released by netting YES against NO along the way ($1 per netted contract)."""
    quantity = 0
    released = 0
    for action, side, count, _price, _fee in trades:
        bought = side if action is Action.BUY else side.opposite
        delta = count if bought is Side.YES else -count
        if quantity and (quantity > 0) != (delta > 0):
            released += min(abs(quantity), abs(delta)) * 10_000 // 100
        quantity += delta
    return released
