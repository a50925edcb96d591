"""RiskLimits: the settings the gate enforces, in integer units, validated once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from market.fees import TAKER_RATE_PPM, schedule_from_name


@dataclass(frozen=True, slots=True)
class RiskLimits:
    capital: int
    """Money units the percent caps refer to."""
    kelly_fraction: float
    min_edge: float
    position_cap: int
    group_cap: int
    total_cap: int
    daily_loss: int
    loss_streak: int
    loss_streak_pause_ns: int
    max_slippage_bps: float
    slippage_window: int
    error_burst_per_hour: int
    stale_book_ns: int
    no_fills_scans: int
    max_spread_bps: float
    max_order_count: int
    fee_rate_ppm: int
    """Taker quadratic fee rate × series multiplier, parts per million."""
    day_boundary_tz: str = "UTC"

    @classmethod
    def from_settings(cls, risk: Any, fees: Any | None = None) -> RiskLimits:
        """From ``config`` sections (or any object with the same attribute names)."""
        capital = risk.capital_units

        def cap(pct: float, absolute: int | None) -> int:
            by_pct = int(capital * pct)
            return by_pct if absolute is None else min(by_pct, absolute)

        rate = TAKER_RATE_PPM
        if fees is not None:
            rate = schedule_from_name(fees.schedule, fees.multiplier).rate_ppm(True)
        return cls(
            capital=capital,
            kelly_fraction=float(risk.kelly_fraction),
            min_edge=float(risk.min_edge),
            position_cap=cap(risk.max_position_pct, risk.max_position_units),
            group_cap=cap(risk.max_group_pct, risk.max_group_units),
            total_cap=cap(risk.max_total_pct, risk.max_total_units),
            daily_loss=min(risk.daily_loss_units, int(capital * risk.daily_loss_pct)),
            loss_streak=risk.loss_streak,
            loss_streak_pause_ns=risk.loss_streak_pause_seconds * 1_000_000_000,
            max_slippage_bps=float(risk.max_slippage_bps),
            slippage_window=risk.slippage_window,
            error_burst_per_hour=risk.error_burst_per_hour,
            stale_book_ns=int(risk.stale_book_seconds * 1_000_000_000),
            no_fills_scans=risk.no_fills_scans,
            max_spread_bps=float(risk.max_spread_bps),
            max_order_count=risk.max_order_count,
            fee_rate_ppm=rate,
            day_boundary_tz=risk.day_boundary_tz,
        )
