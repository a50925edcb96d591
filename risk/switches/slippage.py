"""Mean slippage over the last ``slippage_window`` fills reached the maximum: stop new risk."""

from __future__ import annotations

from risk.locks import GLOBAL, Lock

from .base import Reading, SwitchContext


class Slippage:
    rule = "slippage"
    imposes = "REDUCING"
    summary = "mean slippage of the last risk.slippage_window fills reached risk.max_slippage_bps"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        lim = ctx.limits
        if ctx.slippage_fills < lim.slippage_window or ctx.slippage_mean_bps < lim.max_slippage_bps:
            return []
        return [Lock.make(self.rule, GLOBAL, self.imposes,
                          f"mean slippage {ctx.slippage_mean_bps:.1f} bps over {ctx.slippage_fills} fills",
                          ctx.now_ns)]

    def reading(self, ctx: SwitchContext) -> Reading:
        return Reading(ctx.slippage_mean_bps, ctx.limits.max_slippage_bps, "bps")
