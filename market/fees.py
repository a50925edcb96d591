"""Fee schedules, integer-exact.

Kalshi (schedule effective February 2026): taker ``round_up_to_cent(0.07 × C × P × (1 − P))``
on the whole order; makers pay ``0.0175 × C × P × (1 − P)`` only on series whose
``fee_type`` is ``quadratic_with_maker_fees``; a per-series ``fee_multiplier`` scales both.
No fee on settlement or cancel. With floats, 100 contracts at $0.50 come out $1.76 instead
of $1.75, so everything here is integer arithmetic on the units of ``market.units``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numba

from .units import CENT, CONTRACT_PAYOUT, COUNT_SCALE

TAKER_RATE_PPM = 70_000
MAKER_RATE_PPM = 17_500
PPM = 1_000_000

_E = 10_000_000  # 1e7: limb size for the overflow-free product below
_D = _E * _E  # 1e14: rate_ppm·count·P·(1−P) / 1e14 = cents


def quadratic_fee(rate_ppm: int, count: int, price: int) -> int:
    """``ceil_to_cent(rate × C × P × (1 − P))`` in money units.

    In units: cents = ceil(rate_ppm · count · price · (10⁴ − price) / 10¹⁴). The product can
    exceed int64, so it is done in 10⁷ limbs; the same code runs in Python and under numba
    (``quadratic_fee_nb``) for counts up to 10¹² units.
    """
    if count <= 0 or rate_ppm <= 0:
        return 0
    q = rate_ppm * price * (CONTRACT_PAYOUT - price)
    qh, ql = q // _E, q % _E
    ch, cl = count // _E, count % _E
    m = qh * cl + ql * ch
    mh, ml = m // _E, m % _E
    rest = ml * _E + ql * cl
    cents = qh * ch + mh + (rest + _D - 1) // _D
    return cents * CENT


quadratic_fee_nb = numba.njit(cache=True, nogil=True)(quadratic_fee)


def ceil_to_cent(numerator: int, denominator: int) -> int:
    """Money units of ``numerator / denominator`` rounded up to a whole cent."""
    step = denominator * CENT
    return -(-numerator // step) * CENT


def multiplier_ppm(value: str | int | Decimal) -> int:
    """A series fee multiplier (``"0.5"``) as parts per million, exactly, or ValueError."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"fee multiplier {value!r}: not a decimal number") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"fee multiplier {value!r}: must be a number ≥ 0")
    scaled = number * PPM
    if scaled != scaled.to_integral_value():
        raise ValueError(f"fee multiplier {value!r}: more than six decimals")
    return int(scaled)


@dataclass(frozen=True, slots=True)
class KalshiQuadratic:
    """Kalshi's ``quadratic`` and ``quadratic_with_maker_fees`` series fee types."""

    multiplier_ppm: int = PPM
    maker_fees: bool = False

    @property
    def name(self) -> str:
        return "quadratic_with_maker_fees" if self.maker_fees else "quadratic"

    def rate_ppm(self, is_taker: bool) -> int:
        if not is_taker and not self.maker_fees:
            return 0
        """Rate × multiplier in whole ppm for ``quadratic_fee``; rounded up when not whole
        (0.0175 × 0.123457), so a kernel using it never under-estimates ``trade_fee``."""
        base = TAKER_RATE_PPM if is_taker else MAKER_RATE_PPM
        return -(-base * self.multiplier_ppm // PPM)

    def trade_fee(self, count: int, price: int, is_taker: bool) -> int:
        _check(count, price)
        base = TAKER_RATE_PPM if is_taker else MAKER_RATE_PPM
        if not is_taker and not self.maker_fees:
            return 0
        # rate × multiplier may not be a whole ppm (0.0175 × 0.3): scale inside the fee instead.
        q = base * self.multiplier_ppm * price * (CONTRACT_PAYOUT - price) * count
        return ceil_to_cent(q, PPM * PPM * COUNT_SCALE * CONTRACT_PAYOUT)

    def settlement_fee(self, count: int, price: int, won: bool) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class FlatFee:
    """Kalshi names a ``flat`` fee_type without publishing its formula; we model it as a fixed
    fee per contract in money units (default one cent), charged on every fill, maker or
    taker, rounded up to the cent on the whole order. ``schedule_from_name`` scales it by the
    series multiplier."""

    per_contract: int = CENT
    name: str = "flat"

    def rate_ppm(self, is_taker: bool) -> int:
        return 0

    def trade_fee(self, count: int, price: int, is_taker: bool) -> int:
        _check(count, price)
        return ceil_to_cent(self.per_contract * count, COUNT_SCALE)

    def settlement_fee(self, count: int, price: int, won: bool) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class ProfitFee:
    """The seeds' schedule: a share of the profit, only on winners, charged at settlement.

    A winner pays ``ceil_to_cent(rate × (payout − cost)) = rate × C × (1 − P)``; losers and
    trades pay nothing. (The field is ``rate``, not ``rate_ppm``: that name is the method
    every schedule has.)"""

    rate: int = TAKER_RATE_PPM
    """Parts per million of profit (70,000 = 7%)."""
    name: str = "profit"

    def rate_ppm(self, is_taker: bool) -> int:
        return 0

    def trade_fee(self, count: int, price: int, is_taker: bool) -> int:
        _check(count, price)
        return 0

    def settlement_fee(self, count: int, price: int, won: bool) -> int:
        _check(count, price)
        if not won:
            return 0
        profit_units = count * (CONTRACT_PAYOUT - price)  # × 1/COUNT_SCALE money units
        return ceil_to_cent(self.rate * profit_units, PPM * COUNT_SCALE)


FeeSchedule = KalshiQuadratic | FlatFee | ProfitFee
SCHEDULE_NAMES = ("quadratic", "quadratic_with_maker_fees", "flat", "profit")


def schedule_from_name(
    name: str, multiplier: str | int | Decimal = "1", profit_rate: str | Decimal = "0.07"
) -> FeeSchedule:
    mult = multiplier_ppm(multiplier)
    if name == "quadratic":
        return KalshiQuadratic(mult, maker_fees=False)
    if name == "quadratic_with_maker_fees":
        return KalshiQuadratic(mult, maker_fees=True)
    if name == "flat":
        return FlatFee(CENT * mult // PPM)
    if name == "profit":
        return ProfitFee(multiplier_ppm(profit_rate) * mult // PPM)
    raise ValueError(f"fee schedule {name!r}: expected one of {', '.join(SCHEDULE_NAMES)}")


def _check(count: int, price: int) -> None:
    if count < 0:
        raise ValueError(f"fee: count {count} must not be negative")
    if not 0 < price < CONTRACT_PAYOUT:
        raise ValueError(f"fee: price {price} must be between 1 and {CONTRACT_PAYOUT - 1} units")
