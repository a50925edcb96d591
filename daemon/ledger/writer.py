"""The ledger's single writer: rows queue up, one transaction commits a whole batch.

``await write(...)`` returns only after its rows are committed (fills, settlements).
``append(...)`` returns at once and its rows are committed within ``commit_delay_s``
(metrics, decisions, snapshots). Both go through one queue, so rows keep
their order, and a row queued before an acknowledged write is committed with or before it.

The connection lives on one dedicated thread that takes items straight off a
lock-guarded queue and hands the answers back with one ``call_soon_threadsafe`` per batch:
a durable write costs one wake-up of the thread, the commit, and one wake-up of the loop.
(An asyncio writer task in front of an executor cost two more loop turns and a thread
hand-off; aiosqlite would cost a hop per statement, DESIGN.md.) A batch holds at most
``max_batch_rows`` rows, which bounds one transaction under a backlog; smaller caps were
measured slower (random-keyed unique indexes rewrite more pages per row in small batches).

Order intents go through ``write_ahead(...)``: a line in the intent journal
(``intent_journal.py``), then queued like background rows. ``intent_sync`` says how durable
that line is before ``write_ahead`` returns: ``"fsync"`` flushed to disk (survives a power
cut), ``"os"`` handed to the operating system (survives the daemon crashing or being
killed; power-safe once the ledger has committed it, within ``commit_delay_s``). Every
ledger commit is ``synchronous=FULL``. Rows appended before a ``write_ahead`` are not
promised to be committed with it (nothing on the order path waits for them); its own rows
are recovered from the journal at the next open if the process dies first.

SQLite's automatic checkpoint runs inside whichever commit crosses its threshold, often a
durable one, which then waits for pages to be copied and the database file synced. The
writer turns it off and checkpoints after a commit with no durable rows in it instead
(every ``checkpoint_rows`` rows), so a durable write's commit is just its own commit.
"""

from __future__ import annotations

import asyncio
import operator
import os
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from daemon.logs import get_logger
from market.orders import OrderIntent

from .intent_journal import IntentJournal, lock_directory, recover_segments
from .migrate import LedgerError, connect, migrate, table_columns
from .rows import INTENT_COLUMNS, intent_values
from .schema import TABLES

log = get_logger("edgewarden.ledger")

Row = Mapping[str, Any]
IntentSync = Literal["fsync", "os"]
INTENT_SYNC_MODES: tuple[str, ...] = ("fsync", "os")

HOLD_MAX_S = 1.0
"""A forgotten ``release`` delays the ledger this long, not forever (a refresh of the books
that takes longer than this lets the writer commit during the decision)."""
CHECKPOINT_ROWS = 20_000
"""About SQLite's own default WAL size (1,000 pages of 4 KiB) in typical ledger rows."""


@dataclass(slots=True)
class _Item:
    table: str
    rows: list[tuple[Any, ...]]
    future: asyncio.Future[None] | None
    """Set for ``write``/``flush``/``close``: answered once the rows are committed."""
    stop: bool = False
    retire: Path | None = None
    """A full intent journal segment, deleted once this batch (which holds its rows) is committed."""
    queued_s: float = field(default_factory=time.monotonic)


class Ledger:
    """Owns the SQLite file; open with :meth:`open`, finish with :meth:`close`."""

    def __init__(self, path: Path, commit_delay_s: float = 0.05, max_batch_rows: int = 65_536,
                 checkpoint_rows: int = CHECKPOINT_ROWS, intent_sync: IntentSync = "fsync") -> None:
        if intent_sync not in INTENT_SYNC_MODES:
            raise LedgerError(f"intent_sync {intent_sync!r}: expected one of {', '.join(INTENT_SYNC_MODES)}")
        self.path = path
        self.checkpoint_rows = checkpoint_rows
        self._rows_since_checkpoint = 0
        self.commit_delay_s = commit_delay_s
        self.max_batch_rows = max_batch_rows
        self.intent_sync = intent_sync
        self.journal_dir = path.with_name(f"{path.stem}-intents")
        self._journal: IntentJournal | None = None
        self._journal_lock = -1
        """Descriptor holding the journal directory's lock (one writing process per ledger)."""
        self._journal_trusted = True
        """False once an intent row failed to commit: its journal segment must then be kept."""
        self._intent_required: list[int] = []
        """Positions of the NOT NULL columns of ``order_intents``: checked before the journal."""
        self._intent_required_values: Callable[[tuple[Any, ...]], tuple[Any, ...]] = lambda values: ()
        """Those columns' values of a row, as a tuple (one C call per row on the order path)."""
        self._intent_key = 0
        """Position of ``client_order_id`` in an ``order_intents`` row."""
        self._intent_order = operator.itemgetter(*range(len(INTENT_COLUMNS)))
        """``INTENT_COLUMNS`` values → the table's column order (set when the ledger opens)."""
        self._recent_ids: set[str] = set()
        self._older_ids: set[str] = set()
        """client_order_ids written ahead into the current and the previous segment."""
        self._closing = False
        self._held_from = 0.0
        self._held_until = 0.0
        """``time.monotonic()`` span in which the writer starts no batch (``hold``)."""
        self._pending: deque[_Item] = deque()
        self._pending_rows = 0
        self._pending_urgent = 0
        """Queued items someone waits for (write, flush, close): the batch goes at once."""
        self._queue_lock = threading.Lock()
        """Guards the queue (taken directly by ``_put``: the Condition's ``with`` is a Python call)."""
        self._ready = threading.Condition(self._queue_lock)
        """The writer waits on it for items."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._columns: dict[str, tuple[str, ...]] = {}
        self._column_sets: dict[str, frozenset[str]] = {}
        self._getters: dict[str, operator.itemgetter] = {}
        self._sql: dict[str, str] = {}
        self.batches = 0
        self.rows_committed = 0
        self.checkpoints = 0
        self.recovered_intents = 0
        """Intents copied from the journal into the ledger at open (a crash before their commit)."""

    @classmethod
    async def open(cls, path: Path, commit_delay_s: float = 0.05, max_batch_rows: int = 65_536,
                   checkpoint_rows: int = CHECKPOINT_ROWS, intent_sync: IntentSync = "fsync") -> Ledger:
        ledger = cls(path, commit_delay_s, max_batch_rows, checkpoint_rows, intent_sync)
        ledger._loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = ledger._loop.create_future()
        ledger._thread = threading.Thread(target=ledger._thread_main, args=(opened,),
                                          name="ledger-writer", daemon=True)
        ledger._thread.start()
        try:
            await opened
        except BaseException:
            ledger._thread.join()
            ledger._thread = None
            raise
        return ledger

    def _open_sync(self) -> None:
        self._conn = connect(self.path)
        migrate(self._conn)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # see the module docstring
        for table in TABLES:
            columns = table_columns(self._conn, table)
            self._columns[table] = columns
            self._column_sets[table] = frozenset(columns)
            self._getters[table] = operator.itemgetter(*columns)
            marks = ", ".join("?" * len(columns))
            self._sql[table] = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
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

    # ------------------------------------------------------------------ public API
    async def write(self, table: str, rows: Iterable[Row]) -> None:
        """Queue rows and wait until they are committed (raises LedgerError if not)."""
        item = _Item(table, self._tuples(table, rows), self._new_future())
        self._put(item)
        await item.future  # type: ignore[misc]

    async def write_ahead(self, rows: Iterable[Row]) -> None:
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
        self._put(_Item("order_intents", tuples, None))
        await journal.sync()

    def _retire_later(self, segment: Path) -> None:
        """The journal started a new segment: delete the full one once its rows are committed."""
        self._older_ids, self._recent_ids = self._recent_ids, set()
        self._put(_Item("", [], None, retire=segment))

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

    def append(self, table: str, rows: Iterable[Row]) -> None:
        """Queue rows to be committed within ``commit_delay_s``; never blocks."""
        self._put(_Item(table, self._tuples(table, rows), None))

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        future = self._new_future()
        self._put(_Item("", [], future))
        await future

    async def close(self) -> None:
        """Commit everything queued, sync, close the file; rows offered from now on are refused."""
        if self._thread is None:
            return
        future = self._new_future()
        self._put(_Item("", [], future, stop=True))
        self._closing = True
        await future
        self._thread.join()  # it has answered; it only returns now
        self._thread = None

    def _new_future(self) -> asyncio.Future[None]:
        if self._loop is None:
            raise LedgerError("ledger is closed")
        return self._loop.create_future()

    # ------------------------------------------------------------------ queueing
    def _put(self, item: _Item) -> None:
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

    def _tuples(self, table: str, rows: Iterable[Row]) -> list[tuple[Any, ...]]:
        columns = self._columns.get(table)
        if columns is None:
            raise LedgerError(f"no ledger table {table!r}; tables: {', '.join(self._columns)}")
        known = self._column_sets[table]
        getter = self._getters[table]
        width = len(columns)
        now = time.time_ns()
        out = []
        for index, row in enumerate(rows):
            values = None
            if len(row) == width:
                try:  # as many keys as columns and all found: exactly the columns, one C call
                    values = getter(row)
                except KeyError:
                    pass
            if values is None:
                if not known.issuperset(row):
                    unknown = sorted(set(row) - known)
                    raise LedgerError(f"{table} row {index}: unknown column(s) {', '.join(unknown)}")
                values = tuple(row.get(c) for c in columns)
            if values[0] is None or not _NATIVE.issuperset(map(type, values)):
                values = tuple(v if type(v) in _NATIVE else _value(v) for v in values)
                if values[0] is None:
                    values = (now, *values[1:])  # ts_ns is the first column
            out.append(values)
        return out

    # ------------------------------------------------------------------ the writer thread
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

    def _next_batch(self) -> list[_Item]:
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
            batch: list[_Item] = []
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

    def _answer(self, answers: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
        if not answers:
            return
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _retire(self, segment: Path) -> None:
        """Delete a journal segment whose rows are all committed (FULL: on disk)."""
        if not self._journal_trusted:
            log.critical("intent_journal_kept", file=str(segment),
                         reason="an intent row failed to commit; the next start copies the segment in")
            return
        segment.unlink(missing_ok=True)

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

    def _commit(self, batch: Sequence[_Item]) -> list[LedgerError | None]:
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

    def _commit_batch(self, batch: Sequence[_Item]) -> list[LedgerError | None]:
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

    def _commit_one_by_one(self, batch: Sequence[_Item]) -> list[LedgerError | None]:
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


_NATIVE = frozenset({int, str, float, bytes, bool, type(None)})
"""Types sqlite3 binds as they are (bool as 0/1); anything else goes through ``_value``."""


def _value(value: Any) -> Any:
    """Enums and bools to what SQLite stores; everything else as is."""
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value
