"""Kill switches: one small rule each, same shape as freqtrade's protections.

Each rule looks at numbers the daemon hands in (no I/O, no clock) and returns a Lock when
it trips, else None. A rule trips when its measure *reaches* its threshold. Which state a
lock imposes follows what the breach means: losses and broken plumbing halt; worse
execution and a crowded group only stop new risk (REDUCING); a stale book blocks one market.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .limits import RiskLimits
from .locks import GLOBAL, Lock

HOUR_NS = 3_600 * 1_000_000_000


def daily_loss(pnl_today: int, limits: RiskLimits, now_ns: int, next_day_ns: int) -> Lock | None:
    """Today's realized loss reached the limit (dollars or % of capital): halt until tomorrow."""
    if -pnl_today < limits.daily_loss:
        return None
    return Lock.make("daily_loss", GLOBAL, "HALTED",
                     f"loss today {-pnl_today} ≥ limit {limits.daily_loss} (money units)",
                     now_ns, until_ns=next_day_ns)


def loss_streak(streak: int, limits: RiskLimits, now_ns: int) -> Lock | None:
    """N losing markets in a row: pause, and let the pause expire by itself."""
    if streak < limits.loss_streak:
        return None
    return Lock.make("loss_streak", GLOBAL, "HALTED", f"{streak} losses in a row",
                     now_ns, until_ns=now_ns + limits.loss_streak_pause_ns)


def slippage(recent_bps: Sequence[float], limits: RiskLimits, now_ns: int) -> Lock | None:
    """Mean slippage over the last ``slippage_window`` fills reached the maximum."""
    window = list(recent_bps)[-limits.slippage_window:]
    mean = sum(window) / len(window) if window else 0.0
    return slippage_mean(mean, len(window), limits, now_ns)


def slippage_mean(mean_bps: float, fills: int, limits: RiskLimits, now_ns: int) -> Lock | None:
    """The slippage rule on its measure (the mean of the newest ``fills``, e.g. from a ring)."""
    if fills < limits.slippage_window or mean_bps < limits.max_slippage_bps:
        return None
    return Lock.make("slippage", GLOBAL, "REDUCING",
                     f"mean slippage {mean_bps:.1f} bps over {fills} fills", now_ns)


def error_burst(error_times_ns: Sequence[int], limits: RiskLimits, now_ns: int) -> Lock | None:
    """Venue or feed errors in the last hour reached the limit: something is broken."""
    recent = sum(1 for t in error_times_ns if now_ns - HOUR_NS < t <= now_ns)
    return error_count(recent, limits, now_ns)


def error_count(recent: int, limits: RiskLimits, now_ns: int) -> Lock | None:
    """The error-burst rule on its measure: errors in the hour up to ``now_ns``."""
    if recent < limits.error_burst_per_hour:
        return None
    return Lock.make("error_burst", GLOBAL, "HALTED", f"{recent} errors in the last hour", now_ns)


def stale_book(ticker: str, book_ts_ns: int, limits: RiskLimits, now_ns: int) -> Lock | None:
    """This market's book is older than allowed: block this market only."""
    age = now_ns - book_ts_ns
    if age <= limits.stale_book_ns:
        return None
    return Lock.make("stale_book", ticker, "BLOCKED", f"book {age / 1e9:.1f} s old", now_ns)


def no_fills(scans_without_fill: int, limits: RiskLimits, now_ns: int) -> Lock | None:
    """Orders went out for N scans and nothing filled: execution is not doing what we think."""
    if scans_without_fill < limits.no_fills_scans:
        return None
    return Lock.make("no_fills", GLOBAL, "HALTED", f"no fills in {scans_without_fill} scans", now_ns)


def correlation_breach(group_name: str, exposure: int, limits: RiskLimits, now_ns: int) -> Lock | None:
    """A correlated group's exposure is over its cap (prices moved, or a race): stop adding."""
    if exposure <= limits.group_cap:
        return None
    return Lock.make("correlation_breach", GLOBAL, "REDUCING",
                     f"group {group_name} exposure {exposure} > cap {limits.group_cap}", now_ns)


def exchange_not_trading(trading_active: bool, now_ns: int) -> Lock | None:
    if trading_active:
        return None
    return Lock.make("exchange_not_trading", GLOBAL, "HALTED", "exchange reports trading paused", now_ns)


def environment_kill(env: Mapping[str, str], kill_file_exists: bool, now_ns: int) -> Lock | None:
    """EDGEWARDEN_KILL=1 or the configured kill file: halt at once, no questions."""
    if env.get("EDGEWARDEN_KILL", "").strip() == "1":
        return Lock.make("environment_kill", GLOBAL, "HALTED", "EDGEWARDEN_KILL=1", now_ns)
    if kill_file_exists:
        return Lock.make("environment_kill", GLOBAL, "HALTED", "kill file present", now_ns)
    return None
