"""The daemon's kill-switch inputs stay bounded over a long run."""

from __future__ import annotations

from pathlib import Path

from daemon.ledger import Ledger
from daemon.risk_watch import SETTLED_KEPT, RiskWatch
from risk.gate import RiskGate
from tests.unit.test_risk_gate import limits

DAY = 86_400 * 10**9
MIDNIGHT = 20_000 * DAY  # a UTC day boundary


async def test_pnl_today_sums_today_and_forgets_earlier_days(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    try:
        lim = limits()
        watch = RiskWatch(RiskGate(lim), ledger, lim)
        # Rebuilt from a ledger: not in time order, yesterday's and today's mixed.
        watch.inputs.pnl_events = [(MIDNIGHT + 5, -300), (MIDNIGHT - 5, -1_000), (MIDNIGHT + 1, 200)]
        assert watch.pnl_today(MIDNIGHT + 10) == -100
        assert watch.inputs.pnl_events == [(MIDNIGHT + 5, -300), (MIDNIGHT + 1, 200)]
        watch.inputs.pnl_events.append((MIDNIGHT + 20, 50))
        assert watch.pnl_today(MIDNIGHT + 10) == -100  # not yet
        assert watch.pnl_today(MIDNIGHT + 30) == -50
        assert watch.pnl_today(MIDNIGHT + DAY) == 0  # the next day starts empty
        assert watch.inputs.pnl_events == []
    finally:
        await ledger.close()


async def test_the_loss_streak_reads_a_bounded_history(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "l.sqlite")
    try:
        lim = limits()
        watch = RiskWatch(RiskGate(lim), ledger, lim)
        watch.inputs.settled_pnl.extend([5] + [-1] * (SETTLED_KEPT + 10))
        assert len(watch.inputs.settled_pnl) == SETTLED_KEPT
        assert watch.loss_streak() == SETTLED_KEPT
        watch.inputs.settled_pnl.append(7)
        assert watch.loss_streak() == 0
        watch.inputs.settled_pnl.extend([-2, -3])
        assert watch.loss_streak() == 2
    finally:
        await ledger.close()
