"""When the ledger's writer starts a batch: the queue between the loop and the writer thread.

Background rows wait in the queue up to ``commit_delay_s`` for more to join them (group
commit); a batch goes at once when someone waits for it (write, flush, close) or when it is
full. During a ``hold`` (the order path's quiet window) the writer starts no batch, so no
commit takes the GIL or a CPU from the decision.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .migrate import LedgerError

HOLD_MAX_S = 1.0
"""A forgotten ``release`` delays the ledger this long, not forever (a refresh of the books
that takes longer than this lets the writer commit during the decision)."""


@dataclass(slots=True)
class QueueItem:
    table: str
    rows: list[tuple[Any, ...]]
    future: asyncio.Future[None] | None
    """Set for ``write``/``flush``/``close``: answered once the rows are committed."""
    stop: bool = False
    retire: Path | None = None
    """A full intent journal segment, deleted once this batch (which holds its rows) is committed."""
    queued_s: float = field(default_factory=time.monotonic)


class Batching:
    """The queueing part of :class:`~daemon.ledger.writer.Ledger` (its state is set there)."""

    def hold(self, max_s: float = HOLD_MAX_S, in_s: float = 0.0) -> None:
        """The order path runs from ``in_s`` seconds from now: from then the writer starts no
        batch until ``release`` (at most ``max_s``), so no commit takes the GIL or a CPU from
        the decision. A hold replaces the one before."""
        with self._ready:
            self._held_from = time.monotonic() + in_s
            self._held_until = self._held_from + max_s
            if self._pending:  # the writer may be waiting out the hold this one replaces
                self._ready.notify()

    def release(self) -> None:
        """End of ``hold``: the writer commits what became due meanwhile."""
        if self._held_until:
            with self._ready:
                self._held_until = 0.0
                if self._pending:
                    self._ready.notify()

    def _put(self, item: QueueItem) -> None:
        if self._thread is None or self._closing:
            raise LedgerError("ledger is closed")
        with self._queue_lock:
            self._pending.append(item)
            self._pending_rows += len(item.rows)
            if item.future is not None:
                self._pending_urgent += 1
            # Background rows do not wake the writer: it looks at least every commit_delay_s
            # anyway, and a wake-up per append is a thread taking the GIL from the loop.
            if item.future is not None or self._pending_rows >= self.max_batch_rows:
                self._ready.notify()

    def _next_batch(self) -> list[QueueItem]:
        """The next batch. Background rows wait in the queue up to ``commit_delay_s`` for
        more to join them; the batch goes at once when a write, flush or stop is queued, or
        when it is full."""
        with self._ready:
            while True:
                if not self._pending:
                    self._ready.wait(self.commit_delay_s)
                    continue
                now = time.monotonic()
                due = self._pending_urgent or self._pending_rows >= self.max_batch_rows
                wait_s = 0.0 if due else self._pending[0].queued_s + self.commit_delay_s - now
                if not self._pending[-1].stop and self._held_from <= now < self._held_until:
                    wait_s = max(wait_s, self._held_until - now)
                if wait_s <= 0:
                    break
                self._ready.wait(wait_s)
            batch: list[QueueItem] = []
            rows = 0
            while self._pending and rows < self.max_batch_rows:  # the last item may run past the cap
                item = self._pending.popleft()
                batch.append(item)
                rows += len(item.rows)
                self._pending_rows -= len(item.rows)
                if item.future is not None:
                    self._pending_urgent -= 1
                if item.stop:
                    break
        return batch
