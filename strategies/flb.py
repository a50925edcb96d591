"""Favourite–longshot bias harvester.

Real Kalshi prices are biased at the extremes: contracts priced ≥ 85¢ win more often than
their price says, contracts ≤ 15¢ less often (venues.md, 72 million trades). This strategy
buys YES on favourites at or above the favourite threshold and NO on longshots at or
below the longshot threshold when the calibrated fair probability beats the price after
fees by more than the minimum edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from market.units import CONTRACT_PAYOUT

from .base import MarketView, Proposals, select
from .kernels import flb_select

# (average price, share that settled YES) per bucket, from venues.md.
KALSHI_FLB_TABLE: tuple[tuple[float, float], ...] = (
    (0.0215, 0.0154),
    (0.0687, 0.0520),
    (0.1193, 0.1026),
    (0.8702, 0.8858),
    (0.9209, 0.9382),
    (0.9748, 0.9823),
)


@dataclass(frozen=True, slots=True)
class CalibrationCurve:
    """Price → fair probability of YES, from (average price, win rate) points.

    Between points the *excess* (win rate − price) is interpolated linearly; beyond the end
    points the nearest point's excess is kept. Interpolating the excess rather than the win
    rate keeps a 99¢ contract at 99.75% instead of dragging it down to the bucket's 98.2%.
    Prices between the longshot and favourite buckets get the interpolated excess, which is
    small there and in any case screened out by the thresholds.
    """

    prices: np.ndarray
    excess: np.ndarray

    @classmethod
    def from_points(cls, points: Sequence[Sequence[float]]) -> CalibrationCurve:
        if len(points) < 2:
            raise ValueError("calibration: need at least two (price, win rate) points")
        table = np.asarray(points, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] != 2:
            raise ValueError("calibration: each point is [average price, win rate]")
        if not np.all((table > 0) & (table < 1)):
            raise ValueError("calibration: prices and win rates must lie strictly between 0 and 1")
        if not np.all(np.diff(table[:, 0]) > 0):
            raise ValueError("calibration: prices must be strictly increasing")
        return cls(table[:, 0].copy(), table[:, 1] - table[:, 0])

    def fair_yes(self, price_units: np.ndarray) -> np.ndarray:
        p = np.asarray(price_units, dtype=np.float64) / CONTRACT_PAYOUT
        return np.clip(p + np.interp(p, self.prices, self.excess), 1e-6, 1 - 1e-6)


@dataclass(frozen=True, slots=True)
class FavouriteLongshot:
    favourite_threshold: int
    """Buy YES when the YES ask is at or above this price (price units)."""
    longshot_threshold: int
    """Buy NO when the YES price (bid) is at or below this price (price units)."""
    min_edge: float
    fee_rate_ppm: int
    curve: CalibrationCurve
    enabled: bool = True
    name: str = "flb"
    calibration_version: str = "config"
    """Which calibration the curve is: ``config`` (the config's table) or the registry version
    it was loaded from; every model run records it."""

    def fair_yes(self, view: MarketView) -> np.ndarray:
        """Its fair probability of YES per market, at the YES ask (NaN where none): what the
        prediction log records each interval, whether or not it trades."""
        ask = view.yes_ask
        return np.where(ask > 0, self.curve.fair_yes(ask), np.nan)

    def propose(self, view: MarketView) -> Proposals:
        if not self.enabled or view.n == 0:
            return Proposals.empty()
        return select(flb_select, view, self.curve.prices, self.curve.excess,
                      self.favourite_threshold, self.longshot_threshold, self.min_edge,
                      self.fee_rate_ppm)
