"""Fees to the cent: Kalshi's quadratic schedule for every price, the numba twin, other schedules."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.fees import (
    MAKER_RATE_PPM,
    SCHEDULE_NAMES,
    TAKER_RATE_PPM,
    FlatFee,
    KalshiQuadratic,
    ProfitFee,
    multiplier_ppm,
    quadratic_fee,
    quadratic_fee_nb,
    schedule_from_name,
)
from market.units import CENT, parse_dollars

TAKER = Fraction(7, 100)
MAKER = Fraction(175, 10_000)


def reference_fee(rate: Fraction, count_units: int, price_units: int) -> int:
    """Independent: exact rational dollars, ceil to a cent, back to money units."""
    contracts = Fraction(count_units, 100)
    p = Fraction(price_units, 10_000)
    cents = math.ceil(rate * contracts * p * (1 - p) * 100)
    return cents * CENT


# One cell per (multiplier, contracts, price, role): the whole published grid, every cent.
GRID = [
    (mult, contracts, cents, taker)
    for mult in ("1", "0.5")
    for contracts in (1, 10, 100)
    for cents in range(1, 100)
    for taker in (True, False)
]


@pytest.mark.parametrize(("mult", "contracts", "cents", "taker"), GRID)
def test_kalshi_schedule_every_cent(mult: str, contracts: int, cents: int, taker: bool) -> None:
    rate = (TAKER if taker else MAKER) * Fraction(mult)
    count, price = contracts * 100, cents * 100
    expected = reference_fee(rate, count, price)
    with_maker = schedule_from_name("quadratic_with_maker_fees", mult)
    assert with_maker.trade_fee(count, price, is_taker=taker) == expected
    assert quadratic_fee(with_maker.rate_ppm(taker), count, price) == expected
    plain = schedule_from_name("quadratic", mult)
    assert plain.trade_fee(count, price, is_taker=taker) == (expected if taker else 0)


@pytest.mark.parametrize(
    ("price", "contracts", "dollars"),
    [("0.01", 1, "0.01"), ("0.01", 100, "0.07"), ("0.10", 1, "0.01"), ("0.10", 100, "0.63"),
     ("0.25", 1, "0.02"), ("0.25", 100, "1.32"), ("0.50", 1, "0.02"), ("0.50", 100, "1.75")],
)
def test_kalshi_worked_values(price: str, contracts: int, dollars: str) -> None:
    fee = KalshiQuadratic().trade_fee(contracts * 100, parse_dollars(price), is_taker=True)
    assert fee == parse_dollars(dollars)
    assert quadratic_fee(TAKER_RATE_PPM, contracts * 100, parse_dollars(price)) == parse_dollars(dollars)


def test_maker_worked_value_and_no_float_error() -> None:
    assert KalshiQuadratic(maker_fees=True).trade_fee(10_000, 5_000, False) == parse_dollars("0.44")
    assert KalshiQuadratic(maker_fees=False).trade_fee(10_000, 5_000, False) == 0
    # With floats 100 @ 0.50 comes out $1.76: 0.07*100*0.5*0.5*100 = 175.00000000000003.
    assert math.ceil(0.07 * 100 * 0.5 * 0.5 * 100) == 176
    assert quadratic_fee(70_000, 10_000, 5_000) == parse_dollars("1.75")


def test_multiplier_zero_is_free_and_half_halves_the_rate() -> None:
    free = schedule_from_name("quadratic_with_maker_fees", "0")
    assert free.trade_fee(10_000, 5_000, True) == free.trade_fee(10_000, 5_000, False) == 0
    assert free.rate_ppm(True) == 0
    half = schedule_from_name("quadratic_with_maker_fees", Decimal("0.5"))
    assert (half.rate_ppm(True), half.rate_ppm(False)) == (35_000, 8_750)
    assert half.trade_fee(10_000, 5_000, True) == parse_dollars("0.88")  # ceil(87.5¢)
    assert (KalshiQuadratic().rate_ppm(True), KalshiQuadratic().rate_ppm(False)) == (TAKER_RATE_PPM, 0)
    assert KalshiQuadratic(maker_fees=True).rate_ppm(False) == MAKER_RATE_PPM


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 9_999), st.sampled_from(["1", "0.5", "0.25", "0.3", "0.123457"]),
       st.booleans())
def test_fractional_counts_and_any_tick_match_reference(count, price, mult, taker) -> None:
    schedule = schedule_from_name("quadratic_with_maker_fees", mult)
    rate = (TAKER if taker else MAKER) * Fraction(mult)
    fee = schedule.trade_fee(count, price, is_taker=taker)
    assert fee == reference_fee(rate, count, price)
    assert fee % CENT == 0
    # The kernel's whole-ppm rate never under-charges, and is exact when the rate is whole ppm.
    kernel = quadratic_fee(schedule.rate_ppm(taker), count, price)
    assert kernel >= fee
    if (rate * 1_000_000).denominator == 1:
        assert kernel == fee


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(0, 10**9), st.integers(10**9 - 1000, 10**12)), st.integers(1, 9_999),
       st.one_of(st.sampled_from([70_000, 35_000, 17_500, 8_750, 0, 1]), st.integers(0, 1_000_000)))
def test_numba_twin_equals_python_even_at_huge_counts(count, price, rate) -> None:
    exact = -(-rate * count * price * (10_000 - price) // 10**14) * CENT
    assert quadratic_fee(rate, count, price) == exact
    assert quadratic_fee_nb(rate, count, price) == exact


@pytest.mark.parametrize("price", [1, 4_999, 5_000, 5_001, 9_999])
def test_numba_twin_at_the_int64_edge(price: int) -> None:
    """rate·count·P·(1−P) is ~4e22 here, far past int64 (9.2e18): limbs keep it exact."""
    for count in (10**9, 10**12, 10**12 - 1):
        for rate in (70_000, 1_000_000):
            expected = -(-rate * count * price * (10_000 - price) // 10**14) * CENT
            assert quadratic_fee_nb(rate, count, price) == quadratic_fee(rate, count, price) == expected


def test_quadratic_fee_zero_count_or_rate() -> None:
    assert quadratic_fee(70_000, 0, 5_000) == quadratic_fee(0, 10_000, 5_000) == 0
    assert quadratic_fee_nb(70_000, 0, 5_000) == 0
    assert quadratic_fee(70_000, 1, 1) == CENT  # any positive fee is at least a cent


def test_flat_fee() -> None:
    flat = FlatFee()
    assert flat.name == "flat" and flat.rate_ppm(True) == 0
    assert flat.trade_fee(100, 5_000, True) == flat.trade_fee(100, 9_900, False) == CENT
    assert flat.trade_fee(250, 5_000, True) == 3 * CENT  # 2.5 × 1¢ → 3¢ on the whole order
    assert flat.trade_fee(10_000, 5_000, True) == parse_dollars("1.00")
    assert flat.trade_fee(0, 5_000, True) == 0
    assert flat.settlement_fee(10_000, 5_000, won=True) == 0
    assert schedule_from_name("flat", "0.5").trade_fee(300, 5_000, True) == 2 * CENT  # 1.5¢ → 2¢
    assert FlatFee(per_contract=250).trade_fee(200, 5_000, True) == 500


@settings(max_examples=200)
@given(st.integers(0, 10**6), st.integers(1, 9_999), st.booleans())
def test_profit_fee_only_on_winners_at_settlement(count, price, won) -> None:
    profit = ProfitFee()
    assert profit.name == "profit" and profit.rate_ppm(True) == 0
    assert profit.trade_fee(count, price, True) == profit.trade_fee(count, price, False) == 0
    expected = math.ceil(Fraction(7, 100) * Fraction(count, 100) * Fraction(10_000 - price, 10_000) * 100)
    assert profit.settlement_fee(count, price, won) == (expected * CENT if won else 0)


def test_profit_fee_examples() -> None:
    profit = schedule_from_name("profit")
    assert profit.settlement_fee(10_000, 9_000, won=True) == parse_dollars("0.70")  # 7% of $10
    assert profit.settlement_fee(100, 9_900, won=True) == CENT  # 7% of 1¢ → 1¢
    assert profit.settlement_fee(10_000, 1_000, won=False) == 0
    assert schedule_from_name("profit", profit_rate="0.10").settlement_fee(10_000, 5_000, True) == 50_000


def test_schedule_from_name() -> None:
    assert SCHEDULE_NAMES == ("quadratic", "quadratic_with_maker_fees", "flat", "profit")
    for name in SCHEDULE_NAMES:
        assert schedule_from_name(name).name == name
    assert schedule_from_name("quadratic", "0.5") == KalshiQuadratic(500_000, maker_fees=False)
    with pytest.raises(ValueError, match=r"'percent'.*quadratic, quadratic_with_maker_fees, flat, profit"):
        schedule_from_name("percent")
    with pytest.raises(ValueError, match="expected one of"):
        schedule_from_name("Quadratic")


@pytest.mark.parametrize(("value", "ppm"), [("1", 1_000_000), ("0.5", 500_000), ("0", 0), (1, 1_000_000),
                                             (Decimal("0.25"), 250_000), (" 0.000001 ", 1)])
def test_multiplier_ppm_exact(value, ppm) -> None:
    assert multiplier_ppm(value) == ppm


@pytest.mark.parametrize(("value", "why"), [("0.1234567", "six decimals"), ("-0.5", "≥ 0"),
                                            ("NaN", "≥ 0"), ("abc", "not a decimal"), ("", "not a decimal")])
def test_multiplier_ppm_rejects(value, why) -> None:
    with pytest.raises(ValueError, match=why) as info:
        multiplier_ppm(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("schedule", [KalshiQuadratic(), FlatFee(), ProfitFee()])
def test_schedules_reject_impossible_orders(schedule) -> None:
    with pytest.raises(ValueError, match="count -1"):
        schedule.trade_fee(-1, 5_000, True)
    for price in (0, 10_000):
        with pytest.raises(ValueError, match=f"price {price}"):
            schedule.trade_fee(100, price, True)
