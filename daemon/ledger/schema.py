"""Ledger tables and forward-only migrations.

Every table is append-only (DESIGN principle 3): triggers make UPDATE and DELETE fail, so
a correction is a new row and a restart can rebuild exact state by reading forward. Money,
prices and counts are INTEGER columns in the units of ``market.units``; times are ns UTC.
"""

from __future__ import annotations

# Columns after the implicit ``id INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL``.
TABLES: dict[str, tuple[str, ...]] = {
    "markets": (
        "ticker TEXT NOT NULL", "event_ticker TEXT", "series_ticker TEXT", "status TEXT",
        "close_ts_ns INTEGER", "result TEXT", "body TEXT",
    ),
    "book_snapshots": (
        "ticker TEXT NOT NULL", "yes_bid INTEGER", "yes_ask INTEGER", "yes_bid_size INTEGER",
        "yes_ask_size INTEGER", "body TEXT",
    ),
    "odds_snapshots": (
        "event_id TEXT NOT NULL", "sport_key TEXT", "bookmaker TEXT", "market TEXT", "body TEXT",
    ),
    "signals": (
        "strategy TEXT NOT NULL", "ticker TEXT NOT NULL", "side TEXT NOT NULL",
        "price INTEGER NOT NULL", "fair_probability REAL",
    ),
    "decisions": (
        "client_order_id TEXT", "ticker TEXT NOT NULL", "side TEXT NOT NULL", "action TEXT NOT NULL",
        "price INTEGER NOT NULL", "proposed_count INTEGER NOT NULL",
        "approved_count INTEGER NOT NULL", "reason TEXT NOT NULL", "strategy TEXT",
        "fair_probability REAL",
    ),
    "order_intents": (
        "client_order_id TEXT NOT NULL UNIQUE", "ticker TEXT NOT NULL", "side TEXT NOT NULL",
        "action TEXT NOT NULL", "price INTEGER NOT NULL", "count INTEGER NOT NULL",
        "time_in_force TEXT NOT NULL", "post_only INTEGER NOT NULL", "reduce_only INTEGER NOT NULL",
        "strategy TEXT NOT NULL", "fair_probability REAL", "decision_ts_ns INTEGER NOT NULL",
    ),
    "orders": (
        "order_id TEXT", "client_order_id TEXT NOT NULL", "ticker TEXT NOT NULL", "side TEXT",
        "action TEXT", "status TEXT NOT NULL", "price INTEGER", "initial_count INTEGER",
        "fill_count INTEGER", "remaining_count INTEGER", "taker_fees INTEGER", "maker_fees INTEGER",
        "event TEXT NOT NULL", "error TEXT",
    ),
    "fills": (
        "fill_id TEXT NOT NULL UNIQUE", "order_id TEXT NOT NULL", "client_order_id TEXT",
        "ticker TEXT NOT NULL", "side TEXT NOT NULL", "action TEXT NOT NULL",
        "count INTEGER NOT NULL", "price INTEGER NOT NULL", "is_taker INTEGER NOT NULL",
        "fee INTEGER NOT NULL", "strategy TEXT", "decision_price INTEGER", "venue_ts_ns INTEGER",
    ),
    "settlements": (
        "ticker TEXT NOT NULL UNIQUE", "result TEXT NOT NULL", "payout INTEGER NOT NULL",
        "fee INTEGER NOT NULL", "venue_ts_ns INTEGER",
    ),
    "position_snapshots": (
        "ticker TEXT NOT NULL", "quantity INTEGER NOT NULL", "cost INTEGER",
        "realized_pnl INTEGER", "fees_paid INTEGER", "source TEXT NOT NULL",
    ),
    "locks": (
        "lock_id TEXT NOT NULL UNIQUE", "rule TEXT NOT NULL", "scope TEXT NOT NULL",
        "state TEXT NOT NULL", "reason TEXT NOT NULL", "until_ns INTEGER",
    ),
    "lock_lifts": ("lock_id TEXT NOT NULL", "who TEXT NOT NULL", "why TEXT NOT NULL"),
    "alerts": ("name TEXT NOT NULL", "severity TEXT NOT NULL", "message TEXT NOT NULL", "runbook TEXT"),
    "metric_samples": ("name TEXT NOT NULL", "labels TEXT", "value REAL NOT NULL"),
    "config_versions": ("sha256 TEXT NOT NULL", "body TEXT NOT NULL"),
    "daily_summaries": ("day TEXT NOT NULL", "body TEXT NOT NULL"),
}

COLUMNS: dict[str, tuple[str, ...]] = {
    table: ("ts_ns", *(c.split()[0] for c in cols)) for table, cols in TABLES.items()
}

_INDEXES = (
    "CREATE INDEX idx_fills_ticker ON fills(ticker)",
    "CREATE INDEX idx_orders_coid ON orders(client_order_id)",
    "CREATE INDEX idx_decisions_ts ON decisions(ts_ns)",
    "CREATE INDEX idx_book_ticker_ts ON book_snapshots(ticker, ts_ns)",
)


def _create_table(table: str, columns: tuple[str, ...]) -> list[str]:
    body = ",\n  ".join(("id INTEGER PRIMARY KEY", "ts_ns INTEGER NOT NULL", *columns))
    return [
        f"CREATE TABLE {table} (\n  {body}\n)",
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


def _initial() -> list[str]:
    statements: list[str] = []
    for table, columns in TABLES.items():
        statements += _create_table(table, columns)
    return statements + list(_INDEXES)


MIGRATIONS: tuple[tuple[str, ...], ...] = (
    tuple(_initial()),
)
"""Forward-only: migration N (1-based) brings the schema from version N−1 to N. Never edit a
shipped entry; append a new one."""

SCHEMA_VERSION = len(MIGRATIONS)
