"""N losing markets in a row: pause, and let the pause expire by itself."""

from __future__ import annotations

from risk.locks import GLOBAL, Lock

from .base import Reading, SwitchContext


class LossStreak:
    rule = "loss_streak"
    imposes = "HALTED"
    summary = "risk.loss_streak settled markets lost in a row; pauses for risk.loss_streak_pause_seconds"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        if ctx.loss_streak < ctx.limits.loss_streak:
            return []
        return [Lock.make(self.rule, GLOBAL, self.imposes, f"{ctx.loss_streak} losses in a row",
                          ctx.now_ns, until_ns=ctx.now_ns + ctx.limits.loss_streak_pause_ns)]

    def reading(self, ctx: SwitchContext) -> Reading:
        return Reading(ctx.loss_streak, ctx.limits.loss_streak, "settled markets")
