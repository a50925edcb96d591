"""The append-only SQLite ledger, its single writer, readers and the CSV trade log."""

from .migrate import LedgerError, connect, migrate, schema_version
from .readers import LedgerReader, day_start_ns
from .writer import Ledger

LEDGER_FILE = "edgewarden.sqlite"

__all__ = [
    "LEDGER_FILE", "Ledger", "LedgerError", "LedgerReader", "connect", "day_start_ns",
    "migrate", "schema_version",
]
