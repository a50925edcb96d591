"""A restarted gate equals the gate before the stop: rebuilt from a real SQLite ledger."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from daemon.ledger import Ledger, LedgerReader
from market.orders import Action, Fill, Side
from risk import switches
from risk.gate import RiskGate
from risk.locks import Lock, LockLift, operator_halt, operator_resume
from risk.reasons import Reason
from tests.unit.test_risk_gate import limits

NOW = 10**18
S = 1_000_000_000
HOUR = 3_600 * S
L = limits(daily_loss=5_000_000, slippage_window=2, group_cap=1_000_000, loss_streak_pause_ns=4 * HOUR)
MARKETS = {"A": 0, "B": 0, "C": -1}


def fill(n: int, ticker: str, side: Side, action: Action, price: int, count: int, ts: int, fee: int = 0) -> Fill:
    return Fill(f"f{n}", f"o{n}", ticker, side, action, count, price, True, fee, ts)


def fill_row(f: Fill, decision_price: int | None) -> dict:
    return {"ts_ns": f.ts_ns, "fill_id": f.fill_id, "order_id": f.order_id, "client_order_id": None,
            "ticker": f.ticker, "side": f.side.value, "action": f.action.value, "count": f.count,
            "price": f.price, "is_taker": f.is_taker, "fee": f.fee, "strategy": "flb",
            "decision_price": decision_price, "venue_ts_ns": f.ts_ns}


async def read_back(path: Path, now: int) -> RiskGate:
    """What the daemon does at start: read the ledger, hand it to ``RiskGate.rebuild``."""
    with LedgerReader(path) as reader:
        fills_rows = reader.rows("fills")
        settlements = [SimpleNamespace(ticker=r["ticker"], result=r["result"], ts_ns=r["venue_ts_ns"],
                                       fee=r["fee"]) for r in reader.rows("settlements")]
        locks = [Lock.from_row(r) for r in reader.rows("locks")]
        lifts = [LockLift.from_row(r) for r in reader.rows("lock_lifts")]
        fills = list(reader.fills())
    prices = {r["fill_id"]: r["decision_price"] for r in fills_rows if r["decision_price"]}
    return RiskGate.rebuild(L, None, locks, lifts, fills, settlements, now, MARKETS, prices)


def snapshot(gate: RiskGate, now: int) -> dict:
    n = len(gate.tickers)
    return {"tickers": gate.tickers, "position": gate.position[:n].tolist(), "cost": gate.cost[:n].tolist(),
            "group_exposure": gate.group_exposure.tolist(), "blocked": gate.blocked[:n].tolist(),
            "state": gate.trading_state, "positions": gate.positions, "active": gate.active,
            "pnl_today": gate.inputs.pnl_today(now), "streak": gate.inputs.loss_streak,
            "slippage": gate.inputs.slippage.newest(10)}


async def test_restart_rebuilds_positions_pnl_streak_slippage_and_locks(tmp_path: Path) -> None:
    path = tmp_path / "edgewarden.sqlite"
    live = RiskGate(L)
    for ticker, group in MARKETS.items():
        live.update_book(live.register_market(ticker, group), NOW, 100)
    ledger = await Ledger.open(path)
    trades = [
        (fill(1, "A", Side.YES, Action.BUY, 4_000, 500, NOW - 50, fee=100), 3_990),
        (fill(2, "A", Side.YES, Action.SELL, 4_500, 200, NOW - 40, fee=100), 4_510),
        (fill(3, "B", Side.NO, Action.BUY, 7_000, 300, NOW - 30), None),
        (fill(4, "C", Side.YES, Action.BUY, 2_000, 100, NOW - 20), 2_000),
    ]
    for f, decided in trades:
        live.on_fill(f, decided)
    await ledger.write("fills", [fill_row(f, d) for f, d in trades])
    live.on_settlement("B", Side.YES, NOW - 10)  # the NO position loses
    await ledger.write("settlements", [{"ts_ns": NOW - 10, "ticker": "B", "result": "yes", "payout": 0,
                                        "fee": 0, "venue_ts_ns": NOW - 10}])
    live.update_book(2, NOW - 40 * S, 100)  # C goes stale
    halt = operator_halt("news", "alice", NOW - 5)
    live.add_locks([halt], NOW - 5)
    tripped = live.evaluate_switches(NOW)
    assert [lk.rule for lk in tripped] == ["stale_book"]
    await ledger.write("locks", [lk.to_row() for lk in (halt, *tripped)])
    await ledger.close()

    before = snapshot(live, NOW)
    assert before["state"] == "HALTED" and before["blocked"] == [0, 0, 1] and before["streak"] == 1
    assert before["pnl_today"] == live.positions["A"].realized_pnl + live.positions["B"].realized_pnl
    after = await read_back(path, NOW)
    after.update_book(2, NOW - 40 * S, 100)
    for ticker in ("A", "B"):
        after.update_book(after.slots[ticker], NOW, 100)
    assert snapshot(after, NOW) == before  # a halted daemon restarts halted, with everything else
    assert after.decide_one(0, 0, 5_000, 0.9, 10**6, NOW)[1] == Reason.HALTED

    # The operator resumes: the lift is recorded with who and why, and survives the next restart.
    lift = operator_resume(halt.lock_id, "bob", "news digested", NOW + 1)
    ledger = await Ledger.open(path)
    await ledger.write("lock_lifts", [lift.to_row()])
    await ledger.close()
    again = await read_back(path, NOW + 2)
    assert again.lifts == [LockLift(halt.lock_id, "bob", "news digested", NOW + 1)]
    assert again.trading_state == "ACTIVE" and again.blocked[:3].tolist() == [0, 0, 1]


async def test_every_kill_switch_lock_survives_a_restart_until_resumed(tmp_path: Path) -> None:
    lim = limits(group_cap=10, loss_streak_pause_ns=4 * HOUR)
    locks = [
        switches.daily_loss(-10**9, lim, NOW, NOW + HOUR),
        switches.loss_streak(9, lim, NOW),
        switches.slippage([500.0] * lim.slippage_window, lim, NOW),
        switches.error_burst([NOW] * 50, lim, NOW),
        switches.stale_book("C", 0, lim, NOW),
        switches.no_fills(99, lim, NOW),
        switches.correlation_breach("g", 11, lim, NOW),
        switches.exchange_not_trading(False, NOW),
        switches.environment_kill({"EDGEWARDEN_KILL": "1"}, False, NOW),
        operator_halt("test", "carol", NOW),
    ]
    path = tmp_path / "edgewarden.sqlite"
    ledger = await Ledger.open(path)
    await ledger.write("locks", [lk.to_row() for lk in locks])
    await ledger.close()
    gate = await read_back(path, NOW + 1)
    assert gate.active == locks and gate.trading_state == "HALTED" and gate.blocked[2] == 1
    # Lift them one by one; each lift is a recorded row, and the state follows the fold.
    ledger = await Ledger.open(path)
    for i, lock in enumerate(locks):
        lift = operator_resume(lock.lock_id, "dave", f"checked {lock.rule}", NOW + 2 + i)
        await ledger.write("lock_lifts", [lift.to_row()])
    await ledger.close()
    gate = await read_back(path, NOW + 100)
    assert gate.active == [] and gate.trading_state == "ACTIVE" and gate.blocked[2] == 0
    assert [(lf.who, lf.why) for lf in gate.lifts] == [("dave", f"checked {lk.rule}") for lk in locks]
