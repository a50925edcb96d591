"""What ``backtest`` needs of a daemon ledger: its rows, table by table.

The daemon owns the ledger's file and schema; it opens its reader and hands it in, so
``backtest`` never imports ``daemon``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol


class LedgerRows(Protocol):
    """An open ledger: every row of ``table``, oldest first, as column → value."""

    def rows(self, table: str) -> list[dict[str, Any]]: ...


# Opens the ledger file at a path; raises DataError when it is not a readable ledger.
LedgerOpener = Callable[[Path], AbstractContextManager[LedgerRows]]
