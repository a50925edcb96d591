"""Fixed-point units: the only place decimal strings become integers and back.

Prices and money are integers of 1/10,000 dollar (``"0.5600"`` -> 5600); a binary
contract pays ``CONTRACT_PAYOUT`` = 10,000. Quantities are integers of 1/100 contract
(``"10.00"`` -> 1000). Conversion is exact through ``decimal.Decimal``: a value with
more precision than the unit holds is rejected, never rounded, because a silently
rounded price is a wrong order.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

MONEY_SCALE = 10_000
"""Integer units per dollar (prices and money)."""
COUNT_SCALE = 100
"""Integer units per contract (quantities)."""
CONTRACT_PAYOUT = MONEY_SCALE
"""What one whole contract pays at settlement, in money units ($1.00)."""
CENT = MONEY_SCALE // 100
"""One cent in money units."""
SECOND_NS = 1_000_000_000
HOUR_NS = 3_600 * SECOND_NS
DAY_NS = 24 * HOUR_NS
"""Time is nanoseconds since the Unix epoch, UTC."""

MAX_DIGITS = 24
"""Integer digits accepted: far beyond any real balance, and it keeps the arithmetic exact."""
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]{1,24}(\.[0-9]{1,30})?", re.ASCII)


class UnitError(ValueError):
    """A value from outside does not fit a fixed-point unit exactly."""

    def __init__(self, kind: str, value: object, why: str) -> None:
        self.kind = kind
        self.value = value
        self.why = why
        super().__init__(f"{kind} {value!r}: {why}")


def _to_decimal(kind: str, value: str | int | Decimal) -> Decimal:
    """Plain ASCII decimals only: no exponents, underscores or non-ASCII digits, which
    ``Decimal()`` would accept but no API sends, and at most ``MAX_DIGITS`` integer digits."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise UnitError(kind, value, f"expected a decimal string, got {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").lower() in ("nan", "snan", "inf", "infinity"):
            raise UnitError(kind, value, "not a finite number")
        if not _DECIMAL_TEXT.fullmatch(text):
            raise UnitError(kind, value, "not a decimal number (plain ASCII digits, one optional point, no exponent)")
        number = Decimal(text)
    else:
        number = Decimal(value)
        if not number.is_finite():
            raise UnitError(kind, value, "not a finite number")
    if number != 0 and number.adjusted() >= MAX_DIGITS:
        raise UnitError(kind, value, f"more than {MAX_DIGITS} integer digits")
    return number


def _scaled(kind: str, value: str | int | Decimal, scale: int) -> int:
    number = _to_decimal(kind, value)
    with localcontext() as ctx:
        ctx.prec = 100  # inputs are at most 24 + 30 digits: this product is exact
        scaled = number * scale
    if scaled != scaled.to_integral_value():
        raise UnitError(kind, value, f"more precision than 1/{scale} can hold exactly")
    return int(scaled)


def parse_dollars(value: str | int | Decimal) -> int:
    """``"0.5600"`` -> 5600 money units; may be negative (P&L, balances)."""
    return _scaled("dollars", value, MONEY_SCALE)


def parse_price(value: str | int | Decimal) -> int:
    """A contract price in dollars, strictly inside (0, 1): ``"0.56"`` -> 5600."""
    units = parse_dollars(value)
    if not 0 < units < CONTRACT_PAYOUT:
        raise UnitError("price", value, "a contract price must be above 0 and below 1 dollar")
    return units


def parse_count(value: str | int | Decimal) -> int:
    """``"10.00"`` -> 1000 count units; may be negative (a NO position is negative)."""
    return _scaled("count", value, COUNT_SCALE)


# Integer arithmetic and %-formatting, exact for any integer, one Python frame per call: an
# order's body needs two, on the order path (with cold caches ~2 µs each, vs ~4 through a
# shared helper and an f-string with a nested format spec).
_DOLLARS = f"%d.%0{len(str(MONEY_SCALE)) - 1}d"
_NEGATIVE_DOLLARS = "-" + _DOLLARS
_COUNT = f"%d.%0{len(str(COUNT_SCALE)) - 1}d"
_NEGATIVE_COUNT = "-" + _COUNT


def format_dollars(units: int) -> str:
    """1234 -> ``"0.1234"``: always four decimals, the API's own style."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise UnitError("dollars", units, f"expected integer units, got {type(units).__name__}")
    whole, fraction = divmod(abs(units), MONEY_SCALE)
    return (_NEGATIVE_DOLLARS if units < 0 else _DOLLARS) % (whole, fraction)


def format_count(units: int) -> str:
    """1000 -> ``"10.00"``: always two decimals, as the API's ``*_fp`` fields."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise UnitError("count", units, f"expected integer units, got {type(units).__name__}")
    whole, fraction = divmod(abs(units), COUNT_SCALE)
    return (_NEGATIVE_COUNT if units < 0 else _COUNT) % (whole, fraction)


def cents_to_money(cents: int) -> int:
    """Integer cents (the API's ``balance``) -> money units."""
    _require_int("cents", cents)
    return cents * CENT


def money_to_cents_exact(units: int) -> int:
    """Money units -> integer cents; rejects fractions of a cent."""
    _require_int("dollars", units)
    if units % CENT:
        raise UnitError("dollars", format_dollars(units), "not a whole number of cents")
    return units // CENT


def _require_int(kind: str, units: object) -> None:
    if isinstance(units, bool) or not isinstance(units, int):
        raise UnitError(kind, units, f"expected integer units, got {type(units).__name__}")


def price_to_probability(price_units: int) -> float:
    """A price read as a probability (for statistics only, never for money)."""
    return price_units / CONTRACT_PAYOUT
