"""The exchange says trading is paused: halt until an operator has looked."""

from __future__ import annotations

from risk.locks import GLOBAL, Lock

from .base import Reading, SwitchContext


class ExchangeNotTrading:
    rule = "exchange_not_trading"
    imposes = "HALTED"
    summary = "the exchange's status reports trading paused"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        if ctx.exchange_trading:
            return []
        return [Lock.make(self.rule, GLOBAL, self.imposes, "exchange reports trading paused", ctx.now_ns)]

    def reading(self, ctx: SwitchContext) -> Reading:
        return Reading(0 if ctx.exchange_trading else 1, 1, "paused")
