"""State rebuilt from a real ledger file (replayed into the risk engine): positions, daily P&L,
loss streak, locks, inspection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.ledger import Ledger, LedgerError, LedgerReader, day_start_ns
from daemon.ledger.rows import intent_row
from market.orders import Action, Fill, OrderIntent, Position, Side, TimeInForce
from risk.engine import RiskEngine
from risk.locks import GLOBAL, Lock, LockLift
from tests.unit.test_risk_gate import limits

NS = 1_000_000_000
HOUR = 3_600 * NS
NY = ZoneInfo("America/New_York")


def at(year: int, month: int, day: int, hour: int = 0, zone: ZoneInfo = NY) -> int:
    return int(dt.datetime(year, month, day, hour, tzinfo=zone).timestamp()) * NS


def fill(fid: str, ticker: str, side: str, action: str, count: int, price: int, fee: int, ts: int) -> dict:
    return {"fill_id": fid, "order_id": "o" + fid, "client_order_id": None, "ticker": ticker,
            "side": side, "action": action, "count": count, "price": price, "is_taker": True,
            "fee": fee, "venue_ts_ns": ts, "ts_ns": ts + 5}


def settle(ticker: str, result: str, ts: int, fee: int = 0) -> dict:
    return {"ticker": ticker, "result": result, "payout": 0, "fee": fee, "venue_ts_ns": ts, "ts_ns": ts}


def risk_at(path: Path, now: int, tz: str = "UTC") -> RiskEngine:
    """What a daemon started at ``now`` knows: the ledger's events up to then, replayed."""
    risk = RiskEngine(limits(day_boundary_tz=tz))
    with LedgerReader(path) as reader:
        risk.load([f for f in reader.fills() if f.ts_ns <= now],
                  [s for s in reader.settlement_records() if s.ts_ns <= now], [], [], now)
    return risk


def held(risk: RiskEngine) -> dict[str, Position]:
    return {t: p for t, p in risk.positions.items() if p.quantity}


async def ledger_with(path: Path, **tables: list[dict]) -> Path:
    ledger = await Ledger.open(path)
    for table, rows in tables.items():
        await ledger.write(table, rows)
    await ledger.close()
    return path


async def test_positions_fold_with_the_same_convention_as_market_orders(tmp_path: Path) -> None:
    t = at(2026, 1, 20, 12)
    rows = [
        fill("1", "A", "yes", "buy", 1_000, 4_000, 70, t),
        fill("2", "A", "no", "buy", 300, 5_500, 20, t + 1),   # YES+NO nets out: closes 3
        fill("3", "B", "no", "buy", 500, 3_000, 10, t + 2),   # short YES: quantity −5
        fill("4", "C", "yes", "buy", 200, 5_000, 0, t + 3),
        fill("5", "C", "yes", "sell", 200, 6_000, 0, t + 4),  # flat again
    ]
    path = await ledger_with(tmp_path / "l.sqlite", fills=rows)
    expected: dict[str, Position] = {}
    for r in rows:
        f = Fill(r["fill_id"], r["order_id"], r["ticker"], Side(r["side"]), Action(r["action"]),
                 r["count"], r["price"], r["is_taker"], r["fee"], r["venue_ts_ns"])
        expected[f.ticker] = expected.get(f.ticker, Position(f.ticker)).apply(f)
    folded = risk_at(path, t + 10).positions
    positions = held(risk_at(path, t + 10))
    assert set(positions) == {"A", "B"}  # C is flat
    assert positions["A"].quantity == 700 and positions["B"].quantity == -500
    assert folded == expected


async def test_daily_pnl_follows_the_time_zone_and_its_dst_change(tmp_path: Path) -> None:
    # 2026-03-08 is the spring-forward day in New York: that day is 23 hours long.
    midnight = at(2026, 3, 8)
    rows = [
        fill("1", "A", "yes", "buy", 100, 5_000, 100, midnight - 1),        # fee on the 7th (NY)
        fill("2", "A", "yes", "sell", 100, 6_000, 100, midnight),           # +100 − fee on the 8th
        fill("3", "B", "yes", "buy", 100, 2_000, 30, midnight + 22 * HOUR),  # still the 8th (23 h day)
        fill("4", "B", "yes", "buy", 100, 2_000, 40, midnight + 23 * HOUR),  # the 9th
    ]
    path = await ledger_with(tmp_path / "l.sqlite", fills=rows,
                             settlements=[settle("B", "no", midnight + 23 * HOUR + 1)])
    def pnl(now: int, tz: str) -> int:
        return risk_at(path, now, tz).pnl_today(now)

    assert pnl(midnight - 1, "America/New_York") == -100
    assert pnl(midnight + 22 * HOUR, "America/New_York") == 1_000 - 100 - 30
    assert pnl(midnight + 23 * HOUR + 1, "America/New_York") == -40 - 4_000
    # In UTC the New York midnight is 05:00, so fills 1 and 2 fall on the same day.
    assert pnl(midnight + HOUR, "UTC") == -100 + 1_000 - 100


def test_day_start_is_exact_at_the_last_nanosecond_of_a_day() -> None:
    midnight = at(2026, 3, 10)
    assert day_start_ns(midnight, "America/New_York") == midnight
    assert day_start_ns(midnight - 1, "America/New_York") == at(2026, 3, 9)
    assert day_start_ns(at(2026, 3, 9) - 1, "America/New_York") == at(2026, 3, 8)  # a 23 h day


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 4_000_000_000 * NS), st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]))
def test_day_start_is_a_local_midnight_at_or_before_now(now_ns: int, tz: str) -> None:
    start = day_start_ns(now_ns, tz)
    assert start <= now_ns < start + 26 * HOUR
    local = dt.datetime.fromtimestamp(start // NS, ZoneInfo(tz))
    assert (local.hour, local.minute, local.second) == (0, 0, 0) and start % NS == 0


async def test_loss_streak_counts_losing_settlements_newest_first(tmp_path: Path) -> None:
    t = at(2026, 1, 20)
    fills = [fill(str(i), k, "yes", "buy", 100, 5_000, 0, t + i) for i, k in enumerate("ABCDE")]
    # A loses, B wins, C loses; D settles (a loss) later; E stays open.
    settlements = [settle("A", "no", t + 10), settle("B", "yes", t + 11), settle("C", "no", t + 12)]
    path = await ledger_with(tmp_path / "l.sqlite", fills=fills, settlements=settlements)
    risk = risk_at(path, t + 20)
    assert risk.inputs.loss_streak == 1
    assert [risk.positions[k].realized_pnl for k in "ABC"] == [-5_000, 5_000, -5_000]
    ledger = await Ledger.open(path)
    await ledger.write("settlements", [settle("D", "no", t + 13)])
    await ledger.close()
    risk = risk_at(path, t + 20)
    assert risk.inputs.loss_streak == 2
    assert set(held(risk)) == {"E"}


async def test_a_settlement_fee_can_turn_a_win_into_a_loss(tmp_path: Path) -> None:
    t = at(2026, 1, 20)
    path = await ledger_with(tmp_path / "l.sqlite",
                             fills=[fill("1", "A", "yes", "buy", 100, 9_900, 0, t)],
                             settlements=[settle("A", "yes", t + 1, fee=200)])
    risk = risk_at(path, t + 10)
    assert risk.positions["A"].realized_pnl == 100 - 200
    assert risk.inputs.loss_streak == 1


async def test_active_locks_expire_and_are_lifted(tmp_path: Path) -> None:
    t = at(2026, 1, 20)
    halt = Lock.make("operator_halt", GLOBAL, "HALTED", "by hand", t)
    streak = Lock.make("loss_streak", GLOBAL, "HALTED", "5 losses", t + 1, until_ns=t + HOUR)
    stale = Lock.make("stale_book", "KX-A", "BLOCKED", "old book", t + 2)
    other = Lock.make("stale_book", "KX-B", "BLOCKED", "old book", t + 3)
    lifts = [LockLift(stale.lock_id, "ops", "fresh", t + 10)]
    path = await ledger_with(tmp_path / "l.sqlite", locks=[x.to_row() for x in (halt, streak, stale, other)],
                             lock_lifts=[x.to_row() for x in lifts])
    with LedgerReader(path) as reader:
        ids = lambda now: {lock.lock_id for lock in reader.active_locks(now)}  # noqa: E731
        assert ids(t + 5) == {halt.lock_id, streak.lock_id, stale.lock_id, other.lock_id}
        assert ids(t + 10) == {halt.lock_id, streak.lock_id, other.lock_id}  # lifted
        assert ids(t + HOUR) == {halt.lock_id, other.lock_id}  # until_ns <= now: expired
        assert reader.active_locks(t)[0] == halt  # rows round-trip into the same Lock
    ledger = await Ledger.open(path)
    await ledger.write("lock_lifts", [LockLift(GLOBAL, "ops", "all clear", t + 2 * HOUR).to_row()])
    await ledger.close()
    with LedgerReader(path) as reader:
        assert reader.active_locks(t + 2 * HOUR) == []
        assert len(reader.active_locks(t + 5)) == 4  # history is still there for an earlier time


async def test_unanswered_intents_are_those_with_no_orders_row(tmp_path: Path) -> None:
    intents = [OrderIntent(f"c{i}", "A", Side.YES, Action.BUY, 4_000 + i, 100, TimeInForce.IOC,
                           False, False, "flb", 0.5, 10 + i) for i in range(3)]
    path = await ledger_with(tmp_path / "l.sqlite", order_intents=[intent_row(i) for i in intents],
                             orders=[{"client_order_id": "c1", "ticker": "A", "status": "failed",
                                      "event": "not_sent"}])
    with LedgerReader(path) as reader:
        assert reader.unanswered_intents() == [intents[0], intents[2]]
        assert reader.intent_ids() == {"c0", "c1", "c2"}


async def test_inspection_while_the_writer_is_open(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with pytest.raises(LedgerError, match="no ledger at"):
        LedgerReader(path)
    ledger = await Ledger.open(path)
    await ledger.write("alerts", [{"name": f"a{i}", "severity": "warning", "message": "m"} for i in range(7)])
    with LedgerReader(path) as reader:  # WAL: a reader beside the live writer
        counts = reader.table_counts()
        assert counts["alerts"] == 7 and sum(counts.values()) == 7
        last = reader.last_rows("alerts", 3)
        assert [r["name"] for r in last] == ["a4", "a5", "a6"] and set(last[0]) >= {"id", "ts_ns"}
        with pytest.raises(ValueError, match="no ledger table"):
            reader.last_rows("sqlite_master", 1)
        with pytest.raises(Exception, match="readonly"):
            reader.conn.execute("INSERT INTO alerts (ts_ns, name, severity, message) VALUES (1, 'x', 'y', 'z')")
    await ledger.close()
