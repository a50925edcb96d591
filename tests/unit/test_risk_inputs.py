"""Kill switches fed event by event through the risk engine: rings, thresholds, and their locks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from market.orders import Action, Fill, Side
from risk.engine import RiskEngine
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


def risk_with(*tickers: str, group: int = -1) -> RiskEngine:
    risk = RiskEngine(L, capacity=4)
    for t in tickers:
        risk.gate.update_book(risk.register_market(t, group), NOW, 100)
    return risk


def buy(ticker: str, side: Side, price: int, count: int, ts: int, fee: int = 0, n: int = 0) -> Fill:
    return Fill(f"{ticker}-{n}", f"o-{ticker}-{n}", ticker, side, Action.BUY, count, price, True, fee, ts)


def rules(locks) -> list[str]:
    return sorted(lock.rule for lock in locks)


def test_daily_loss_trips_at_the_limit_not_one_unit_before() -> None:
    for fee, trips in ((0, False), (1, True)):  # losses of 12_000 then 12_001 against a 12_001 limit
        risk = risk_with("A", "B")
        risk.on_fill(buy("A", Side.YES, 6_000, 100, NOW - 10, fee=fee))
        risk.on_fill(buy("B", Side.YES, 6_000, 100, NOW - 10, n=1))
        risk.on_settlement("A", Side.NO, NOW - 5)
        risk.on_settlement("B", Side.NO, NOW - 5)
        assert risk.inputs.pnl_today(NOW) == -12_000 - fee
        locks = risk.evaluate(NOW).locks
        assert rules(locks) == (["daily_loss"] if trips else [])
        assert risk.state == ("HALTED" if trips else "ACTIVE")
    # The halt ends with the trading day, by itself.
    assert locks[0].until_ns == (NOW // (86_400 * S) + 1) * 86_400 * S
    assert risk.refresh(locks[0].until_ns).state == "ACTIVE"
    assert risk.inputs.pnl_today(locks[0].until_ns) == 0


def test_loss_streak_trips_on_the_fifth_loss_and_expires_by_itself() -> None:
    risk = risk_with(*"ABCDEFG")
    results = [Side.NO, Side.NO, Side.YES, Side.NO, Side.NO, Side.NO, Side.NO]  # a win resets
    for i, (ticker, result) in enumerate(zip("ABCDEFG", results, strict=True)):
        risk.on_fill(buy(ticker, Side.YES, 100, 100, NOW - 100 + i, n=i))
        risk.on_settlement(ticker, result, NOW - 50 + i)
        assert risk.evaluate(NOW).locks == ()
    risk.on_fill(buy("H", Side.YES, 100, 100, NOW - 1, n=9))
    risk.on_settlement("H", Side.NO, NOW)
    (lock,) = risk.evaluate(NOW).locks
    assert lock.rule == "loss_streak" and lock.until_ns == NOW + 4 * HOUR
    assert risk.gate.decide_one(0, 0, 5_000, 0.9, 10**6, NOW)[1] == Reason.HALTED
    assert risk.refresh(NOW + 4 * HOUR - 1).state == "HALTED" and risk.refresh(NOW + 4 * HOUR).state == "ACTIVE"
    # The losses that paused it do not pause it again once the pause runs out, nor after a restart.
    assert "loss_streak" not in rules(risk.evaluate(NOW + 4 * HOUR, stale_books={}).locks)
    again = RiskEngine(L)
    settled = [type("S", (), {"ticker": t, "result": "no", "ts_ns": NOW - 50 + i, "fee": 0})
               for i, t in enumerate("DEFGH")]
    again.load([buy(t, Side.YES, 100, 100, NOW - 100 + i, n=i) for i, t in enumerate("DEFGH")], settled,
               [lock], [], NOW + 4 * HOUR)
    assert again.inputs.loss_streak == 0 and again.evaluate(NOW + 4 * HOUR).locks == ()
    assert risk.state == again.state == "ACTIVE"


def test_slippage_over_the_window_reaches_the_maximum() -> None:
    risk = risk_with("A")
    for i in range(3):
        risk.on_fill(buy("A", Side.YES, 5_025, 100, NOW - 10 + i, n=i), decision_price=5_000)  # 50 bps
    assert risk.evaluate(NOW).locks == ()  # three fills: the window of four is not full
    risk.on_fill(buy("A", Side.YES, 5_024, 100, NOW - 5, n=3), decision_price=5_000)  # 48 bps
    assert risk.evaluate(NOW).locks == ()  # mean 49.5 < 50
    risk.on_fill(buy("A", Side.YES, 5_026, 100, NOW - 4, n=4), decision_price=5_000)  # 52 bps
    (lock,) = risk.evaluate(NOW).locks  # mean of the newest four: 50
    assert (lock.rule, lock.state, risk.state) == ("slippage", "REDUCING", "REDUCING")


def test_error_burst_counts_the_last_hour_only() -> None:
    risk = risk_with("A")
    risk.on_error(NOW - HOUR)  # exactly an hour old: out of the window
    for i in range(9):
        risk.on_error(NOW - i)
    assert risk.evaluate(NOW).locks == ()
    risk.on_error(NOW)
    assert rules(risk.evaluate(NOW).locks) == ["error_burst"] and risk.state == "HALTED"


def test_stale_book_blocks_that_market_only_and_lifts_when_fresh() -> None:
    risk = risk_with("A", "B")
    risk.gate.update_book(0, NOW - 30 * S, 100)
    assert risk.evaluate(NOW).locks == ()  # exactly at the limit is still fresh
    (lock,) = risk.evaluate(NOW + 1).locks
    assert (lock.rule, lock.scope, lock.state) == ("stale_book", "A", "BLOCKED")
    assert risk.state == "ACTIVE" and risk.gate.blocked[:2].tolist() == [1, 0]
    assert risk.gate.decide_one(0, 0, 5_000, 0.9, 10**6, NOW + 1)[1] == Reason.MARKET_LOCKED
    assert risk.evaluate(NOW + 2).locks == ()  # already in force: no second lock
    risk.gate.update_book(0, NOW + 3, 100)
    changes = risk.evaluate(NOW + 3)
    (lift,) = changes.lifts
    assert changes.locks == () and lift.lock_id == lock.lock_id and risk.gate.blocked[0] == 0


def test_no_fills_in_n_scans() -> None:
    risk = risk_with("A")
    risk.on_scan(0, 0)  # nothing sent, nothing expected: does not count
    for _ in range(19):
        risk.on_scan(1, 0)
    assert risk.evaluate(NOW).locks == ()
    risk.on_scan(0, 0)  # orders still out: counts
    assert rules(risk.evaluate(NOW).locks) == ["no_fills"]
    risk.on_scan(0, 1)
    assert risk.inputs.scans_without_fill == 0


def test_correlation_breach_exchange_and_environment() -> None:
    risk = risk_with("A", "B", group=1)
    risk.gate.set_position(0, 1_000, 600_000)
    risk.gate.set_position(1, 1_000, 400_000)
    assert risk.evaluate(NOW).locks == ()  # exactly at the group cap
    risk.gate.set_position(1, 1_000, 400_001)
    assert rules(risk.evaluate(NOW).locks) == ["correlation_breach"]
    risk.on_exchange_status(False)
    assert rules(risk.evaluate(NOW).locks) == ["exchange_not_trading"]
    fresh = risk_with("A")
    assert fresh.evaluate(NOW, env_kill=False, kill_file=False).locks == ()
    (lock,) = fresh.evaluate(NOW, env_kill=True).locks
    assert lock.rule == "environment_kill" and fresh.state == "HALTED"
    assert rules(risk_with("A").evaluate(NOW, kill_file=True).locks) == ["environment_kill"]


def test_a_void_settlement_closes_the_position_at_its_refund() -> None:
    risk = risk_with("A", "B")
    risk.on_fill(buy("A", Side.YES, 6_000, 100, NOW - 10, fee=20))
    refund = 6_000  # the venue pays back what the contract cost
    assert risk.on_settlement("A", "void", NOW - 5, payout=refund) == refund
    flat = risk.positions["A"]
    assert (flat.quantity, flat.cost, flat.realized_pnl) == (0, 0, -20)  # only the fee is lost
    assert risk.gate.position[0] == 0 and risk.gate.cost[0] == 0  # the gate holds nothing there
    assert risk.inputs.loss_streak == 0  # a void is neither a win nor a loss
    assert risk.pnl_today(NOW) == -20
