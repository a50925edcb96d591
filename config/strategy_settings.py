"""Settings of the strategies: favourite–longshot harvester, sportsbook odds edge, and any
other ``[strategies.<name>]`` table with a ``kind`` (another built-in instance or a plugin)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

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
    calibration_source: Literal["config", "registry"] = Field("config", json_schema_extra=RELOADABLE)
    """Where the curve comes from: ``config``, the table above (the default: what the config says
    is what trades); ``registry``, the active version of ``DATA_DIR/registry`` (``edgewarden
    calibration``), followed without a restart, the table above then unused."""

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


BUILTIN_TABLES: dict[str, type[Section]] = {"flb": FlbSettings, "odds_edge": OddsEdgeSettings}
"""The built-in kinds and the section a table of that kind is validated with."""
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
NEEDS_KIND = ('a strategy table other than flb and odds_edge needs a kind: "flb", "odds_edge" '
              'or "package.module:ClassName" (a plugin)')


def _table_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name.startswith("model_") or name == "all":
        raise ValueError("a strategy name is up to 64 letters, digits, '_' or '-', starting with a "
                         "letter (not 'all', not 'model_...')")
    return name


def _kind_error(kind: object, reason: str) -> ValidationError:
    """An error at the table's ``kind`` key (raised from the table's validator, it nests)."""
    return ValidationError.from_exception_data("StrategyTable", [
        {"type": PydanticCustomError("strategy_kind", "{reason}", {"reason": reason}),
         "loc": ("kind",), "input": kind}])


class StrategyTable(BaseModel):
    """A strategy table beyond flb and odds_edge: another instance of a built-in kind, or a
    plugin. ``params`` is the rest of the table, validated by the kind's model."""

    model_config = ConfigDict(frozen=True)

    kind: str
    enabled: bool = True
    params: Any = None
    shadow_of: str | None = None
    """A shadow: runs beside this active strategy on the same inputs every tick and records its
    predictions (marked shadow), never reaching the gate (``calibration shadow-report``)."""

    @model_validator(mode="before")
    @classmethod
    def _by_kind(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"expected a table; {NEEDS_KIND}")
        if "kind" not in value:
            raise ValueError(NEEDS_KIND)
        kind = value["kind"]
        if not isinstance(kind, str):
            raise _kind_error(kind, "expected a string")
        rest = {k: v for k, v in value.items() if k not in ("kind", "shadow_of")}
        shadow_of = value.get("shadow_of")
        if shadow_of is not None and (not isinstance(shadow_of, str) or not shadow_of):
            raise ValueError(f"shadow_of {shadow_of!r}: expected the name of an active strategy table")
        section = BUILTIN_TABLES.get(kind)
        if section is not None:
            params = section.model_validate(rest)
            return {"kind": kind, "enabled": getattr(params, "enabled", True), "params": params,
                    "shadow_of": shadow_of}
        # Imported only here: the registry loads numba, which a config without plugins never needs.
        from strategies.registry import REGISTRY

        try:
            spec = REGISTRY.kind(kind)
        except ValueError as exc:
            raise _kind_error(kind, str(exc)) from None
        enabled = rest.pop("enabled", True)
        return {"kind": kind, "enabled": enabled, "params": spec.validate(rest), "shadow_of": shadow_of}

    @model_serializer
    def _flat(self, info: SerializationInfo) -> dict[str, Any]:
        """As written in TOML: kind, enabled and the parameters side by side."""
        params = self.params
        mode = "json" if info.mode_is_json() else "python"
        if isinstance(params, BaseModel):
            params = params.model_dump(mode=mode)
        elif params is not None and not isinstance(params, dict):
            params = TypeAdapter(type(params)).dump_python(params, mode=mode)
        shadow = {} if self.shadow_of is None else {"shadow_of": self.shadow_of}
        return {"kind": self.kind, "enabled": self.enabled, **shadow, **(params or {})}


class StrategiesSettings(Section):
    """The built-in two (always present, reloadable as before) and any other named tables,
    each with a ``kind``."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[Annotated[str, AfterValidator(_table_name)], StrategyTable]

    flb: FlbSettings = FlbSettings()
    odds_edge: OddsEdgeSettings = OddsEdgeSettings()

    @model_validator(mode="after")
    def _shadows_name_active_tables(self) -> StrategiesSettings:
        shadows = self.shadows()
        for name, active in shadows.items():
            if active == name or active in shadows or active not in {t[0] for t in self.tables()}:
                raise ValueError(f"strategies.{name}.shadow_of: {active!r} is not an active strategy table")
        return self

    def shadows(self) -> dict[str, str]:
        """Shadow table name → the active strategy it runs beside."""
        return {name: t.shadow_of for name, t in (self.model_extra or {}).items() if t.shadow_of}

    def tables(self) -> list[tuple[str, str, bool, Any]]:
        """(name, kind, enabled, params) of every strategy, flb and odds_edge first: what
        ``strategies.registry.build_strategies`` takes."""
        own = self.model_extra or {}
        return [("flb", "flb", self.flb.enabled, self.flb),
                ("odds_edge", "odds_edge", self.odds_edge.enabled, self.odds_edge),
                *((name, t.kind, t.enabled, t.params) for name, t in own.items())]
