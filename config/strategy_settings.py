"""Settings of the strategies: favourite–longshot harvester and sportsbook odds edge."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from market.units import parse_price

from .values import RELOADABLE, Price, Section

_ROW_KEYS = ("price_low", "price_high", "win_rate", "avg_price")


class CalibrationRow(Section):
    """One price bucket: YES contracts priced in [price_low, price_high) settled YES at
    ``win_rate``. Written in TOML as ``[price_low, price_high, win_rate]`` or with the
    bucket's average traded price as a fourth number (better than the bucket midpoint
    as the point the calibration curve goes through)."""

    price_low: float = Field(ge=0, lt=1)
    price_high: float = Field(gt=0, le=1)
    win_rate: float = Field(gt=0, lt=1)
    avg_price: float | None = Field(None, gt=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) not in (3, 4):
                raise ValueError(
                    "a calibration row is [price_low, price_high, win_rate] "
                    "or [price_low, price_high, win_rate, avg_price]"
                )
            return dict(zip(_ROW_KEYS, value, strict=False))
        return value

    @model_validator(mode="after")
    def _bucket_is_sane(self) -> CalibrationRow:
        if self.price_low >= self.price_high:
            raise ValueError("price_low must be below price_high")
        if self.avg_price is not None and not self.price_low <= self.avg_price <= self.price_high:
            raise ValueError("avg_price must lie within [price_low, price_high]")
        return self

    @model_serializer
    def _as_list(self) -> list[float]:
        row = [self.price_low, self.price_high, self.win_rate]
        return row if self.avg_price is None else [*row, self.avg_price]

    @property
    def point_price(self) -> float:
        """The price the curve goes through for this bucket."""
        if self.avg_price is not None:
            return self.avg_price
        return (self.price_low + self.price_high) / 2


# Public tabulation of ~72 million Kalshi trades (reference/venues.md, favourite–longshot).
KALSHI_FLB_CALIBRATION: tuple[tuple[float, float, float, float], ...] = (
    (0.00, 0.05, 0.0154, 0.0215),
    (0.05, 0.10, 0.0520, 0.0687),
    (0.10, 0.15, 0.1026, 0.1193),
    (0.85, 0.90, 0.8858, 0.8702),
    (0.90, 0.95, 0.9382, 0.9209),
    (0.95, 1.00, 0.9823, 0.9748),
)


def _default_calibration() -> list[CalibrationRow]:
    return [CalibrationRow.model_validate(row) for row in KALSHI_FLB_CALIBRATION]


class FlbSettings(Section):
    """Favourite–longshot bias: buy YES on favourites, NO on longshots (prices in dollars)."""

    enabled: bool = Field(True, json_schema_extra=RELOADABLE)
    favourite_threshold: Price = Field(Decimal("0.90"), json_schema_extra=RELOADABLE)
    """Buy YES when the YES ask is at or above this price."""
    longshot_threshold: Price = Field(Decimal("0.10"), json_schema_extra=RELOADABLE)
    """Buy NO when the YES price is at or below this price."""
    calibration: list[CalibrationRow] = Field(default_factory=_default_calibration, min_length=2)
    """Buckets [price_low, price_high, win_rate(, avg_price)], ordered, not overlapping."""

    @field_validator("calibration")
    @classmethod
    def _ordered(cls, rows: list[CalibrationRow]) -> list[CalibrationRow]:
        for before, after in zip(rows, rows[1:], strict=False):
            if after.price_low < before.price_high:
                raise ValueError(
                    f"rows must be ordered and not overlap: bucket starting at {after.price_low} "
                    f"begins before the previous one ends at {before.price_high}"
                )
        return rows

    @model_validator(mode="after")
    def _thresholds_apart(self) -> FlbSettings:
        if self.longshot_threshold >= self.favourite_threshold:
            raise ValueError("longshot_threshold must be below favourite_threshold")
        return self

    @property
    def favourite_threshold_units(self) -> int:
        return parse_price(self.favourite_threshold)

    @property
    def longshot_threshold_units(self) -> int:
        return parse_price(self.longshot_threshold)

    def calibration_points(self) -> list[tuple[float, float]]:
        """(price, win rate) points for strategies.flb.CalibrationCurve.from_points."""
        return [(row.point_price, row.win_rate) for row in self.calibration]


class MarketMapEntry(Section):
    """Ties Kalshi tickers to a sportsbook sport and outcome for the odds-edge strategy."""

    ticker_pattern: str = Field(min_length=1)
    """fnmatch pattern on the Kalshi ticker."""
    sport: str = Field(min_length=1)
    """The Odds API sport key, e.g. basketball_nba."""
    outcome: str = Field(min_length=1)
    """Which outcome YES corresponds to (e.g. home, away, over, under, draw)."""


class OddsEdgeSettings(Section):
    """Trade where the de-vigged bookmaker consensus disagrees with the exchange price."""

    enabled: bool = Field(True, json_schema_extra=RELOADABLE)
    devig_method: Literal["multiplicative", "additive", "power", "shin"] = "shin"
    min_bookmakers: int = Field(2, ge=1, json_schema_extra=RELOADABLE)
    """Bookmakers needed for a consensus."""
    max_odds_age_seconds: float = Field(120.0, gt=0, json_schema_extra=RELOADABLE)
    """Odds older than this are ignored."""
    market_map: list[MarketMapEntry] = Field(default_factory=list)


class StrategiesSettings(Section):
    flb: FlbSettings = FlbSettings()
    odds_edge: OddsEdgeSettings = OddsEdgeSettings()
