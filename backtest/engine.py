"""Replay history through the live strategies and the live risk gate; only the venue is simulated.

Each decision does what ``daemon.engine.Engine`` does on a tick: the open markets' top of
book as a :class:`MarketView`, every enabled strategy's ``propose``, one
``RiskGate.decide_batch`` (which reserves exposure), the daemon's in-flight throttle, and
orders for the approved counts. Fills and settlements go to the same ``RiskEngine`` the
daemon feeds (positions, today's P&L, the loss streak, slippage), a finished order releases
its reservation, and after each decision the kill switches run as they do after a tick:
the locks they trip bind the replay from the next decision (a daily-loss halt until the
trading day ends, a streak's pause until it runs out) and are listed in the result. Between decisions the numba core (``backtest.fills``) replays the
events and fills orders; fees come from the exact ``market.fees`` schedule per fill.

Decisions happen after every distinct event time (``decision_interval_ns = 0``, the daemon's
"tick after each refresh"), or on a clock grid; grid ticks with no new event and no fill are
skipped, since the strategies would see the same books.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from market.fees import FeeSchedule, KalshiQuadratic
from market.orders import Action, Fill, Position, Side, TimeInForce, slippage_bps
from market.units import CONTRACT_PAYOUT, COUNT_SCALE
from risk.engine import RiskEngine
from risk.limits import RiskLimits
from risk.locks import Lock
from risk.reasons import Reason
from strategies.base import SIDE_YES, MarketView, Proposals, Strategy

from . import fills as core
from .events import RESULT_YES, Dataset
from .latency import Latency, Slippage

Progress = Callable[[int, int], None]
_TIF = {TimeInForce.IOC: core.TIF_IOC, TimeInForce.GTC: core.TIF_GTC, TimeInForce.FOK: core.TIF_FOK}


@dataclass(frozen=True, slots=True)
class Execution:
    """The simulated venue. The defaults are the paper venue's: IOC at the decision price,
    taker fees, no latency, no slippage."""

    time_in_force: TimeInForce = TimeInForce.IOC
    order_ttl_ns: int = 0
    """GTC only: a cancel is sent this long after the order (0 = rests until settlement)."""
    latency: Latency = Latency()
    slippage: Slippage = Slippage()
    fees: FeeSchedule = KalshiQuadratic()
    decision_interval_ns: int = 0
    close_guard_ns: int = 0
    """No orders in a market this close to its close time (the daemon's close guard)."""
    max_orders_per_decision: int = 0
    """The daemon's in-flight cap (best edge first, the rest THROTTLED); 0 = no cap."""


@dataclass(frozen=True, slots=True)
class BacktestFill:
    order_id: int
    ts_ns: int
    decision_ts_ns: int
    ticker: str
    side: Side
    count: int
    price: int
    decision_price: int
    touch_price: int
    """The quoted price before slippage."""
    is_taker: bool
    fee: int
    strategy: str

    @property
    def slippage_bps(self) -> float:
        """Fill vs decision price, worse positive (the daemon's definition)."""
        return slippage_bps(self.price, self.decision_price)


@dataclass(slots=True)
class BacktestOrder:
    order_id: int
    decision_ts_ns: int
    ticker: str
    side: Side
    price: int
    count: int
    strategy: str
    fair: float
    reserved: int
    filled: int = 0
    done: bool = False


@dataclass
class BacktestResult:
    capital: int
    fills: list[BacktestFill] = field(default_factory=list)
    orders: list[BacktestOrder] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    positions: dict[str, Position] = field(default_factory=dict)
    results: dict[str, Side] = field(default_factory=dict)
    """Settled markets' results."""
    settlement_fees: dict[str, int] = field(default_factory=dict)
    locks: list[Lock] = field(default_factory=list)
    """Every lock a kill switch tripped during the replay, in order (when, which, why)."""
    pnl_events: list[tuple[int, int]] = field(default_factory=list)
    """(exchange ts, change of realized P&L after fees), in time order."""
    events: int = 0
    decisions: int = 0
    reserved_at_end: int = 0
    """Exposure the gate still holds for orders at the end: 0 unless an order never finished."""

    @property
    def pnl(self) -> int:
        """Realized P&L after fees: settled markets in full, open positions' fees and closes."""
        return sum(p.realized_pnl for p in self.positions.values())

    @property
    def fees(self) -> int:
        return sum(p.fees_paid for p in self.positions.values())

    @property
    def open_exposure(self) -> int:
        return sum(p.cost for p in self.positions.values() if p.quantity)


class _Replay:
    def __init__(self, data: Dataset, strategies: Sequence[Strategy], limits: RiskLimits,
                 execution: Execution, groups: Sequence[int] | None, progress: Progress | None) -> None:
        self.data = data
        self.strategies = [s for s in strategies if s.enabled]
        self.x = execution
        self.progress = progress
        n = data.n_markets
        self.risk = RiskEngine(limits, capacity=max(1024, n))
        self.gate = self.risk.gate
        for slot, ticker in enumerate(data.tickers):
            self.risk.register_market(ticker, groups[slot] if groups is not None else -1)
        self.book = core.new_book_state(n)
        self.fair = np.full(n, np.nan)
        self.orders = np.zeros((256, core.O_FIELDS), np.int64)
        self.active = np.zeros(256, np.int64)
        self.n_orders = 0
        self.n_active = 0
        self.out = np.zeros((4096, core.R_FIELDS), np.int64)
        self.pos = 0
        self.result = BacktestResult(capital=limits.capital, events=len(data), positions=self.risk.positions)
        self._fills_since_scan = 0
        self._settled_since_scan = 0
        self._recheck_ns = 0
        """When a lock in force may run out (the switches must then run even if nothing moved)."""
        self.tif = _TIF[execution.time_in_force]
        self._names: list[str] = []

    # ------------------------------------------------------------------ the loop
    def run(self) -> BacktestResult:
        lat = self.x.latency
        shift = lat.clock_skew_ns + lat.data_ns  # exchange stamp → our time of seeing it
        ts = self.data.ts
        n_ev = len(ts)
        interval = self.x.decision_interval_ns
        step = 0
        if interval <= 0:
            for t in np.unique(ts).tolist():
                self._advance(t)
                self._decide(t + shift)
                step += 1
                if self.progress and step % 256 == 0:
                    self.progress(self.pos, n_ev)
        elif n_ev:
            start = (int(ts[0]) + shift) // interval * interval
            our = start
            while True:
                before = self.pos
                fills = self._advance(our - shift)
                if self.pos > before or fills:
                    self._decide(our)
                    step += 1
                    if self.progress and step % 256 == 0:
                        self.progress(self.pos, n_ev)
                if self.pos >= n_ev:
                    break
                seen = int(ts[self.pos]) + shift  # the next event: jump over idle ticks
                our = max(our + interval, start + -(-(seen - start) // interval) * interval)
        self._advance(core.NEVER - 1)  # orders still in flight finish, late settlements land
        self.result.reserved_at_end = int(self.gate.reserved.sum())
        if self.progress:
            self.progress(n_ev, n_ev)
        return self.result

    def _advance(self, end_ts: int) -> int:
        """Run the core to exchange time ``end_ts``, applying every record it writes."""
        d = self.data
        records = 0
        while True:
            needed = 2 * self.n_active + 64
            if len(self.out) < needed:
                self.out = np.zeros((2 * needed, core.R_FIELDS), np.int64)
            self.pos, n_out, self.n_active = core.run_until(
                d.ts, d.kind, d.slot, d.a, d.b, d.c, d.d, d.fair, self.pos, end_ts, self.book,
                self.fair, self.orders, self.active, self.n_active, self.out, 0,
                self.x.slippage.base_bps, self.x.slippage.impact_bps)
            if n_out:
                self._apply(self.out[:n_out])
                records += n_out
            if n_out + 2 * self.n_active + 4 <= len(self.out):
                return records

    # ------------------------------------------------------------------ decisions
    def _view(self, now: int) -> MarketView:
        b = self.book
        is_open = (b[:, core.B_SETTLED] < 0) & (b[:, core.B_TS] > 0)
        if self.x.close_guard_ns:
            close = self.data.close_ts
            is_open &= (close == 0) | (close - now > self.x.close_guard_ns)
        return MarketView(
            yes_bid=np.where(is_open, b[:, core.B_BID], 0),
            yes_ask=np.where(is_open, b[:, core.B_ASK], 0),
            yes_bid_size=np.where(is_open, b[:, core.B_BSZ], 0),
            yes_ask_size=np.where(is_open, b[:, core.B_ASZ], 0),
            book_ts_ns=b[:, core.B_TS].copy(),
            fair_yes=self.fair.copy(),
        )

    def _decide(self, now: int) -> None:
        self.result.decisions += 1
        if self._recheck_ns and now >= self._recheck_ns:
            # A pause ran out between decisions; the daemon, ticking every second, would
            # have seen it end before this one.
            self.risk.refresh(now)
            self._recheck_ns = min((lk.until_ns for lk in self.risk.active if lk.until_ns), default=0)
        sent = self._decide_orders(now)
        # As after a daemon tick: the scan is counted, then every kill switch runs; a decision
        # after which no measure moved and no lock can have run out would find the same.
        risk = self.risk
        scans = risk.inputs.scans_without_fill
        risk.on_scan(sent, self._fills_since_scan)
        moved = sent or self._fills_since_scan or self._settled_since_scan or scans != risk.inputs.scans_without_fill
        self._fills_since_scan = self._settled_since_scan = 0
        if moved:
            changes = risk.evaluate(now, stale_books={})  # the kernel refuses stale books itself
            self.result.locks.extend(changes.locks)
            self._recheck_ns = min((lk.until_ns for lk in risk.active if lk.until_ns), default=0)

    def _decide_orders(self, now: int) -> int:
        view = self._view(now)
        parts = [(s.name, s.propose(view)) for s in self.strategies]
        p = Proposals.concat([part for _, part in parts])
        if not len(p):
            return 0
        names = [name for name, part in parts for _ in range(len(part))]
        n = self.data.n_markets
        # The gate's book state, as update_book(slot, ts, spread) would set it for every market.
        bid, ask = self.book[:, core.B_BID], self.book[:, core.B_ASK]
        self.gate.book_ts[:n] = self.book[:, core.B_TS]
        self.gate.spread[:n] = np.where((bid > 0) & (ask > 0), ask - bid, -1)
        # The live engine's in-flight cap: best edge first, the rest THROTTLED (0 = no cap).
        room = self.x.max_orders_per_decision or None
        verdicts = self.gate.decide_batch(p.slot, p.side, p.price, p.fair, p.size_cap, now, max_orders=room)
        approved = np.flatnonzero(verdicts.count > 0)
        codes, counts = np.unique(verdicts.reason, return_counts=True)
        for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
            self.result.reasons[Reason(code).name] += count
        for i in approved.tolist():
            self._submit(now, int(p.slot[i]), int(p.side[i]), int(p.price[i]), int(verdicts.count[i]),
                         names[i], float(p.fair[i]), int(verdicts.reserved[i]))
        return len(approved)

    def _submit(self, now: int, slot: int, side: int, price: int, count: int, strategy: str,
                fair: float, reserved: int) -> None:
        lat = self.x.latency
        o = self.n_orders
        if o >= len(self.orders):
            self.orders = np.concatenate([self.orders, np.zeros_like(self.orders)])
            self.active = np.concatenate([self.active, np.zeros_like(self.active)])
        cancel = core.NEVER
        if self.tif == core.TIF_GTC and self.x.order_ttl_ns > 0:
            cancel = lat.exchange_time(now + self.x.order_ttl_ns) + lat.cancel_ns
        row = self.orders[o]
        row[:] = 0
        row[core.O_SLOT], row[core.O_SIDE], row[core.O_PRICE], row[core.O_COUNT] = slot, side, price, count
        row[core.O_STATUS], row[core.O_ARRIVE] = core.PENDING, lat.exchange_time(now) + lat.submit_ns
        row[core.O_CANCEL], row[core.O_TIF], row[core.O_QUEUE] = cancel, self.tif, -1
        self.active[self.n_active] = o
        self.n_active += 1
        self.book[slot, core.B_ACTIVE] += 1
        self.n_orders += 1
        self.result.orders.append(BacktestOrder(
            o, now, self.data.tickers[slot], Side.YES if side == SIDE_YES else Side.NO, price, count,
            strategy, fair, reserved))

    # ------------------------------------------------------------------ fills and settlements
    def _apply(self, records: np.ndarray) -> None:
        result = self.result
        for kind, ts, o, slot, count, price, taker, ref in records.tolist():
            if kind == core.OUT_FILL:
                order = result.orders[o]
                fee = self.x.fees.trade_fee(count, price, bool(taker))
                fill = Fill(f"bt-{o}-{len(result.fills)}", str(o), order.ticker, order.side, Action.BUY,
                            count, price, bool(taker), fee, ts)
                self._book_pnl(order.ticker, ts, lambda f=fill, d=order.price: self.risk.on_fill(f, d))
                self._fills_since_scan += 1
                order.filled += count
                result.fills.append(BacktestFill(o, ts, order.decision_ts_ns, order.ticker, order.side,
                                                 count, price, order.price, ref, bool(taker), fee,
                                                 order.strategy))
            elif kind == core.OUT_DONE:
                order = result.orders[o]
                order.done = True
                self.gate.release(slot, order.reserved)
            else:
                self._settle(slot, ts, Side.YES if ref == RESULT_YES else Side.NO)

    def _book_pnl(self, ticker: str, ts: int, event: Callable[[], object]) -> None:
        """Feed one event to the risk engine and note the realized P&L it moved."""
        before = self.risk.positions.get(ticker) or Position(ticker)
        event()
        after = self.risk.positions[ticker]
        if after.realized_pnl != before.realized_pnl:
            self.result.pnl_events.append((ts, after.realized_pnl - before.realized_pnl))

    def _settle(self, slot: int, ts: int, side: Side) -> None:
        """The paper venue's settlement: payout at the result, the schedule's settlement fee."""
        ticker = self.data.tickers[slot]
        self.result.results[ticker] = side
        position = self.result.positions.get(ticker)
        if position is None or not position.quantity:
            return
        count = abs(position.quantity)
        avg_price = min(max(position.cost * COUNT_SCALE // count, 1), CONTRACT_PAYOUT - 1)
        fee = self.x.fees.settlement_fee(count, avg_price, position.side is side)
        self.result.settlement_fees[ticker] = fee
        self._book_pnl(ticker, ts, lambda: self.risk.on_settlement(ticker, side, ts, fee))
        self._settled_since_scan += 1


def run_backtest(data: Dataset, strategies: Sequence[Strategy], limits: RiskLimits,
                 execution: Execution = Execution(), groups: Sequence[int] | None = None,
                 progress: Progress | None = None) -> BacktestResult:
    """Replay ``data`` through ``strategies`` and a fresh ``RiskGate(limits)``."""
    return _Replay(data, strategies, limits, execution, groups, progress).run()
