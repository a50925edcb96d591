"""One tick: books → strategies → gate → write-ahead intents → venue → fills → ledger.

The engine owns the order path and nothing else: lifecycle and signals are the
supervisor's, wiring is the app's. Every proposal gets a gate verdict that becomes a
``decisions`` row; every approved order is an ``order_intents`` row committed before its
request leaves (DESIGN principles 1 and 2). Work inside a tick is either numpy/numba over
all markets at once or an await on I/O, so the loop never blocks.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from daemon.fill_sync import FillSync
from daemon.ledger import Ledger
from daemon.ledger.rows import order_row
from daemon.ledger.writer import HOLD_MAX_S
from daemon.logs import get_logger
from daemon.predictions import PredictionLog
from daemon.risk_recorder import RiskRecorder
from daemon.tick_decision import TickDecider, TickDecision
from daemon.venues.base import Venue, VenueError
from market.orders import Action, Order, OrderIntent, Side, TimeInForce
from monitoring.metrics import Metrics
from risk.engine import RiskEngine
from risk.reasons import Reason
from strategies.base import SIDE_YES, Strategy
from strategies.market_board import MarketBoard

log = get_logger("edgewarden.engine")

REASON_NAMES = {int(r): r.name for r in Reason}
SIDES = (Side.YES, Side.NO)
"""By the kernels' side code (strategies.base.SIDE_YES, SIDE_NO)."""
QUIET_BEFORE_CYCLE_S = 0.05
"""How long before a cycle no ledger commit starts (most commits take 1–8 ms)."""


@dataclass
class Sent:
    intent: OrderIntent
    slot: int
    reserved: int
    order_id: str | None = None
    reduced: int = 0
    """Held contracts this order promised to close (``Verdicts.reduced``)."""
    filled: int = 0
    unseen_fills: int = 0
    """Contracts the venue says filled that sync_fills has not seen yet."""


@dataclass
class Decided:
    """One tick's proposals and verdicts, and the intents of the orders to send, one per
    row of ``decision.orders``."""

    decision: TickDecision
    intents: list[OrderIntent]
    duration_ns: int = 0
    """How long the decision took (strategies, gate, intents): its model runs record it."""


@dataclass
class EngineState:
    """What the order path remembers beside risk (positions live in ``RiskEngine``)."""

    seen_fills: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)
    order_intents: dict[str, OrderIntent] = field(default_factory=dict)
    awaiting_fills: dict[str, Sent] = field(default_factory=dict)
    """order_id → its reservation, held until its fills are in the positions."""
    """order_id → intent, to join fills (which carry only order_id) to their decision."""
    last_fill_ts_ns: int = 0
    last_tick_ns: int = 0
    book_ready_ns: int = 0
    """When the latest books became available (end of the last refresh)."""
    refresh_ns: int = 0
    """When the latest refresh began: the time its sampled book snapshots carry."""
    ticks: int = 0


class Engine(FillSync):
    def __init__(
        self,
        venue: Venue,
        risk: RiskEngine,
        ledger: Ledger,
        board: MarketBoard,
        recorder: RiskRecorder,
        strategies: Sequence[Strategy],
        metrics: Metrics,
        data_dir: Path,
        time_in_force: TimeInForce = TimeInForce.IOC,
        book_sample_every: int = 10,
        clock: Callable[[], int] = time.time_ns,
        group_of: Callable[[str, str | None], int] | None = None,
        fair_of: Callable[[Any, int], float] | None = None,
        close_guard_ns: int = 2_000_000_000,
        max_in_flight: int = 10,
    ) -> None:
        self.venue = venue
        self.risk = risk
        self.gate = risk.gate
        """The risk engine's arrays and kernels: the tick's kernel reads them directly."""
        self.ledger = ledger
        self.board = board
        self.recorder = recorder
        self.strategies = strategies
        self.metrics = metrics
        self.data_dir = data_dir
        self.time_in_force = time_in_force
        self.book_sample_every = max(1, book_sample_every)
        self.clock = clock
        self.group_of = group_of
        """(ticker, event_ticker) → correlated group id, −1 for none (risk.correlation)."""
        self.max_in_flight = max_in_flight
        """Orders awaiting the venue's answer at most; more would queue behind the write rate
        limit and reach the exchange late, at prices decided seconds earlier."""
        self.close_guard_ns = close_guard_ns
        """Stop trading a market this long before its close time: an order in flight at the
        close is rejected, and the last seconds' quotes are the least reliable."""
        self.fair_of = fair_of
        """(market, now) → external fair probability of YES, NaN when unknown (odds feed)."""
        self.state = EngineState()
        self.trading_enabled = True
        """False once shutdown began: no new orders, whatever the gate says."""
        self._in_flight: set[asyncio.Task[None]] = set()
        self._deferred: list[tuple[str, list[dict[str, Any]]]] = []
        """Background ledger rows held back until the orders of the tick are on their way."""
        self._retired: list[Any] | None = None
        """The last refresh's market objects, kept alive until the tick's orders are sent."""
        self.predictions: PredictionLog | None = None
        """Where the tick's predictions are recorded (the daemon sets it; None records none)."""
        self.shadows: list[tuple[Strategy, str]] = []
        """(shadow strategy, the active one it runs beside): predictions only, never the gate."""

    @property
    def strategies(self) -> list[Strategy]:
        return self._strategies

    @strategies.setter
    def strategies(self, strategies: Sequence[Strategy]) -> None:
        """(A reload replaces them.) Refused here, not mid-tick, if the decider cannot screen them."""
        self.decider = TickDecider(strategies)
        self._strategies = list(strategies)

    # ------------------------------------------------------------------ market data
    async def refresh_markets(self, sample_books: bool = True) -> int:
        """Poll top of book for every open market (one paginated call) and the exchange status.

        ``sample_books=False`` (the start-up refresh, for reconciliation): no book samples.
        A sample is a moment the engine decided on; a backtest replays each one as such, and
        this refresh is followed by no decision.
        """
        now = self.clock()
        try:
            status = await self.venue.exchange_status()
            markets = await self.venue.markets(status="open")
        except VenueError as exc:
            self._venue_error("refresh_markets", exc, now)
            return 0
        self.risk.on_exchange_status(bool(status.trading_active))
        self.state.refresh_ns = now
        sample = sample_books and self.state.ticks % self.book_sample_every == 0
        new_rows, snapshots = [], []
        # A market missing from the open list has closed: nothing may trade on its last quote.
        self.board.open[: len(self.board.tickers)] = False
        for m in markets:
            slot = self.gate.slots.get(m.ticker)
            if slot is None:
                slot = self.risk.register_market(m.ticker, self._group_of(m))
                self.board.add(m.ticker, slot)
                if self.predictions is not None:
                    self.predictions.on_new_market(m)
                new_rows.append({"ts_ns": now, "ticker": m.ticker, "event_ticker": m.event_ticker,
                                 "series_ticker": m.series_ticker, "status": m.status,
                                 "close_ts_ns": m.close_time_ns, "result": m.result.value if m.result else None})
            # The book's age is the venue's own update time when it reports one: a feed that
            # answers but has stopped changing is stale too.
            book_ts = min(m.updated_ns, now) if m.updated_ns else now
            tradable = m.is_open and (m.close_time_ns is None or m.close_time_ns - now > self.close_guard_ns)
            self.board.update(slot, m.yes_bid or 0, m.yes_ask or 0, m.yes_bid_size or 0,
                              m.yes_ask_size or 0, book_ts, tradable)
            self.gate.update_book(slot, book_ts, self.board.spread(slot))
            if self.fair_of is not None:
                self.board.fair_yes[slot] = self.fair_of(m, now)
            if sample:
                snapshots.append({"ts_ns": now, "ticker": m.ticker, "yes_bid": m.yes_bid,
                                  "yes_ask": m.yes_ask, "yes_bid_size": m.yes_bid_size,
                                  "yes_ask_size": m.yes_ask_size})
        # Appended after the next tick's orders are out: queued now, they would join (and
        # delay) the commit of that tick's write-ahead intents.
        if new_rows:
            self._deferred.append(("markets", new_rows))
        if snapshots:
            self._deferred.append(("book_snapshots", snapshots))
        self.metrics.markets.set(len(self.board.tickers))
        # Freed after the next tick's orders are out: dropping 500 markets' objects takes ~0.1 ms.
        self._retired = markets
        # Again, now: after a slow refresh the signature made before it may run out before the
        # orders go, and signing then (~0.7 ms) would hold up the first of them.
        self.venue.prepare_orders()
        self.state.book_ready_ns = self.clock()
        return len(markets)

    def _group_of(self, market: Any) -> int:
        return self.group_of(market.ticker, market.event_ticker) if self.group_of else -1

    # ------------------------------------------------------------------ the tick
    async def cycle(self) -> int:
        """Refresh the books, then tick on them; returns the number of orders sent.

        From the refresh to the sends the ledger's writer starts no commit (its thread would
        take the GIL and a CPU from the decision) and the order endpoint's signature is made
        before the books arrive, not after.
        """
        self.venue.prepare_orders()
        self.ledger.hold()
        try:
            await self.refresh_markets()
            return await self.tick()
        finally:
            self.ledger.release()  # (tick released it after the sends already)

    def next_cycle_in(self, seconds: float) -> None:
        """The next cycle starts in ``seconds``: the ledger's writer starts no commit from a
        little before it (``QUIET_BEFORE_CYCLE_S``, at most a quarter of the wait). A commit
        still running when the books arrive shares the GIL with the decision: 1–2 ms lost in
        about 2% of ticks, measured, with the hold starting only at the cycle."""
        quiet_s = min(QUIET_BEFORE_CYCLE_S, seconds / 4)
        self.ledger.hold(max_s=quiet_s + HOLD_MAX_S, in_s=seconds - quiet_s)

    async def tick(self) -> int:
        """One decision round; returns the number of orders sent.

        The order path comes first and alone (strategies → gate → write-ahead intents →
        requests on their way); everything that can wait for it — the decision rows, book
        samples, fills, the kill switches — follows. The switches therefore see this tick's
        fills and their locks bind from the next tick; the gate's kernel checks stale books
        and the exchange status is checked here, so neither waits for a switch.
        """
        started = time.perf_counter()
        now = self.clock()
        self.state.ticks += 1
        sent = 0
        decided = self.trade(now)  # (the daemon's loop holds collections off: gc_control)
        if decided is not None:
            sent = await self._send_decided(decided, now)
        self.ledger.release()
        self._retired = None
        if decided is not None:
            self._record(decided, now)
        if self.predictions is not None:
            self.predictions.observe(self, now)
            if self.shadows:
                self.predictions.on_shadows(self, now)
        self._flush_deferred()
        fills = await self.sync_fills()
        self.risk.on_scan(sent, fills)
        await self.evaluate_switches(now)
        self.state.last_tick_ns = self.clock()
        self.metrics.ticks.inc()
        self.metrics.tick_duration.observe(time.perf_counter() - started)
        return sent

    async def evaluate_switches(self, now: int) -> None:
        """Run the kill switches (at start-up before the first tick, then after every tick)."""
        await self.recorder.evaluate(now, self.stale_books(now))

    def stale_books(self, now: int) -> dict[str, int]:
        n = len(self.board.tickers)
        old = np.flatnonzero(self.board.open[:n] & (now - self.board.book_ts[:n] > self.gate.limits.stale_book_ns))
        return {self.board.tickers[i]: int(self.board.book_ts[i]) for i in old}

    def trade(self, now: int) -> Decided | None:
        """Strategies over every market, then the gate: the orders to send, sized and reserved.

        None when nothing is proposed, or nothing may be sent (shutting down, or the exchange
        said it is not trading: its lock is written by the switches after this tick).
        """
        if not (self.trading_enabled and self.risk.exchange_trading and self.decider.enabled):
            return None
        # At most the free in-flight room is approved, best edge first; the rest are THROTTLED.
        # An order beyond the venue's write tokens would wait for one and reach the exchange at
        # a price decided before the wait: it is decided afresh next tick instead.
        room = max(0, self.max_in_flight - len(self._in_flight))
        sendable = self.venue.orders_sendable_now()
        if sendable is not None:
            room = min(room, sendable)
        started = time.perf_counter_ns()
        decision = self.decider.decide(self.board, self.gate, now, room)
        if not len(decision):
            return None
        tickers, names, tif = self.board.tickers, self.decider.names, self.time_in_force
        intents = [OrderIntent.create(tickers[slot], SIDES[side], Action.BUY, price, count, names[strategy],
                                      fair, now, tif)
                   for (_, slot, side, price, count, _, _, strategy), fair in zip(
                       decision.orders, decision.order_fair, strict=True)]
        return Decided(decision, intents, time.perf_counter_ns() - started)

    async def _send_decided(self, decided: Decided, now: int) -> int:
        """Write ahead, then send: the intents are durable before any request leaves."""
        if not decided.intents:
            return 0
        await self.ledger.write_ahead_intents(decided.intents)
        self._start_sends(decided, now)
        await asyncio.sleep(0)  # an order that could not be written at once starts its path first
        return len(decided.intents)

    def _record(self, decided: Decided, now: int) -> None:
        """Every verdict is a ledger row, and a count by reason."""
        coids = {row[0]: intent.client_order_id
                 for row, intent in zip(decided.decision.orders, decided.intents, strict=True)}
        tickers, names = self.board.tickers, self.decider.names
        rows, reasons = [], Counter()
        for i, ((slot, side, price, cap, strategy, count, reason, _, _), fair) in enumerate(zip(
                decided.decision.table.tolist(), decided.decision.fair.tolist(), strict=True)):
            reasons[reason] += 1
            rows.append({"ts_ns": now, "client_order_id": coids.get(i), "ticker": tickers[slot],
                         "side": "yes" if side == SIDE_YES else "no", "action": "buy", "price": price,
                         "proposed_count": cap, "approved_count": count, "reason": REASON_NAMES[reason],
                         "strategy": names[strategy], "fair_probability": fair})
        self.ledger.append("decisions", rows)
        for reason, n in reasons.items():
            self.metrics.decisions.labels(reason=REASON_NAMES[reason]).inc(n)
        if self.predictions is not None:
            self.predictions.on_decision(self, decided, coids, now)

    def _flush_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for table, rows in deferred:
            self.ledger.append(table, rows)

    def _start_sends(self, decided: Decided, now: int) -> None:
        # Each request is written here, one after another, where the venue can (send_order);
        # its answer is awaited in a task: the tick does not wait for answers (a rate-limited
        # burst would hold back the next look at the books). Their exposure stays reserved in
        # the gate until the answer, and until their fills are in the positions.
        # All requests first, then their tasks (and what they track): a task made between two
        # writes would delay the second.
        placings, sent_at = [], []
        for intent in decided.intents:
            placings.append(self.venue.send_order(intent))
            sent_at.append(self.clock())
        loop = asyncio.get_running_loop()
        for (_, slot, _, _, _, reserved, reduced, _), intent, placing in zip(
                decided.decision.orders, decided.intents, placings, strict=True):
            task = loop.create_task(self._send(Sent(intent, slot, reserved, reduced=reduced), placing))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        book_ns = self.state.book_ready_ns or now
        for ns in sent_at:
            self.metrics.tick_to_order.observe((ns - book_ns) / 1e9)

    async def drain(self, timeout_s: float) -> int:
        """Wait for order requests still in flight (shutdown); returns how many were left."""
        pending = list(self._in_flight)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        return sum(not t.done() for t in pending)

    async def _send(self, sent: Sent, placing: Awaitable[Order]) -> None:
        intent = sent.intent
        try:
            order = await placing
        except VenueError as exc:
            self._venue_error("place_order", exc, self.clock(), client_order_id=intent.client_order_id)
            self.ledger.append("orders", [{"client_order_id": intent.client_order_id, "ticker": intent.ticker,
                                           "status": "failed", "event": "failed", "error": str(exc)}])
            self.metrics.order("failed")
            self.gate.release(sent.slot, sent.reserved, sent.reduced)
            return
        sent.order_id = order.order_id
        self.state.order_intents[order.order_id] = intent
        self.ledger.append("orders", [order_row(order, "placed")])
        self.metrics.order(order.status.value if order.status.value in ("resting", "executed", "canceled") else "sent")
        log.info("order_placed", client_order_id=intent.client_order_id, order_id=order.order_id,
                 ticker=intent.ticker, side=intent.side.value, price=intent.price, count=intent.count,
                 filled=order.fill_count, status=order.status.value)
        if order.remaining_count == 0 or order.status.value != "resting":
            sent.filled = order.fill_count
            if order.fill_count == 0:
                self.gate.release(sent.slot, sent.reserved, sent.reduced)
            else:
                sent.unseen_fills = order.fill_count
                self.state.awaiting_fills[order.order_id] = sent

    # ------------------------------------------------------------------ shutdown
    async def cancel_resting(self) -> int:
        """Cancel every resting order (shutdown, halt); returns how many were cancelled."""
        try:
            resting = await self.venue.orders(status="resting")
        except VenueError as exc:
            self._venue_error("orders", exc, self.clock())
            return 0
        cancelled = 0
        for order in resting:
            try:
                answer = await self.venue.cancel_order(order.order_id)
            except VenueError as exc:
                self._venue_error("cancel_order", exc, self.clock(), client_order_id=order.client_order_id)
                continue
            self.ledger.append("orders", [order_row(answer, "canceled")])
            cancelled += 1
        return cancelled

    def _venue_error(self, call: str, exc: Exception, now: int, **context: Any) -> None:
        self.risk.on_error(now)
        kind = exc.kind if isinstance(exc, VenueError) else "other"
        self.metrics.api_error("exchange", kind)
        log.error("venue_error", call=call, error=str(exc), kind=kind, **context)
