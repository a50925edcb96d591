"""Venue or feed errors in the last hour reached the limit: something is broken, halt."""

from __future__ import annotations

from risk.locks import GLOBAL, Lock

from .base import Reading, SwitchContext


class ErrorBurst:
    rule = "error_burst"
    imposes = "HALTED"
    summary = "risk.error_burst_per_hour venue or feed errors within the last hour"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        if ctx.errors_last_hour < ctx.limits.error_burst_per_hour:
            return []
        return [Lock.make(self.rule, GLOBAL, self.imposes, f"{ctx.errors_last_hour} errors in the last hour",
                          ctx.now_ns)]

    def reading(self, ctx: SwitchContext) -> Reading:
        return Reading(ctx.errors_last_hour, ctx.limits.error_burst_per_hour, "errors per hour")
