"""Read the ledger: its rows, the history the risk engine replays at start, inspection.

State is never stored as a mutable row; it is folded from the append-only tables, so a
restart derives exactly what the daemon knew before it stopped.
"""

from __future__ import annotations

import json
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
    payout: int


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

    def closing_lines(self) -> dict[tuple[str, str], float]:
        """(strategy, ticker) → the last fair YES probability recorded before the market stopped
        trading: its ``close`` prediction, else its latest ``interval`` one."""
        lines: dict[tuple[str, str], float] = {}
        for kind in ("interval", "close"):  # close last, so it wins
            for strategy, ticker, p in self.conn.execute(
                    "SELECT strategy, ticker, probability FROM predictions WHERE kind = ? AND side = 'yes' "
                    "ORDER BY id", (kind,)):
                lines[strategy, ticker] = p
        return lines

    def market_results(self) -> dict[str, tuple[str, int]]:
        """ticker → (result, when), from ``results`` (void and scalar too), else ``settlements``."""
        out = {r["ticker"]: (r["result"], r["venue_ts_ns"] or r["ts_ns"]) for r in self.rows("settlements")}
        out.update({r["ticker"]: (r["result"], r["venue_ts_ns"] or r["ts_ns"]) for r in self.rows("results")})
        return out

    def trace(self, client_order_id: str) -> dict[str, Any] | None:
        """An order's lineage: fills → order answers → intent → decision → prediction → model
        run → its inputs (the quote, the odds snapshots), and its grade. None when no intent
        has this client_order_id."""
        coid = (client_order_id,)
        intent = self.rows("order_intents", "client_order_id = ?", coid)
        if not intent:
            return None
        predictions = self.rows("predictions", "client_order_id = ?", coid)
        runs = []
        for prediction in predictions:
            run = self.rows("model_runs", "run_id = ?", (prediction["run_id"],))
            inputs = self.rows("run_inputs", "run_id = ? AND ticker = ?", (prediction["run_id"], prediction["ticker"]))
            for item in inputs:
                item["snapshots"] = self._snapshots_of(item)
            runs.append({"prediction": prediction, "model_run": run[0] if run else None, "inputs": inputs})
        return {
            "client_order_id": client_order_id,
            "fills": self.rows("fills", "client_order_id = ?", coid),
            "orders": self.rows("orders", "client_order_id = ?", coid),
            "intent": intent[0],
            "decisions": self.rows("decisions", "client_order_id = ?", coid),
            "predictions": runs,
            "published": self.rows("published_predictions", "client_order_id = ?", coid),
            "grades": self.rows("grades", "publish_key = ?", (f"order:{client_order_id}",)),
        }

    def _snapshots_of(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """The ledger's snapshot rows a run input names (``refresh@TS``: the sampled book at
        that refresh, if sampled; ``odds@TS``: that poll's rows for the game)."""
        kind, _, at = item["ref"].partition("@")
        if not at.isdigit():
            return []
        if kind == "refresh":
            return self.rows("book_snapshots", "ticker = ? AND ts_ns = ?", (item["ticker"], int(at)))
        if kind == "odds":
            event = json.loads(item["body"] or "{}").get("odds_event_id")
            return self.rows("odds_snapshots", "ts_ns = ? AND event_id = ?", (int(at), event))
        return []

    def settlement_records(self) -> list[SettlementRecord]:
        """Every settlement in ledger order, stamped with the venue's time where it gave one."""
        return [SettlementRecord(r["ticker"], r["result"], r["venue_ts_ns"] or r["ts_ns"], r["fee"], r["payout"])
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
