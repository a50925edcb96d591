"""Kill switches trip at their threshold (not one step before); locks survive restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.ledger import Ledger, LedgerReader
from risk import switches
from risk.locks import (
    Lock,
    LockLift,
    active_locks,
    blocked_markets,
    operator_halt,
    operator_resume,
    trading_state,
)
from tests.unit.test_risk_gate import limits

NOW = 10**18
S = 1_000_000_000
L = limits(daily_loss=5_000_000, loss_streak=5, max_slippage_bps=50.0, slippage_window=4,
           error_burst_per_hour=10, stale_book_ns=30 * S, no_fills_scans=20, group_cap=1_000)

CASES = [
    ("daily_loss", lambda x: switches.daily_loss(-x, L, NOW, NOW + 10 * S), 5_000_000, "HALTED"),
    ("loss_streak", lambda x: switches.loss_streak(x, L, NOW), 5, "HALTED"),
    ("slippage", lambda x: switches.slippage([x] * 4, L, NOW), 50, "REDUCING"),
    ("error_burst", lambda x: switches.error_burst([NOW - i for i in range(x)], L, NOW), 10, "HALTED"),
    ("no_fills", lambda x: switches.no_fills(x, L, NOW), 20, "HALTED"),
    ("correlation_breach", lambda x: switches.correlation_breach("g", x, L, NOW), 1_001, "REDUCING"),
    ("stale_book", lambda x: switches.stale_book("KX-1", NOW - x, L, NOW), 30 * S + 1, "BLOCKED"),
]


@pytest.mark.parametrize(("rule", "check", "threshold", "state"), CASES, ids=[c[0] for c in CASES])
def test_trips_at_threshold_not_one_step_before(rule, check, threshold, state) -> None:
    assert check(threshold - 1) is None
    lock = check(threshold)
    assert isinstance(lock, Lock) and lock.rule == rule and lock.state == state


def test_slippage_needs_a_full_window_and_old_errors_do_not_count() -> None:
    assert switches.slippage([500.0] * 3, L, NOW) is None
    hour = 3_600 * S
    assert switches.error_burst([NOW - hour - 1] * 50, L, NOW) is None


def test_environment_and_exchange_switches() -> None:
    assert switches.environment_kill({}, False, NOW) is None
    assert switches.environment_kill({"EDGEWARDEN_KILL": "0"}, False, NOW) is None
    assert switches.environment_kill({"EDGEWARDEN_KILL": "1"}, False, NOW).state == "HALTED"
    assert switches.environment_kill({}, True, NOW).reason == "kill file present"
    assert switches.exchange_not_trading(True, NOW) is None
    assert switches.exchange_not_trading(False, NOW).state == "HALTED"


def test_self_expiring_and_lifted_locks() -> None:
    streak = switches.loss_streak(5, L, NOW)
    halt = operator_halt("news", "ops", NOW)
    stale = switches.stale_book("KX-1", 0, L, NOW)
    locks = [streak, halt, stale]
    assert trading_state(active_locks(locks, [], NOW)) == "HALTED"
    assert blocked_markets(active_locks(locks, [], NOW)) == {"KX-1"}
    later = NOW + L.loss_streak_pause_ns
    assert [lk.rule for lk in active_locks(locks, [], later)] == ["operator_halt", "stale_book"]
    lift = operator_resume(halt.lock_id, "ops", "news digested", NOW + 1)
    assert [lk.rule for lk in active_locks(locks, [lift], NOW + 2)] == ["loss_streak", "stale_book"]
    lift_all = operator_resume(None, "ops", "all clear", NOW + 3)
    assert active_locks(locks, [lift_all], NOW + 4) == []
    newer = operator_halt("again", "ops", NOW + 5)  # a lock after the lift is active
    assert active_locks([*locks, newer], [lift_all], NOW + 6) == [newer]


async def test_lock_survives_restart_and_resume_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "edgewarden.sqlite"
    ledger = await Ledger.open(path)
    lock = switches.daily_loss(-6_000_000, L, NOW, NOW + 3_600 * S)
    await ledger.write("locks", [lock.to_row()])
    await ledger.close()  # the daemon stops ...

    with LedgerReader(path) as reader:  # ... and a new one rebuilds its state
        locks = [Lock.from_row(r) for r in reader.rows("locks")]
    assert locks == [lock]
    assert trading_state(active_locks(locks, [], NOW + 1)) == "HALTED"

    ledger = await Ledger.open(path)
    await ledger.write("lock_lifts", [operator_resume(lock.lock_id, "alice", "limit raised", NOW + 2).to_row()])
    await ledger.close()
    with LedgerReader(path) as reader:
        lifts = [LockLift.from_row(r) for r in reader.rows("lock_lifts")]
    assert lifts == [LockLift(lock.lock_id, "alice", "limit raised", NOW + 2)]
    assert trading_state(active_locks(locks, lifts, NOW + 3)) == "ACTIVE"
