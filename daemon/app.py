"""The composition root: builds every part from Settings and runs them under the supervisor.

Start-up order matters and is the safe one: ledger → state rebuilt from it (positions,
locks: a halted daemon restarts halted) → venue → reconciliation (refuse to trade when
it fails) → control socket and metrics → READY=1. Nothing trades before reconciliation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from config import (
    ConfigError,
    Settings,
    load_settings,
    reloadable_changes,
    resolved_control_socket,
    resolved_data_dir,
    settings_for_display,
)
from daemon import gc_control
from daemon.calibration_watch import ActiveCalibration
from daemon.control import ControlServer
from daemon.daemon_jobs import daemon_jobs
from daemon.engine import Engine
from daemon.feeds.odds_api import OddsPoller, OddsPollerConfig, OddsSnapshot
from daemon.feeds.odds_raw import raw_bookmaker_rows
from daemon.jobs import Scheduler
from daemon.ledger import LEDGER_FILE, Ledger, LedgerReader
from daemon.ledger.rows import intent_from_row
from daemon.logs import configure_logging, get_logger
from daemon.metrics_server import MetricsServer
from daemon.operator_api import control_handlers
from daemon.predictions import GameRef, PredictionLog
from daemon.reconcile import reconcile
from daemon.risk_recorder import RiskRecorder
from daemon.sdnotify import Notifier
from daemon.supervisor import RestartPolicy, Supervisor, TaskSpec
from daemon.tick_decision import compile_aside
from daemon.venue_factory import VenueHandle, build_venue
from daemon.venues.sim.odds_feed import DEFAULT_API_KEY as SIM_ODDS_KEY
from market.orders import TimeInForce
from monitoring.metrics import Metrics
from risk.correlation import group_resolver
from risk.engine import SYSTEM, RiskEngine
from risk.limits import RiskLimits
from risk.locks import Lock, LockLift, operator_resume
from risk.reasons import Reason
from strategies.base import StrategyDefaults
from strategies.fair_values import FairValues
from strategies.market_board import MarketBoard
from strategies.registry import build_strategies

log = get_logger("edgewarden.daemon")


class Daemon:
    """Implements the supervisor's Service protocol."""

    def __init__(self, settings: Settings, config_path: Path | None = None,
                 overrides: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.overrides = overrides or {}
        self.data_dir = Path(resolved_data_dir(settings))
        self.metrics = Metrics()
        self.notifier = Notifier()
        self.supervisor: Supervisor | None = None
        self.ledger: Ledger | None = None
        self.venue: VenueHandle | None = None
        self.engine: Engine | None = None
        self.risk: RiskEngine | None = None
        self.recorder: RiskRecorder | None = None
        self.control: ControlServer | None = None
        self.metrics_server: MetricsServer | None = None
        oe = settings.strategies.odds_edge
        self.fair_values = FairValues(oe.devig_method, oe.min_bookmakers, oe.max_odds_age_seconds)
        self.odds: OddsPoller | None = None
        self.odds_last_ns = 0
        self._shadows: list = []
        self.calibration = ActiveCalibration(self.data_dir)
        """The registry's active calibration, for flb tables with calibration_source = "registry"."""
        self.config_sha256: str | None = None
        self.scheduler: Scheduler | None = None
        for feed in ("exchange", "odds"):  # computed at scrape time, so a dead feed shows its age
            self.metrics.feed_age.labels(feed=feed).set_function(
                lambda feed=feed: _or_nan(self.feed_ages(time.time_ns()).get(feed)))
        self.metrics.realized_pnl.set_function(
            lambda: self.risk.pnl_today(time.time_ns()) / 10_000 if self.risk else 0.0)
        self._rate_waits_seen: dict[str, float] = {}
        self.reconciled = False
        self.stopping = False
        self.started_ns = time.time_ns()

    # ------------------------------------------------------------------ start-up
    async def start(self) -> None:
        s = self.settings
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # positions and P&L are private
        if self.data_dir.stat().st_mode & 0o077:
            log.warning("data_dir_not_private", data_dir=str(self.data_dir),
                        mode=oct(self.data_dir.stat().st_mode & 0o777), fix=f"chmod 700 {self.data_dir}")
        self.ledger = await Ledger.open(self.data_dir / LEDGER_FILE, intent_sync=s.engine.intent_sync)
        await self._record_config()
        limits = RiskLimits.from_settings(s.risk, s.fees)
        self.risk = RiskEngine(limits, group_names=[g.name for g in s.risk.correlation_groups])
        self.recorder = RiskRecorder(self.risk, self.ledger, s.risk.kill_file, on_change=self._state_changed)
        self.venue = await build_venue(s, self.data_dir)
        board = MarketBoard()
        self.engine = Engine(
            self.venue.venue, self.risk, self.ledger, board, self.recorder, self._strategies(limits),
            self.metrics, self.data_dir, TimeInForce(s.engine.order_time_in_force),
            s.engine.book_sample_every_ticks, group_of=group_resolver(s.risk.correlation_groups),
            fair_of=self._fair_of, max_in_flight=max(1, int(s.venue.kalshi.writes_per_second)),
        )
        # The tick's kernel loads now, before any book is read, not on the first order's path;
        # compiled (when not cached) in a child process, which keeps LLVM's memory out of ours.
        self.engine.shadows = self._shadows
        self.engine.predictions = PredictionLog(self.ledger, s.engine.prediction_interval_seconds,
                                                self.config_sha256, self._game_of)
        failed = await compile_aside()
        if failed is not None:
            log.warning("tick_kernel_compiled_here", reason=failed)
        await asyncio.to_thread(self.engine.decider.warm_up, self.risk.gate)
        self.odds = self._odds_poller()
        await asyncio.to_thread(self._rebuild_from_ledger)
        await self.engine.refresh_markets(sample_books=False)
        report = await reconcile(self.engine, self.ledger)
        self.reconciled = report.ok
        now = time.time_ns()
        if not report.ok:
            await self.recorder.lock(Lock.make("reconcile", "*", "HALTED", report.reason, now), now)
        else:  # an earlier start's mismatch is resolved now: its lock says so and goes
            for lock in [lk for lk in self.risk.active if lk.rule == "reconcile"]:
                await self.recorder.lift(LockLift(lock.lock_id, SYSTEM, "reconciled cleanly at start-up", now), now)
        # Kill switches on what the ledger says (today's loss, the streak) before the first tick.
        await self.engine.evaluate_switches(time.time_ns())
        await self._start_servers()
        gc_control.settle_after_start()
        self.notifier.ready(self._status_line())
        log.info("daemon_ready", mode=s.mode, dry_run=s.dry_run, data_dir=str(self.data_dir),
                 markets=len(board.tickers), state=self.risk.state, reconciled=report.ok)

    def _odds_poller(self) -> OddsPoller | None:
        """The odds feed: the built-in one in sim mode, The Odds API otherwise."""
        odds = self.settings.odds
        if not odds.enabled:
            return None
        key = odds.api_key.get_secret_value() if odds.api_key else None
        base_url = odds.base_url
        if self.settings.mode == "sim":
            key = key or SIM_ODDS_KEY
            if self.venue is not None and self.venue.sim is not None:
                base_url = f"http://{self.settings.venue.sim.host}:{self.venue.sim.port}/v4"
            elif self.settings.venue.sim.url:
                parts = urlsplit(self.settings.venue.sim.url)
                base_url = f"{parts.scheme}://{parts.netloc}/v4"
        if not key:
            log.warning("odds_feed_off", reason="odds.enabled but no odds.api_key")
            return None
        config = dataclasses.replace(OddsPollerConfig.from_settings(odds, key), base_url=base_url.rstrip("/"))
        return OddsPoller(config, on_snapshot=self._on_odds, metrics=self.metrics)

    def _on_odds(self, snapshot: OddsSnapshot) -> None:
        assert self.ledger is not None
        updated = self.fair_values.update(snapshot)
        self.odds_last_ns = snapshot.ts_ns
        self.ledger.append("odds_snapshots", [
            {"ts_ns": snapshot.ts_ns, "event_id": event.id, "sport_key": event.sport_key,
             "bookmaker": f"consensus of {game.bookmakers}", "market": "h2h",
             "body": json.dumps(game.probabilities)}
            for event, game in updated
        ])
        self.ledger.append("odds_snapshots", raw_bookmaker_rows(snapshot))

    def _fair_of(self, market: Any, now_ns: int) -> float:
        return self.fair_values.fair_yes(market.yes_sub_title, market.no_sub_title, now_ns)

    def _game_of(self, yes_title: str | None, no_title: str | None) -> GameRef | None:
        game = self.fair_values.game_of(yes_title, no_title)
        if game is None or not game.event_id:
            return None
        return GameRef(game.event_id, game.sport_key, game.home, game.away, game.commence_ns, game.ts_ns)

    def _strategies(self, limits: RiskLimits) -> list:
        """The active strategies (what the gate sees); the shadows go to the engine beside them."""
        tables = self.settings.strategies.tables()
        built = self.calibration.apply(
            build_strategies(tables, StrategyDefaults(limits.min_edge, limits.fee_rate_ppm)), tables)
        shadows = self.settings.strategies.shadows()
        self._shadows = [(s, shadows[s.name]) for s in built if s.name in shadows]
        if self.engine is not None:
            self.engine.shadows = self._shadows
        return [s for s in built if s.name not in shadows]

    def rebuild_strategies(self) -> None:
        """Between ticks, the same strategies on what the config and the calibration say now."""
        assert self.engine is not None and self.risk is not None
        self.engine.strategies = self._strategies(self.risk.limits)

    def _rebuild_from_ledger(self) -> None:
        """Positions, P&L, the streak, settled markets, seen fills and locks, as before the stop:
        the ledger's history replayed through the risk engine, the one place that folds it."""
        assert self.engine is not None and self.risk is not None
        now = time.time_ns()
        with LedgerReader(self.data_dir / LEDGER_FILE) as reader:
            reader.replay_into(self.risk, now)
            fills = reader.rows("fills")
            state = self.engine.state
            state.settled = {s.ticker for s in reader.settlement_records()}
            state.seen_fills = {f["fill_id"] for f in fills}
            state.last_fill_ts_ns = max((f["venue_ts_ns"] or 0 for f in fills), default=0)
            intents = {r["client_order_id"]: r for r in reader.rows("order_intents")}
            for order in reader.rows("orders"):
                intent = intents.get(order["client_order_id"])
                if order["order_id"] and intent:
                    state.order_intents[order["order_id"]] = intent_from_row(intent)
            if self.engine.predictions is not None:
                self.engine.predictions.seen_events([r["event_id"] for r in reader.rows("events")])
        self.recorder.show()

    async def _record_config(self) -> None:
        assert self.ledger is not None
        body = json.dumps(settings_for_display(self.settings), sort_keys=True)
        self.config_sha256 = hashlib.sha256(body.encode()).hexdigest()
        await self.ledger.write("config_versions", [{"sha256": self.config_sha256, "body": body}])

    async def _start_servers(self) -> None:
        s = self.settings
        self.control = ControlServer(Path(resolved_control_socket(s)), control_handlers(self))
        await self.control.start()
        if s.monitoring.metrics_port:
            self.metrics_server = MetricsServer(self.metrics, self.health, s.monitoring.metrics_host,
                                                s.monitoring.metrics_port)
            await self.metrics_server.start()

    # ------------------------------------------------------------------ tasks
    def tasks(self) -> list[TaskSpec]:
        """The tick loop, then one loop per job; the jobs never run on the tick's path."""
        if self.scheduler is None:
            self.scheduler = Scheduler(daemon_jobs(self), metrics=self.metrics)
        specs = [TaskSpec("engine", self._run_engine), *self.scheduler.tasks()]
        self.metrics.declare(reasons=[r.name for r in Reason], tasks=[spec.name for spec in specs])
        return specs

    async def _run_engine(self) -> None:
        """Refresh the books, then decide on them at once: no hand-off between the two, so an
        order leaves as soon after the books arrive as the write-ahead commit allows."""
        assert self.engine is not None
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            # No collection between a book and its orders: garbage of the cycle waits for
            # the sleep below (gc_control).
            with gc_control.paused():
                await self.engine.cycle()
            self._export_rate_waits()
            if not self.stopping:
                self.notifier.status(self._status_line())
            wait_s = max(0.0, self.settings.engine.tick_seconds - (loop.time() - started))
            self.engine.next_cycle_in(wait_s)
            await asyncio.sleep(wait_s)

    def _export_rate_waits(self) -> None:
        """Seconds the client waited for rate-limit tokens, as a Prometheus counter."""
        if self.venue is None:
            return
        waits = self.venue.client.rate_waits
        for bucket in ("read", "write"):
            total = waits.get(f"{bucket}_seconds", 0.0)
            delta = total - self._rate_waits_seen.get(bucket, 0.0)
            if delta > 0:
                self.metrics.rate_limit_waits.labels(bucket=bucket).inc(delta)
                self._rate_waits_seen[bucket] = total

    def ticks_healthy(self) -> bool:
        assert self.engine is not None
        last = self.engine.state.last_tick_ns or self.started_ns
        return time.time_ns() - last < max(10.0, 5 * self.settings.engine.tick_seconds) * 1e9

    # ------------------------------------------------------------------ Service protocol
    async def on_task_crashloop(self, name: str, error: BaseException) -> None:
        assert self.recorder is not None
        self.metrics.task_restarts.labels(task=name).inc()
        now = time.time_ns()
        await self.recorder.lock(
            Lock.make("task_crashloop", "*", "HALTED", f"task {name} keeps dying: {error!r}", now), now)

    async def reload(self) -> None:
        """SIGHUP: only reloadable fields change; an invalid config is refused, the old one stays."""
        self.notifier.reloading()
        try:
            new = load_settings(self.config_path, overrides=self.overrides)
        except ConfigError as exc:
            log.error("reload_rejected", errors=[f"{p}: {m}" for p, m in exc.errors])
            self.notifier.ready(self._status_line())
            return
        changed, needs_restart = reloadable_changes(self.settings, new)
        if needs_restart:
            log.warning("reload_needs_restart", fields=needs_restart)
        if changed:
            self._apply_reload(new)
            log.info("reloaded", fields=sorted(changed))
        self.notifier.ready(self._status_line())

    def _apply_reload(self, new: Settings) -> None:
        assert self.engine is not None and self.risk is not None
        merged = self.settings.model_copy(update={
            "risk": new.risk, "strategies": new.strategies, "logging": new.logging,
            "engine": self.settings.engine.model_copy(update={"tick_seconds": new.engine.tick_seconds}),
            "odds": self.settings.odds.model_copy(update={"poll_seconds": new.odds.poll_seconds}),
        })
        # Fields that need a restart keep their old values in risk (e.g. correlation groups).
        limits = RiskLimits.from_settings(merged.risk, self.settings.fees)
        limits = dataclasses.replace(limits, day_boundary_tz=self.risk.limits.day_boundary_tz)
        self.settings = merged
        self.risk.set_limits(limits)
        self.engine.strategies = self._strategies(limits)
        configure_logging(merged.logging.level, merged.logging.format)

    async def operator_resume(self) -> None:
        """SIGUSR1: lift every lock, recorded as the signal's doing."""
        assert self.recorder is not None
        now = time.time_ns()
        await self.recorder.lift(operator_resume(None, "SIGUSR1", "resume signal", now), now)

    async def shutdown(self) -> None:
        """Stop new orders, cancel resting ones (per config), flush the ledger, close."""
        self.stopping = True
        self.notifier.stopping()
        if self.supervisor is not None:  # no job may write after the ledger closes
            await self.supervisor.cancel_tasks(lambda name: name.startswith("job-"))
        if self.engine is not None:
            self.engine.trading_enabled = False
            left = await self.engine.drain(self.settings.supervisor.shutdown_timeout_seconds / 2)
            if left:
                log.error("orders_in_flight_at_stop", count=left)
            if self.settings.supervisor.cancel_resting_on_stop:
                cancelled = await self.engine.cancel_resting()
                log.info("resting_orders_cancelled", count=cancelled)
        if self.odds is not None:
            await self.odds.close()
        for closer in (self.control, self.metrics_server):
            if closer is not None:
                await closer.stop()
        if self.venue is not None:
            await self.venue.close()
        if self.ledger is not None:
            await self.ledger.close()
        log.info("daemon_stopped")

    # ------------------------------------------------------------------ health
    def health(self) -> dict[str, Any]:
        now = time.time_ns()
        engine, risk = self.engine, self.risk
        last = engine.state.last_tick_ns if engine else 0
        healthy = bool(engine and risk and self.ticks_healthy())
        return {
            "healthy": healthy,
            "state": risk.state if risk else "STARTING",
            "last_tick_age_s": (now - last) / 1e9 if last else None,
            "feeds": self.feed_ages(now),
            "locks": [dataclasses.asdict(lock) for lock in (risk.active if risk else [])],
            "reconciled": self.reconciled,
            "jobs": self.scheduler.states() if self.scheduler else {},
        }

    def feed_ages(self, now_ns: int) -> dict[str, float | None]:
        """Seconds since each feed last delivered (None: never)."""
        exchange = self.engine.state.book_ready_ns if self.engine else 0
        ages: dict[str, float | None] = {"exchange": (now_ns - exchange) / 1e9 if exchange else None}
        if self.odds is not None:
            ages["odds"] = (now_ns - self.odds_last_ns) / 1e9 if self.odds_last_ns else None
        return ages

    def _state_changed(self, state: str, active: list[Lock]) -> None:
        self.metrics.set_trading_state(state)
        self.metrics.locks_active.set(len(active))

    def _status_line(self) -> str:
        state = self.risk.state if self.risk else "STARTING"
        ticks = self.engine.state.ticks if self.engine else 0
        return f"trading {state}, {ticks} ticks"


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


async def run_daemon(settings: Settings, config_path: Path | None, overrides: dict[str, Any],
                     duration_s: float | None = None) -> int:
    """Start, supervise until a signal (or ``duration_s``), stop; the process exit code."""
    s = settings
    daemon = Daemon(settings, config_path, overrides)
    try:
        await daemon.start()
    except Exception as exc:
        log.critical("start_failed", error=repr(exc))
        await daemon.shutdown()
        raise
    supervisor = Supervisor(
        daemon,
        RestartPolicy(s.supervisor.restart_backoff_initial_seconds, s.supervisor.restart_backoff_max_seconds,
                      s.supervisor.max_restarts_per_window, s.supervisor.restart_window_seconds),
        s.supervisor.shutdown_timeout_seconds,
    )
    daemon.supervisor = supervisor
    if duration_s:
        asyncio.get_running_loop().call_later(duration_s, supervisor.request_stop)
    return await supervisor.run()

