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

LINEAGE_TABLES: dict[str, tuple[str, ...]] = {
    # Migration 2: every prediction a graded, traceable fact (issue "Predictions that are graded").
    "events": (
        "event_id TEXT NOT NULL UNIQUE", "league TEXT", "home TEXT", "away TEXT",
        "commence_ts_ns INTEGER", "kalshi_event_ticker TEXT", "odds_event_id TEXT",
    ),
    "model_runs": (
        "run_id TEXT NOT NULL UNIQUE", "strategy TEXT NOT NULL", "strategy_version TEXT",
        "config_sha256 TEXT", "calibration_version TEXT", "policy_version TEXT",
        "trigger TEXT NOT NULL", "duration_ns INTEGER", "markets INTEGER",
    ),
    "run_inputs": (
        "run_id TEXT NOT NULL", "source TEXT NOT NULL", "ref TEXT NOT NULL", "ticker TEXT", "body TEXT",
    ),
    "predictions": (
        "prediction_id TEXT NOT NULL UNIQUE", "run_id TEXT NOT NULL", "strategy TEXT NOT NULL",
        "ticker TEXT NOT NULL", "event_id TEXT", "market_key TEXT", "side TEXT NOT NULL",
        "probability REAL NOT NULL", "price INTEGER", "edge REAL", "kind TEXT NOT NULL",
        "client_order_id TEXT",
    ),
    "published_predictions": (
        "publish_key TEXT NOT NULL UNIQUE", "prediction_id TEXT NOT NULL", "strategy TEXT NOT NULL",
        "ticker TEXT NOT NULL", "side TEXT NOT NULL", "probability REAL NOT NULL", "price INTEGER",
        "client_order_id TEXT", "is_official INTEGER NOT NULL",
    ),
    "results": (
        "ticker TEXT NOT NULL UNIQUE", "result TEXT NOT NULL", "payout INTEGER", "venue_ts_ns INTEGER",
    ),
    "grades": (
        "publish_key TEXT NOT NULL UNIQUE", "strategy TEXT NOT NULL", "ticker TEXT NOT NULL",
        "side TEXT NOT NULL", "outcome TEXT NOT NULL", "probability REAL NOT NULL", "price INTEGER",
        "y INTEGER", "brier REAL", "log_loss REAL", "closing_probability REAL", "clv REAL",
        "settled_ts_ns INTEGER",
    ),
}
TABLES.update(LINEAGE_TABLES)

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
        if table not in LINEAGE_TABLES:
            statements += _create_table(table, columns)
    return statements + list(_INDEXES)


def _lineage() -> list[str]:
    statements: list[str] = []
    for table, columns in LINEAGE_TABLES.items():
        statements += _create_table(table, columns)
    return statements + [
        "CREATE INDEX idx_predictions_run ON predictions(run_id)",
        "CREATE INDEX idx_predictions_ticker_ts ON predictions(ticker, ts_ns)",
        "CREATE INDEX idx_predictions_coid ON predictions(client_order_id)",
        "CREATE INDEX idx_run_inputs_run ON run_inputs(run_id)",
        "CREATE INDEX idx_decisions_coid ON decisions(client_order_id)",
        "CREATE INDEX idx_fills_coid ON fills(client_order_id)",
    ]


MIGRATIONS: tuple[tuple[str, ...], ...] = (
    tuple(_initial()),
    tuple(_lineage()),
)
"""Forward-only: migration N (1-based) brings the schema from version N−1 to N. Never edit a
shipped entry; append a new one."""

SCHEMA_VERSION = len(MIGRATIONS)
