"""Kill switches trip at their threshold (not one step before); the registry covers them all;
locks survive restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.ledger import Ledger, LedgerReader
from risk.locks import (
    Lock,
    LockLift,
    active_locks,
    blocked_markets,
    operator_halt,
    operator_resume,
    trading_state,
)
from risk.switches import SWITCHES, SwitchContext, by_rule
from tests.unit.test_risk_gate import limits

NOW = 10**18
S = 1_000_000_000
L = limits(daily_loss=5_000_000, loss_streak=5, max_slippage_bps=50.0, slippage_window=4,
           error_burst_per_hour=10, stale_book_ns=30 * S, no_fills_scans=20, group_cap=1_000)


def ctx(**measures) -> SwitchContext:
    return SwitchContext(NOW, L, NOW + 10 * S, **measures)


def trip(rule: str, **measures) -> Lock | None:
    locks = by_rule(rule).check(ctx(**measures))
    assert len(locks) <= 1
    return locks[0] if locks else None


CASES = [
    ("daily_loss", lambda x: trip("daily_loss", pnl_today=-x), 5_000_000, "HALTED"),
    ("loss_streak", lambda x: trip("loss_streak", loss_streak=x), 5, "HALTED"),
    ("slippage", lambda x: trip("slippage", slippage_mean_bps=x, slippage_fills=4), 50, "REDUCING"),
    ("error_burst", lambda x: trip("error_burst", errors_last_hour=x), 10, "HALTED"),
    ("no_fills", lambda x: trip("no_fills", scans_without_fill=x), 20, "HALTED"),
    ("correlation_breach", lambda x: trip("correlation_breach", group_exposure={"g": x}), 1_001, "REDUCING"),
    ("stale_book", lambda x: trip("stale_book", stale_books={"KX-1": NOW - x}), 30 * S + 1, "BLOCKED"),
]


@pytest.mark.parametrize(("rule", "check", "threshold", "state"), CASES, ids=[c[0] for c in CASES])
def test_trips_at_threshold_not_one_step_before(rule, check, threshold, state) -> None:
    assert check(threshold - 1) is None
    lock = check(threshold)
    assert isinstance(lock, Lock) and lock.rule == rule and lock.state == state == by_rule(rule).imposes


def test_the_registry_is_every_switch_once_and_each_reads_its_measure() -> None:
    rules = [s.rule for s in SWITCHES]
    assert len(rules) == len(set(rules)) == 9
    assert {c[0] for c in CASES} | {"environment_kill", "exchange_not_trading"} == set(rules)
    quiet = ctx()
    for switch in SWITCHES:
        assert switch.check(quiet) == [], switch.rule  # nothing measured, nothing trips
        reading = switch.reading(quiet)
        assert reading.threshold >= 0 and reading.unit and switch.summary
    assert by_rule("daily_loss").reading(ctx(pnl_today=-12_345)).value == 1.2345  # dollars
    with pytest.raises(KeyError, match="no kill switch 'nope'"):
        by_rule("nope")


def test_slippage_needs_a_full_window() -> None:
    assert trip("slippage", slippage_mean_bps=500.0, slippage_fills=3) is None


def test_environment_and_exchange_switches() -> None:
    assert trip("environment_kill") is None
    assert trip("environment_kill", env_kill=True).reason == "EDGEWARDEN_KILL=1"
    assert trip("environment_kill", kill_file=True).reason == "kill file present"
    assert trip("exchange_not_trading") is None
    assert trip("exchange_not_trading", exchange_trading=False).state == "HALTED"


def test_two_groups_over_their_cap_make_one_lock_naming_the_larger() -> None:
    (lock,) = by_rule("correlation_breach").check(ctx(group_exposure={"g1": 2_000, "g2": 3_000, "g3": 10}))
    assert "group g2" in lock.reason


def test_self_expiring_and_lifted_locks() -> None:
    streak = trip("loss_streak", loss_streak=5)
    halt = operator_halt("news", "ops", NOW)
    stale = trip("stale_book", stale_books={"KX-1": 0})
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
    lock = trip("daily_loss", pnl_today=-6_000_000)
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
