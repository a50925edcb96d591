"""Configuration: the Settings schema, loading with precedence, display and reload helpers.

Load with ``load_settings(config_path, overrides, env)``; everything else reads the
returned frozen ``Settings``. See config/default.toml for every key with its default.
"""

from .display import (
    MASK,
    reloadable_changes,
    reloadable_paths,
    settings_for_display,
    settings_to_toml,
)
from .errors import ConfigError
from .sections import (
    KALSHI_DEMO_URL,
    KALSHI_PRODUCTION_URL,
    CorrelationGroup,
    EngineSettings,
    FeeSettings,
    KalshiSettings,
    LoggingSettings,
    MonitoringSettings,
    OddsSettings,
    RiskSettings,
    SimFaults,
    SimSettings,
    SupervisorSettings,
    VenueSettings,
)
from .settings import (
    Settings,
    check_startable,
    kalshi_base_url,
    load_settings,
    resolved_control_socket,
    resolved_data_dir,
    shipped_config_path,
    shipped_config_text,
)
from .sources import CREDENTIALS, NON_SETTING_ENV_VARS
from .strategy_settings import (
    KALSHI_FLB_CALIBRATION,
    CalibrationRow,
    FlbSettings,
    MarketMapEntry,
    OddsEdgeSettings,
    StrategiesSettings,
)

__all__ = [
    "CREDENTIALS",
    "KALSHI_DEMO_URL",
    "KALSHI_FLB_CALIBRATION",
    "KALSHI_PRODUCTION_URL",
    "MASK",
    "NON_SETTING_ENV_VARS",
    "CalibrationRow",
    "ConfigError",
    "CorrelationGroup",
    "EngineSettings",
    "FeeSettings",
    "FlbSettings",
    "KalshiSettings",
    "LoggingSettings",
    "MarketMapEntry",
    "MonitoringSettings",
    "OddsEdgeSettings",
    "OddsSettings",
    "RiskSettings",
    "Settings",
    "SimFaults",
    "SimSettings",
    "StrategiesSettings",
    "SupervisorSettings",
    "VenueSettings",
    "check_startable",
    "kalshi_base_url",
    "load_settings",
    "reloadable_changes",
    "reloadable_paths",
    "resolved_control_socket",
    "resolved_data_dir",
    "settings_for_display",
    "settings_to_toml",
    "shipped_config_path",
    "shipped_config_text",
]
