"""Today's realized loss reached the limit: halt until the trading day ends."""

from __future__ import annotations

from market.units import format_dollars
from risk.locks import GLOBAL, Lock

from .base import Reading, SwitchContext


class DailyLoss:
    rule = "daily_loss"
    imposes = "HALTED"
    summary = "realized loss today (after fees) reached risk.daily_loss; lifts itself when the trading day ends"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        limit = ctx.limits.daily_loss
        if -ctx.pnl_today < limit:
            return []
        return [Lock.make(self.rule, GLOBAL, self.imposes,
                          f"loss today ${format_dollars(-ctx.pnl_today)} ≥ limit ${format_dollars(limit)}",
                          ctx.now_ns, until_ns=ctx.next_day_ns)]

    def reading(self, ctx: SwitchContext) -> Reading:
        return Reading(max(0, -ctx.pnl_today) / 10_000, ctx.limits.daily_loss / 10_000, "dollars")
