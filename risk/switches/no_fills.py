"""Orders went out for N scans and nothing filled: execution is not doing what we think."""

from __future__ import annotations

from risk.locks import GLOBAL, Lock

from .base import Reading, SwitchContext


class NoFills:
    rule = "no_fills"
    imposes = "HALTED"
    summary = "risk.no_fills_scans scans in a row with orders out and no fill"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        if ctx.scans_without_fill < ctx.limits.no_fills_scans:
            return []
        return [Lock.make(self.rule, GLOBAL, self.imposes, f"no fills in {ctx.scans_without_fill} scans",
                          ctx.now_ns)]

    def reading(self, ctx: SwitchContext) -> Reading:
        return Reading(ctx.scans_without_fill, ctx.limits.no_fills_scans, "scans")
