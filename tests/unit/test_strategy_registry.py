"""The strategy registry: config tables → strategies, built-in kinds and plugins alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from config import ConfigError, load_settings
from strategies.base import SIDE_YES, MarketView, StrategyDefaults
from strategies.examples.favourite_premium import FavouritePremium
from strategies.flb import CalibrationCurve, FavouriteLongshot
from strategies.odds_edge import OddsEdge
from strategies.plugins import PluginError
from strategies.registry import REGISTRY, Registry, build_strategies

PLUGIN = "strategies.examples.favourite_premium:FavouritePremium"
DEFAULTS = StrategyDefaults(min_edge=0.01, fee_rate_ppm=70_000)


def configured(tmp_path: Path, text: str):
    path = tmp_path / "edgewarden.toml"
    path.write_text(text)
    return load_settings(path, env={}).strategies.tables()


def test_the_built_ins_come_from_their_tables_with_the_plain_defaults() -> None:
    flb, odds = build_strategies(load_settings(env={}).strategies.tables(), DEFAULTS)
    assert isinstance(flb, FavouriteLongshot) and isinstance(odds, OddsEdge)
    assert (flb.name, flb.favourite_threshold, flb.longshot_threshold) == ("flb", 9_000, 1_000)
    assert (flb.min_edge, flb.fee_rate_ppm, odds.min_edge, odds.fee_rate_ppm) == (0.01, 70_000, 0.01, 70_000)
    settings = load_settings(env={}).strategies.flb
    assert np.array_equal(flb.curve.prices, CalibrationCurve.from_points(settings.calibration_points()).prices)


def test_a_plugin_is_built_from_its_table_with_validated_params(tmp_path: Path) -> None:
    tables = configured(tmp_path, f'[strategies.premium]\nkind = "{PLUGIN}"\nmin_price = 0.8\n'
                                  '[strategies.flb_wide]\nkind = "flb"\nfavourite_threshold = "0.85"\n')
    built = build_strategies(tables, DEFAULTS)
    assert [s.name for s in built] == ["flb", "odds_edge", "premium", "flb_wide"]
    plugin = built[2]
    assert isinstance(plugin, FavouritePremium) and plugin.enabled and plugin.defaults == DEFAULTS
    assert (plugin.params.min_price, plugin.params.premium) == (0.8, 0.04)
    assert isinstance(built[3], FavouriteLongshot) and built[3].favourite_threshold == 8_500


def test_a_plugins_bad_params_are_config_errors_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        configured(tmp_path, f'[strategies.premium]\nkind = "{PLUGIN}"\npremium = 0.9\n')
    assert [path for path, _ in caught.value.errors] == ["strategies.premium.premium"]


def test_raw_tables_are_validated_by_the_kinds_model() -> None:
    (plugin,) = build_strategies([("p", PLUGIN, False, {"premium": 0.02})], DEFAULTS)
    assert plugin.params.premium == 0.02 and not plugin.enabled
    with pytest.raises(ValidationError, match="min_price"):
        build_strategies([("p", PLUGIN, True, {"min_price": 2})], DEFAULTS)


def test_only_keeps_one_strategy_enabled_or_says_which_exist() -> None:
    tables = [*load_settings(env={}).strategies.tables(), ("premium", PLUGIN, False, {})]
    (only,) = build_strategies(tables, DEFAULTS, only="premium")
    assert isinstance(only, FavouritePremium) and only.enabled
    assert [s.enabled for s in build_strategies(tables, DEFAULTS, only="all")] == [True] * 3
    with pytest.raises(ValueError, match="flb, odds_edge, premium"):
        build_strategies(tables, DEFAULTS, only="nope")


def test_kinds_that_are_no_strategy_are_refused() -> None:
    for kind, words in (("nope", "unknown kind"), ("no_such_module_here:X", "cannot import"),
                        ("collections:OrderedDict", "no propose"), ("strategies.base:Strategy", "Params")):
        with pytest.raises(PluginError, match=words):
            REGISTRY.kind(kind)


def test_a_registry_takes_kinds_of_its_own() -> None:
    registry = Registry()
    registry.register("odds", lambda name, params, defaults, enabled: OddsEdge(
        defaults.min_edge, defaults.fee_rate_ppm, enabled, name))
    (odds,) = registry.build([("mine", "odds", True, None)], DEFAULTS)
    assert (odds.name, odds.min_edge) == ("mine", 0.01)
    with pytest.raises(ValueError, match="import path"):
        registry.register("a:b", lambda *a: None)


def test_the_example_buys_favourites_whose_premium_clears_fee_and_edge() -> None:
    (plugin,) = build_strategies([("p", PLUGIN, True, {"min_price": 0.8, "premium": 0.03})], DEFAULTS)
    # asks: 85¢ (fee 0.89¢: 3 − 0.89 > 1 → buy), 79¢ (below min_price), 0 (no ask),
    # 50¢ (below), 99¢ with no size, 90¢ (fee 0.63¢ → buy)
    ask = np.array([8_500, 7_900, 0, 5_000, 9_900, 9_000], np.int64)
    size = np.array([100, 100, 100, 100, 0, 300], np.int64)
    view = MarketView(ask - 100, ask, size, size, np.zeros(6, np.int64), np.full(6, np.nan))
    p = plugin.propose(view)
    assert p.slot.tolist() == [0, 5] and p.side.tolist() == [SIDE_YES] * 2
    assert p.price.tolist() == [8_500, 9_000] and p.size_cap.tolist() == [100, 300]
    assert p.fair.tolist() == pytest.approx([0.88, 0.93])
    tight = StrategyDefaults(min_edge=0.022, fee_rate_ppm=70_000)  # 85¢: 2.11 < 2.2 < 2.37 at 90¢
    (strict,) = build_strategies([("p", PLUGIN, True, {"min_price": 0.8, "premium": 0.03})], tight)
    assert strict.propose(view).slot.tolist() == [5]
    assert len(plugin.propose(MarketView.empty(0))) == 0


def test_a_plugin_trades_beside_flb_in_a_backtest() -> None:
    from backtest.engine import run_backtest
    from backtest.events import RESULT_YES, DatasetBuilder
    from tests.unit.test_backtest_engine import limits

    b = DatasetBuilder()
    b.book(10**18, "FAV", 9_000, 9_200, 1_000, 1_000)  # ≥ 90¢: flb's first (it takes the book)
    b.book(10**18 + 10**9, "MID", 7_800, 8_000, 1_000, 1_000)  # 80¢: the plugin's only
    b.settle(10**18 + 600 * 10**9, "FAV", RESULT_YES)
    b.settle(10**18 + 600 * 10**9, "MID", RESULT_YES)
    settings = load_settings(overrides={"strategies.premium": {"kind": PLUGIN, "premium": 0.05}}, env={})
    strategies = build_strategies(settings.strategies.tables(), DEFAULTS)
    result = run_backtest(b.build(), strategies, limits())
    assert {(f.ticker, f.strategy) for f in result.fills} == {("FAV", "flb"), ("MID", "premium")}
