"""What the kill switches look at, kept up to date event by event (``RiskEngine`` feeds it).

Pure: every event carries its time. Recent errors and slippage live in numba-read rings;
today's P&L is a running sum for the current trading day; the loss streak and scans
without a fill are counters: O(1) memory over a run of any length.
"""

from __future__ import annotations

from market.units import HOUR_NS

from .calendar import day_start_ns, next_day_start_ns
from .limits import RiskLimits
from .rings import Ring

RING_CAPACITY = 4_096


class SwitchInputs:
    def __init__(self, limits: RiskLimits, capacity: int = RING_CAPACITY) -> None:
        self.tz = limits.day_boundary_tz
        self.errors = Ring(max(capacity, limits.error_burst_per_hour))
        self.slippage = Ring(max(capacity, limits.slippage_window))
        self.day_start_ns = 0
        self.next_day_ns = 0
        self.pnl_day = 0
        """Realized P&L (money units, after fees) of the day [day_start_ns, next_day_ns)."""
        self.loss_streak = 0
        self.streak_paused_ns = 0
        """When the streak last tripped its pause: losses settled before then are paid for."""
        self.scans_without_fill = 0
        self.orders_since_fill = 0
        self.trading_active = True

    def fit(self, limits: RiskLimits) -> None:
        """New limits (SIGHUP): rings grow to hold a larger window or threshold."""
        if limits.error_burst_per_hour > self.errors.capacity:
            self.errors = self.errors.resized(limits.error_burst_per_hour)
        if limits.slippage_window > self.slippage.capacity:
            self.slippage = self.slippage.resized(limits.slippage_window)

    # ------------------------------------------------------------------ events
    def on_pnl(self, ts_ns: int, delta: int) -> None:
        """A realized P&L change (a closing fill, a fee, a settlement) at ``ts_ns``."""
        if ts_ns < self.day_start_ns:
            return  # an earlier trading day: not today's loss
        if ts_ns >= self.next_day_ns:
            self.day_start_ns = day_start_ns(ts_ns, self.tz)
            self.next_day_ns = next_day_start_ns(ts_ns, self.tz)
            self.pnl_day = 0
        self.pnl_day += delta

    def on_settled_market(self, market_pnl: int, ts_ns: int) -> None:
        """A market settled with this lifetime P&L: a loss extends the streak, else it ends.
        Settlements from before the last pause do not count again (else the pause, once run
        out, would trip at once on the same losses, and for ever: no win can come while halted)."""
        if ts_ns <= self.streak_paused_ns:
            return
        self.loss_streak = self.loss_streak + 1 if market_pnl < 0 else 0

    def streak_paused(self, ts_ns: int) -> None:
        self.streak_paused_ns = max(self.streak_paused_ns, ts_ns)
        self.loss_streak = 0

    def on_slippage(self, ts_ns: int, bps: float) -> None:
        self.slippage.push(ts_ns, bps)

    def on_error(self, ts_ns: int) -> None:
        self.errors.push(ts_ns)

    def on_scan(self, orders_sent: int, fills: int) -> None:
        """Count scans since orders went out without a single fill coming back."""
        if fills:
            self.scans_without_fill = 0
            self.orders_since_fill = 0
            return
        self.orders_since_fill += orders_sent
        if self.orders_since_fill:
            self.scans_without_fill += 1

    # ------------------------------------------------------------------ measures
    def pnl_today(self, now_ns: int) -> int:
        return self.pnl_day if self.day_start_ns <= now_ns < self.next_day_ns else 0

    def errors_last_hour(self, now_ns: int) -> int:
        return self.errors.count_in_window(now_ns - HOUR_NS, now_ns)

    def measures(self, limits: RiskLimits, now_ns: int) -> dict[str, float]:
        """Every switch's measure at ``now_ns`` (status views, tests)."""
        mean, fills = self.slippage.mean_of_last(limits.slippage_window)
        return {"pnl_today": self.pnl_today(now_ns), "loss_streak": self.loss_streak,
                "slippage_mean_bps": mean, "slippage_fills": fills,
                "errors_last_hour": self.errors_last_hour(now_ns),
                "scans_without_fill": self.scans_without_fill}
