"""A market's book is older than allowed: block that market only (lifted once it is fresh)."""

from __future__ import annotations

from risk.locks import Lock

from .base import Reading, SwitchContext


class StaleBook:
    rule = "stale_book"
    imposes = "BLOCKED"
    summary = "a market's book older than risk.stale_book_seconds blocks that market until it is fresh"

    def check(self, ctx: SwitchContext) -> list[Lock]:
        limit = ctx.limits.stale_book_ns
        locks = []
        for ticker, book_ts in ctx.stale_books.items():
            age = ctx.now_ns - book_ts
            if age > limit:
                locks.append(Lock.make(self.rule, ticker, self.imposes, f"book {age / 1e9:.1f} s old", ctx.now_ns))
        return locks

    def reading(self, ctx: SwitchContext) -> Reading:
        oldest = max((ctx.now_ns - ts for ts in ctx.stale_books.values()), default=0)
        return Reading(oldest / 1e9, ctx.limits.stale_book_ns / 1e9, "seconds (oldest book)")
