"""A restarted risk engine equals the one before the stop: rebuilt from a real SQLite ledger."""

from __future__ import annotations

from pathlib import Path

from daemon.ledger import Ledger, LedgerReader
from market.orders import Action, Fill, Side
from risk.engine import RiskEngine
from risk.locks import LockLift, operator_halt, operator_resume
from risk.reasons import Reason
from risk.switches import SWITCHES, SwitchContext
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


async def read_back(path: Path, now: int) -> RiskEngine:
    """What the daemon does at start: markets registered, the ledger replayed into the engine."""
    risk = RiskEngine(L)
    for ticker, group in MARKETS.items():
        risk.register_market(ticker, group)
    with LedgerReader(path) as reader:
        return reader.replay_into(risk, now)


def snapshot(risk: RiskEngine, now: int) -> dict:
    gate = risk.gate
    n = len(gate.tickers)
    return {"tickers": gate.tickers, "position": gate.position[:n].tolist(), "cost": gate.cost[:n].tolist(),
            "group_exposure": gate.group_exposure.tolist(), "blocked": gate.blocked[:n].tolist(),
            "state": risk.state, "positions": risk.positions, "active": risk.active,
            "pnl_today": risk.pnl_today(now), "streak": risk.inputs.loss_streak,
            "slippage": risk.inputs.slippage.newest(10)}


async def test_restart_rebuilds_positions_pnl_streak_slippage_and_locks(tmp_path: Path) -> None:
    path = tmp_path / "edgewarden.sqlite"
    live = RiskEngine(L)
    for ticker, group in MARKETS.items():
        live.gate.update_book(live.register_market(ticker, group), NOW, 100)
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
    live.gate.update_book(2, NOW - 40 * S, 100)  # C goes stale
    halt = operator_halt("news", "alice", NOW - 5)
    live.lock(halt, NOW - 5)
    tripped = live.evaluate(NOW).locks
    assert [lk.rule for lk in tripped] == ["stale_book"]
    await ledger.write("locks", [lk.to_row() for lk in (halt, *tripped)])
    await ledger.close()

    before = snapshot(live, NOW)
    assert before["state"] == "HALTED" and before["blocked"] == [0, 0, 1] and before["streak"] == 1
    assert before["pnl_today"] == live.positions["A"].realized_pnl + live.positions["B"].realized_pnl
    after = await read_back(path, NOW)
    after.gate.update_book(2, NOW - 40 * S, 100)
    for ticker in ("A", "B"):
        after.gate.update_book(after.gate.slots[ticker], NOW, 100)
    assert snapshot(after, NOW) == before  # a halted daemon restarts halted, with everything else
    assert after.gate.decide_one(0, 0, 5_000, 0.9, 10**6, NOW)[1] == Reason.HALTED

    # The operator resumes: the lift is recorded with who and why, and survives the next restart.
    lift = operator_resume(halt.lock_id, "bob", "news digested", NOW + 1)
    ledger = await Ledger.open(path)
    await ledger.write("lock_lifts", [lift.to_row()])
    await ledger.close()
    again = await read_back(path, NOW + 2)
    assert again.lifts == [LockLift(halt.lock_id, "bob", "news digested", NOW + 1)]
    assert again.state == "ACTIVE" and again.gate.blocked[:3].tolist() == [0, 0, 1]


async def test_every_kill_switch_lock_survives_a_restart_until_resumed(tmp_path: Path) -> None:
    lim = limits(group_cap=10, loss_streak_pause_ns=4 * HOUR)
    tripping = SwitchContext(
        NOW, lim, NOW + HOUR, pnl_today=-10**9, loss_streak=9, slippage_mean_bps=500.0,
        slippage_fills=lim.slippage_window, errors_last_hour=50, scans_without_fill=99,
        exchange_trading=False, env_kill=True, group_exposure={"g": 11}, stale_books={"C": 0})
    locks = [lock for switch in SWITCHES for lock in switch.check(tripping)]
    assert len(locks) == len(SWITCHES)  # every switch trips once
    locks.append(operator_halt("test", "carol", NOW))
    path = tmp_path / "edgewarden.sqlite"
    ledger = await Ledger.open(path)
    await ledger.write("locks", [lk.to_row() for lk in locks])
    await ledger.close()
    risk = await read_back(path, NOW + 1)
    assert risk.active == locks and risk.state == "HALTED" and risk.gate.blocked[2] == 1
    # Lift them one by one; each lift is a recorded row, and the state follows the fold.
    ledger = await Ledger.open(path)
    for i, lock in enumerate(locks):
        lift = operator_resume(lock.lock_id, "dave", f"checked {lock.rule}", NOW + 2 + i)
        await ledger.write("lock_lifts", [lift.to_row()])
    await ledger.close()
    risk = await read_back(path, NOW + 100)
    assert risk.active == [] and risk.state == "ACTIVE" and risk.gate.blocked[2] == 0
    assert [(lf.who, lf.why) for lf in risk.lifts] == [("dave", f"checked {lk.rule}") for lk in locks]
