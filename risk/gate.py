"""RiskGate: the state arrays plus the kernels; the only way an order gets a size.

Pure: no I/O, the time is passed in. The daemon feeds it books, fills, settlements and
locks; it answers every proposal with a count and a Reason, reserving exposure as it goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from market.orders import Fill, Position, Side

from . import kernels as k
from .inputs import SwitchInputs
from .limits import RiskLimits
from .locks import GLOBAL, Lock, LockLift, active_locks, blocked_markets, trading_state
from .reasons import Reason

SYSTEM = "edgewarden"

STATE_CODES = {"ACTIVE": k.ACTIVE, "REDUCING": k.REDUCING, "HALTED": k.HALTED}


@dataclass(frozen=True, slots=True)
class Verdicts:
    count: np.ndarray
    reason: np.ndarray
    reserved: np.ndarray
    """Exposure (money units) each approval reserved; release it when the order is done."""
    reduced: np.ndarray | None = None
    """Held contracts (count units) each approval promised to close; release with the order."""

    def reasons(self) -> list[Reason]:
        return [Reason(int(r)) for r in self.reason]


class RiskGate:
    def __init__(self, limits: RiskLimits, capacity: int = 1024, groups: int = 64) -> None:
        self.limits = limits
        self.slots: dict[str, int] = {}
        self.tickers: list[str] = []
        self.position = np.zeros(capacity, np.int64)
        self.cost = np.zeros(capacity, np.int64)
        self.reserved = np.zeros(capacity, np.int64)
        self.group = np.full(capacity, -1, np.int64)
        self.book_ts = np.zeros(capacity, np.int64)
        self.spread = np.full(capacity, -1, np.int64)
        self.blocked = np.zeros(capacity, np.int8)
        self.group_exposure = np.zeros(groups, np.int64)
        self.total = np.zeros(1, np.int64)
        self.reducing = np.zeros(capacity, np.int64)
        self.trading_state = "ACTIVE"
        self.positions: dict[str, Position] = {}
        """Holdings by ticker as ``on_fill``/``on_settlement`` fold them (registered or not)."""
        self.inputs = SwitchInputs(limits)
        self.locks: list[Lock] = []
        self.lifts: list[LockLift] = []
        self.active: list[Lock] = []

    # ------------------------------------------------------------------ markets
    def register_market(self, ticker: str, group: int = -1) -> int:
        if ticker in self.slots:
            return self.slots[ticker]
        slot = len(self.tickers)
        if slot >= len(self.position):
            self._grow()
        if group >= len(self.group_exposure):
            self.group_exposure = np.concatenate(
                [self.group_exposure, np.zeros(group + 1 - len(self.group_exposure), np.int64)]
            )
        self.slots[ticker] = slot
        self.tickers.append(ticker)
        self.group[slot] = group
        held = self.positions.get(ticker)
        if held is not None and (held.quantity or held.cost):
            self.set_position(slot, held.quantity, held.cost)
        if ticker in blocked_markets(self.active):
            self.blocked[slot] = 1
        return slot

    def _grow(self) -> None:
        for name in ("position", "cost", "reserved", "book_ts", "reducing"):
            old = getattr(self, name)
            setattr(self, name, np.concatenate([old, np.zeros(len(old), old.dtype)]))
        self.group = np.concatenate([self.group, np.full(len(self.group), -1, np.int64)])
        self.spread = np.concatenate([self.spread, np.full(len(self.spread), -1, np.int64)])
        self.blocked = np.concatenate([self.blocked, np.zeros(len(self.blocked), np.int8)])

    def update_book(self, slot: int, ts_ns: int, spread: int | None) -> None:
        self.book_ts[slot] = ts_ns
        self.spread[slot] = -1 if spread is None else spread

    def set_position(self, slot: int, quantity: int, cost: int) -> None:
        """Actual holding from the ledger or venue; exposure totals are recomputed."""
        # Contracts closed by fills were promised to reducing orders: never promise more than held.
        closed = max(0, abs(int(self.position[slot])) - abs(quantity))
        promised = max(0, int(self.reducing[slot]) - closed)
        self.reducing[slot] = min(promised, abs(quantity) // k.WHOLE * k.WHOLE)
        self.position[slot] = quantity
        self.cost[slot] = cost
        self._recompute_exposure()

    def release(self, slot: int, amount: int, reduced: int = 0) -> None:
        """An order finished (filled or cancelled): its reservation goes away (``reduced``:
        ``Verdicts.reduced``; what its fills closed was already released by ``set_position``)."""
        amount = min(amount, int(self.reserved[slot]))
        self.reserved[slot] -= amount
        self.reducing[slot] -= min(max(0, reduced), int(self.reducing[slot]))
        self._recompute_exposure()

    def _recompute_exposure(self) -> None:
        n = len(self.tickers)
        held = self.cost[:n] + self.reserved[:n]
        self.group_exposure[:] = 0
        grouped = self.group[:n] >= 0
        np.add.at(self.group_exposure, self.group[:n][grouped], held[grouped])
        self.total[0] = held.sum()

    # ------------------------------------------------------------------ state
    def set_trading_state(self, state: str) -> None:
        if state not in STATE_CODES:
            raise ValueError(f"trading state {state!r}: expected ACTIVE, REDUCING or HALTED")
        self.trading_state = state

    def set_blocked(self, tickers: set[str]) -> None:
        self.blocked[:] = 0
        for ticker in tickers:
            if ticker in self.slots:
                self.blocked[self.slots[ticker]] = 1

    # ------------------------------------------------------------------ decisions
    def kernel_args(self) -> tuple:
        """The state arrays and limits, in the order the kernels take them after the proposals."""
        lim = self.limits
        return (
            self.position, self.cost, self.reserved, self.group, self.group_exposure,
            self.book_ts, self.spread, self.blocked, self.total, self.reducing,
            STATE_CODES[self.trading_state],
            lim.capital, lim.kelly_fraction, lim.min_edge, lim.position_cap, lim.group_cap,
            lim.total_cap, lim.max_order_count, lim.fee_rate_ppm, lim.stale_book_ns,
            lim.max_spread_bps,
        )

    def decide_one(self, slot: int, side: int, price: int, fair: float, size_cap: int,
                   now_ns: int, action: int = k.BUY) -> tuple[int, int]:
        """One proposal: ``side`` 0 YES / 1 NO, ``action`` 0 buy / 1 sell; price and fair of ``side``."""
        return k.decide_one(slot, side, action, price, fair, size_cap, now_ns, *self.kernel_args())

    def decide_batch(self, slots: np.ndarray, sides: np.ndarray, prices: np.ndarray,
                     fairs: np.ndarray, size_caps: np.ndarray, now_ns: int,
                     actions: np.ndarray | None = None, max_orders: int | None = None) -> Verdicts:
        """A batch, in order, reserving as it goes; ``actions`` None means all buys.

        ``max_orders``: at most this many approvals stay, the best edges (fair − price); the
        rest release their reservation and are ``THROTTLED`` (the engine's in-flight cap).
        """
        n = len(slots)
        count = np.zeros(n, np.int64)
        reason = np.zeros(n, np.int64)
        reserved = np.zeros(n, np.int64)
        reduced = np.zeros(n, np.int64)
        actions = np.zeros(n, np.int64) if actions is None else actions.astype(np.int64, copy=False)
        slots = slots.astype(np.int64, copy=False)
        prices = prices.astype(np.int64, copy=False)
        fairs = fairs.astype(np.float64, copy=False)
        k.decide_batch(
            slots, sides.astype(np.int64, copy=False), actions, prices, fairs,
            size_caps.astype(np.int64, copy=False), now_ns, *self.kernel_args(), count, reason, reserved,
            reduced, -1 if max_orders is None else max(0, max_orders), int(Reason.THROTTLED),
        )
        return Verdicts(count, reason, reserved, reduced)

    # ------------------------------------------------------------------ events
    def set_limits(self, limits: RiskLimits) -> None:
        """Reloaded limits (SIGHUP); the day boundary's time zone is fixed for the run."""
        self.limits = limits
        self.inputs.fit(limits)

    def on_fill(self, fill: Fill, decision_price: int | None = None) -> Position:
        """A fill: the position, today's P&L and (given the decided price) slippage."""
        before = self.positions.get(fill.ticker) or Position(fill.ticker)
        after = before.apply(fill)
        self.positions[fill.ticker] = after
        self.inputs.on_pnl(fill.ts_ns, after.realized_pnl - before.realized_pnl)
        if decision_price:
            self.inputs.on_slippage(fill.ts_ns, (fill.price - decision_price) / decision_price * 10_000)
        slot = self.slots.get(fill.ticker)
        if slot is not None:
            self.set_position(slot, after.quantity, after.cost)
        return after

    def on_settlement(self, ticker: str, result: Side, ts_ns: int, fee: int = 0) -> int:
        """A market settled: flat position, the P&L change, the loss streak. Returns the payout."""
        before = self.positions.get(ticker) or Position(ticker)
        flat, payout = before.settle(result)
        flat = Position(ticker, 0, 0, flat.realized_pnl - fee, flat.fees_paid + fee)
        self.positions[ticker] = flat
        self.inputs.on_pnl(ts_ns, flat.realized_pnl - before.realized_pnl)
        self.inputs.on_settled_market(flat.realized_pnl)
        slot = self.slots.get(ticker)
        if slot is not None:
            self.set_position(slot, 0, 0)
        return payout

    def on_error(self, ts_ns: int) -> None:
        self.inputs.on_error(ts_ns)

    def on_scan(self, orders_sent: int, fills: int) -> None:
        self.inputs.on_scan(orders_sent, fills)

    def set_exchange_trading(self, active: bool) -> None:
        self.inputs.trading_active = active

    # ------------------------------------------------------------------ locks
    def apply_locks(self, active: Iterable[Lock]) -> str:
        """Impose these (already folded) active locks: trading state and blocked markets."""
        self.active = list(active)
        self.set_trading_state(trading_state(self.active))
        self.set_blocked(blocked_markets(self.active))
        return self.trading_state

    def refresh(self, now_ns: int) -> str:
        """Fold locks and lifts at ``now_ns`` (self-expiring locks run out) and impose them."""
        return self.apply_locks(active_locks(self.locks, self.lifts, now_ns))

    def add_locks(self, locks: Iterable[Lock], now_ns: int) -> None:
        self.locks.extend(locks)
        self.refresh(now_ns)

    def lift(self, lift: LockLift, now_ns: int) -> None:
        self.lifts.append(lift)
        self.refresh(now_ns)

    def stale_books(self, now_ns: int) -> dict[str, int]:
        """Registered markets that have had a book, but not within ``stale_book_ns``."""
        n = len(self.tickers)
        ts = self.book_ts[:n]
        old = np.flatnonzero((ts > 0) & (now_ns - ts > self.limits.stale_book_ns))
        return {self.tickers[i]: int(ts[i]) for i in old.tolist()}

    def evaluate_switches(
        self,
        now_ns: int,
        env: Mapping[str, str] | None = None,
        kill_file_exists: bool = False,
        stale_books: Mapping[str, int] | None = None,
    ) -> list[Lock]:
        """Run every kill switch; the locks that trip and are not already in force are
        imposed at once and returned, for the caller to write to the ledger.

        The daemon hands in ``os.environ`` and ``kill_file.exists()``; ``stale_books``
        defaults to :meth:`stale_books` over the gate's own book times.
        """
        self.refresh(now_ns)
        groups = {f"group {g}": int(e) for g, e in enumerate(self.group_exposure.tolist())
                  if e > self.limits.group_cap}
        stale = self.stale_books(now_ns) if stale_books is None else stale_books
        tripped = self.inputs.evaluate(self.limits, now_ns, env or {}, kill_file_exists, groups, stale)
        in_force = {(lock.rule, lock.scope) for lock in self.active}
        new = list({(lock.rule, lock.scope): lock for lock in tripped
                    if (lock.rule, lock.scope) not in in_force}.values())
        if new:
            self.add_locks(new, now_ns)
        return new

    def fresh_book_lifts(self, now_ns: int, stale_books: Mapping[str, int] | None = None) -> list[LockLift]:
        """System lifts for stale-book locks whose market has a fresh book again (caller records them)."""
        stale = self.stale_books(now_ns) if stale_books is None else stale_books
        lifts = [LockLift(lock.lock_id, SYSTEM, "book is fresh again", now_ns) for lock in self.active
                 if lock.rule == "stale_book" and lock.scope != GLOBAL and lock.scope not in stale]
        if lifts:
            self.lifts.extend(lifts)
            self.refresh(now_ns)
        return lifts

    # ------------------------------------------------------------------ restart
    @classmethod
    def rebuild(
        cls,
        limits: RiskLimits,
        positions: Mapping[str, Position] | None,
        locks: Iterable[Lock],
        lifts: Iterable[LockLift],
        fills: Iterable[Fill],
        settlements: Iterable[Any],
        now_ns: int,
        markets: Mapping[str, int] | None = None,
        decision_prices: Mapping[str, int] | None = None,
    ) -> RiskGate:
        """The gate a restarted daemon starts with: what it knew before it stopped.

        Fills (in ledger order), then settlements (objects with ``ticker``, ``result``,
        ``ts_ns`` and optionally ``fee``) are replayed as they happened, which restores
        positions, today's P&L, the loss streak and recent slippage (``decision_prices``:
        fill_id → the price decided). ``positions``, if given (reconciled with the venue),
        then overrides the replayed holdings. ``markets`` registers ticker → group. Locks
        and lifts are folded at ``now_ns``: a halted daemon restarts halted. Errors and scan
        counters are not in the ledger and start afresh.
        """
        gate = cls(limits)
        for ticker, group in (markets or {}).items():
            gate.register_market(ticker, group)
        prices = decision_prices or {}
        for fill in fills:
            gate.on_fill(fill, prices.get(fill.fill_id))
        for s in settlements:
            gate.on_settlement(s.ticker, Side(s.result), s.ts_ns, getattr(s, "fee", 0))
        if positions is not None:  # reconciled holdings are the truth; absent means flat
            for ticker in set(gate.positions) - set(positions):
                gone = gate.positions[ticker]
                positions = {**positions, ticker: Position(ticker, 0, 0, gone.realized_pnl, gone.fees_paid)}
            for ticker, position in positions.items():
                gate.positions[ticker] = position
                if ticker in gate.slots:
                    gate.set_position(gate.slots[ticker], position.quantity, position.cost)
        gate.locks, gate.lifts = list(locks), list(lifts)
        gate.refresh(now_ns)
        return gate
