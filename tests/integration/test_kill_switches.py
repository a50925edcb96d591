"""Every kill switch trips in a sim daemon, through the daemon's own path to the ledger.

Six switches are driven by conditions the built-in exchange really produces (fees that make
today's loss, a cap lowered by SIGHUP under held positions, a kill file, a paused exchange,
5xx answers, frozen books). Three need outcomes the sim does not produce on demand (a run of
losing settlements, fills worse than decided, orders that never fill); for those the daemon
runs in-process against the same exchange and the events reach its risk engine by the calls
the venue path makes. Each test asserts the ``locks`` row the daemon wrote.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from config import load_settings
from daemon.app import Daemon as InProcessDaemon
from market.orders import Action, Fill, Side
from risk.switches import SWITCHES
from tests.integration.daemon_harness import Daemon, clean_env, free_port, write_config

pytestmark = pytest.mark.slow


def lock_rules(daemon: Daemon) -> set[str]:
    path = daemon.data_dir / "edgewarden.sqlite"
    if not path.exists():
        return set()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        try:
            return {r[0] for r in conn.execute("SELECT rule FROM locks")}
        except sqlite3.OperationalError:
            return set()


def fills(daemon: Daemon) -> int:
    with sqlite3.connect(f"file:{daemon.data_dir / 'edgewarden.sqlite'}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM fills").fetchone()[0]


def wait_rule(daemon: Daemon, rule: str, timeout: float = 45) -> None:
    daemon.wait_for(lambda: rule in lock_rules(daemon), timeout, f"a {rule} lock")


def test_loss_group_cap_and_kill_file_trip_in_a_trading_daemon(tmp_path: Path) -> None:
    kill_file = tmp_path / "KILL"
    extra = """
[[risk.correlation_groups]]
name = "all-sim"
patterns = ["*"]
"""
    config = write_config(tmp_path, extra)
    text = config.read_text().replace("[risk]\n", f'[risk]\ndaily_loss_dollars = 0.01\nkill_file = "{kill_file}"\n')
    config.write_text(text)
    daemon = Daemon(tmp_path, config)
    daemon.wait_event("daemon_ready")
    daemon.wait_for(lambda: fills(daemon) > 0, 45, "a fill")
    wait_rule(daemon, "daily_loss")  # the first fill's fee is today's realized loss
    # The operator lowers the group cap under the positions held: the group is over its cap.
    config.write_text(text.replace("[risk]\n", "[risk]\nmax_group_pct = 0.000001\n"))
    daemon.signal(signal.SIGHUP)
    wait_rule(daemon, "correlation_breach")
    kill_file.write_text("stop")
    wait_rule(daemon, "environment_kill")
    assert daemon.health()["state"] == "HALTED"
    assert daemon.stop() == 0


@pytest.mark.parametrize(("faults", "risk", "rule"), [
    ("trading_paused = true", "", "exchange_not_trading"),
    ("error_5xx_rate = 0.5", "error_burst_per_hour = 3", "error_burst"),
    ("frozen_books = true", "stale_book_seconds = 1", "stale_book"),
], ids=["exchange_not_trading", "error_burst", "stale_book"])
def test_venue_faults_trip_their_switch(tmp_path: Path, faults: str, risk: str, rule: str) -> None:
    config = write_config(tmp_path, f"[venue.sim.faults]\n{faults}\n")
    text = config.read_text().replace("error_burst_per_hour = 1000\n", "").replace("stale_book_seconds = 5\n", "")
    config.write_text(text.replace("[risk]\n", f"[risk]\n{risk}\n"))
    daemon = Daemon(tmp_path, config)
    daemon.wait_event("daemon_ready", timeout=90)
    wait_rule(daemon, rule)
    assert daemon.stop() == 0


async def test_streak_slippage_and_no_fills_trip_through_the_daemons_risk_path(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.read_text().replace("no_fills_scans = 1000", "no_fills_scans = 3").replace(
        "loss_streak = 1000", "loss_streak = 2")
    config.write_text(text)
    env = clean_env(EDGEWARDEN_SUPERVISOR__CONTROL_SOCKET=str(tmp_path / "c.sock"))
    settings = load_settings(config, overrides={"data_dir": str(tmp_path / "data"),
                                                "monitoring": {"metrics_port": free_port()},
                                                "risk": {"max_slippage_bps": 10.0, "slippage_window": 2}},
                             env=env)
    daemon = InProcessDaemon(settings, config)
    await daemon.start()
    try:
        engine, now = daemon.engine, time.time_ns()
        ticker = engine.board.tickers[0]
        # Two settled losses: bought YES, the market settled NO.
        for i, market in enumerate(engine.board.tickers[1:3]):
            daemon.risk.on_fill(Fill(f"t-{i}", f"o-{i}", market, Side.YES, Action.BUY, 100, 5_000, True, 0, now))
            daemon.risk.on_settlement(market, Side.NO, now + 1)
        # Two fills 20 bps worse than decided.
        for i in range(2):
            daemon.risk.on_fill(Fill(f"s-{i}", f"p-{i}", ticker, Side.YES, Action.BUY, 100, 5_010, True, 0, now),
                                decision_price=5_000)
        for _ in range(3):  # orders out, nothing back
            daemon.risk.on_scan(1, 0)
        await engine.evaluate_switches(time.time_ns())
        await daemon.ledger.flush()
        with sqlite3.connect(daemon.data_dir / "edgewarden.sqlite") as conn:
            rules = {r[0] for r in conn.execute("SELECT rule FROM locks")}
        assert {"loss_streak", "slippage", "no_fills"} <= rules
    finally:
        await daemon.shutdown()


def test_these_tests_cover_every_registered_switch() -> None:
    covered = {"daily_loss", "correlation_breach", "environment_kill", "exchange_not_trading", "error_burst",
               "stale_book", "loss_streak", "slippage", "no_fills"}
    assert covered == {s.rule for s in SWITCHES}
