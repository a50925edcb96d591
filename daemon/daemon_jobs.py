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

from daemon.jobs import Job
from daemon.ledger import LEDGER_FILE, LedgerReader
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


def daemon_jobs(d: Daemon) -> list[Job]:
    """Everything periodic besides the tick: its cadence and how long one run may take."""
    watchdog_s = watchdog_interval_s() or 1.0
    jobs = [
        Job("settlements", lambda: settlements(d), every_s=SETTLEMENT_EVERY_S, timeout_s=60.0, run_at_start=True),
        Job("daily-report", lambda: daily_report(d), every_s=DAILY_REPORT_EVERY_S, timeout_s=120.0,
            run_at_start=True),
        Job("grading", lambda: grade_predictions(d), every_s=GRADING_EVERY_S, timeout_s=120.0, run_at_start=True),
        Job("watchdog", lambda: watchdog(d), every_s=watchdog_s, timeout_s=watchdog_s, run_at_start=True),
    ]
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
