"""Settings: the whole configuration, and the one way to load it.

Precedence, lowest first: field defaults < TOML file (``--config``) < systemd credentials
($CREDENTIALS_DIRECTORY) < environment (``EDGEWARDEN_<SECTION>__<KEY>``) < command-line
overrides. The layering is pydantic-settings' own (``settings_customise_sources``,
``TomlConfigSettingsSource``, ``EnvSettingsSource`` with ``env_nested_delimiter``); this
module feeds it explicit inputs and turns every failure into one ``ConfigError``.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from .errors import ConfigError
from .sections import (
    KALSHI_DEMO_URL,
    KALSHI_PRODUCTION_URL,
    EngineSettings,
    FeeSettings,
    LoggingSettings,
    MonitoringSettings,
    OddsSettings,
    RiskSettings,
    SupervisorSettings,
    VenueSettings,
)
from .sources import (
    ENV_DELIMITER,
    ENV_PREFIX,
    LOAD_CONTEXT,
    LoadContext,
    MappingEnvSettingsSource,
    env_var_paths,
    expand,
    first_dir,
    lookup,
    nest_overrides,
    read_credentials,
    read_secret_file,
    unknown_env_vars,
)
from .strategy_settings import StrategiesSettings

SHIPPED_CONFIGS = ("default.toml", "production.toml")
_SECRET_FIELDS = frozenset({"key_id", "private_key", "api_key"})
_STRUCTURED = frozenset({"list_type", "dict_type", "model_type", "model_attributes_type"})


class Settings(BaseSettings):
    """Everything the daemon is configured with. Build it with ``load_settings``;
    ``Settings()`` alone gives the defaults (it never reads the process environment)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        validate_default=True,
        use_attribute_docstrings=True,
    )

    mode: Literal["sim", "demo", "live"] = "sim"
    """sim: built-in exchange on loopback; demo: Kalshi demo; live: Kalshi production."""
    dry_run: bool = False
    """Fill orders on the paper venue against real books; nothing is sent. (In sim mode
    orders go to the built-in exchange either way.)"""
    live_confirmed: bool = False
    """Must be true for mode = "live" to send real orders."""
    data_dir: Path | None = None
    """Ledger, trade CSVs, numba cache; default $STATE_DIRECTORY, else
    $XDG_STATE_HOME/edgewarden, else ~/.local/state/edgewarden."""
    venue: VenueSettings = VenueSettings()
    odds: OddsSettings = OddsSettings()
    fees: FeeSettings = FeeSettings()
    risk: RiskSettings = RiskSettings()
    strategies: StrategiesSettings = StrategiesSettings()
    engine: EngineSettings = EngineSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    logging: LoggingSettings = LoggingSettings()
    supervisor: SupervisorSettings = SupervisorSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        ctx = LOAD_CONTEXT.get()
        if ctx is None:
            return (init_settings,)
        sources: list[PydanticBaseSettingsSource] = [
            InitSettingsSource(settings_cls, ctx.overrides),
            MappingEnvSettingsSource(settings_cls, ctx.env),
            InitSettingsSource(settings_cls, ctx.credentials),
        ]
        if ctx.toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=ctx.toml_file))
        return tuple(sources)


# ---------------------------------------------------------------- loading


def load_settings(
    config_path: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults < TOML file < $CREDENTIALS_DIRECTORY < EDGEWARDEN_* env < overrides.

    ``config_path`` defaults to $EDGEWARDEN_CONFIG when set; ``env`` defaults to
    os.environ. Secret ``*_file`` keys are read here. Raises ConfigError listing every
    problem found (key path, message with its source).
    """
    env = dict(os.environ if env is None else env)
    if config_path is None and env.get("EDGEWARDEN_CONFIG"):
        config_path = env["EDGEWARDEN_CONFIG"]
    toml_file = None
    if config_path is not None:
        try:
            toml_file = expand(Path(config_path))
            is_file = toml_file.is_file()
        except (ValueError, OSError) as exc:
            raise ConfigError([(str(config_path), f"bad config path: {exc}")]) from None
        if not is_file:
            raise ConfigError([(str(toml_file), "config file does not exist or is not a file")])

    override_tree, errors = nest_overrides(overrides or {})
    credentials, credential_errors = read_credentials(env)
    errors += credential_errors
    errors += unknown_env_vars(Settings, env)
    ctx = LoadContext(override_tree, env, credentials, toml_file)

    token = LOAD_CONTEXT.set(ctx)
    try:
        settings: Settings | None = Settings()
    except ValidationError as exc:
        settings = None
        errors += _explain(exc, ctx)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(str(toml_file), f"invalid TOML: {exc}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(str(toml_file), f"cannot read: {exc}")]) from None
    except SettingsError as exc:
        errors.append(_explain_settings_error(exc, env))
        settings = None
    finally:
        LOAD_CONTEXT.reset(token)

    if settings is not None:
        settings, file_errors = _read_secret_files(settings)
        errors += file_errors
    if errors:
        raise ConfigError(errors)
    assert settings is not None
    return settings


def _source_of(loc: tuple[str | int, ...], ctx: LoadContext) -> str | None:
    """Which input gave the value at ``loc`` (highest precedence first)."""
    if lookup(ctx.overrides, loc):
        return "command-line override"
    env_paths = env_var_paths(ctx.env)
    for path, name in sorted(env_paths.items(), key=lambda item: -len(item[0])):
        n = min(len(path), len(loc))
        if tuple(loc[:n]) == path[:n]:
            return f"environment variable {name}"
    if lookup(ctx.credentials, loc):
        return "$CREDENTIALS_DIRECTORY"
    if ctx.toml_file is not None:
        try:
            with ctx.toml_file.open("rb") as handle:
                if lookup(tomllib.load(handle), loc):
                    return str(ctx.toml_file)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return None
    return None


def _explain(exc: ValidationError, ctx: LoadContext) -> list[tuple[str, str]]:
    explained = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        value = error.get("input")
        if (
            isinstance(value, int | float)
            and error["type"] != "extra_forbidden"
            and not _SECRET_FIELDS.intersection(str(part) for part in loc)
        ):
            shown = repr(value)
            message += f" (got {shown if len(shown) <= 40 else shown[:37] + '...'})"
        source = _source_of(loc, ctx)
        if source and source.startswith("environment") and error["type"] in _STRUCTURED:
            message += "; give lists and tables as JSON in the environment"
        if source:
            message += f" (from {source})"
        explained.append((".".join(str(part) for part in loc) or "<root>", message))
    return explained


def _explain_settings_error(exc: SettingsError, env: Mapping[str, str]) -> tuple[str, str]:
    """The library could not decode a complex value (JSON list/table) from the environment."""
    text = str(exc)
    names = [name for name in env if name.upper().startswith(ENV_PREFIX)]
    for path, name in env_var_paths(env).items():
        if f'"{path[-1]}"' in text:
            return ".".join(path), f"{name} must be JSON for a list or table ({text})"
    return "<environment>", f"{text} (EDGEWARDEN_* variables set: {', '.join(sorted(names))})"


def _read_secret_files(settings: Settings) -> tuple[Settings, list[tuple[str, str]]]:
    """Replace ``*_file`` secrets by their contents; both forms at once is an error."""
    errors: list[tuple[str, str]] = []
    kalshi = settings.venue.kalshi
    odds = settings.odds
    kalshi_update: dict[str, Any] = {}
    odds_update: dict[str, Any] = {}
    for section, update, prefix, pairs in (
        (
            kalshi,
            kalshi_update,
            "venue.kalshi",
            (("key_id", "key_id_file"), ("private_key", "private_key_file")),
        ),
        (odds, odds_update, "odds", (("api_key", "api_key_file"),)),
    ):
        for name, file_name in pairs:
            path = getattr(section, file_name)
            if path is None:
                continue
            if getattr(section, name) is not None:
                errors.append(
                    (
                        f"{prefix}.{file_name}",
                        f"{prefix}.{name} is set too; give the secret one way only",
                    )
                )
                continue
            try:
                update[name] = read_secret_file(path)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                errors.append((f"{prefix}.{file_name}", f"cannot read {path}: {why}"))
    if errors or not (kalshi_update or odds_update):
        return settings, errors
    venue = settings.venue.model_copy(
        update={
            "kalshi": kalshi.model_copy(update={k: SecretStr(v) for k, v in kalshi_update.items()})
        }
    )
    odds = odds.model_copy(update={k: SecretStr(v) for k, v in odds_update.items()})
    return settings.model_copy(update={"venue": venue, "odds": odds}), errors


# ---------------------------------------------------------------- derived values


def resolved_data_dir(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """data_dir, else $STATE_DIRECTORY, else $XDG_STATE_HOME/edgewarden, else
    ~/.local/state/edgewarden."""
    env = os.environ if env is None else env
    if settings.data_dir is not None:
        return expand(settings.data_dir)
    state = first_dir(env, "STATE_DIRECTORY")
    if state is not None:
        return state
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative paths
        return Path(xdg) / "edgewarden"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "state" / "edgewarden"


def resolved_control_socket(settings: Settings, env: Mapping[str, str] | None = None) -> Path:
    """supervisor.control_socket, else $RUNTIME_DIRECTORY/control.sock, else in the data dir."""
    env = os.environ if env is None else env
    if settings.supervisor.control_socket is not None:
        return expand(settings.supervisor.control_socket)
    runtime = first_dir(env, "RUNTIME_DIRECTORY")
    if runtime is not None:
        return runtime / "control.sock"
    return resolved_data_dir(settings, env) / "control.sock"


def kalshi_base_url(settings: Settings) -> str | None:
    """The Kalshi API base URL: the override, else by mode; None in sim mode (the built-in
    exchange's address is only known once it listens)."""
    override = settings.venue.kalshi.base_url
    if override is not None:
        return override
    return {"live": KALSHI_PRODUCTION_URL, "demo": KALSHI_DEMO_URL}.get(settings.mode)


def check_startable(settings: Settings) -> list[str]:
    """Why the daemon would refuse to start with these (valid) settings; [] if it would start.

    A function, not a validator, so ``config check`` can report it for any mode.
    """
    problems: list[str] = []
    kalshi = settings.venue.kalshi
    if settings.mode == "live" and not settings.live_confirmed and not settings.dry_run:
        problems.append(
            'mode is "live" but live_confirmed is not true: set live_confirmed = true to trade '
            "real money (or run with --dry-run)"
        )
    if settings.mode in ("live", "demo"):
        for name in ("key_id", "private_key"):
            if getattr(kalshi, name) is None:
                problems.append(
                    f'mode is "{settings.mode}" but venue.kalshi.{name} is not set (give it in the '
                    f"config, a file, EDGEWARDEN_VENUE__KALSHI__{name.upper()} or $CREDENTIALS_DIRECTORY)"
                )
        if (
            kalshi.private_key is not None
            and "PRIVATE KEY-----" not in kalshi.private_key.get_secret_value()
        ):
            problems.append("venue.kalshi.private_key does not look like a PEM private key")
        if settings.odds.enabled and settings.odds.api_key is None:
            problems.append(
                "odds.enabled is true but odds.api_key is not set (set odds.enabled = false to run without the odds feed)"
            )
    if settings.mode == "demo" and kalshi.base_url is not None and "demo" not in kalshi.base_url:
        problems.append(
            f'mode is "demo" but venue.kalshi.base_url is {kalshi.base_url}, not a demo URL'
        )
    return problems


# ---------------------------------------------------------------- shipped files


def shipped_config_text(name: str = "default.toml") -> str:
    """The text of a TOML file shipped inside the installed package."""
    if name not in SHIPPED_CONFIGS:
        raise ValueError(f"no shipped config {name!r}; choose from {SHIPPED_CONFIGS}")
    return resources.files("config").joinpath(name).read_text(encoding="utf-8")


@contextlib.contextmanager
def shipped_config_path(name: str = "default.toml") -> Iterator[Path]:
    """A filesystem path to a shipped TOML file (extracted if the package is zipped)."""
    if name not in SHIPPED_CONFIGS:
        raise ValueError(f"no shipped config {name!r}; choose from {SHIPPED_CONFIGS}")
    with resources.as_file(resources.files("config").joinpath(name)) as path:
        yield path
