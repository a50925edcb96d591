"""Read the ledger: its rows, the history the risk engine replays at start, inspection.

State is never stored as a mutable row; it is folded from the append-only tables, so a
restart derives exactly what the daemon knew before it stopped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from market.orders import Action, Fill, OrderIntent, Side
from risk.engine import RiskEngine
from risk.locks import Lock, LockLift, active_locks

from .migrate import connect
from .rows import intent_from_row
from .schema import TABLES


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    """A ``settlements`` row as the risk engine replays it."""

    ticker: str
    result: str
    ts_ns: int
    fee: int


class LedgerReader:
    """Read-only view of a ledger file (safe beside a running writer: WAL readers don't block)."""

    def __init__(self, path: Path) -> None:
        self.conn = connect(path, readonly=True)
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ inspection
    def table_counts(self) -> dict[str, int]:
        return {t: self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}

    def last_rows(self, table: str, n: int = 5) -> list[dict[str, Any]]:
        if table not in TABLES:
            raise ValueError(f"no ledger table {table!r}")
        rows = self.conn.execute(f"SELECT * FROM {table} ORDER BY id DESC LIMIT ?", (n,)).fetchall()
        return [dict(r) for r in reversed(rows)]

    def rows(self, table: str, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        if table not in TABLES:
            raise ValueError(f"no ledger table {table!r}")
        sql = f"SELECT * FROM {table} {'WHERE ' + where if where else ''} ORDER BY id"
        return [dict(r) for r in self.conn.execute(sql, params)]

    # ------------------------------------------------------------------ positions and P&L
    def fills(self) -> Iterator[Fill]:
        for r in self.conn.execute("SELECT * FROM fills ORDER BY id"):
            yield Fill(
                r["fill_id"], r["order_id"], r["ticker"], Side(r["side"]), Action(r["action"]),
                r["count"], r["price"], bool(r["is_taker"]), r["fee"],
                r["venue_ts_ns"] or r["ts_ns"], r["client_order_id"],
            )

    def settlement_records(self) -> list[SettlementRecord]:
        """Every settlement in ledger order, stamped with the venue's time where it gave one."""
        return [SettlementRecord(r["ticker"], r["result"], r["venue_ts_ns"] or r["ts_ns"], r["fee"])
                for r in self.conn.execute("SELECT * FROM settlements ORDER BY id")]

    def replay_into(self, risk: RiskEngine, now_ns: int) -> RiskEngine:
        """The ledger's history through the risk engine (the one place risk state is folded):
        what a restarted daemon knows, and what ``status`` shows when no daemon runs."""
        fills = self.rows("fills")
        prices = {f["fill_id"]: f["decision_price"] for f in fills if f["decision_price"]}
        risk.load(self.fills(), self.settlement_records(), *self.locks(), now_ns, decision_prices=prices)
        return risk

    def locks(self) -> tuple[list[Lock], list[LockLift]]:
        locks = [Lock.from_row(r) for r in self.rows("locks")]
        return locks, [LockLift.from_row(r) for r in self.rows("lock_lifts")]

    def active_locks(self, now_ns: int) -> list[Lock]:
        """Locks neither lifted nor expired (``until_ns <= now_ns``) at ``now_ns``."""
        return active_locks(*self.locks(), now_ns)

    def intent_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT client_order_id FROM order_intents")}

    def unanswered_intents(self) -> list[OrderIntent]:
        """Intents written ahead with no ``orders`` row for their client_order_id, oldest first."""
        answered = {r[0] for r in self.conn.execute("SELECT DISTINCT client_order_id FROM orders")}
        return [intent_from_row(r) for r in self.rows("order_intents") if r["client_order_id"] not in answered]
