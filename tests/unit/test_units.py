"""Fixed-point units: exact round trips, and every untrustworthy value rejected by name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.units import (
    CENT,
    CONTRACT_PAYOUT,
    COUNT_SCALE,
    MONEY_SCALE,
    UnitError,
    cents_to_money,
    format_count,
    format_dollars,
    money_to_cents_exact,
    parse_count,
    parse_dollars,
    parse_price,
)

# format_* go through Decimal's 28-digit context: 10**24 units (10**20 dollars) is far beyond
# any balance and inside what round-trips exactly (see test_format_limit_is_loud).
REALISTIC = st.integers(-(10**24), 10**24)


def test_constants() -> None:
    assert (MONEY_SCALE, COUNT_SCALE, CONTRACT_PAYOUT, CENT) == (10_000, 100, 10_000, 100)


@pytest.mark.parametrize(
    ("text", "units"),
    [("0.5600", 5_600), ("0.56", 5_600), ("1", 10_000), ("-12.3456", -123_456), ("0", 0),
     (" 0.01 ", 100), ("0.0001", 1)],
)
def test_parse_dollars_examples(text: str, units: int) -> None:
    assert parse_dollars(text) == units


def test_parse_accepts_int_and_decimal() -> None:
    assert parse_dollars(3) == 30_000
    assert parse_dollars(Decimal("0.1234")) == 1_234
    assert parse_count(Decimal("2.5")) == 250
    assert parse_count("10.00") == 1_000
    assert parse_count("-3.25") == -325


@settings(max_examples=300)
@given(REALISTIC)
def test_dollars_round_trip(units: int) -> None:
    text = format_dollars(units)
    assert parse_dollars(text) == units
    assert len(text.rpartition(".")[2]) == 4


@settings(max_examples=300)
@given(REALISTIC)
def test_count_round_trip(units: int) -> None:
    text = format_count(units)
    assert parse_count(text) == units
    assert len(text.rpartition(".")[2]) == 2


@settings(max_examples=200)
@given(st.integers(1, CONTRACT_PAYOUT - 1))
def test_price_round_trip(units: int) -> None:
    assert parse_price(format_dollars(units)) == units


@settings(max_examples=200)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12))
def test_parse_dollars_equals_exact_decimal(value: Decimal) -> None:
    assert parse_dollars(str(value)) == int(value * MONEY_SCALE)


@pytest.mark.parametrize(
    ("parse", "value", "why"),
    [
        (parse_dollars, "0.00001", "precision"),
        (parse_dollars, "0.56001", "precision"),
        (parse_count, "1.001", "precision"),
        (parse_price, "0.00005", "precision"),
        (parse_dollars, "NaN", "finite"),
        (parse_dollars, "sNaN", "finite"),
        (parse_count, "-Infinity", "finite"),
        (parse_dollars, Decimal("NaN"), "finite"),
        (parse_dollars, "abc", "not a decimal"),
        (parse_dollars, "", "not a decimal"),
        (parse_count, "1,5", "not a decimal"),
        (parse_dollars, True, "decimal string"),
        (parse_count, False, "decimal string"),
        (parse_dollars, 0.5, "decimal string"),
        (parse_price, 0.56, "decimal string"),
        (parse_dollars, None, "decimal string"),
        (parse_count, [1], "decimal string"),
        (parse_count, b"1.00", "decimal string"),
    ],
)
def test_rejections_name_the_value(parse, value: object, why: str) -> None:
    with pytest.raises(UnitError, match=why) as info:
        parse(value)
    assert repr(value) in str(info.value)
    assert info.value.value is value or info.value.value == value


@pytest.mark.parametrize("value", ["0", "1", "1.00", "-0.5", "0.0000", "1.0001"])
def test_price_must_be_strictly_inside_zero_and_one(value: str) -> None:
    with pytest.raises(UnitError, match="above 0 and below 1") as info:
        parse_price(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("fmt", [format_dollars, format_count, cents_to_money, money_to_cents_exact])
@pytest.mark.parametrize("value", [True, 1.0, "1", None])
def test_formatters_require_integer_units(fmt, value: object) -> None:
    with pytest.raises(UnitError, match="integer units") as info:
        fmt(value)
    assert repr(value) in str(info.value)


def test_cents() -> None:
    assert cents_to_money(175) == 17_500
    assert money_to_cents_exact(17_500) == 175
    assert money_to_cents_exact(-100) == -1
    with pytest.raises(UnitError, match=r"'0\.0001'.*whole number of cents"):
        money_to_cents_exact(1)


@settings(max_examples=200)
@given(st.integers(-(10**15), 10**15))
def test_cents_round_trip(cents: int) -> None:
    assert money_to_cents_exact(cents_to_money(cents)) == cents


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=16), st.from_regex(r"-?[0-9]{0,6}(\.[0-9]{0,7})?", fullmatch=True)))
def test_parsers_fuzz_either_exact_or_unit_error(text: str) -> None:
    for parse, scale in ((parse_dollars, MONEY_SCALE), (parse_count, COUNT_SCALE), (parse_price, MONEY_SCALE)):
        try:
            value = parse(text)
        except UnitError as exc:
            assert repr(text) in str(exc)
            continue
        assert isinstance(value, int)
        assert Decimal(value) / scale == Decimal(text.strip())


# --- gaps helper review found in units.py, fixed: each stays as a regression test. ---

def test_too_precise_huge_value_is_rejected_not_rounded() -> None:
    assert _rejected("1234567890123456789012345.67891")


def test_huge_exponent_is_a_unit_error() -> None:
    assert _rejected("1e999999")


@pytest.mark.parametrize("text", ["1_0.5", "\u0661.5"])
def test_underscores_and_non_ascii_digits_are_rejected(text: str) -> None:
    assert _rejected(text)


def _rejected(text: str) -> bool:
    try:
        parse_dollars(text)
    except UnitError:
        return True
    return False


def test_format_is_exact_beyond_28_digits() -> None:
    """Formatting never rounds, however large the integer (the parser is what caps size)."""
    assert format_dollars(10**30 + 1) == "100000000000000000000000000.0001"
    assert format_count(-(10**40) - 7) == "-100000000000000000000000000000000000000.07"
