"""EDGEWARDEN_KILL=1 or the configured kill file: halt at once, no questions."""

from __future__ import annotations

from risk.locks import GLOBAL, Lock

from .base import Reading, SwitchContext


class EnvironmentKill:
    rule = "environment_kill"
    imposes = "HALTED"
    summary = "EDGEWARDEN_KILL=1 in the environment, or risk.kill_file exists"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        if ctx.env_kill:
            return [Lock.make(self.rule, GLOBAL, self.imposes, "EDGEWARDEN_KILL=1", ctx.now_ns)]
        if ctx.kill_file:
            return [Lock.make(self.rule, GLOBAL, self.imposes, "kill file present", ctx.now_ns)]
        return []

    def reading(self, ctx: SwitchContext) -> Reading:
        return Reading(int(ctx.env_kill or ctx.kill_file), 1, "set")
