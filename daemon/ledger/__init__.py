"""The append-only SQLite ledger, its single writer, readers and the CSV trade log."""

from risk.calendar import day_start_ns  # one definition of the trading day

from .migrate import LedgerError, connect, migrate, schema_version
from .readers import LedgerReader
from .writer import Ledger

LEDGER_FILE = "edgewarden.sqlite"

__all__ = [
    "LEDGER_FILE", "Ledger", "LedgerError", "LedgerReader", "connect", "day_start_ns",
    "migrate", "schema_version",
]
