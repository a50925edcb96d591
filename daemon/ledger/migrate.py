"""Open the ledger file with the durability settings and bring its schema up to date."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from .schema import MIGRATIONS, SCHEMA_VERSION


class LedgerError(Exception):
    """The ledger cannot be used as it is (newer schema, corrupt file, bad row)."""


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous=FULL``: a commit is on disk when it returns."""
    if readonly:
        if not path.exists():
            raise LedgerError(f"no ledger at {path}")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created 0600 whatever the umask (SQLite gives its -wal and -shm files the same mode):
        # positions and P&L are private.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        _switch_to_wal(conn)
        conn.execute("PRAGMA synchronous=FULL")
        # Up to 16 MiB of page cache (used only as the file grows): random-keyed unique indexes
        # (client_order_id, fill_id) otherwise re-read and re-write pages every batch. It was
        # 64 MiB: the daemon's RSS then grew ~9 MB a minute (pages of rows appended once and
        # never read again) past its 250 MB goal; the indexes' hot pages fit in 16.
        conn.execute("PRAGMA cache_size=-16384")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _switch_to_wal(conn: sqlite3.Connection, patience_s: float = 5.0) -> None:
    """WAL mode, waiting for another opener of the same new file instead of failing.

    Changing the journal mode can answer "database is locked" at once, without the busy
    handler, while another connection is doing the same or migrating; so retry briefly.
    """
    deadline = time.monotonic() + patience_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def schema_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply missing migrations, each in its own transaction; return the schema version.

    Idempotent: an up-to-date ledger is left untouched. A ledger written by a newer
    edgewarden is refused rather than guessed at.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, applied_ts_ns INTEGER NOT NULL)"
    )
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise LedgerError(
            f"ledger schema version {current} is newer than this edgewarden knows "
            f"({SCHEMA_VERSION}); upgrade edgewarden instead of opening it with an older one"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= version:  # another process got the lock first and did it
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_ts_ns) "
                "VALUES (?, CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER))",
                (version,),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def table_columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    """Insertable columns of ``table`` as the file has them (not the code), ``id`` excluded."""
    rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
    if not rows:
        raise LedgerError(f"ledger has no table {table!r}")
    return tuple(r[1] for r in rows if r[1] != "id")
