"""Order intents (``write_ahead``): a line in the intent journal before the send, then queued.

The line goes to the intent journal (``intent_journal.py``); the rows are then queued to
the ledger like background rows. ``intent_sync`` says how durable that line is before
``write_ahead`` returns: ``"fsync"`` flushed to disk (survives a power cut), ``"os"`` handed
to the operating system (survives the daemon crashing or being killed; power-safe once the
ledger has committed it, within ``commit_delay_s``). Every ledger commit is
``synchronous=FULL``. Rows appended before a ``write_ahead`` are not promised to be
committed with it (nothing on the order path waits for them); its own rows are recovered
from the journal at the next open if the process dies first.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from daemon.logs import get_logger
from market.orders import OrderIntent

from .batching import QueueItem
from .intent_journal import IntentJournal, lock_directory, recover_segments
from .migrate import LedgerError
from .rows import INTENT_COLUMNS, intent_values

log = get_logger("edgewarden.ledger")

IntentSync = Literal["fsync", "os"]
INTENT_SYNC_MODES: tuple[str, ...] = ("fsync", "os")


class WriteAhead:
    """The write-ahead part of :class:`~daemon.ledger.writer.Ledger` (its state is set there)."""

    def _open_journal(self) -> None:
        """On the writer thread at open, after the tables: the journal's lock, the intent
        checks' column positions, then recovery and a fresh segment."""
        assert self._conn is not None
        self._journal_lock = lock_directory(self.journal_dir)
        required = {r[1] for r in self._conn.execute("PRAGMA table_info(order_intents)") if r[3]}
        columns = self._columns["order_intents"]
        self._intent_required = [i for i, c in enumerate(columns) if c in required]
        if self._intent_required:  # (itemgetter of one index gives the value, not a tuple: twice then)
            indexes = self._intent_required * (2 if len(self._intent_required) == 1 else 1)
            self._intent_required_values = operator.itemgetter(*indexes)
        self._intent_key = columns.index("client_order_id")
        if set(columns) != set(INTENT_COLUMNS):
            raise LedgerError(f"order_intents has columns {', '.join(columns)}; this version writes "
                              f"{', '.join(INTENT_COLUMNS)}")
        self._intent_order = operator.itemgetter(*[INTENT_COLUMNS.index(c) for c in columns])
        last = self._recover_journal()
        journal = IntentJournal(self.journal_dir, columns,
                                sync=self.intent_sync == "fsync", on_rotate=self._retire_later)
        journal.open(after=last)
        self._journal = journal

    def _recover_journal(self) -> int:
        """Intents a crash left in the journal go into ``order_intents`` before anyone reads
        the ledger; returns the last segment's number (the next one follows it)."""
        assert self._conn is not None
        added, total, last = recover_segments(
            self._conn, self.journal_dir, self._sql["order_intents"],
            lambda rows: self._tuples("order_intents", rows))
        if total:
            self.recovered_intents = added
            log.warning("intent_journal_recovered", intents=total, not_in_ledger=added)
        return last

    async def write_ahead(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Order intents, durable as ``intent_sync`` says in the journal when this returns
        (send only then), in ``order_intents`` within ``commit_delay_s``.

        A client_order_id already written ahead (recently: this segment or the last) is
        refused, as the table's unique key would refuse it, but before anything is sent.
        """
        await self._write_ahead_values(self._tuples("order_intents", rows))

    async def write_ahead_intents(self, intents: Iterable[OrderIntent]) -> None:
        """``write_ahead`` of these intents, their rows made as values (no dict per order)."""
        order = self._intent_order
        await self._write_ahead_values([order(intent_values(intent)) for intent in intents])

    async def _write_ahead_values(self, tuples: list[tuple[Any, ...]]) -> None:
        journal = self._journal
        if journal is None or self._closing:
            raise LedgerError("ledger is closed")
        required = self._intent_required_values
        for index, values in enumerate(tuples):  # what the ledger would refuse, refused before the send
            if None in required(values):
                columns = self._columns["order_intents"]
                missing = [columns[i] for i in self._intent_required if values[i] is None]
                raise LedgerError(f"order_intents row {index}: no value for {', '.join(missing)}")
        ids = [values[self._intent_key] for values in tuples]
        if len(set(ids)) != len(ids) or not self._recent_ids.isdisjoint(ids) or not self._older_ids.isdisjoint(ids):
            again = {i for i, n in Counter(ids).items() if n > 1}
            again.update(i for i in ids if i in self._recent_ids or i in self._older_ids)
            raise LedgerError(f"order_intents: client_order_id written ahead already: {', '.join(sorted(again))}")
        journal.append(tuples)
        self._recent_ids.update(ids)
        # Queued before the sync, so a segment's rows are always queued before its retirement
        # (another caller's append may start the next segment meanwhile). If the sync fails the
        # order is not sent, and reconciliation records the intent as never sent.
        self._put(QueueItem("order_intents", tuples, None))
        await journal.sync()

    def _retire_later(self, segment: Path) -> None:
        """The journal started a new segment: delete the full one once its rows are committed."""
        self._older_ids, self._recent_ids = self._recent_ids, set()
        self._put(QueueItem("", [], None, retire=segment))

    def _retire(self, segment: Path) -> None:
        """Delete a journal segment whose rows are all committed (FULL: on disk)."""
        if not self._journal_trusted:
            log.critical("intent_journal_kept", file=str(segment),
                         reason="an intent row failed to commit; the next start copies the segment in")
            return
        segment.unlink(missing_ok=True)
