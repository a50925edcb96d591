"""RiskGate: the state arrays plus the kernels; the only way an order gets a size.

Pure: no I/O, the time is passed in. ``risk.engine.RiskEngine`` owns it and keeps its
arrays in step with fills, settlements and locks; the gate answers every proposal with a
count and a Reason, reserving exposure as it goes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels as k
from .limits import RiskLimits
from .reasons import Reason

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

    def stale_books(self, now_ns: int) -> dict[str, int]:
        """Registered markets that have had a book, but not within ``stale_book_ns``."""
        n = len(self.tickers)
        ts = self.book_ts[:n]
        old = np.flatnonzero((ts > 0) & (now_ns - ts > self.limits.stale_book_ns))
        return {self.tickers[i]: int(ts[i]) for i in old.tolist()}
