"""RiskGate: the state arrays plus the kernels; the only way an order gets a size.

Pure: no I/O, the time is passed in. The daemon feeds it books, fills, settlements and
locks; it answers every proposal with a count and a Reason, reserving exposure as it goes.
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
        for name in ("position", "cost", "reserved", "book_ts"):
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
        self.position[slot] = quantity
        self.cost[slot] = cost
        self._recompute_exposure()

    def release(self, slot: int, amount: int) -> None:
        """An order finished (filled or cancelled): its reservation goes away."""
        amount = min(amount, int(self.reserved[slot]))
        self.reserved[slot] -= amount
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
    def _args(self) -> tuple:
        lim = self.limits
        return (
            self.position, self.cost, self.reserved, self.group, self.group_exposure,
            self.book_ts, self.spread, self.blocked, self.total, STATE_CODES[self.trading_state],
            lim.capital, lim.kelly_fraction, lim.min_edge, lim.position_cap, lim.group_cap,
            lim.total_cap, lim.max_order_count, lim.fee_rate_ppm, lim.stale_book_ns,
            lim.max_spread_bps,
        )

    def decide_one(self, slot: int, side: int, price: int, fair: float, size_cap: int,
                   now_ns: int) -> tuple[int, int]:
        return k.decide_one(slot, side, price, fair, size_cap, now_ns, *self._args())

    def decide_batch(self, slots: np.ndarray, sides: np.ndarray, prices: np.ndarray,
                     fairs: np.ndarray, size_caps: np.ndarray, now_ns: int) -> Verdicts:
        n = len(slots)
        count = np.zeros(n, np.int64)
        reason = np.zeros(n, np.int64)
        reserved = np.zeros(n, np.int64)
        k.decide_batch(
            slots.astype(np.int64, copy=False), sides.astype(np.int64, copy=False),
            prices.astype(np.int64, copy=False), fairs.astype(np.float64, copy=False),
            size_caps.astype(np.int64, copy=False), now_ns, *self._args(), count, reason, reserved,
        )
        return Verdicts(count, reason, reserved)
