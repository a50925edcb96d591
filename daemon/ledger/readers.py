"""Rebuild state from the ledger: positions, daily P&L, loss streak, locks, inspection.

State is never stored as a mutable row; it is folded from the append-only tables, so a
restart derives exactly what the daemon knew before it stopped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from market.orders import Action, Fill, Position, Side
from risk.calendar import day_start_ns  # one definition of the trading day
from risk.locks import Lock, LockLift, active_locks

from .migrate import connect
from .schema import TABLES


@dataclass(frozen=True, slots=True)
class PnlEvent:
    """A change of realized P&L: a fill that closed something, a fee, or a settlement."""

    ts_ns: int
    ticker: str
    delta: int


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

    def fold(self) -> tuple[dict[str, Position], list[PnlEvent], dict[str, int]]:
        """Positions by ticker, every realized-P&L change, and the P&L of each settled market."""
        positions: dict[str, Position] = {}
        events: list[PnlEvent] = []
        for fill in self.fills():
            before = positions.get(fill.ticker) or Position(fill.ticker)
            after = before.apply(fill)
            positions[fill.ticker] = after
            events.append(PnlEvent(fill.ts_ns, fill.ticker, after.realized_pnl - before.realized_pnl))
        settled: dict[str, int] = {}
        for r in self.conn.execute("SELECT * FROM settlements ORDER BY id"):
            before = positions.get(r["ticker"]) or Position(r["ticker"])
            after, _payout = before.settle(Side(r["result"]))
            after = Position(after.ticker, 0, 0, after.realized_pnl - r["fee"], after.fees_paid + r["fee"])
            positions[r["ticker"]] = after
            ts = r["venue_ts_ns"] or r["ts_ns"]
            events.append(PnlEvent(ts, r["ticker"], after.realized_pnl - before.realized_pnl))
            settled[r["ticker"]] = after.realized_pnl
        return positions, events, settled

    def positions(self) -> dict[str, Position]:
        return {t: p for t, p in self.fold()[0].items() if p.quantity}

    def daily_pnl(self, now_ns: int, tz: str = "UTC") -> int:
        """Realized P&L after fees since the start of today in ``tz``."""
        start = day_start_ns(now_ns, tz)
        return sum(e.delta for e in self.fold()[1] if start <= e.ts_ns <= now_ns)

    def loss_streak(self) -> int:
        """Consecutive losing settled markets, newest first (a market's P&L over its life)."""
        _positions, _events, settled = self.fold()
        order = [r["ticker"] for r in self.conn.execute("SELECT ticker FROM settlements ORDER BY id DESC")]
        streak = 0
        for ticker in order:
            if settled[ticker] >= 0:
                break
            streak += 1
        return streak

    def settled_pnl(self) -> list[int]:
        """Each settled market's lifetime P&L, oldest settlement first (RiskWatch's input)."""
        settled = self.fold()[2]
        return [settled[r[0]] for r in self.conn.execute("SELECT ticker FROM settlements ORDER BY id")]

    def locks(self) -> tuple[list[Lock], list[LockLift]]:
        locks = [Lock.from_row(r) for r in self.rows("locks")]
        return locks, [LockLift.from_row(r) for r in self.rows("lock_lifts")]

    def active_locks(self, now_ns: int) -> list[Lock]:
        """Locks neither lifted nor expired (``until_ns <= now_ns``) at ``now_ns``."""
        return active_locks(*self.locks(), now_ns)

    def intent_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT client_order_id FROM order_intents")}
