"""The configured strategies, built one way for the daemon and the backtester alike."""

from __future__ import annotations

from typing import Any

from risk.limits import RiskLimits
from strategies.base import Strategy
from strategies.flb import CalibrationCurve, FavouriteLongshot
from strategies.odds_edge import OddsEdge


def build_strategies(strategies: Any, limits: RiskLimits, only: str | None = None) -> list[Strategy]:
    """From ``Settings.strategies``; ``only`` ("flb", "odds_edge") keeps one, enabled."""
    flb = FavouriteLongshot(
        strategies.flb.favourite_threshold_units, strategies.flb.longshot_threshold_units,
        limits.min_edge, limits.fee_rate_ppm, CalibrationCurve.from_points(strategies.flb.calibration_points()),
        enabled=strategies.flb.enabled if only is None else only in ("flb", "all"),
    )
    odds = OddsEdge(limits.min_edge, limits.fee_rate_ppm,
                    enabled=strategies.odds_edge.enabled if only is None else only in ("odds_edge", "all"))
    return [s for s in (flb, odds) if only is None or s.enabled]
