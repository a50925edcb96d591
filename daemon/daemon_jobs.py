"""The daemon's periodic work as jobs (``daemon.jobs``): what runs, how often, how long it may.

Everything here is off the tick's path: settlements, grading, the daily report, the systemd
watchdog and the odds feed. A run that fails is logged and tried again at its next time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from backtest.calibration_fit import FitOptions
from daemon.calibration_fitting import NotEnoughData, fit_and_record
from daemon.calibration_registry import LEDGER_TABLE, ledger_rows
from daemon.calibration_watch import WATCH_EVERY_S, registry_tables
from daemon.jobs import Job
from daemon.ledger import LEDGER_FILE, LedgerReader
from daemon.ledger.schema import TABLES
from daemon.logs import get_logger
from daemon.reports import daily_summary, summary_row
from daemon.sdnotify import watchdog_interval_s
from monitoring.grading import new_grades

if TYPE_CHECKING:
    from daemon.app import Daemon

log = get_logger("edgewarden.daemon")
SETTLEMENT_EVERY_S = 5.0
DAILY_REPORT_EVERY_S = 300.0
GRADING_EVERY_S = 60.0
"""Grades land within a minute of a result (and a restart grades what it missed)."""
CALIBRATION_FIT_AT = dt.time(4, 0)
CALIBRATION_FIT_WEEKDAY = 6
"""The weekly refit from the ledger: Sundays 04:00 UTC, scheduled when an flb table uses the
registry at start (a reload that switches one to the registry needs a restart for it)."""


def daemon_jobs(d: Daemon) -> list[Job]:
    """Everything periodic besides the tick: its cadence and how long one run may take."""
    watchdog_s = watchdog_interval_s() or 1.0
    jobs = [
        Job("settlements", lambda: settlements(d), every_s=SETTLEMENT_EVERY_S, timeout_s=60.0, run_at_start=True),
        Job("daily-report", lambda: daily_report(d), every_s=DAILY_REPORT_EVERY_S, timeout_s=120.0,
            run_at_start=True),
        Job("grading", lambda: grade_predictions(d), every_s=GRADING_EVERY_S, timeout_s=120.0, run_at_start=True),
        Job("watchdog", lambda: watchdog(d), every_s=watchdog_s, timeout_s=watchdog_s, run_at_start=True),
        Job("calibration-watch", lambda: calibration_watch(d), every_s=WATCH_EVERY_S, timeout_s=30.0,
            run_at_start=True),
    ]
    if registry_tables(d.settings.strategies.tables()):
        jobs.append(Job("calibration-fit", lambda: calibration_fit(d), at=CALIBRATION_FIT_AT,
                        weekday=CALIBRATION_FIT_WEEKDAY, timeout_s=1800.0))
    if d.odds is not None:
        c = d.odds.config  # a round's worst case: every try of every sport times out, backs off
        round_s = len(c.sports) * sum(c.timeout_seconds + min(c.backoff_max_s, c.backoff_initial_s * 2.0**a)
                                      for a in range(c.max_attempts))
        jobs.append(Job("odds", lambda: poll_odds(d), every_s=c.poll_seconds, timeout_s=max(round_s, 1.0),
                        run_at_start=True))
    return jobs


async def poll_odds(d: Daemon) -> str | None:
    """One round of the odds feed. Once the poller has stopped (quota floor, refused key) it
    stays down on purpose: a run then only reports why."""
    odds = d.odds
    assert odds is not None
    if odds.stop_reason is None:
        await odds.poll_once()
        if odds.stop_reason is not None:
            log.error("odds_feed_stopped", reason=odds.mask(odds.stop_reason))
            await odds.close()
    return None if odds.stop_reason is None else f"stopped: {odds.mask(odds.stop_reason)}"


async def grade_predictions(d: Daemon) -> str:
    """Grade every published prediction whose market has a result (idempotent by key)."""
    assert d.ledger is not None
    rows = await asyncio.to_thread(ungraded, d.data_dir / LEDGER_FILE)
    if rows:
        await d.ledger.write("grades", rows)
    return f"{len(rows)} graded"


def ungraded(path: Path) -> list[dict[str, Any]]:
    now = time.time_ns()
    with LedgerReader(path) as reader:
        graded = {r["publish_key"] for r in reader.rows("grades")}
        published = reader.rows("published_predictions")
        if all(p["publish_key"] in graded for p in published):
            return []
        rows = new_grades(published, reader.market_results(), reader.closing_lines(), graded)
    return [{"ts_ns": now, **row} for row in rows]


async def calibration_watch(d: Daemon) -> str:
    """Follow the registry's ``active`` link: one readlink a run; on a change the new version
    is read, checked and traded on from the next tick (``daemon.calibration_watch``)."""
    tables = d.settings.strategies.tables()
    cal = d.calibration
    if not registry_tables(tables):
        return "calibration from config"
    if cal.changed():
        previous = cal.name
        version = await asyncio.to_thread(cal.load)
        if version.name != previous:
            d.rebuild_strategies()
            log.info("calibration_activated", version=version.name, previous=previous,
                     status=version.manifest.status)
        cal.audit_in_ledger = False
    if not cal.audit_in_ledger:
        await copy_audit_to_ledger(d)
        cal.audit_in_ledger = True
    return f"active {cal.name}"


async def copy_audit_to_ledger(d: Daemon) -> int:
    """The registry's audit entries the ledger does not hold yet, as ``calibration_audit`` rows
    (once the ledger's schema has that table; until then the audit log alone records them)."""
    if d.ledger is None or LEDGER_TABLE not in TABLES:
        return 0
    entries = await asyncio.to_thread(d.calibration.registry.audit)
    path = d.data_dir / LEDGER_FILE

    def new_rows() -> list[dict[str, Any]]:
        with LedgerReader(path) as reader:
            seen = {r["entry_id"] for r in reader.rows(LEDGER_TABLE)}
        return [r for r in ledger_rows(entries) if r["entry_id"] not in seen]

    rows = await asyncio.to_thread(new_rows)
    if rows:
        await d.ledger.write(LEDGER_TABLE, rows)
    return len(rows)


async def calibration_fit(d: Daemon) -> str:
    """The weekly refit from the daemon's own settled markets; the gate decides (no candidate
    when there are too few)."""
    try:
        outcome = await asyncio.to_thread(fit_and_record, d.calibration.registry, [d.data_dir / LEDGER_FILE],
                                          FitOptions(), who="calibration-fit job")
    except NotEnoughData as exc:
        return f"no candidate: {exc}"
    log.info("calibration_fitted", version=outcome.version, status=outcome.status, activated=outcome.activated,
             reasons=list(outcome.candidate.verdict.reasons))
    return f"{outcome.version} {outcome.status}{', active' if outcome.activated else ''}"


async def settlements(d: Daemon) -> None:
    assert d.engine is not None
    await d.engine.sync_settlements()


async def daily_report(d: Daemon) -> None:
    """Once a trading day is over, its summary goes into the ledger (``report daily``)."""
    assert d.ledger is not None
    row = await asyncio.to_thread(yesterday_summary, d, time.time_ns())
    if row is not None:
        await d.ledger.write("daily_summaries", [row])
        log.info("daily_summary_written", day=row["day"])


def yesterday_summary(d: Daemon, now_ns: int) -> dict[str, Any] | None:
    tz = d.settings.risk.day_boundary_tz
    today = dt.datetime.fromtimestamp(now_ns // 1_000_000_000, ZoneInfo(tz)).date()
    yesterday = today - dt.timedelta(days=1)
    with LedgerReader(d.data_dir / LEDGER_FILE) as reader:
        if reader.rows("daily_summaries", "day = ?", (yesterday.isoformat(),)):
            return None
        summary = daily_summary(reader, yesterday, tz)
    return summary_row(yesterday, summary, now_ns) if summary.trades else None


async def watchdog(d: Daemon) -> str | None:
    """WATCHDOG=1 only while ticks are healthy, so systemd restarts a hung daemon."""
    if d.ticks_healthy() and not d.stopping:
        d.notifier.watchdog()
        return None
    return "withheld: stopping" if d.stopping else "withheld: ticks stale"
