"""Kill switches fed event by event through the gate: rings, thresholds, and their locks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from market.orders import Action, Fill, Side
from risk.gate import RiskGate
from risk.reasons import Reason
from risk.rings import Ring
from tests.unit.test_risk_gate import limits

NOW = 10**18
S = 1_000_000_000
HOUR = 3_600 * S
L = limits(daily_loss=12_001, loss_streak=5, max_slippage_bps=50.0, slippage_window=4,
           error_burst_per_hour=10, stale_book_ns=30 * S, no_fills_scans=20, group_cap=1_000_000,
           loss_streak_pause_ns=4 * HOUR)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 16), st.lists(st.tuples(st.integers(0, 100), st.floats(-1e4, 1e4)), max_size=60),
       st.integers(0, 100), st.integers(0, 100), st.integers(0, 20))
def test_ring_kernels_equal_plain_python(capacity, events, lo, hi, k) -> None:
    ring = Ring(capacity)
    for ts, value in events:
        ring.push(ts, value)
    kept = events[-capacity:]
    assert ring.count_in_window(lo, hi) == sum(1 for ts, _ in kept if lo < ts <= hi)
    newest = [v for _, v in kept][-k:] if k else []
    mean, n = ring.mean_of_last(k)
    assert n == len(newest) and ring.newest(k) == newest
    assert mean == (sum(newest) / len(newest) if newest else 0.0)
    grown = ring.resized(capacity + 3)
    assert grown.newest(capacity + 3) == [v for _, v in kept]


def gate_with(*tickers: str, group: int = -1) -> RiskGate:
    gate = RiskGate(L, capacity=4, groups=2)
    for t in tickers:
        gate.update_book(gate.register_market(t, group), NOW, 100)
    return gate


def buy(ticker: str, side: Side, price: int, count: int, ts: int, fee: int = 0, n: int = 0) -> Fill:
    return Fill(f"{ticker}-{n}", f"o-{ticker}-{n}", ticker, side, Action.BUY, count, price, True, fee, ts)


def rules(locks) -> list[str]:
    return sorted(lock.rule for lock in locks)


def test_daily_loss_trips_at_the_limit_not_one_unit_before() -> None:
    for fee, trips in ((0, False), (1, True)):  # losses of 12_000 then 12_001 against a 12_001 limit
        gate = gate_with("A", "B")
        gate.on_fill(buy("A", Side.YES, 6_000, 100, NOW - 10, fee=fee))
        gate.on_fill(buy("B", Side.YES, 6_000, 100, NOW - 10, n=1))
        gate.on_settlement("A", Side.NO, NOW - 5)
        gate.on_settlement("B", Side.NO, NOW - 5)
        assert gate.inputs.pnl_today(NOW) == -12_000 - fee
        locks = gate.evaluate_switches(NOW)
        assert rules(locks) == (["daily_loss"] if trips else [])
        assert gate.trading_state == ("HALTED" if trips else "ACTIVE")
    # The halt ends with the trading day, by itself.
    assert locks[0].until_ns == (NOW // (86_400 * S) + 1) * 86_400 * S
    assert gate.refresh(locks[0].until_ns) == "ACTIVE"
    assert gate.inputs.pnl_today(locks[0].until_ns) == 0


def test_loss_streak_trips_on_the_fifth_loss_and_expires_by_itself() -> None:
    gate = gate_with(*"ABCDEFG")
    results = [Side.NO, Side.NO, Side.YES, Side.NO, Side.NO, Side.NO, Side.NO]  # a win resets
    for i, (ticker, result) in enumerate(zip("ABCDEFG", results, strict=True)):
        gate.on_fill(buy(ticker, Side.YES, 100, 100, NOW - 100 + i, n=i))
        gate.on_settlement(ticker, result, NOW - 50 + i)
        assert gate.evaluate_switches(NOW) == []
    gate.on_fill(buy("H", Side.YES, 100, 100, NOW - 1, n=9))
    gate.on_settlement("H", Side.NO, NOW)
    (lock,) = gate.evaluate_switches(NOW)
    assert lock.rule == "loss_streak" and lock.until_ns == NOW + 4 * HOUR
    assert gate.decide_one(0, 0, 5_000, 0.9, 10**6, NOW)[1] == Reason.HALTED
    assert gate.refresh(NOW + 4 * HOUR - 1) == "HALTED" and gate.refresh(NOW + 4 * HOUR) == "ACTIVE"


def test_slippage_over_the_window_reaches_the_maximum() -> None:
    gate = gate_with("A")
    for i in range(3):
        gate.on_fill(buy("A", Side.YES, 5_025, 100, NOW - 10 + i, n=i), decision_price=5_000)  # 50 bps
    assert gate.evaluate_switches(NOW) == []  # three fills: the window of four is not full
    gate.on_fill(buy("A", Side.YES, 5_024, 100, NOW - 5, n=3), decision_price=5_000)  # 48 bps
    assert gate.evaluate_switches(NOW) == []  # mean 49.5 < 50
    gate.on_fill(buy("A", Side.YES, 5_026, 100, NOW - 4, n=4), decision_price=5_000)  # 52 bps
    (lock,) = gate.evaluate_switches(NOW)  # mean of the newest four: 50
    assert (lock.rule, lock.state, gate.trading_state) == ("slippage", "REDUCING", "REDUCING")


def test_error_burst_counts_the_last_hour_only() -> None:
    gate = gate_with("A")
    gate.on_error(NOW - HOUR)  # exactly an hour old: out of the window
    for i in range(9):
        gate.on_error(NOW - i)
    assert gate.evaluate_switches(NOW) == []
    gate.on_error(NOW)
    assert rules(gate.evaluate_switches(NOW)) == ["error_burst"] and gate.trading_state == "HALTED"


def test_stale_book_blocks_that_market_only_and_lifts_when_fresh() -> None:
    gate = gate_with("A", "B")
    gate.update_book(0, NOW - 30 * S, 100)
    assert gate.evaluate_switches(NOW) == []  # exactly at the limit is still fresh
    (lock,) = gate.evaluate_switches(NOW + 1)
    assert (lock.rule, lock.scope, lock.state) == ("stale_book", "A", "BLOCKED")
    assert gate.trading_state == "ACTIVE" and gate.blocked[:2].tolist() == [1, 0]
    assert gate.decide_one(0, 0, 5_000, 0.9, 10**6, NOW + 1)[1] == Reason.MARKET_LOCKED
    assert gate.evaluate_switches(NOW + 2) == []  # already in force: no second lock
    gate.update_book(0, NOW + 3, 100)
    (lift,) = gate.fresh_book_lifts(NOW + 3)
    assert lift.lock_id == lock.lock_id and gate.blocked[0] == 0


def test_no_fills_in_n_scans() -> None:
    gate = gate_with("A")
    gate.on_scan(0, 0)  # nothing sent, nothing expected: does not count
    for _ in range(19):
        gate.on_scan(1, 0)
    assert gate.evaluate_switches(NOW) == []
    gate.on_scan(0, 0)  # orders still out: counts
    assert rules(gate.evaluate_switches(NOW)) == ["no_fills"]
    gate.on_scan(0, 1)
    assert gate.inputs.scans_without_fill == 0


def test_correlation_breach_exchange_and_environment() -> None:
    gate = gate_with("A", "B", group=1)
    gate.set_position(0, 1_000, 600_000)
    gate.set_position(1, 1_000, 400_000)
    assert gate.evaluate_switches(NOW) == []  # exactly at the group cap
    gate.set_position(1, 1_000, 400_001)
    assert rules(gate.evaluate_switches(NOW)) == ["correlation_breach"]
    gate.set_exchange_trading(False)
    assert rules(gate.evaluate_switches(NOW)) == ["exchange_not_trading"]
    fresh = gate_with("A")
    assert fresh.evaluate_switches(NOW, env={"EDGEWARDEN_KILL": "0"}, kill_file_exists=False) == []
    (lock,) = fresh.evaluate_switches(NOW, env={"EDGEWARDEN_KILL": "1"})
    assert lock.rule == "environment_kill" and fresh.trading_state == "HALTED"
    assert rules(gate_with("A").evaluate_switches(NOW, kill_file_exists=True)) == ["environment_kill"]
