"""Settings sections for venues, the odds feed, fees, risk and the daemon's own machinery.

Each section is a frozen pydantic model that forbids unknown keys. Attribute docstrings
are the documentation of each key (pydantic keeps them as field descriptions). Fields an
operator may change on SIGHUP carry ``json_schema_extra=RELOADABLE``.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from market.units import parse_count

from .values import (
    RELOADABLE,
    Contracts,
    Dollars,
    PositiveDollars,
    PpmDecimal,
    Secret,
    Section,
    dollars_to_units,
)

KALSHI_PRODUCTION_URL = "https://external-api.kalshi.com/trade-api/v2"
KALSHI_DEMO_URL = "https://external-api.demo.kalshi.co/trade-api/v2"


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value.startswith(("https://", "http://")) or len(value) <= len("https://"):
        raise ValueError("must be an http(s) URL such as https://host/path")
    return value.rstrip("/")


# ---------------------------------------------------------------- venues


class KalshiSettings(Section):
    """Kalshi REST access. Secrets come from here, a ``*_file``, the environment or
    ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential``); they are never printed."""

    key_id: Secret | None = None
    """API key id (the ``KALSHI-ACCESS-KEY`` header)."""
    key_id_file: Path | None = None
    """File holding the key id (read at load time)."""
    private_key: Secret | None = None
    """RSA private key, PEM text."""
    private_key_file: Path | None = None
    """PEM file holding the private key (read at load time)."""
    base_url: str | None = None
    """Override of the API base URL; default by mode (live: production, demo: demo)."""
    reads_per_second: float = Field(20.0, gt=0, le=1000)
    """Read token-bucket rate (Kalshi Basic tier: 20/s)."""
    writes_per_second: float = Field(10.0, gt=0, le=1000)
    """Write token-bucket rate (Kalshi Basic tier: 10/s)."""
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    """Per-request timeout."""
    max_retries: int = Field(3, ge=0, le=20)
    """Retries of an idempotent request (orders reuse their client_order_id)."""
    signature_reuse_ms: int = Field(1000, ge=0, le=10_000)
    """Requests to the same method and path within this many ms of a signed one share its
    timestamp and RSA-PSS signature (the signed message is the same), so a tick's orders
    do not queue behind one signature each (~0.3 ms). 0 signs every request."""

    _url = field_validator("base_url")(_http_url)


class SimFaults(Section):
    """Faults the built-in exchange injects, for drills and tests."""

    latency_ms: int = Field(0, ge=0, le=60_000)
    """Added latency per request."""
    error_5xx_rate: float = Field(0.0, ge=0, le=1)
    """Share of requests answered with a 5xx."""
    rate_limit_burst_every: int = Field(0, ge=0)
    """Answer 429 on every Nth request (0 = never)."""
    timeout_rate: float = Field(0.0, ge=0, le=1)
    """Share of requests that never answer."""
    malformed_rate: float = Field(0.0, ge=0, le=1)
    """Share of answers with a malformed body."""
    trading_paused: bool = False
    """Report ``trading_active = false``."""
    frozen_books: bool = False
    """Stop updating order books (drives the stale-book switch)."""
    hold_orders: bool = False
    """Our orders never match on arrival: a good-till-cancelled one rests until cancelled
    (cancel-on-stop drills)."""


class SimSettings(Section):
    """The built-in Kalshi-compatible exchange and odds feed (mode = "sim")."""

    host: str = Field("127.0.0.1", min_length=1)
    """Address the sim listens on (keep it loopback)."""
    port: int = Field(0, ge=0, le=65535)
    """Port; 0 picks a free port."""
    seed: int = Field(7, ge=0, le=2**32 - 1)
    """Random seed: same seed, same markets and outcomes."""
    markets: int = Field(40, ge=1, le=100_000)
    """Number of simulated markets."""
    tick_ms: int = Field(250, ge=1, le=3_600_000)
    """How often simulated books move."""
    market_life_seconds: float = Field(120.0, gt=0, le=86_400)
    """How long a simulated market trades before it closes and settles."""
    bias_scale: float = Field(3.0, ge=0, le=10)
    """Favourite-longshot bias of simulated prices, as a multiple of the real table in
    venues.md (1.0 = real size; the default exaggerates it so a short session trades)."""
    starting_balance_dollars: PositiveDollars = Decimal(10_000)
    """Cash of the simulated account."""
    url: str | None = None
    """Use an external built-in exchange (``edgewarden sim-exchange``) at this base URL
    instead of starting one in-process, e.g. http://127.0.0.1:8700/trade-api/v2."""
    faults: SimFaults = SimFaults()

    _sim_url = field_validator("url")(_http_url)


class VenueSettings(Section):
    kalshi: KalshiSettings = KalshiSettings()
    sim: SimSettings = SimSettings()


# ---------------------------------------------------------------- odds feed


class OddsSettings(Section):
    """The Odds API v4 poller."""

    enabled: bool = True
    """Poll sportsbook odds (needed by strategies.odds_edge)."""
    api_key: Secret | None = None
    """The Odds API key."""
    api_key_file: Path | None = None
    """File holding the API key (read at load time)."""
    base_url: str = "https://api.the-odds-api.com/v4"
    """API base URL (the sim replaces it in sim mode)."""
    sports: list[str] = Field(default_factory=lambda: ["basketball_nba"], min_length=1)
    """Sport keys to poll."""
    regions: list[str] = Field(default_factory=lambda: ["us"], min_length=1)
    """Bookmaker regions; each call costs markets x regions of quota."""
    markets: list[str] = Field(default_factory=lambda: ["h2h", "spreads", "totals"], min_length=1)
    """Odds markets to request."""
    poll_seconds: float = Field(60.0, ge=1, le=86_400, json_schema_extra=RELOADABLE)
    """Seconds between polls of each sport."""
    min_quota_remaining: int = Field(50, ge=0)
    """Stop polling when x-requests-remaining falls to this."""

    _url = field_validator("base_url")(_http_url)

    @field_validator("sports", "regions", "markets")
    @classmethod
    def _no_blank_names(cls, names: list[str]) -> list[str]:
        if any(not name.strip() for name in names):
            raise ValueError("names must not be blank")
        if len(set(names)) != len(names):
            raise ValueError("names must not repeat")
        return names


# ---------------------------------------------------------------- fees


class FeeSettings(Section):
    """Which fee schedule sizing and backtests charge (market.fees)."""

    schedule: Literal["quadratic", "quadratic_with_maker_fees", "flat", "profit"] = "quadratic"
    """Kalshi's quadratic schedule by default; "profit" is the seeds' 7%-of-profit model."""
    multiplier: PpmDecimal = Decimal(1)
    """Series fee multiplier (0.5 for some index series, 0 = no fee)."""
    profit_fee_rate: PpmDecimal = Field(Decimal("0.07"), le=1)
    """Rate of the "profit" schedule."""


# ---------------------------------------------------------------- risk


class CorrelationGroup(Section):
    """Markets that move together share one exposure cap (risk.max_group_*)."""

    name: str = Field(min_length=1)
    patterns: list[str] = Field(min_length=1)
    """fnmatch patterns on ticker, event_ticker or series ticker."""


class RiskSettings(Section):
    """Limits the gate enforces. Percentages are fractions 0..1 of ``capital_dollars``."""

    capital_dollars: PositiveDollars = Field(Decimal(10_000), json_schema_extra=RELOADABLE)
    """Starting capital the percent caps refer to."""
    kelly_fraction: float = Field(0.25, gt=0, le=1, json_schema_extra=RELOADABLE)
    """Fraction of full Kelly to bet (0.25 = quarter Kelly)."""
    min_edge: float = Field(0.03, ge=0, lt=1, json_schema_extra=RELOADABLE)
    """Minimum edge after fees, in probability points."""
    max_position_pct: float = Field(0.05, ge=0, le=1, json_schema_extra=RELOADABLE)
    max_position_dollars: Dollars | None = Field(None, json_schema_extra=RELOADABLE)
    max_group_pct: float = Field(0.15, ge=0, le=1, json_schema_extra=RELOADABLE)
    max_group_dollars: Dollars | None = Field(None, json_schema_extra=RELOADABLE)
    max_total_pct: float = Field(0.20, ge=0, le=1, json_schema_extra=RELOADABLE)
    max_total_dollars: Dollars | None = Field(None, json_schema_extra=RELOADABLE)
    daily_loss_dollars: Dollars = Field(Decimal(500), json_schema_extra=RELOADABLE)
    """Halt for the day when the day's loss reaches this."""
    daily_loss_pct: float = Field(0.05, gt=0, le=1, json_schema_extra=RELOADABLE)
    day_boundary_tz: str = "UTC"
    """IANA time zone whose midnight starts a new trading day."""
    loss_streak: int = Field(5, ge=1, json_schema_extra=RELOADABLE)
    """Losing trades in a row that pause trading."""
    loss_streak_pause_seconds: int = Field(14_400, ge=0, json_schema_extra=RELOADABLE)
    max_slippage_bps: float = Field(50.0, gt=0, json_schema_extra=RELOADABLE)
    slippage_window: int = Field(20, ge=1, le=10_000)
    """Fills the slippage average is taken over."""
    error_burst_per_hour: int = Field(10, ge=1, json_schema_extra=RELOADABLE)
    stale_book_seconds: float = Field(30.0, gt=0, json_schema_extra=RELOADABLE)
    no_fills_scans: int = Field(20, ge=1, json_schema_extra=RELOADABLE)
    max_spread_bps: float = Field(200.0, gt=0, json_schema_extra=RELOADABLE)
    """Widest bid/ask spread to trade into, in basis points of the $1 payout (200 = 2¢)."""
    max_order_contracts: Contracts = Field(Decimal(1000), json_schema_extra=RELOADABLE)
    """Largest single order, in contracts."""
    kill_file: Path | None = None
    """If this file exists, trading halts (a second kill switch besides EDGEWARDEN_KILL)."""
    correlation_groups: list[CorrelationGroup] = Field(default_factory=list)

    @field_validator("day_boundary_tz")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @field_validator("correlation_groups")
    @classmethod
    def _unique_group_names(cls, groups: list[CorrelationGroup]) -> list[CorrelationGroup]:
        names = [group.name for group in groups]
        if len(set(names)) != len(names):
            raise ValueError("correlation group names must be unique")
        return groups

    # Integer money units for the gate (market.units); config keeps exact dollars.
    @property
    def capital_units(self) -> int:
        return dollars_to_units(self.capital_dollars)  # type: ignore[return-value]

    @property
    def daily_loss_units(self) -> int:
        return dollars_to_units(self.daily_loss_dollars)  # type: ignore[return-value]

    @property
    def max_position_units(self) -> int | None:
        return dollars_to_units(self.max_position_dollars)

    @property
    def max_group_units(self) -> int | None:
        return dollars_to_units(self.max_group_dollars)

    @property
    def max_total_units(self) -> int | None:
        return dollars_to_units(self.max_total_dollars)

    @property
    def max_order_count(self) -> int:
        """``max_order_contracts`` in count units (1/100 contract)."""
        return parse_count(self.max_order_contracts)


# ---------------------------------------------------------------- daemon machinery


class EngineSettings(Section):
    tick_seconds: float = Field(1.0, gt=0, le=3600, json_schema_extra=RELOADABLE)
    """Seconds between engine ticks (snapshot -> strategies -> gate -> execution)."""
    order_time_in_force: Literal["immediate_or_cancel", "fill_or_kill", "good_till_canceled"] = (
        "immediate_or_cancel"
    )
    book_depth: int = Field(10, ge=1, le=1000)
    """Order book levels fetched per market."""
    book_sample_every_ticks: int = Field(10, ge=1)
    """Write a book snapshot to the ledger every N ticks."""
    prediction_interval_seconds: float = Field(60.0, ge=1, le=86_400)
    """Record every strategy's fair value of every open market this often (besides each
    decision and each market's last before it closes): what grading and the monitors read."""
    intent_sync: Literal["fsync", "os"] = "fsync"
    """When an order's write-ahead intent (a line in the intent journal) counts as written.
    fsync: flushed to the disk (survives a power cut; costs a disk flush per tick's orders,
    ~0.2 ms here, a few ms at the tail). os: handed to the operating system (survives the
    daemon crashing or being killed; a power cut can lose the intents of the last ~0.05 s,
    before the ledger's own synced commit: their orders come back at start-up as orders the
    ledger does not know, and trading is refused until they are resolved)."""


class MonitoringSettings(Section):
    metrics_host: str = Field("127.0.0.1", min_length=1)
    metrics_port: int = Field(9464, ge=0, le=65535)
    """Prometheus endpoint port; 0 turns the endpoint off."""
    alert_cooldown_seconds: int = Field(900, ge=0)
    """Same alert is not repeated within this time."""
    alerts_per_hour: int = Field(10, ge=1)
    """Cap on alerts raised per hour."""


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", json_schema_extra=RELOADABLE
    )
    format: Literal["auto", "json", "console"] = "auto"
    """auto: console on a terminal, JSON otherwise (journald)."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class SupervisorSettings(Section):
    shutdown_timeout_seconds: float = Field(10.0, gt=0, le=600)
    cancel_resting_on_stop: bool = True
    """Cancel our resting orders on a graceful stop."""
    restart_backoff_initial_seconds: float = Field(0.5, gt=0)
    restart_backoff_max_seconds: float = Field(30.0, gt=0)
    max_restarts_per_window: int = Field(5, ge=1)
    """A task restarted more often than this within the window halts the daemon."""
    restart_window_seconds: float = Field(300.0, gt=0)
    control_socket: Path | None = None
    """Operator control socket; default $RUNTIME_DIRECTORY/control.sock, else data_dir."""

    @model_validator(mode="after")
    def _backoff_order(self) -> SupervisorSettings:
        if self.restart_backoff_initial_seconds > self.restart_backoff_max_seconds:
            raise ValueError(
                "restart_backoff_initial_seconds must not exceed restart_backoff_max_seconds"
            )
        return self
