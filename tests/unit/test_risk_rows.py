"""Ledger rows of the gate (decisions, locks, lifts) and RiskLimits from settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import Settings
from daemon.ledger import Ledger, LedgerReader
from daemon.ledger.schema import TABLES
from risk.decision import DECISION_COLUMNS, Decision
from risk.limits import RiskLimits
from risk.locks import Lock, LockLift
from risk.reasons import Reason

NOW = 10**18


def test_decision_row_has_exactly_the_ledger_columns() -> None:
    ledger_columns = {c.split()[0] for c in TABLES["decisions"]} | {"ts_ns"}
    row = Decision(NOW, "KX-1", "yes", "buy", 5_600, 1_000, 700, Reason.SHRUNK_POSITION_CAP,
                   "flb", 0.61, "ew-abc").to_row()
    assert set(row) == set(DECISION_COLUMNS) == ledger_columns
    assert row["reason"] == "SHRUNK_POSITION_CAP"


def test_decision_refuses_a_count_that_contradicts_its_reason() -> None:
    with pytest.raises(ValueError, match="contradicts"):
        Decision(NOW, "KX-1", "yes", "buy", 5_600, 1_000, 0, Reason.APPROVED)
    with pytest.raises(ValueError, match="contradicts"):
        Decision(NOW, "KX-1", "yes", "buy", 5_600, 1_000, 100, Reason.HALTED)
    with pytest.raises(ValueError, match="side"):
        Decision(NOW, "KX-1", "maybe", "buy", 5_600, 1_000, 0, Reason.HALTED)


async def test_decisions_round_trip_through_a_real_ledger(tmp_path: Path) -> None:
    decisions = [
        Decision(NOW, "KX-1", "yes", "buy", 5_600, 1_000, 1_000, Reason.APPROVED, "flb", 0.61, "ew-1"),
        Decision(NOW + 1, "KX-2", "no", "sell", 300, 500, 0, Reason.NOTHING_TO_SELL, "odds_edge", 0.02),
    ]
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    await ledger.write("decisions", [d.to_row() for d in decisions])
    await ledger.close()
    with LedgerReader(tmp_path / "l.sqlite") as reader:
        assert [Decision.from_row(r) for r in reader.rows("decisions")] == decisions
    with pytest.raises(ValueError, match="unknown reason 'NOPE'"):
        Decision.from_row({**decisions[0].to_row(), "reason": "NOPE", "id": 7})


lock_rows = st.fixed_dictionaries({
    "id": st.integers(1, 10), "lock_id": st.one_of(st.text(max_size=5), st.integers(), st.none()),
    "rule": st.one_of(st.just("daily_loss"), st.none(), st.integers()),
    "scope": st.one_of(st.just("*"), st.text(max_size=3)),
    "state": st.one_of(st.sampled_from(["HALTED", "REDUCING", "BLOCKED"]), st.text(max_size=4)),
    "reason": st.one_of(st.text(max_size=5), st.none()),
    "ts_ns": st.one_of(st.integers(0, 2**62), st.booleans(), st.floats(allow_nan=False), st.text(max_size=2)),
    "until_ns": st.one_of(st.none(), st.integers(0, 2**62), st.text(max_size=2)),
})


@settings(max_examples=300, deadline=None)
@given(lock_rows, st.sets(st.sampled_from(["lock_id", "rule", "state", "until_ns"]), max_size=1))
def test_lock_rows_are_either_valid_or_refused_by_name(row, dropped) -> None:
    row = {k: v for k, v in row.items() if k not in dropped}
    try:
        lock = Lock.from_row(row)
    except ValueError as exc:
        assert "locks row" in str(exc)
        return
    assert lock.to_row() == {k: v for k, v in row.items() if k != "id"}
    assert isinstance(lock.created_ns, int) and lock.state in ("HALTED", "REDUCING", "BLOCKED")


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({"lock_id": st.one_of(st.just("*"), st.text(max_size=3), st.none()),
                              "who": st.one_of(st.text(max_size=3), st.integers()),
                              "why": st.one_of(st.text(max_size=3), st.none()),
                              "ts_ns": st.one_of(st.integers(0, 2**62), st.none())}))
def test_lift_rows_are_either_valid_or_refused_by_name(row) -> None:
    try:
        lift = LockLift.from_row(row)
    except ValueError as exc:
        assert "lock_lifts row" in str(exc)
        return
    assert lift.to_row() == row


def plain_risk(**over) -> SimpleNamespace:
    """RiskSettings' attribute names (INTERFACES.md), no pydantic: what a test may build."""
    base = dict(capital_dollars=Decimal(100), kelly_fraction=0.25, min_edge=0.03,
                max_position_pct=0.29, max_position_dollars=None, max_group_pct=0.15,
                max_group_dollars=Decimal(10), max_total_pct=0.2, max_total_dollars=None,
                daily_loss_dollars=Decimal(500), daily_loss_pct=0.05, day_boundary_tz="UTC",
                loss_streak=5, loss_streak_pause_seconds=14_400, max_slippage_bps=50,
                slippage_window=20, error_burst_per_hour=10, stale_book_seconds=30.5,
                no_fills_scans=20, max_spread_bps=200, max_order_contracts=Decimal("12.5"))
    base.update(over)
    return SimpleNamespace(**base)


def test_limits_from_settings_and_from_a_plain_object() -> None:
    s = Settings()
    lim = RiskLimits.from_settings(s.risk, s.fees)
    assert (lim.capital, lim.position_cap, lim.group_cap, lim.total_cap) == (
        100_000_000, 5_000_000, 15_000_000, 20_000_000)
    assert lim.daily_loss == 5_000_000 and lim.fee_rate_ppm == 70_000 and lim.max_order_count == 100_000

    plain = RiskLimits.from_settings(plain_risk(), SimpleNamespace(schedule="quadratic", multiplier="0.5"))
    assert plain.capital == 1_000_000
    assert plain.position_cap == 290_000  # exact: float 0.29 × 1e6 would floor to 289_999
    assert plain.group_cap == 100_000  # $10 absolute beats 15 % of $100
    assert plain.daily_loss == 50_000  # 5 % of $100 is hit before $500
    assert plain.stale_book_ns == 30_500_000_000 and plain.max_order_count == 1_250
    assert plain.fee_rate_ppm == 35_000


def test_limits_out_of_range_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="kelly_fraction=0.0.*slippage_window=0"):
        RiskLimits.from_settings(plain_risk(kelly_fraction=0.0, slippage_window=0))
