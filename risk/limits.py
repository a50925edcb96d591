"""RiskLimits: the settings the gate enforces, in integer units, validated once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from market.fees import TAKER_RATE_PPM, schedule_from_name
from market.units import parse_count, parse_dollars


def _units(risk: Any, name: str) -> int | None:
    """``<name>_units`` from RiskSettings, else ``<name>_dollars`` converted exactly (plain objects)."""
    if hasattr(risk, f"{name}_units"):
        return getattr(risk, f"{name}_units")
    dollars = getattr(risk, f"{name}_dollars")
    return None if dollars is None else parse_dollars(dollars)


def _share(capital: int, pct: float) -> int:
    """floor(capital × pct) exactly: 0.29 × 1_000_000 is 290_000, not float's 289_999."""
    return int(Decimal(capital) * Decimal(repr(float(pct))))


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

    def __post_init__(self) -> None:
        problems = [
            name for name, ok in (
                ("capital", self.capital > 0),
                ("kelly_fraction", 0 < self.kelly_fraction <= 1),
                ("min_edge", 0 <= self.min_edge < 1),
                ("position_cap", self.position_cap >= 0),
                ("group_cap", self.group_cap >= 0),
                ("total_cap", self.total_cap >= 0),
                ("daily_loss", self.daily_loss >= 0),
                ("loss_streak", self.loss_streak >= 1),
                ("loss_streak_pause_ns", self.loss_streak_pause_ns >= 0),
                ("max_slippage_bps", self.max_slippage_bps > 0),
                ("slippage_window", self.slippage_window >= 1),
                ("error_burst_per_hour", self.error_burst_per_hour >= 1),
                ("stale_book_ns", self.stale_book_ns > 0),
                ("no_fills_scans", self.no_fills_scans >= 1),
                ("max_spread_bps", self.max_spread_bps > 0),
                ("max_order_count", self.max_order_count >= 0),
                ("fee_rate_ppm", self.fee_rate_ppm >= 0),
            ) if not ok
        ]
        if problems:
            raise ValueError("risk limits out of range: " + ", ".join(
                f"{name}={getattr(self, name)!r}" for name in problems))

    @classmethod
    def from_settings(cls, risk: Any, fees: Any | None = None) -> RiskLimits:
        """From ``config`` sections (or any object with the same attribute names)."""
        capital = _units(risk, "capital")

        def cap(pct: float, absolute: int | None) -> int:
            by_pct = _share(capital, pct)
            return by_pct if absolute is None else min(by_pct, absolute)

        rate = TAKER_RATE_PPM
        if fees is not None:
            rate = schedule_from_name(fees.schedule, fees.multiplier).rate_ppm(True)
        return cls(
            capital=capital,
            kelly_fraction=float(risk.kelly_fraction),
            min_edge=float(risk.min_edge),
            position_cap=cap(risk.max_position_pct, _units(risk, "max_position")),
            group_cap=cap(risk.max_group_pct, _units(risk, "max_group")),
            total_cap=cap(risk.max_total_pct, _units(risk, "max_total")),
            daily_loss=min(_units(risk, "daily_loss"), _share(capital, risk.daily_loss_pct)),
            loss_streak=risk.loss_streak,
            loss_streak_pause_ns=risk.loss_streak_pause_seconds * 1_000_000_000,
            max_slippage_bps=float(risk.max_slippage_bps),
            slippage_window=risk.slippage_window,
            error_burst_per_hour=risk.error_burst_per_hour,
            stale_book_ns=int(Decimal(repr(float(risk.stale_book_seconds))) * 1_000_000_000),
            no_fills_scans=risk.no_fills_scans,
            max_spread_bps=float(risk.max_spread_bps),
            max_order_count=(risk.max_order_count if hasattr(risk, "max_order_count")
                             else parse_count(risk.max_order_contracts)),
            fee_rate_ppm=rate,
            day_boundary_tz=risk.day_boundary_tz,
        )
