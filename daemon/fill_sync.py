"""The engine's side of fills and settlements: from the venue into the ledger, the trade CSV,
the risk engine and the metrics, each fill exactly once.

A part of ``daemon.engine.Engine`` (a base class of it), kept apart because it is everything
after an order's answer: the order path itself never waits for it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from daemon.ledger.trade_csv import TradeRow, append_trades
from daemon.venues.base import VenueError
from market.orders import Fill, Side, slippage_bps
from market.units import COUNT_SCALE

if TYPE_CHECKING:
    from daemon.engine import Engine

SETTLED_OUTCOMES = ("yes", "no", "void", "scalar")


class FillSync:
    async def sync_fills(self: Engine) -> int:
        """New fills since the last seen: ledger (durable), CSV, positions, gate, metrics."""
        try:
            fills = await self.venue.fills(min_ts_ns=self.state.last_fill_ts_ns or None)
        except VenueError as exc:
            self._venue_error("fills", exc, self.clock())
            return 0
        new = [f for f in fills if f.fill_id not in self.state.seen_fills]
        if not new:
            return 0
        new.sort(key=lambda f: (f.ts_ns, f.fill_id))
        await self.ledger.write("fills", [self._fill_row(f) for f in new])
        await asyncio.to_thread(append_trades, self.data_dir, [self._trade_row(f) for f in new])
        for fill in new:
            self._apply_fill(fill)
        return len(new)

    def _apply_fill(self: Engine, fill: Fill) -> None:
        state = self.state
        state.seen_fills.add(fill.fill_id)
        state.last_fill_ts_ns = max(state.last_fill_ts_ns, fill.ts_ns)
        intent = state.order_intents.get(fill.order_id)
        self.risk.on_fill(fill, intent.price if intent is not None else None)
        waiting = state.awaiting_fills.get(fill.order_id)
        if waiting is not None:
            waiting.unseen_fills -= fill.count
            if waiting.unseen_fills <= 0:
                del state.awaiting_fills[fill.order_id]
                # The fills closed min(filled, reduced) through set_position; free the rest.
                self.gate.release(waiting.slot, waiting.reserved, max(0, waiting.reduced - waiting.filled))
        if intent is not None:
            self.metrics.slippage.observe(slippage_bps(fill.price, intent.price))
        self.metrics.fill(fill.side.value, fill.is_taker, fill.count / COUNT_SCALE, fill.fee / 10_000)
        self.metrics.exposure.set(sum(p.cost for p in self.risk.positions.values()) / 10_000)

    def _fill_row(self: Engine, fill: Fill) -> dict[str, Any]:
        intent = self.state.order_intents.get(fill.order_id)
        return {
            "ts_ns": self.clock(), "fill_id": fill.fill_id, "order_id": fill.order_id,
            "client_order_id": intent.client_order_id if intent else fill.client_order_id,
            "ticker": fill.ticker, "side": fill.side.value, "action": fill.action.value,
            "count": fill.count, "price": fill.price, "is_taker": fill.is_taker, "fee": fill.fee,
            "strategy": intent.strategy if intent else None,
            "decision_price": intent.price if intent else None, "venue_ts_ns": fill.ts_ns,
        }

    def _trade_row(self: Engine, fill: Fill) -> TradeRow:
        intent = self.state.order_intents.get(fill.order_id)
        return TradeRow(fill.ts_ns, fill.fill_id, fill.order_id,
                        intent.client_order_id if intent else (fill.client_order_id or ""),
                        fill.ticker, fill.side, fill.action, fill.count, fill.price, fill.fee,
                        fill.is_taker, intent.strategy if intent else "")

    async def sync_settlements(self: Engine) -> int:
        """Markets that settled while we held them: payout, P&L, loss streak."""
        try:
            settlements = await self.venue.settlements()
        except VenueError as exc:
            self._venue_error("settlements", exc, self.clock())
            return 0
        rows, results = [], []
        for s in settlements:
            outcome = s.result.value if s.result in (Side.YES, Side.NO) else s.market_result
            if s.ticker in self.state.settled or outcome not in SETTLED_OUTCOMES:
                continue
            ts = s.ts_ns or self.clock()
            # A void (or scalar) market closes the position at what the venue paid back.
            payout = self.risk.on_settlement(s.ticker, outcome, ts, payout=s.revenue)
            self.state.settled.add(s.ticker)
            rows.append({"ts_ns": self.clock(), "ticker": s.ticker, "result": outcome,
                         "payout": payout, "fee": 0, "venue_ts_ns": ts})
            results.append({"ts_ns": self.clock(), "ticker": s.ticker, "result": outcome,
                            "payout": payout, "venue_ts_ns": ts})
        if rows:
            await self.ledger.write("settlements", rows)
            self.ledger.append("results", results)
        return len(rows)

