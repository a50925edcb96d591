"""RiskEngine: the one owner of risk state, fed by events, answering with what changed.

Every event that moves risk (a fill, a settlement, an error, a book, a scan, the exchange's
status, an operator's lock or lift) comes here, in the daemon, the paper venue's restarts
and the backtester alike; the engine folds it into positions, the kill switches' measures
and the gate's arrays, and returns its state changes as values (:class:`RiskChanges`). The
caller persists and shows them (``daemon/risk_recorder.py``) and never computes risk itself.

Pure: no I/O, no clock. The two facts only a process can see (``EDGEWARDEN_KILL`` and the
kill file) are handed to :meth:`RiskEngine.evaluate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from market.orders import Fill, Position, Side, slippage_bps

from .calendar import next_day_start_ns
from .gate import RiskGate
from .inputs import SwitchInputs
from .limits import RiskLimits
from .locks import GLOBAL, Lock, LockLift, active_locks, blocked_markets, trading_state
from .switches import SWITCHES, Switch, SwitchContext

SYSTEM = "edgewarden"
"""Who lifts a lock whose cause went away by itself (a stale book that is fresh again)."""


@dataclass(frozen=True, slots=True)
class RiskChanges:
    """What one event did: locks it added, lifts it made, and the trading state after."""

    state: str
    previous_state: str
    locks: tuple[Lock, ...] = ()
    lifts: tuple[LockLift, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.locks or self.lifts or self.state != self.previous_state)


class RiskEngine:
    def __init__(self, limits: RiskLimits, capacity: int = 1024,
                 switches: Sequence[Switch] = SWITCHES, group_names: Sequence[str] = ()) -> None:
        self.gate = RiskGate(limits, capacity)
        self.group_names = tuple(group_names)
        """Correlated groups' names by group id, for the locks' reasons (else ``group N``)."""
        self.inputs = SwitchInputs(limits)
        self.switches = tuple(switches)
        self.positions: dict[str, Position] = {}
        """Holdings by ticker, registered in the gate or not."""
        self.locks: list[Lock] = []
        self.lifts: list[LockLift] = []
        self.active: list[Lock] = []

    @property
    def limits(self) -> RiskLimits:
        return self.gate.limits

    @property
    def state(self) -> str:
        return self.gate.trading_state

    def set_limits(self, limits: RiskLimits) -> None:
        """Reloaded limits (SIGHUP); the day boundary's time zone stays the one the run began with."""
        self.gate.limits = limits
        self.inputs.fit(limits)

    # ------------------------------------------------------------------ markets
    def register_market(self, ticker: str, group: int = -1) -> int:
        """A market gets its gate slot, with what we already hold there and its block, if any."""
        known = ticker in self.gate.slots
        slot = self.gate.register_market(ticker, group)
        if not known:
            held = self.positions.get(ticker)
            if held is not None and (held.quantity or held.cost):
                self.gate.set_position(slot, held.quantity, held.cost)
            if ticker in blocked_markets(self.active):
                self.gate.blocked[slot] = 1
        return slot

    # ------------------------------------------------------------------ events
    def on_fill(self, fill: Fill, decision_price: int | None = None) -> Position:
        """A fill: the position, today's P&L and (given the price decided) slippage."""
        before = self.positions.get(fill.ticker) or Position(fill.ticker)
        after = before.apply(fill)
        self.positions[fill.ticker] = after
        self.inputs.on_pnl(fill.ts_ns, after.realized_pnl - before.realized_pnl)
        if decision_price:
            self.inputs.on_slippage(fill.ts_ns, slippage_bps(fill.price, decision_price))
        slot = self.gate.slots.get(fill.ticker)
        if slot is not None:
            self.gate.set_position(slot, after.quantity, after.cost)
        return after

    def on_settlement(self, ticker: str, result: Side | str, ts_ns: int, fee: int = 0,
                      payout: int | None = None) -> int:
        """A market settled: the position goes flat, P&L and the loss streak move. The payout.

        ``result`` yes or no pays the winning side; void or scalar pays ``payout``, what the
        venue paid (a void market's refund), and is neither a win nor a loss for the streak.
        """
        before = self.positions.get(ticker) or Position(ticker)
        decided = str(result) in ("yes", "no")
        if decided:
            flat, payout = before.settle(Side(result))
        else:
            payout = payout or 0
            flat = before.settle_at(payout)
        flat = Position(ticker, 0, 0, flat.realized_pnl - fee, flat.fees_paid + fee)
        self.positions[ticker] = flat
        self.inputs.on_pnl(ts_ns, flat.realized_pnl - before.realized_pnl)
        if decided:
            self.inputs.on_settled_market(flat.realized_pnl, ts_ns)
        slot = self.gate.slots.get(ticker)
        if slot is not None:
            self.gate.set_position(slot, 0, 0)
        return payout

    def on_error(self, ts_ns: int) -> None:
        self.inputs.on_error(ts_ns)

    def on_scan(self, orders_sent: int, fills: int) -> None:
        self.inputs.on_scan(orders_sent, fills)

    def on_exchange_status(self, trading_active: bool) -> None:
        self.inputs.trading_active = bool(trading_active)

    @property
    def exchange_trading(self) -> bool:
        return self.inputs.trading_active

    def pnl_today(self, now_ns: int) -> int:
        return self.inputs.pnl_today(now_ns)

    # ------------------------------------------------------------------ locks
    def lock(self, lock: Lock, now_ns: int) -> RiskChanges:
        """Impose a lock (an operator's halt, a failed reconciliation, a crash loop)."""
        before = self.state
        self.locks.append(lock)
        self._impose(now_ns)
        return RiskChanges(self.state, before, locks=(lock,))

    def lift(self, lift: LockLift, now_ns: int) -> RiskChanges:
        before = self.state
        self.lifts.append(lift)
        self._impose(now_ns)
        return RiskChanges(self.state, before, lifts=(lift,))

    def refresh(self, now_ns: int) -> RiskChanges:
        """Fold locks and lifts at ``now_ns``: self-expiring locks run out."""
        before = self.state
        self._impose(now_ns)
        return RiskChanges(self.state, before)

    def _impose(self, now_ns: int) -> None:
        self.active = active_locks(self.locks, self.lifts, now_ns)
        self.gate.set_trading_state(trading_state(self.active))
        self.gate.set_blocked(blocked_markets(self.active))

    # ------------------------------------------------------------------ kill switches
    def context(self, now_ns: int, env_kill: bool = False, kill_file: bool = False,
                stale_books: Mapping[str, int] | None = None) -> SwitchContext:
        """Every switch's measures at ``now_ns``. ``stale_books`` defaults to the gate's own
        book times (the daemon passes its board's, which knows which markets are open)."""
        limits = self.limits
        gate = self.gate
        mean, fills = self.inputs.slippage.mean_of_last(limits.slippage_window)
        names = self.group_names
        groups = {names[g] if g < len(names) else f"group {g}": int(e)
                  for g, e in enumerate(gate.group_exposure.tolist()) if e}
        return SwitchContext(
            now_ns, limits, next_day_start_ns(now_ns, self.inputs.tz),
            pnl_today=self.inputs.pnl_today(now_ns), loss_streak=self.inputs.loss_streak,
            slippage_mean_bps=mean, slippage_fills=fills,
            errors_last_hour=self.inputs.errors_last_hour(now_ns),
            scans_without_fill=self.inputs.scans_without_fill, exchange_trading=self.inputs.trading_active,
            env_kill=env_kill, kill_file=kill_file, group_exposure=groups,
            stale_books=gate.stale_books(now_ns) if stale_books is None else stale_books,
        )

    def evaluate(self, now_ns: int, env_kill: bool = False, kill_file: bool = False,
                 stale_books: Mapping[str, int] | None = None) -> RiskChanges:
        """Run every switch. The locks that trip and are not already in force take effect at
        once (fail closed: the caller writes them after); stale-book locks whose market is
        fresh again are lifted by the system."""
        before = self.state
        self._impose(now_ns)
        ctx = self.context(now_ns, env_kill, kill_file, stale_books)
        in_force = {(lock.rule, lock.scope) for lock in self.active}
        tripped: dict[tuple[str, str], Lock] = {}
        for switch in self.switches:
            for lock in switch.check(ctx):
                key = (lock.rule, lock.scope)
                if key not in in_force:
                    tripped.setdefault(key, lock)
        lifts = tuple(LockLift(lock.lock_id, SYSTEM, "book is fresh again", now_ns) for lock in self.active
                      if lock.rule == "stale_book" and lock.scope != GLOBAL and lock.scope not in ctx.stale_books)
        self.locks.extend(tripped.values())
        self.lifts.extend(lifts)
        if ("loss_streak", GLOBAL) in tripped:
            self.inputs.streak_paused(now_ns)
        if tripped or lifts:
            self._impose(now_ns)
        return RiskChanges(self.state, before, tuple(tripped.values()), lifts)

    def readings(self, now_ns: int, env_kill: bool = False, kill_file: bool = False,
                 stale_books: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
        """Each switch's measure against its threshold and whether its lock is in force."""
        ctx = self.context(now_ns, env_kill, kill_file, stale_books)
        in_force = {lock.rule for lock in self.active}
        return [{"rule": s.rule, "imposes": s.imposes, "summary": s.summary,
                 **s.reading(ctx).as_dict(), "locked": s.rule in in_force} for s in self.switches]

    # ------------------------------------------------------------------ restart
    def load(self, fills: Iterable[Fill], settlements: Iterable[Any], locks: Iterable[Lock],
             lifts: Iterable[LockLift], now_ns: int,
             decision_prices: Mapping[str, int] | None = None) -> RiskChanges:
        """What a restarted daemon knew before it stopped, replayed from its ledger.

        Fills (in ledger order), then settlements (objects with ``ticker``, ``result``,
        ``ts_ns``, ``fee`` and, for void or scalar ones, ``payout``) are replayed as they happened: positions, today's P&L, the
        loss streak and recent slippage (``decision_prices``: fill_id → the price decided).
        Locks and lifts are folded at ``now_ns``: a halted daemon restarts halted, and the loss
        streak counts only markets settled after its last pause. Errors and scan counts are
        not in the ledger and start afresh.
        """
        prices = decision_prices or {}
        locks, lifts = list(locks), list(lifts)
        paused = [lock.created_ns for lock in locks if lock.rule == "loss_streak"]
        if paused:
            self.inputs.streak_paused(max(paused))
        for fill in fills:
            self.on_fill(fill, prices.get(fill.fill_id))
        for s in settlements:
            self.on_settlement(s.ticker, s.result, s.ts_ns, s.fee, getattr(s, "payout", None))
        before = self.state
        self.locks, self.lifts = locks, lifts
        self._impose(now_ns)
        return RiskChanges(self.state, before)
