"""Which strategies run: one per ``[strategies.<name>]`` table, built by the table's kind.

A kind maps to (params model, factory). "flb" and "odds_edge" are built in; any other kind
is an import path to a plugin class (strategies.plugins). The daemon and the backtester
build their strategies here, one way, so both run the same ones (DESIGN principle 4).
Strategies get plain values (``StrategyDefaults``), never the risk gate's limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from .base import Strategy, StrategyDefaults
from .flb import CalibrationCurve, FavouriteLongshot
from .odds_edge import OddsEdge
from .plugins import PluginError, load_plugin

Factory = Callable[[str, Any, StrategyDefaults, bool], Strategy]
"""(table name, validated params, defaults, enabled) → a strategy."""
Table = tuple[str, str, bool, Any]
"""(name, kind, enabled, params): one strategy table, as ``StrategiesSettings.tables()``."""


@dataclass(frozen=True, slots=True)
class StrategyKind:
    factory: Factory
    params: type | None = None
    """The model a table of this kind is validated with. None for the built-in kinds: their
    tables are the config's own sections (config.strategy_settings), validated there."""

    def validate(self, params: Any) -> Any:
        """``params`` as the kind's model (a raw mapping is validated; a model instance kept)."""
        if self.params is None or isinstance(params, self.params):
            return params
        return TypeAdapter(self.params).validate_python(params)


class Registry:
    def __init__(self) -> None:
        self._kinds: dict[str, StrategyKind] = {}

    def register(self, kind: str, factory: Factory, params: type | None = None) -> None:
        if ":" in kind:
            raise ValueError(f"kind {kind!r}: a name with ':' is an import path, not a registered kind")
        self._kinds[kind] = StrategyKind(factory, params)

    @property
    def names(self) -> list[str]:
        return list(self._kinds)

    def kind(self, kind: str) -> StrategyKind:
        """A registered kind, else the plugin class ``kind`` names (PluginError if none)."""
        known = self._kinds.get(kind)
        if known is not None:
            return known
        if ":" not in kind:
            raise PluginError(f"unknown kind {kind!r}: expected {', '.join(map(repr, self._kinds))} "
                              'or "package.module:ClassName"')
        cls = load_plugin(kind)
        return StrategyKind(cls, cls.Params)

    def build(self, tables: Iterable[Table], defaults: StrategyDefaults,
              only: str | None = None) -> list[Strategy]:
        """Every table's strategy, in table order. ``only`` (a table name, or "all") keeps
        that one (or every one), enabled whatever its table says: the backtester's choice."""
        tables = list(tables)
        names = [name for name, *_ in tables]
        if only not in (None, "all", *names):
            raise ValueError(f"no strategy {only!r}: the config has {', '.join(names)} (or all)")
        built = []
        for name, kind, enabled, params in tables:
            if only is not None and only not in ("all", name):
                continue
            spec = self.kind(kind)
            built.append(spec.factory(name, spec.validate(params), defaults, enabled or only is not None))
        return built


def _flb(name: str, params: Any, defaults: StrategyDefaults, enabled: bool) -> Strategy:
    """From config.strategy_settings.FlbSettings (thresholds in price units via its properties)."""
    curve = CalibrationCurve.from_points(params.calibration_points())
    return FavouriteLongshot(params.favourite_threshold_units, params.longshot_threshold_units,
                             defaults.min_edge, defaults.fee_rate_ppm, curve, enabled=enabled, name=name)


def _odds_edge(name: str, params: Any, defaults: StrategyDefaults, enabled: bool) -> Strategy:
    """The fair values it trades on are the daemon's (from the odds_edge table's settings)."""
    return OddsEdge(defaults.min_edge, defaults.fee_rate_ppm, enabled=enabled, name=name)


REGISTRY = Registry()
REGISTRY.register("flb", _flb)
REGISTRY.register("odds_edge", _odds_edge)


def build_strategies(tables: Iterable[Table], defaults: StrategyDefaults,
                     only: str | None = None) -> list[Strategy]:
    """``REGISTRY.build``: the strategies of ``Settings.strategies.tables()``."""
    return REGISTRY.build(tables, defaults, only)
