"""config/: precedence, strictness, error reporting, secrets, money, shipped files, reload."""

from __future__ import annotations

import datetime as dt
import json
import string
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from config import (
    KALSHI_DEMO_URL,
    KALSHI_PRODUCTION_URL,
    MASK,
    ConfigError,
    Settings,
    check_startable,
    kalshi_base_url,
    load_settings,
    reloadable_changes,
    reloadable_paths,
    resolved_control_socket,
    resolved_data_dir,
    settings_for_display,
    settings_to_toml,
    shipped_config_path,
    shipped_config_text,
)

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def write(tmp_path: Path, text: str, name: str = "edgewarden.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(**kwargs: Any) -> dict[str, str]:
    kwargs.setdefault("env", {})
    with pytest.raises(ConfigError) as caught:
        load_settings(**kwargs)
    return dict(caught.value.errors)


# ---------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ((), 0.25),
        (("toml",), 0.3),
        (("toml", "env"), 0.4),
        (("toml", "env", "override"), 0.5),
        (("env",), 0.4),
        (("override",), 0.5),
        (("toml", "override"), 0.5),
    ],
)
def test_each_layer_overrides_the_one_below(
    tmp_path: Path, layers: tuple[str, ...], expected: float
) -> None:
    config = write(tmp_path, "[risk]\nkelly_fraction = 0.3\n") if "toml" in layers else None
    env = {"EDGEWARDEN_RISK__KELLY_FRACTION": "0.4"} if "env" in layers else {}
    overrides = {"risk.kelly_fraction": 0.5} if "override" in layers else None
    loaded = load_settings(config, overrides=overrides, env=env)
    assert loaded.risk.kelly_fraction == expected


def test_layers_merge_key_by_key_not_section_by_section(tmp_path: Path) -> None:
    config = write(tmp_path, "[risk]\nkelly_fraction = 0.3\nmin_edge = 0.04\n")
    loaded = load_settings(
        config,
        overrides={"risk": {"max_total_pct": 0.1}},
        env={"EDGEWARDEN_RISK__LOSS_STREAK": "3"},
    )
    assert (loaded.risk.kelly_fraction, loaded.risk.min_edge) == (0.3, 0.04)
    assert (loaded.risk.loss_streak, loaded.risk.max_total_pct) == (3, 0.1)
    assert loaded.risk.max_group_pct == 0.15  # untouched default


def test_credentials_directory_sits_between_toml_and_environment(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "odds-api-key").write_text("from-credential\n")
    config = write(tmp_path, '[odds]\napi_key = "from-toml"\n')
    by_credential = load_settings(config, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert by_credential.odds.api_key.get_secret_value() == "from-credential"
    by_env = load_settings(
        config, env={"CREDENTIALS_DIRECTORY": str(creds), "EDGEWARDEN_ODDS__API_KEY": "from-env"}
    )
    assert by_env.odds.api_key.get_secret_value() == "from-env"


def test_nested_environment_variables_are_case_insensitive_and_take_json_lists() -> None:
    loaded = load_settings(
        env={
            "edgewarden_venue__sim__faults__latency_ms": "25",
            "EDGEWARDEN_ODDS__SPORTS": '["basketball_nba", "icehockey_nhl"]',
            "EDGEWARDEN_MODE": "demo",
        }
    )
    assert loaded.venue.sim.faults.latency_ms == 25
    assert loaded.odds.sports == ["basketball_nba", "icehockey_nhl"]
    assert loaded.mode == "demo"


def test_environment_is_not_read_unless_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEWARDEN_RISK__KELLY_FRACTION", "0.1")
    assert load_settings(env={}).risk.kelly_fraction == 0.25
    assert Settings().risk.kelly_fraction == 0.25
    assert load_settings().risk.kelly_fraction == 0.1  # env=None means os.environ


def test_dotted_and_nested_overrides_agree() -> None:
    dotted = load_settings(overrides={"strategies.flb.favourite_threshold": "0.92"}, env={})
    nested = load_settings(
        overrides={"strategies": {"flb": {"favourite_threshold": "0.92"}}}, env={}
    )
    assert dotted == nested
    assert dotted.strategies.flb.favourite_threshold_units == 9200


def test_config_path_from_edgewarden_config(tmp_path: Path) -> None:
    config = write(tmp_path, 'mode = "demo"\n')
    assert load_settings(env={"EDGEWARDEN_CONFIG": str(config)}).mode == "demo"
    other = write(tmp_path, 'mode = "live"\n', "other.toml")
    assert load_settings(other, env={"EDGEWARDEN_CONFIG": str(config)}).mode == "live"


# ---------------------------------------------------------------- strictness and errors


def test_unknown_toml_key_names_its_path_and_file(tmp_path: Path) -> None:
    config = write(tmp_path, "[risk]\nkelly_fracton = 0.3\n[venue.sim.faults]\nlatency = 5\n")
    errors = errors_of(config_path=config)
    assert set(errors) == {"risk.kelly_fracton", "venue.sim.faults.latency"}
    assert "unknown key" in errors["risk.kelly_fracton"]
    assert str(config) in errors["risk.kelly_fracton"]


def test_unknown_top_level_toml_table_is_an_error(tmp_path: Path) -> None:
    errors = errors_of(config_path=write(tmp_path, "[strategy_flb]\nfavorite_threshold = 90\n"))
    assert list(errors) == ["strategy_flb"]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("EDGEWARDEN_FOO", "foo"),
        ("EDGEWARDEN_RISK__KELLY", "risk.kelly"),
        ("EDGEWARDEN_MODE__LIVE", "mode.live"),
        ("EDGEWARDEN_VENUE__KALSHI__KEYID", "venue.kalshi.keyid"),
    ],
)
def test_environment_variable_naming_no_field_is_an_error(name: str, path: str) -> None:
    errors = errors_of(env={name: "1"})
    assert list(errors) == [path]
    assert name in errors[path]


def test_kill_switch_and_config_variables_are_not_settings_keys() -> None:
    loaded = load_settings(env={"EDGEWARDEN_KILL": "1", "EDGEWARDEN_CONFIG": ""})
    assert loaded == Settings()


def test_bad_values_name_their_path_and_source(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        'mode = "paper"\n[risk]\nkelly_fraction = 2\n[venue.sim]\nport = 70000\n'
        '[logging]\nformat = "xml"\n[risk.correlation_groups]\nname = "x"\n',
    )
    errors = errors_of(config_path=config)
    assert set(errors) == {
        "mode",
        "risk.kelly_fraction",
        "venue.sim.port",
        "logging.format",
        "risk.correlation_groups",
    }
    assert errors["risk.kelly_fraction"].startswith(
        "Input should be less than or equal to 1 (got 2)"
    )
    assert all(str(config) in message for message in errors.values())


def test_every_error_from_every_layer_is_reported_at_once(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    (creds / "kalshi-key-id").mkdir(parents=True)  # unreadable as a file
    config = write(tmp_path, "[risk]\nmin_edge = -1\nbogus = true\n")
    errors = errors_of(
        config_path=config,
        env={
            "EDGEWARDEN_ENGINE__TICK_SECONDS": "soon",
            "EDGEWARDEN_NOPE": "1",
            "CREDENTIALS_DIRECTORY": str(creds),
        },
        overrides={"supervisor.max_restarts_per_window": 0},
    )
    assert set(errors) == {
        "risk.min_edge",
        "risk.bogus",
        "engine.tick_seconds",
        "nope",
        "supervisor.max_restarts_per_window",
        "venue.kalshi.key_id",
    }
    assert "EDGEWARDEN_ENGINE__TICK_SECONDS" in errors["engine.tick_seconds"]
    assert "command-line override" in errors["supervisor.max_restarts_per_window"]


def test_config_error_text_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"risk.kelly_fraction": 0, "odds.poll_seconds": 0}, env={})
    text = str(caught.value)
    assert "2 error(s)" in text
    assert "risk.kelly_fraction: Input should be greater than 0" in text
    assert "odds.poll_seconds" in text


def test_invalid_toml_syntax_names_file_and_line(tmp_path: Path) -> None:
    config = write(tmp_path, 'mode = "sim"\n\n[risk]\nkelly_fraction = = 0.3\n')
    errors = errors_of(config_path=config)
    assert list(errors) == [str(config)]
    assert "line 4" in errors[str(config)]


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    errors = errors_of(config_path=tmp_path / "absent.toml")
    assert "does not exist" in errors[str(tmp_path / "absent.toml")]


def test_json_for_structured_values_is_explained_for_the_environment() -> None:
    errors = errors_of(env={"EDGEWARDEN_ODDS__SPORTS": "basketball_nba"})
    assert "JSON" in errors["odds.sports"] and "EDGEWARDEN_ODDS__SPORTS" in errors["odds.sports"]


def test_cross_field_rules() -> None:
    errors = errors_of(
        overrides={
            "strategies.flb.favourite_threshold": "0.10",
            "supervisor.restart_backoff_initial_seconds": 60,
            "risk.day_boundary_tz": "Mars/Olympus",
            "risk.correlation_groups": [
                {"name": "a", "patterns": ["X*"]},
                {"name": "a", "patterns": ["Y*"]},
            ],
        }
    )
    assert "longshot_threshold must be below" in errors["strategies.flb"]
    assert "restart_backoff" in errors["supervisor"]
    assert "unknown time zone" in errors["risk.day_boundary_tz"]
    assert "unique" in errors["risk.correlation_groups"]


# ---------------------------------------------------------------- strategy tables of one's own

PLUGIN = "strategies.examples.favourite_premium:FavouritePremium"


def test_other_strategy_tables_are_built_by_their_kind(tmp_path: Path) -> None:
    config = write(tmp_path, f'[strategies.premium]\nkind = "{PLUGIN}"\nmin_price = 0.8\n'
                             '[strategies.flb_tight]\nkind = "flb"\nfavourite_threshold = "0.95"\n'
                             "enabled = false\n")
    loaded = load_settings(config, env={})
    tables = loaded.strategies.tables()
    assert [(name, kind, enabled) for name, kind, enabled, _ in tables] == [
        ("flb", "flb", True), ("odds_edge", "odds_edge", True), ("premium", PLUGIN, True),
        ("flb_tight", "flb", False)]
    assert tables[2][3].min_price == 0.8 and tables[2][3].premium == 0.04  # its default
    assert tables[3][3].favourite_threshold_units == 9_500
    assert loaded.strategies.flb == Settings().strategies.flb  # the built-in table as it was
    assert load_settings(write(tmp_path, settings_to_toml(loaded), "dump.toml"), env={}) == loaded


@pytest.mark.parametrize(
    ("table", "path", "words"),
    [
        ("min_price = 0.8", "strategies.mine", "needs a kind"),
        (f'kind = "{PLUGIN}"\nmin_price = 1.5', "strategies.mine.min_price", "less than 1"),
        (f'kind = "{PLUGIN}"\nthreshold = 1', "strategies.mine.threshold", "unknown key"),
        ('kind = "no_such_module_here:Thing"', "strategies.mine.kind", "cannot import"),
        ('kind = "collections:OrderedDict"', "strategies.mine.kind", "not a strategy"),
        ('kind = "strategies.base:NoSuchClass"', "strategies.mine.kind", "has no 'NoSuchClass'"),
        ('kind = "flbb"', "strategies.mine.kind", "unknown kind"),
        ("kind = 7", "strategies.mine.kind", "expected a string"),
        ('kind = "flb"\nfavourite_threshold = "0.05"', "strategies.mine", "longshot_threshold must be below"),
    ],
)
def test_bad_strategy_tables_name_their_key_path(tmp_path: Path, table: str, path: str, words: str) -> None:
    config = write(tmp_path, f"[strategies.mine]\n{table}\n")
    errors = errors_of(config_path=config)
    assert list(errors) == [path] and words in errors[path] and str(config) in errors[path]


def test_strategy_table_names_are_checked() -> None:
    errors = errors_of(overrides={"strategies": {"no good": {"kind": "flb"}, "all": {"kind": "flb"}}})
    assert set(errors) == {"strategies.no good", "strategies.all"}


def test_adding_removing_or_changing_a_strategy_table_needs_a_restart() -> None:
    old = load_settings(env={})
    new = load_settings(overrides={"strategies.premium": {"kind": PLUGIN}}, env={})
    assert reloadable_changes(old, new) == ({}, ["strategies.premium"])
    assert reloadable_changes(new, old) == ({}, ["strategies.premium"])
    changed = load_settings(overrides={"strategies.premium": {"kind": PLUGIN, "premium": 0.1}}, env={})
    assert reloadable_changes(new, changed) == ({}, ["strategies.premium"])
    assert reloadable_changes(new, load_settings(overrides={"strategies.premium": {"kind": PLUGIN}}, env={})) == ({}, [])


def test_settings_are_frozen() -> None:
    loaded = load_settings(env={})
    with pytest.raises(ValidationError):
        loaded.risk.kelly_fraction = 1.0  # type: ignore[misc]


# ---------------------------------------------------------------- money


def test_money_is_exact_decimal_from_strings_and_toml_floats(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[risk]\ndaily_loss_dollars = 500.0\ncapital_dollars = "12345.6789"\nmax_total_dollars = 0.07\n'
        "max_order_contracts = 2.5\n[fees]\nprofit_fee_rate = 0.07\n",
    )
    risk = load_settings(config, env={}).risk
    assert risk.daily_loss_dollars == Decimal("500.0") and risk.daily_loss_units == 5_000_000
    assert risk.capital_units == 123_456_789
    assert risk.max_total_dollars == Decimal("0.07") and risk.max_total_units == 700
    assert risk.max_position_units is None
    assert risk.max_order_count == 250
    assert load_settings(config, env={}).fees.profit_fee_rate == Decimal("0.07")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("risk.daily_loss_dollars", "0.00001"),
        ("risk.daily_loss_dollars", 0.00005),
        ("risk.capital_dollars", "0"),
        ("risk.max_group_dollars", "-1"),
        ("risk.daily_loss_dollars", "NaN"),
        ("risk.daily_loss_dollars", "1e40"),
        ("risk.daily_loss_dollars", True),
        ("risk.max_order_contracts", "1.005"),
        ("strategies.flb.favourite_threshold", "1.00"),
        ("strategies.flb.longshot_threshold", "0.00001"),
        ("fees.multiplier", "0.0000001"),
    ],
)
def test_money_that_does_not_fit_the_unit_is_rejected(key: str, value: object) -> None:
    errors = errors_of(overrides={key: value})
    assert key in errors


def test_display_keeps_decimals_as_strings() -> None:
    shown = settings_for_display(
        load_settings(overrides={"risk.daily_loss_dollars": "250.5"}, env={})
    )
    assert shown["risk"]["daily_loss_dollars"] == "250.5"
    assert shown["fees"]["multiplier"] == "1"
    json.dumps(shown)  # JSON-able as is


# ---------------------------------------------------------------- secrets


def test_secrets_are_masked_in_display_repr_str_and_toml() -> None:
    loaded = load_settings(
        env={
            "EDGEWARDEN_VENUE__KALSHI__KEY_ID": "key-id-123",
            "EDGEWARDEN_VENUE__KALSHI__PRIVATE_KEY": PEM,
            "EDGEWARDEN_ODDS__API_KEY": "odds-secret-456",
        }
    )
    assert loaded.venue.kalshi.private_key.get_secret_value() == PEM
    shown = settings_for_display(loaded)
    assert shown["venue"]["kalshi"]["private_key"] == MASK
    assert shown["odds"]["api_key"] == MASK
    for text in (repr(loaded), str(loaded), json.dumps(shown), settings_to_toml(loaded)):
        for secret in ("key-id-123", "MIIBVQ", "odds-secret-456"):
            assert secret not in text


def test_secrets_never_appear_in_error_messages() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            env={"EDGEWARDEN_ODDS__API_KEY": "", "EDGEWARDEN_ODDS__POLL_SECONDS": "s3cr3t"}
        )
    assert "odds.poll_seconds" in str(caught.value) and "s3cr3t" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"EDGEWARDEN_VENUE__KALSHI__PRIVATE_KEE": PEM})
    assert "MIIBVQ" not in str(caught.value)


def test_empty_environment_variable_means_unset_but_an_empty_secret_is_an_error() -> None:
    assert load_settings(env={"EDGEWARDEN_ODDS__API_KEY": ""}).odds.api_key is None
    assert "must not be empty" in errors_of(overrides={"odds.api_key": "  "})["odds.api_key"]


def test_secret_read_from_file(tmp_path: Path) -> None:
    key_file = tmp_path / "kalshi.pem"
    key_file.write_text(PEM + "\n")
    (tmp_path / "odds").write_text("abc123\n")
    config = write(
        tmp_path,
        f'[venue.kalshi]\nprivate_key_file = "{key_file}"\n[odds]\napi_key_file = "{tmp_path / "odds"}"\n',
    )
    loaded = load_settings(config, env={})
    assert loaded.venue.kalshi.private_key.get_secret_value() == PEM
    assert loaded.odds.api_key.get_secret_value() == "abc123"
    assert settings_for_display(loaded)["venue"]["kalshi"]["private_key_file"] == str(key_file)


def test_secret_file_problems_name_the_key(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    errors = errors_of(
        overrides={
            "venue.kalshi.private_key_file": str(tmp_path / "missing.pem"),
            "venue.kalshi.key_id_file": str(empty),
            "odds.api_key": "inline",
            "odds.api_key_file": str(empty),
        }
    )
    assert "missing.pem" in errors["venue.kalshi.private_key_file"]
    assert "empty" in errors["venue.kalshi.key_id_file"]
    assert "one way only" in errors["odds.api_key_file"]


def test_secrets_from_the_systemd_credentials_directory(tmp_path: Path) -> None:
    for name, text in (
        ("kalshi-key-id", "kid"),
        ("kalshi-private-key", PEM),
        ("odds-api-key", "ok"),
    ):
        (tmp_path / name).write_text(text + "\n")
    loaded = load_settings(
        overrides={"mode": "live", "live_confirmed": True},
        env={"CREDENTIALS_DIRECTORY": str(tmp_path)},
    )
    assert loaded.venue.kalshi.key_id.get_secret_value() == "kid"
    assert check_startable(loaded) == []


# ---------------------------------------------------------------- shipped files and derived values


def test_shipped_default_equals_the_schema_defaults() -> None:
    with shipped_config_path("default.toml") as path:
        assert load_settings(path, env={}) == Settings()
    assert tomllib.loads(shipped_config_text("default.toml"))["mode"] == "sim"


def test_shipped_production_carries_the_production_values() -> None:
    with shipped_config_path("production.toml") as path:
        prod = load_settings(path, env={})
    risk, flb = prod.risk, prod.strategies.flb
    assert (prod.mode, prod.live_confirmed) == ("live", False)
    assert (risk.kelly_fraction, risk.max_total_pct, risk.max_position_pct, risk.max_group_pct) == (
        0.25,
        0.20,
        0.05,
        0.15,
    )
    assert (risk.daily_loss_units, risk.daily_loss_pct) == (500 * 10_000, 0.05)
    assert (risk.loss_streak, risk.loss_streak_pause_seconds) == (5, 4 * 3600)
    assert (risk.max_spread_bps, risk.stale_book_seconds, risk.max_slippage_bps, risk.min_edge) == (
        200,
        30,
        50,
        0.03,
    )
    assert (flb.favourite_threshold_units, flb.longshot_threshold_units) == (9000, 1000)
    assert any("live_confirmed" in problem for problem in check_startable(prod))


def test_repo_files_are_the_packaged_files() -> None:
    for name in ("default.toml", "production.toml"):
        assert (REPO_CONFIG / name).read_text(encoding="utf-8") == shipped_config_text(name)


def test_default_calibration_is_the_kalshi_table() -> None:
    rows = Settings().strategies.flb.calibration
    assert [(r.price_low, r.price_high, r.win_rate) for r in rows] == [
        (0.00, 0.05, 0.0154),
        (0.05, 0.10, 0.0520),
        (0.10, 0.15, 0.1026),
        (0.85, 0.90, 0.8858),
        (0.90, 0.95, 0.9382),
        (0.95, 1.00, 0.9823),
    ]


def test_calibration_points_feed_the_flb_strategy() -> None:
    flb = pytest.importorskip("strategies.flb")
    curve = flb.CalibrationCurve.from_points(Settings().strategies.flb.calibration_points())
    assert curve.prices[0] == pytest.approx(0.0215)


@pytest.mark.parametrize(
    "rows",
    [
        [[0.0, 0.1, 0.05], [0.05, 0.2, 0.1]],  # overlap
        [[0.5, 0.6, 0.55], [0.1, 0.2, 0.15]],  # out of order
        [[0.0, 0.1, 1.5], [0.2, 0.3, 0.25]],  # win rate out of 0..1
        [[0.0, 0.1], [0.2, 0.3, 0.25]],  # short row
        [[0.0, 0.1, 0.05, 0.5], [0.2, 0.3, 0.25]],  # avg price outside bucket
        [[0.0, 0.1, 0.05]],  # one row is not a curve
    ],
)
def test_bad_calibration_tables_are_rejected(tmp_path: Path, rows: list[list[float]]) -> None:
    config = write(tmp_path, f"[strategies.flb]\ncalibration = {json.dumps(rows)}\n")
    errors = errors_of(config_path=config)
    assert all(path.startswith("strategies.flb.calibration") for path in errors)


def test_data_dir_and_control_socket_defaults() -> None:
    defaults = Settings()
    assert resolved_data_dir(defaults, {"STATE_DIRECTORY": "/var/lib/ew:/var/lib/other"}) == Path(
        "/var/lib/ew"
    )
    assert resolved_data_dir(defaults, {"XDG_STATE_HOME": "/x/state", "HOME": "/h"}) == Path(
        "/x/state/edgewarden"
    )
    assert resolved_data_dir(defaults, {"XDG_STATE_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.local/state/edgewarden"
    )
    explicit = load_settings(overrides={"data_dir": "/srv/ew"}, env={})
    assert resolved_data_dir(explicit, {"STATE_DIRECTORY": "/var/lib/ew"}) == Path("/srv/ew")
    assert resolved_control_socket(defaults, {"RUNTIME_DIRECTORY": "/run/ew"}) == Path(
        "/run/ew/control.sock"
    )
    assert resolved_control_socket(explicit, {}) == Path("/srv/ew/control.sock")


def test_kalshi_base_url_follows_mode() -> None:
    assert (
        kalshi_base_url(load_settings(overrides={"mode": "live"}, env={})) == KALSHI_PRODUCTION_URL
    )
    assert kalshi_base_url(load_settings(overrides={"mode": "demo"}, env={})) == KALSHI_DEMO_URL
    assert kalshi_base_url(Settings()) is None
    custom = load_settings(
        overrides={"venue.kalshi.base_url": "http://127.0.0.1:8080/trade-api/v2/"}, env={}
    )
    assert kalshi_base_url(custom) == "http://127.0.0.1:8080/trade-api/v2"


def test_live_and_demo_startability() -> None:
    keys = {"venue.kalshi.key_id": "kid", "venue.kalshi.private_key": PEM, "odds.api_key": "k"}
    assert check_startable(Settings()) == []
    assert (
        check_startable(
            load_settings(overrides={"mode": "live", "live_confirmed": True, **keys}, env={})
        )
        == []
    )
    unconfirmed = check_startable(load_settings(overrides={"mode": "live", **keys}, env={}))
    assert len(unconfirmed) == 1 and "live_confirmed" in unconfirmed[0]
    dry = load_settings(overrides={"mode": "live", "dry_run": True, **keys}, env={})
    assert check_startable(dry) == []
    keyless = check_startable(load_settings(overrides={"mode": "demo"}, env={}))
    assert len(keyless) == 3
    assert all(
        any(key in p for p in keyless)
        for key in ("kalshi.key_id", "kalshi.private_key", "odds.api_key")
    )
    not_pem = load_settings(
        overrides={"mode": "demo", **keys, "venue.kalshi.private_key": "hunter2"}, env={}
    )
    assert any("PEM" in p for p in check_startable(not_pem))


# ---------------------------------------------------------------- display round trip and reload


def test_toml_dump_loads_back_to_the_same_settings(tmp_path: Path) -> None:
    with shipped_config_path("production.toml") as path:
        prod = load_settings(
            path,
            overrides={
                "risk.correlation_groups": [{"name": "nba", "patterns": ["KXNBA*", 'we"ird\\']}],
                "strategies.odds_edge.market_map": [
                    {"ticker_pattern": "K*", "sport": "basketball_nba", "outcome": "home"}
                ],
                "risk.max_group_dollars": "1500.25",
                "data_dir": str(tmp_path),
            },
            env={},
        )
    dumped = write(tmp_path, settings_to_toml(prod), "dump.toml")
    assert load_settings(dumped, env={}) == prod


def test_reloadable_changes_splits_reloadable_from_restart_only() -> None:
    old = load_settings(env={})
    new = load_settings(
        overrides={
            "risk.kelly_fraction": 0.1,
            "engine.tick_seconds": 2,
            "logging.level": "debug",
            "strategies.flb.favourite_threshold": "0.92",
            "mode": "demo",
            "venue.sim.port": 9000,
        },
        env={},
    )
    changed, rejected = reloadable_changes(old, new)
    assert changed == {
        "risk.kelly_fraction": 0.1,
        "engine.tick_seconds": 2.0,
        "logging.level": "DEBUG",
        "strategies.flb.favourite_threshold": Decimal("0.92"),
    }
    assert sorted(rejected) == ["mode", "venue.sim.port"]
    assert reloadable_changes(old, load_settings(env={})) == ({}, [])


def test_reloadable_paths_cover_the_promised_fields() -> None:
    paths = set(reloadable_paths())
    assert {
        "risk.kelly_fraction",
        "risk.daily_loss_dollars",
        "odds.poll_seconds",
        "engine.tick_seconds",
        "logging.level",
    } <= paths
    assert {"strategies.flb.favourite_threshold", "strategies.flb.longshot_threshold"} <= paths
    assert (
        not {"mode", "live_confirmed", "venue.kalshi.private_key", "risk.correlation_groups"}
        & paths
    )


# ---------------------------------------------------------------- fuzz


def _key_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        paths.append((*prefix, name))
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            paths.extend(_key_paths(ann, (*prefix, name)))
    return paths


KEY_PATHS = _key_paths(Settings)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["sim", "live", "0.9", "1e400", "NaN", "-0", "~nobody/x", "[1]", '{"a":1}', "0.00001"]
    ),
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.decimals(allow_nan=True),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
dotted_keys = st.sampled_from([".".join(p) for p in KEY_PATHS]) | st.text(
    string.ascii_lowercase + "._", max_size=12
)


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(dotted_keys, values, max_size=6))
def test_fuzz_overrides_load_or_raise_config_error(overrides: dict[str, Any]) -> None:
    try:
        assert isinstance(load_settings(overrides=overrides, env={}), Settings)
    except ConfigError as exc:
        assert exc.errors and all(isinstance(p, str) and isinstance(m, str) for p, m in exc.errors)


env_names = st.sampled_from(["EDGEWARDEN_" + "__".join(p).upper() for p in KEY_PATHS]) | st.text(
    string.ascii_uppercase + "_", max_size=16
).map(lambda s: "EDGEWARDEN_" + s)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        env_names,
        st.text(max_size=20) | st.sampled_from(["[]", "{}", "null", "1", "true"]),
        max_size=5,
    )
)
def test_fuzz_environment_loads_or_raises_config_error(env: dict[str, str]) -> None:
    env = {k: v.replace("\x00", "") for k, v in env.items()}
    try:
        assert isinstance(load_settings(env=env), Settings)
    except ConfigError as exc:
        assert exc.errors


toml_lines = st.one_of(
    st.sampled_from(
        [
            "[risk]",
            "[venue.sim.faults]",
            "[[risk.correlation_groups]]",
            "[strategies.flb]",
            "kelly_fraction = 0.3",
            "daily_loss_dollars = 1e-9",
            'mode = "live"',
            "calibration = [[0.0, 0.5, 0.3], [0.5, 1.0, 0.7]]",
            "name = 'x'",
            "patterns = ['A*']",
            "latency_ms = 1979-05-27T07:32:00Z",
            "port = inf",
            "x = {a = 1}",
        ]
    ),
    st.text(max_size=30),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(toml_lines, max_size=8))
def test_fuzz_toml_files_load_or_raise_config_error(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        assert isinstance(load_settings(path, env={}), Settings)
    except ConfigError as exc:
        assert exc.errors


no_surrogates = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kelly=st.floats(min_value=0.001, max_value=1),
    loss=st.decimals(min_value=0, max_value=10**9, places=4),
    group=st.tuples(no_surrogates, st.lists(no_surrogates, min_size=1, max_size=3)),
    sports=st.lists(no_surrogates.filter(str.strip), min_size=1, max_size=3, unique=True),
    level=st.sampled_from(["debug", "INFO", "Warning"]),
)
def test_fuzz_valid_values_survive_loading_and_the_toml_dump(
    tmp_path: Path,
    kelly: float,
    loss: Decimal,
    group: tuple[str, list[str]],
    sports: list[str],
    level: str,
) -> None:
    loaded = load_settings(
        overrides={
            "risk.kelly_fraction": kelly,
            "risk.daily_loss_dollars": str(loss),
            "risk.correlation_groups": [{"name": group[0], "patterns": group[1]}],
            "odds.sports": sports,
            "logging.level": level,
        },
        env={},
    )
    assert loaded.risk.kelly_fraction == kelly and loaded.risk.daily_loss_dollars == loss
    assert loaded.risk.daily_loss_units == int(loss * 10_000)
    assert loaded.logging.level == level.upper()
    dumped = write(tmp_path, settings_to_toml(loaded), "dump.toml")
    assert load_settings(dumped, env={}) == loaded
