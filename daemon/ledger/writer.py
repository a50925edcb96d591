"""The ledger's single writer: rows queue up, one transaction commits a whole batch.

``await write(...)`` returns only after its rows are committed with ``synchronous=FULL``
(order intents: write ahead, then send). ``append(...)`` returns at once and its rows are
committed within ``commit_delay_s`` (metrics, decisions, snapshots). Both go through one
queue, so rows keep their order.

The connection lives on one dedicated thread and a batch is one hop to it (BEGIN, an
``executemany`` per table, COMMIT). aiosqlite would cost a hop per statement (~75 µs
each, DESIGN.md); with one hop per batch the intent latency is one fsync, and
throughput is bounded by SQLite rather than by thread switches. A batch holds at most
``max_batch_rows`` rows, which bounds one transaction under a backlog; smaller caps were
measured slower (random-keyed unique indexes rewrite more pages per row in small batches).

SQLite's automatic checkpoint runs inside whichever commit crosses its threshold, often a
durable one, which then waits for pages to be copied and the database file synced. The
writer turns it off and checkpoints after a commit with no durable rows in it instead
(every ``checkpoint_rows`` rows), so an order's write-ahead commit is just its own fsync.
"""

from __future__ import annotations

import asyncio
import operator
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.logs import get_logger

from .migrate import LedgerError, connect, migrate, table_columns
from .schema import TABLES

log = get_logger("edgewarden.ledger")

Row = Mapping[str, Any]

CHECKPOINT_ROWS = 20_000
"""About SQLite's own default WAL size (1,000 pages of 4 KiB) in typical ledger rows."""


@dataclass(slots=True)
class _Item:
    table: str
    rows: list[tuple[Any, ...]]
    future: asyncio.Future[None] | None


_STOP = _Item("", [], None)


class Ledger:
    """Owns the SQLite file; open with :meth:`open`, finish with :meth:`close`."""

    def __init__(self, path: Path, commit_delay_s: float = 0.05, max_batch_rows: int = 65_536,
                 checkpoint_rows: int = CHECKPOINT_ROWS) -> None:
        self.path = path
        self.checkpoint_rows = checkpoint_rows
        self._rows_since_checkpoint = 0
        self.commit_delay_s = commit_delay_s
        self.max_batch_rows = max_batch_rows
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._durable_waiting = asyncio.Event()
        self._conn: sqlite3.Connection | None = None
        self._columns: dict[str, tuple[str, ...]] = {}
        self._column_sets: dict[str, frozenset[str]] = {}
        self._getters: dict[str, operator.itemgetter] = {}
        self._sql: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.rows_committed = 0
        self.checkpoints = 0

    @classmethod
    async def open(cls, path: Path, commit_delay_s: float = 0.05, max_batch_rows: int = 65_536,
                   checkpoint_rows: int = CHECKPOINT_ROWS) -> Ledger:
        ledger = cls(path, commit_delay_s, max_batch_rows, checkpoint_rows)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(ledger._executor, ledger._open_sync)
        except BaseException:
            await loop.run_in_executor(ledger._executor, ledger._close_sync)
            ledger._executor.shutdown(wait=True)
            raise
        ledger._task = loop.create_task(ledger._run(), name="ledger-writer")
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

    # ------------------------------------------------------------------ public API
    async def write(self, table: str, rows: Iterable[Row]) -> None:
        """Queue rows and wait until they are durably committed (raises LedgerError if not)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(_Item(table, self._tuples(table, rows), future))
        self._durable_waiting.set()
        await future

    def append(self, table: str, rows: Iterable[Row]) -> None:
        """Queue rows to be committed within ``commit_delay_s``; never blocks."""
        self._put(_Item(table, self._tuples(table, rows), None))

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(_Item("", [], future))
        self._durable_waiting.set()
        await future

    async def close(self) -> None:
        if self._task is None:
            return
        self._put(_STOP)
        self._closing = True  # rows offered from now on would never be committed: refuse them
        self._durable_waiting.set()
        await self._task
        self._task = None
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_sync)
        self._executor.shutdown(wait=True)

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ queueing
    def _put(self, item: _Item) -> None:
        if (self._task is None or self._closing) and item is not _STOP:
            raise LedgerError("ledger is closed")
        self._queue.put_nowait(item)

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

    # ------------------------------------------------------------------ writer task
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            batch = [first]
            if first.future is None and first is not _STOP:
                # Only background rows so far: give others up to the delay to join the batch,
                # but commit at once when a durable write arrives.
                try:
                    await asyncio.wait_for(self._durable_waiting.wait(), self.commit_delay_s)
                except TimeoutError:
                    pass
            self._durable_waiting.clear()
            rows = len(first.rows)
            while rows < self.max_batch_rows and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                rows += len(item.rows)
            if not self._queue.empty():
                self._durable_waiting.set()  # a backlog: the next batch goes without waiting
            stopping = any(item is _STOP for item in batch)
            batch = [item for item in batch if item is not _STOP]
            try:
                errors = await loop.run_in_executor(self._executor, self._commit, batch)
            except Exception as exc:  # the file itself failed (disk full, I/O error)
                log.critical("ledger_commit_failed", error=repr(exc), rows=sum(len(i.rows) for i in batch))
                errors = [LedgerError(f"ledger commit failed: {exc}")] * len(batch)
            for item, error in zip(batch, errors, strict=True):
                if item.future is None:
                    continue  # rejected background rows were logged one by one
                if error is not None:
                    log.error("ledger_write_rejected", table=item.table, error=str(error))
                if not item.future.done():
                    if error is None:
                        item.future.set_result(None)
                    else:
                        item.future.set_exception(error)

    def _commit(self, batch: Sequence[_Item]) -> list[LedgerError | None]:
        errors = self._commit_batch(batch)
        self._maybe_checkpoint(durable=any(item.future is not None for item in batch))
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


_NATIVE = frozenset({int, str, float, bytes, bool, type(None)})
"""Types sqlite3 binds as they are (bool as 0/1); anything else goes through ``_value``."""


def _value(value: Any) -> Any:
    """Enums and bools to what SQLite stores; everything else as is."""
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value
