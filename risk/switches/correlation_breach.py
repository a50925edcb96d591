"""A correlated group's exposure is over its cap (prices moved, or a race): stop adding."""

from __future__ import annotations

from market.units import format_dollars
from risk.locks import GLOBAL, Lock

from .base import Reading, SwitchContext


class CorrelationBreach:
    rule = "correlation_breach"
    imposes = "REDUCING"
    summary = "a correlated group's exposure above risk.group_pct of capital"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        cap = ctx.limits.group_cap
        over = [(name, e) for name, e in ctx.group_exposure.items() if e > cap]
        if not over:
            return []
        # One lock: the state it imposes is global, and a second group adds nothing to it.
        name, exposure = max(over, key=lambda item: item[1])
        return [Lock.make(self.rule, GLOBAL, self.imposes,
                          f"group {name} exposure ${format_dollars(exposure)} > cap ${format_dollars(cap)}",
                          ctx.now_ns)]

    def reading(self, ctx: SwitchContext) -> Reading:
        worst = max(ctx.group_exposure.values(), default=0)
        return Reading(worst / 10_000, ctx.limits.group_cap / 10_000, "dollars (largest group)")
