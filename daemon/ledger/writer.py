"""The ledger's single writer: rows queue up, one transaction commits a whole batch.

``await write(...)`` returns only after its rows are committed (fills, settlements).
``append(...)`` returns at once and its rows are committed within ``commit_delay_s``
(metrics, decisions, snapshots). Both go through one queue, so rows keep
their order, and a row queued before an acknowledged write is committed with or before it.

:class:`Ledger` is put together from one part per concept: when a batch goes and the
order path's quiet window (``batching.py``), the writer thread and its commits and
checkpoints (``commit.py``), and order intents written ahead through the intent journal
(``write_ahead.py``). The parts share the state set in ``Ledger.__init__``; they are base
classes, not objects of their own, so the order path makes no extra call.
"""

from __future__ import annotations

import asyncio
import operator
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .batching import HOLD_MAX_S, Batching, QueueItem
from .commit import CHECKPOINT_ROWS, CommitThread
from .intent_journal import IntentJournal
from .migrate import LedgerError, connect, migrate, table_columns
from .rows import INTENT_COLUMNS
from .schema import TABLES
from .write_ahead import INTENT_SYNC_MODES, IntentSync, WriteAhead

__all__ = ["CHECKPOINT_ROWS", "HOLD_MAX_S", "INTENT_SYNC_MODES", "IntentSync", "Ledger", "Row"]

Row = Mapping[str, Any]


class Ledger(WriteAhead, Batching, CommitThread):
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
        self._pending: deque[QueueItem] = deque()
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
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # see commit.py
        for table in TABLES:
            columns = table_columns(self._conn, table)
            self._columns[table] = columns
            self._column_sets[table] = frozenset(columns)
            self._getters[table] = operator.itemgetter(*columns)
            marks = ", ".join("?" * len(columns))
            self._sql[table] = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        self._open_journal()

    # ------------------------------------------------------------------ public API
    async def write(self, table: str, rows: Iterable[Row]) -> None:
        """Queue rows and wait until they are committed (raises LedgerError if not)."""
        item = QueueItem(table, self._tuples(table, rows), self._new_future())
        self._put(item)
        await item.future  # type: ignore[misc]

    def append(self, table: str, rows: Iterable[Row]) -> None:
        """Queue rows to be committed within ``commit_delay_s``; never blocks."""
        self._put(QueueItem(table, self._tuples(table, rows), None))

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        future = self._new_future()
        self._put(QueueItem("", [], future))
        await future

    async def close(self) -> None:
        """Commit everything queued, sync, close the file; rows offered from now on are refused."""
        if self._thread is None:
            return
        future = self._new_future()
        self._put(QueueItem("", [], future, stop=True))
        self._closing = True
        await future
        self._thread.join()  # it has answered; it only returns now
        self._thread = None

    def _new_future(self) -> asyncio.Future[None]:
        if self._loop is None:
            raise LedgerError("ledger is closed")
        return self._loop.create_future()

    # ------------------------------------------------------------------ rows → values
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


_NATIVE = frozenset({int, str, float, bytes, bool, type(None)})
"""Types sqlite3 binds as they are (bool as 0/1); anything else goes through ``_value``."""


def _value(value: Any) -> Any:
    """Enums and bools to what SQLite stores; everything else as is."""
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value
