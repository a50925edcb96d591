"""The daemon side of the kill switches: gathers their inputs, writes the locks they trip.

``risk.switches`` holds the rules (pure); this object holds what they look at — today's
P&L, settled results, recent slippage and errors, scans without fills — and the set of
locks, rebuilt from the ledger at start. Every new lock and every lift is written durably
before it takes effect, so what an operator sees in the ledger is what the gate enforces.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from daemon.ledger import Ledger
from daemon.logs import get_logger
from risk import switches
from risk.calendar import day_start_ns, next_day_start_ns
from risk.gate import RiskGate
from risk.limits import RiskLimits
from risk.locks import GLOBAL, Lock, LockLift, active_locks, blocked_markets, trading_state

log = get_logger("edgewarden.risk")
HOUR_NS = 3_600 * 1_000_000_000
SYSTEM = "edgewarden"
SETTLED_KEPT = 10_000
"""Settled results kept for the loss streak: a ``loss_streak`` above this never trips
(the way to switch the rule off)."""


@dataclass
class RiskInputs:
    pnl_events: list[tuple[int, int]] = field(default_factory=list)
    """(ts_ns, realized P&L change) — fills that closed something, fees, settlements; only
    today's are kept (``pnl_today`` drops the rest), so a long run does not grow it."""
    settled_pnl: deque[int] = field(default_factory=lambda: deque(maxlen=SETTLED_KEPT))
    """P&L of each settled market, oldest first (the latest ``SETTLED_KEPT``)."""
    slippage_bps: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    error_times: deque[int] = field(default_factory=lambda: deque(maxlen=10_000))
    scans_without_fill: int = 0
    orders_since_fill: int = 0
    trading_active: bool = True
    group_exposure: dict[str, int] = field(default_factory=dict)


class RiskWatch:
    def __init__(
        self,
        gate: RiskGate,
        ledger: Ledger,
        limits: RiskLimits,
        kill_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        on_change: Callable[[str, list[Lock]], None] | None = None,
    ) -> None:
        self.gate = gate
        self.ledger = ledger
        self.limits = limits
        self.kill_file = kill_file
        self.env = env if env is not None else os.environ
        self.on_change = on_change
        self.inputs = RiskInputs()
        self._pnl_day = -1
        """Start of the day ``pnl_events`` was last pruned to."""
        self.locks: list[Lock] = []
        self.lifts: list[LockLift] = []
        self.active: list[Lock] = []

    # ------------------------------------------------------------------ state
    def load(self, locks: list[Lock], lifts: list[LockLift], now_ns: int) -> None:
        self.locks, self.lifts = list(locks), list(lifts)
        self._apply(now_ns)

    def _apply(self, now_ns: int) -> None:
        self.active = active_locks(self.locks, self.lifts, now_ns)
        state = trading_state(self.active)
        self.gate.set_trading_state(state)
        self.gate.set_blocked(blocked_markets(self.active))
        if self.on_change:
            self.on_change(state, self.active)

    @property
    def state(self) -> str:
        return trading_state(self.active)

    async def add_lock(self, lock: Lock, now_ns: int) -> Lock:
        await self.ledger.write("locks", [lock.to_row()])
        self.locks.append(lock)
        log.warning("lock_added", lock_id=lock.lock_id, rule=lock.rule, scope=lock.scope,
                    state=lock.state, reason=lock.reason)
        self._apply(now_ns)
        return lock

    async def lift(self, lift: LockLift, now_ns: int) -> None:
        await self.ledger.write("lock_lifts", [lift.to_row()])
        self.lifts.append(lift)
        log.warning("lock_lifted", lock_id=lift.lock_id, who=lift.who, why=lift.why)
        self._apply(now_ns)

    # ------------------------------------------------------------------ inputs
    def record_error(self, now_ns: int) -> None:
        self.inputs.error_times.append(now_ns)

    def record_scan(self, orders_sent: int, fills: int) -> None:
        """Count scans since orders went out without a single fill coming back."""
        if fills:
            self.inputs.scans_without_fill = 0
            self.inputs.orders_since_fill = 0
            return
        self.inputs.orders_since_fill += orders_sent
        if self.inputs.orders_since_fill:
            self.inputs.scans_without_fill += 1

    def pnl_today(self, now_ns: int) -> int:
        start = day_start_ns(now_ns, self.limits.day_boundary_tz)
        events = self.inputs.pnl_events
        if start != self._pnl_day:  # a new day: yesterday's events are done with
            events[:] = [event for event in events if event[0] >= start]
            self._pnl_day = start
        return sum(delta for ts, delta in events if start <= ts <= now_ns)

    def loss_streak(self) -> int:
        streak = 0
        for pnl in reversed(self.inputs.settled_pnl):
            if pnl >= 0:
                break
            streak += 1
        return streak

    # ------------------------------------------------------------------ evaluation
    async def evaluate(self, now_ns: int, stale: Mapping[str, int]) -> list[Lock]:
        """Run every switch; write the locks that trip and are not already in force.

        ``stale`` maps ticker → book time for markets whose book is old; markets whose
        stale-book lock is in force but are fresh again get a system lift.
        """
        inputs = self.inputs
        next_day = next_day_start_ns(now_ns, self.limits.day_boundary_tz)
        candidates = [
            switches.environment_kill(self.env, bool(self.kill_file and self.kill_file.exists()), now_ns),
            switches.exchange_not_trading(inputs.trading_active, now_ns),
            switches.daily_loss(self.pnl_today(now_ns), self.limits, now_ns, next_day),
            switches.loss_streak(self.loss_streak(), self.limits, now_ns),
            switches.slippage(inputs.slippage_bps, self.limits, now_ns),
            switches.error_burst(inputs.error_times, self.limits, now_ns),
            switches.no_fills(inputs.scans_without_fill, self.limits, now_ns),
            *(switches.correlation_breach(g, e, self.limits, now_ns) for g, e in inputs.group_exposure.items()),
            *(switches.stale_book(t, ts, self.limits, now_ns) for t, ts in stale.items()),
        ]
        in_force = {(lock.rule, lock.scope) for lock in self.active}
        new = [lock for lock in candidates if lock and (lock.rule, lock.scope) not in in_force]
        # A rule firing twice in one evaluation (two groups) keeps one lock per scope.
        unique = list({(lock.rule, lock.scope): lock for lock in new}.values())
        if unique:
            await self.ledger.write("locks", [lock.to_row() for lock in unique])
            self.locks.extend(unique)
            for lock in unique:
                log.warning("kill_switch_tripped", lock_id=lock.lock_id, rule=lock.rule,
                            scope=lock.scope, state=lock.state, reason=lock.reason)
        fresh_again = [
            lock for lock in self.active
            if lock.rule == "stale_book" and lock.scope != GLOBAL and lock.scope not in stale
        ]
        if fresh_again:
            lifts = [LockLift(lock.lock_id, SYSTEM, "book is fresh again", now_ns) for lock in fresh_again]
            await self.ledger.write("lock_lifts", [lift.to_row() for lift in lifts])
            self.lifts.extend(lifts)
        self._apply(now_ns)
        return unique
