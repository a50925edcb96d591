"""The ledger's writer thread: it owns the connection, commits batches, answers the waiters.

The connection lives on one dedicated thread that takes items straight off a
lock-guarded queue and hands the answers back with one ``call_soon_threadsafe`` per batch:
a durable write costs one wake-up of the thread, the commit, and one wake-up of the loop.
(An asyncio writer task in front of an executor cost two more loop turns and a thread
hand-off; aiosqlite would cost a hop per statement, DESIGN.md.) A batch holds at most
``max_batch_rows`` rows, which bounds one transaction under a backlog; smaller caps were
measured slower (random-keyed unique indexes rewrite more pages per row in small batches).

SQLite's automatic checkpoint runs inside whichever commit crosses its threshold, often a
durable one, which then waits for pages to be copied and the database file synced. The
writer turns it off and checkpoints after a commit with no durable rows in it instead
(every ``checkpoint_rows`` rows), so a durable write's commit is just its own commit.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Sequence
from typing import Any

from daemon.logs import get_logger

from .batching import QueueItem
from .migrate import LedgerError

log = get_logger("edgewarden.ledger")

CHECKPOINT_ROWS = 20_000
"""About SQLite's own default WAL size (1,000 pages of 4 KiB) in typical ledger rows."""


class CommitThread:
    """The writer-thread part of :class:`~daemon.ledger.writer.Ledger` (its state is set there)."""

    def _thread_main(self, opened: asyncio.Future[None]) -> None:
        try:
            self._open_sync()
        except BaseException as exc:  # handed to open()'s caller
            self._close_sync()
            self._answer([(opened, exc)])
            return
        self._answer([(opened, None)])
        try:
            self._serve()
        finally:
            self._close_sync()

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            stop = any(item.stop for item in batch)
            try:
                errors = self._commit(batch)
            except Exception as exc:  # the file itself failed (disk full, I/O error)
                log.critical("ledger_commit_failed", error=repr(exc), rows=sum(len(i.rows) for i in batch))
                errors = [LedgerError(f"ledger commit failed: {exc}")] * len(batch)
            for item, error in zip(batch, errors, strict=True):
                if error is None:
                    continue
                if item.future is not None:
                    log.error("ledger_write_rejected", table=item.table, error=str(error))
                elif item.table == "order_intents":
                    self._journal_trusted = False  # its journal segment stays for the next open
            for item in batch:
                if item.retire is not None:
                    self._retire(item.retire)
            if stop:
                self._close_sync(clean=True)
            self._answer([(item.future, error) for item, error in zip(batch, errors, strict=True)
                          if item.future is not None])
            if stop:
                return

    def _answer(self, answers: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
        if not answers:
            return
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _close_sync(self, clean: bool = False) -> None:
        """Close the file and the journal; ``clean`` (everything committed): the journal's last
        segment goes too."""
        if self._journal is not None:
            last = self._journal.close()
            self._journal = None
            if clean and last is not None:
                self._retire(last)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._journal_lock >= 0:
            os.close(self._journal_lock)
            self._journal_lock = -1

    def _commit(self, batch: Sequence[QueueItem]) -> list[LedgerError | None]:
        errors = self._commit_batch(batch)
        self._maybe_checkpoint(any(item.future is not None for item in batch))
        return errors

    def _maybe_checkpoint(self, durable: bool) -> None:
        """Copy the WAL back into the database once it has grown, preferably off the order path.

        After a background batch once ``checkpoint_rows`` rows were committed since the last
        checkpoint; after a durable one only at four times that (a ledger that only ever gets
        durable writes must not grow its WAL forever).
        """
        if self._rows_since_checkpoint >= self.checkpoint_rows * (4 if durable else 1):
            assert self._conn is not None
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._rows_since_checkpoint = 0
            self.checkpoints += 1

    def _commit_batch(self, batch: Sequence[QueueItem]) -> list[LedgerError | None]:
        """One transaction for the batch; if a row breaks it, retry row by row."""
        conn = self._conn
        assert conn is not None
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for item in batch:
            if item.rows:
                by_table.setdefault(item.table, []).extend(item.rows)
        if not by_table:
            return [None] * len(batch)
        try:
            conn.execute("BEGIN")
            for table, rows in by_table.items():
                conn.executemany(self._sql[table], rows)
            conn.execute("COMMIT")
            self._count(sum(len(r) for r in by_table.values()))
            return [None] * len(batch)
        except _ROW_ERRORS:  # OverflowError: an int beyond 64 bits, raised before SQLite sees it
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        return self._commit_one_by_one(batch)

    def _commit_one_by_one(self, batch: Sequence[QueueItem]) -> list[LedgerError | None]:
        """Retry a failed batch row by row, so one bad row costs only itself.

        A ``write()`` is all or nothing (its caller gets one answer for its rows); an
        ``append()`` keeps its good rows. Errors name the table, the row and its index. A
        failed INSERT undoes only itself (SQLite's statement rollback), so no savepoint per row.
        """
        conn = self._conn
        assert conn is not None
        errors: list[LedgerError | None] = []
        committed = 0
        conn.execute("BEGIN")
        for item in batch:
            conn.execute("SAVEPOINT item")
            error = None
            kept = 0
            for index, row in enumerate(item.rows):
                try:
                    conn.execute(self._sql[item.table], row)
                    kept += 1
                except _ROW_ERRORS as exc:
                    named = dict(zip(self._columns[item.table], row, strict=True))
                    error = error or LedgerError(f"{item.table}: {exc} (row {index}: {named!r})")
                    if item.future is not None:
                        break
                    log.error("ledger_row_rejected", table=item.table, index=index, error=str(exc))
            if error is not None and item.future is not None:
                conn.execute("ROLLBACK TO item")
                kept = 0
            conn.execute("RELEASE item")
            committed += kept
            errors.append(error)
        conn.execute("COMMIT")
        self._count(committed)
        return errors

    def _count(self, rows: int) -> None:
        self.batches += 1
        self.rows_committed += rows
        self._rows_since_checkpoint += rows


_ROW_ERRORS = (sqlite3.Error, OverflowError)


def _settle(answers: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    """On the loop: answer the waiting writers (a cancelled waiter needs no answer)."""
    for future, error in answers:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
