"""Ledger on real SQLite files: append-only, migrations, group commit, readers, CSV."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.ledger import Ledger, LedgerError, LedgerReader, connect, migrate, schema_version
from daemon.ledger.schema import SCHEMA_VERSION, TABLES
from daemon.ledger.trade_csv import HEADER, TradeCsvError, TradeRow, append_trades, read_trade_csv
from market.orders import Action, Side
from tests.unit.test_ledger_readers import risk_at

NS = 1_000_000_000


def fill_row(fill_id: str, ticker: str, side: str, action: str, count: int, price: int, fee: int, ts: int):
    return {
        "fill_id": fill_id, "order_id": "o-" + fill_id, "client_order_id": "c-" + fill_id,
        "ticker": ticker, "side": side, "action": action, "count": count, "price": price,
        "is_taker": True, "fee": fee, "venue_ts_ns": ts, "ts_ns": ts,
    }


async def test_update_and_delete_are_refused_on_every_table(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    await ledger.close()
    conn = connect(tmp_path / "l.sqlite")
    for table in TABLES:
        columns = [c for c in TABLES[table]]
        values = {c.split()[0]: (1 if "INTEGER" in c else "x") for c in columns}
        conn.execute(
            f"INSERT INTO {table} (ts_ns, {', '.join(values)}) VALUES (1, {', '.join('?' * len(values))})",
            tuple(values.values()),
        )
        with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
            conn.execute(f"UPDATE {table} SET ts_ns = 2")
        with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
            conn.execute(f"DELETE FROM {table}")
    conn.close()


def test_migrations_are_idempotent_and_refuse_newer_files(tmp_path: Path) -> None:
    conn = connect(tmp_path / "l.sqlite")
    assert migrate(conn) == SCHEMA_VERSION
    objects = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
    assert migrate(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == objects
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(LedgerError, match="newer than this edgewarden knows"):
        migrate(conn)
    assert schema_version(conn) == SCHEMA_VERSION + 1


async def test_write_is_durable_and_append_is_committed_within_the_delay(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = await Ledger.open(path, commit_delay_s=0.01)
    ledger.append("metric_samples", [{"name": "a", "value": 1.0}])
    await ledger.write("alerts", [{"name": "x", "severity": "warning", "message": "m"}])
    # The durable write committed everything queued before it, in one transaction.
    with LedgerReader(path) as reader:
        counts = reader.table_counts()
    assert counts["alerts"] == 1 and counts["metric_samples"] == 1
    for i in range(50):
        ledger.append("metric_samples", [{"name": f"m{i}", "value": float(i)}])
    await ledger.flush()
    with LedgerReader(path) as reader:
        names = [r["name"] for r in reader.rows("metric_samples")]
    assert names == ["a"] + [f"m{i}" for i in range(50)]  # order kept
    await ledger.close()


async def test_a_bad_row_fails_only_its_own_write(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    intent = {
        "client_order_id": "dup", "ticker": "T", "side": "yes", "action": "buy", "price": 5_000,
        "count": 100, "time_in_force": "immediate_or_cancel", "post_only": False,
        "reduce_only": False, "strategy": "flb", "decision_ts_ns": 1,
    }
    await ledger.write("order_intents", [intent])
    ledger.append("metric_samples", [{"name": "kept", "value": 1.0}])
    with pytest.raises(LedgerError, match="order_intents: UNIQUE constraint failed"):
        await ledger.write("order_intents", [intent])
    await ledger.write("order_intents", [{**intent, "client_order_id": "other"}])
    with pytest.raises(LedgerError, match="unknown column"):
        ledger.append("alerts", [{"nope": 1}])
    with pytest.raises(LedgerError, match="no ledger table"):
        ledger.append("trades", [{}])
    await ledger.close()
    with LedgerReader(tmp_path / "l.sqlite") as reader:
        assert reader.intent_ids() == {"dup", "other"}
        assert reader.table_counts()["metric_samples"] == 1
    with pytest.raises(LedgerError, match="closed"):
        ledger.append("alerts", [])


async def test_the_ledger_replays_into_positions_daily_pnl_and_loss_streak(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ny_midnight = int(dt.datetime(2026, 3, 10, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4))).timestamp()) * NS
    before, after = ny_midnight - 3600 * NS, ny_midnight + 3600 * NS
    ledger = await Ledger.open(path)
    await ledger.write("fills", [
        fill_row("f1", "A", "yes", "buy", 1_000, 9_000, 63, before),  # 10 YES @ 0.90
        fill_row("f2", "B", "no", "buy", 500, 9_500, 20, before),  # 5 NO @ 0.95
        fill_row("f3", "C", "yes", "buy", 200, 4_000, 0, after),  # open
        fill_row("f4", "A", "yes", "sell", 400, 9_500, 10, after),  # close 4 @ 0.95
    ])
    await ledger.write("settlements", [
        {"ticker": "A", "result": "yes", "payout": 60_000, "fee": 0, "venue_ts_ns": after + 1, "ts_ns": after + 1},
        {"ticker": "B", "result": "yes", "payout": 0, "fee": 0, "venue_ts_ns": after + 2, "ts_ns": after + 2},
    ])
    await ledger.close()
    ny, utc = (risk_at(path, after + 10, tz) for tz in ("America/New_York", "UTC"))
    positions = {t: p for t, p in ny.positions.items() if p.quantity}
    assert list(positions) == ["C"] and positions["C"].quantity == 200
    # Today in New York: f4 (+4×0.05 − 0.10 fee = +$0.10 → 1_000 units... minus fee 10),
    # A settles 6 × (1 − 0.90) = +6_000, B settles −47_500.
    f4 = 400 * 500 // 100 - 10
    assert ny.pnl_today(after + 10) == f4 + 6_000 - 47_500
    # In UTC the whole session is one day, so the morning fees count too.
    assert utc.pnl_today(after + 10) == f4 + 6_000 - 47_500 - 63 - 20
    assert ny.inputs.loss_streak == 1  # B lost, A before it won


def test_trade_csv_header_once_day_rollover_and_round_trip(tmp_path: Path) -> None:
    day1 = int(dt.datetime(2026, 1, 20, 23, 59, 59, tzinfo=dt.UTC).timestamp()) * NS + 123
    rows = [
        TradeRow(day1, "f1", "o1", "c1", "KX-A", Side.YES, Action.BUY, 1_000, 9_200, 5_200, True, "flb"),
        TradeRow(day1 + 2 * NS, "f2", "o2", "c2", "KX-B", Side.NO, Action.BUY, 250, 600, 100, False, "flb"),
    ]
    paths = append_trades(tmp_path, rows[:1])
    append_trades(tmp_path, rows[:1])
    append_trades(tmp_path, rows[1:])
    assert [p.name for p in paths] == ["trades-2026-01-20.csv"]
    first = (tmp_path / "trades-2026-01-20.csv").read_text().splitlines()
    assert first[0] == ",".join(HEADER) and len(first) == 3
    assert first[1].startswith("2026-01-20T23:59:59.000000123Z,f1,o1,c1,KX-A,yes,buy,10.00,0.9200,0.5200,true")
    assert read_trade_csv(tmp_path / "trades-2026-01-20.csv") == [rows[0], rows[0]]
    assert read_trade_csv(tmp_path / "trades-2026-01-21.csv") == [rows[1]]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2026-01-20T00:00:00Z,f,o,c,T,yes,buy,1.00,1.50,0.01,true,s", "price"),
        ("2026-01-20T00:00:00Z,f,o,c,T,maybe,buy,1.00,0.50,0.01,true,s", "side/action"),
        ("2026-01-20T00:00:00Z,f,o,c,T,yes,buy,1.001,0.50,0.01,true,s", "count"),
        ("yesterday,f,o,c,T,yes,buy,1.00,0.50,0.01,true,s", "ts"),
        ("2026-01-20T00:00:00Z,f,o,c,T,yes,buy,1.00,0.50,0.01,yes,s", "is_taker"),
        ("2026-01-20T00:00:00Z,f,o", "expected 12 fields"),
    ],
)
def test_trade_csv_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(",".join(HEADER) + "\n" + line + "\n")
    with pytest.raises(TradeCsvError, match=rf"t\.csv:2: .*{message}"):
        read_trade_csv(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=20), min_size=12, max_size=12))
def test_trade_csv_parser_fuzz(tmp_path: Path, fields: list[str]) -> None:
    path = tmp_path / "fuzz.csv"
    with path.open("w", newline="") as handle:
        import csv

        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerow(fields)
    try:
        rows = read_trade_csv(path)
    except TradeCsvError as exc:
        assert "fuzz.csv:" in str(exc)
        return
    assert all(isinstance(r.count, int) and r.count > 0 for r in rows)
