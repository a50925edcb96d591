"""Every Prometheus metric edgewarden exports, declared once, with bounded label values.

Label values come from closed sets (the reason-code enum, error kinds, feed names), never
from tickers or ids, so a busy day cannot blow up the series count. Values here are
floats for dashboards only; the ledger keeps the exact integers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

disable_created_metrics()
"""No ``*_created`` series: alert rules read the counters, and the extra series only doubles them."""

TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")
FEEDS = ("exchange", "odds")
ERROR_KINDS = ("rate_limited", "unavailable", "rejected", "auth_failed", "bad_response", "other")
ORDER_OUTCOMES = ("sent", "resting", "executed", "canceled", "rejected", "failed")
RATE_BUCKETS = ("read", "write")
LIQUIDITY = ("taker", "maker")
SIDES = ("yes", "no")
JOB_OUTCOMES = ("ok", "error", "timeout")

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_SLIPPAGE_BUCKETS = (-100, -50, -20, -10, -5, 0, 5, 10, 20, 50, 100, 200, 500)


class Metrics:
    """The registry and its metrics; one instance per daemon (tests make their own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.ticks = Counter("edgewarden_ticks", "Engine ticks completed", registry=r)
        self.tick_duration = Histogram(
            "edgewarden_tick_duration_seconds", "Wall time of one engine tick",
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.tick_to_order = Histogram(
            "edgewarden_tick_to_order_seconds", "Book available to order request sent",
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.decisions = Counter(
            "edgewarden_decisions", "Risk gate decisions by reason code", ["reason"], registry=r
        )
        self.orders = Counter("edgewarden_orders", "Orders by outcome", ["outcome"], registry=r)
        self.fills = Counter("edgewarden_fills", "Fills", ["side", "liquidity"], registry=r)
        self.fill_contracts = Counter(
            "edgewarden_fill_contracts", "Contracts filled", ["side"], registry=r
        )
        self.fees = Counter("edgewarden_fees_dollars", "Fees paid in dollars", registry=r)
        self.realized_pnl = Gauge(
            "edgewarden_realized_pnl_dollars", "Realized P&L today after fees", registry=r
        )
        self.exposure = Gauge("edgewarden_exposure_dollars", "Money at risk in open positions", registry=r)
        self.trading_state = Gauge(
            "edgewarden_trading_state", "1 for the current trading state", ["state"], registry=r
        )
        self.locks_active = Gauge("edgewarden_locks_active", "Active risk locks", registry=r)
        self.feed_age = Gauge(
            "edgewarden_feed_age_seconds", "Seconds since the feed last answered", ["feed"], registry=r
        )
        self.api_errors = Counter(
            "edgewarden_api_errors", "Venue and feed errors by kind", ["feed", "kind"], registry=r
        )
        self.rate_limit_waits = Counter(
            "edgewarden_rate_limit_wait_seconds", "Time spent waiting for rate-limit tokens",
            ["bucket"], registry=r,
        )
        self.odds_quota = Gauge(
            "edgewarden_odds_quota_remaining", "x-requests-remaining of the odds feed", registry=r
        )
        self.slippage = Histogram(
            "edgewarden_slippage_bps", "Fill price vs decision price (worse is positive)",
            buckets=_SLIPPAGE_BUCKETS, registry=r,
        )
        self.task_restarts = Counter(
            "edgewarden_task_restarts", "Supervised task restarts", ["task"], registry=r
        )
        self.markets = Gauge("edgewarden_markets", "Markets the engine watches", registry=r)
        self.job_last_success = Gauge(
            "edgewarden_job_last_success_timestamp_seconds", "When the job last succeeded (0: never)",
            ["job"], registry=r,
        )
        self.job_last_duration = Gauge(
            "edgewarden_job_last_duration_seconds", "Wall time of the job's last run", ["job"], registry=r
        )
        self.job_runs = Counter(
            "edgewarden_job_runs", "Scheduled job runs by outcome", ["job", "outcome"], registry=r
        )
        self.job_names: tuple[str, ...] = ()
        """The closed set of ``job`` label values, declared by the scheduler at start."""
        for state in TRADING_STATES:
            self.trading_state.labels(state=state).set(0)
        # Every labelled series exists from the start, at 0: an alert rule then reads 0, not "no data".
        for feed in FEEDS:
            for kind in ERROR_KINDS:
                self.api_errors.labels(feed=feed, kind=kind)
        for bucket in RATE_BUCKETS:
            self.rate_limit_waits.labels(bucket=bucket)
        for outcome in ORDER_OUTCOMES:
            self.orders.labels(outcome=outcome)
        for side in SIDES:
            self.fill_contracts.labels(side=side)
            for liquidity in LIQUIDITY:
                self.fills.labels(side=side, liquidity=liquidity)
        self.odds_quota.set(math.nan)  # unknown until the feed answers (and for ever with odds off)
        # The process's memory, CPU, file descriptors, Python's GC and version.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def declare(self, reasons: Iterable[str] = (), tasks: Iterable[str] = ()) -> None:
        """The closed sets only the daemon knows (gate reason codes, supervised task names):
        their series start at 0."""
        for reason in reasons:
            self.decisions.labels(reason=reason)
        for task in tasks:
            self.task_restarts.labels(task=task)

    def set_trading_state(self, state: str) -> None:
        _check(state, TRADING_STATES, "state")
        for name in TRADING_STATES:
            self.trading_state.labels(state=name).set(1 if name == state else 0)

    def api_error(self, feed: str, kind: str) -> None:
        _check(feed, FEEDS, "feed")
        self.api_errors.labels(feed=feed, kind=kind if kind in ERROR_KINDS else "other").inc()

    def order(self, outcome: str) -> None:
        _check(outcome, ORDER_OUTCOMES, "outcome")
        self.orders.labels(outcome=outcome).inc()

    def declare_jobs(self, names: list[str] | tuple[str, ...]) -> None:
        """The job names known at start; each series is created now, so it reads 0, not absent."""
        self.job_names = tuple(dict.fromkeys((*self.job_names, *names)))
        for job in names:
            self.job_last_success.labels(job=job).set(0)
            self.job_last_duration.labels(job=job).set(0)
            for outcome in JOB_OUTCOMES:
                self.job_runs.labels(job=job, outcome=outcome)

    def job_ran(self, job: str, outcome: str, duration_s: float, finished_s: float) -> None:
        _check(job, self.job_names, "job")
        _check(outcome, JOB_OUTCOMES, "outcome")
        self.job_runs.labels(job=job, outcome=outcome).inc()
        self.job_last_duration.labels(job=job).set(duration_s)
        if outcome == "ok":
            self.job_last_success.labels(job=job).set(finished_s)

    def fill(self, side: str, is_taker: bool, contracts: float, fee_dollars: float) -> None:
        _check(side, SIDES, "side")
        self.fills.labels(side=side, liquidity="taker" if is_taker else "maker").inc()
        self.fill_contracts.labels(side=side).inc(contracts)
        self.fees.inc(fee_dollars)


def _check(value: str, allowed: tuple[str, ...], label: str) -> None:
    if value not in allowed:
        raise ValueError(f"metric label {label}={value!r}: expected one of {', '.join(allowed)}")
