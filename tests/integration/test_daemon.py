"""The daemon end to end, as a real subprocess against the built-in exchange on loopback."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon.ledger.trade_csv import read_trade_csv
from tests.integration.daemon_harness import (
    ROOT,
    Daemon,
    SimExchangeProcess,
    clean_env,
    write_config,
)

pytestmark = pytest.mark.slow


def ledger(daemon: Daemon) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{daemon.data_dir / 'edgewarden.sqlite'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def count(daemon: Daemon, table: str, where: str = "1") -> int:
    with ledger(daemon) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]


def test_sim_session_trades_and_the_csv_matches_the_ledger(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, write_config(tmp_path), "--duration", "25")
    daemon.wait_event("daemon_ready")
    daemon.wait_for(lambda: count(daemon, "fills") >= 3, 40, "three fills")
    families = {f.name: f for f in text_string_to_metric_families(daemon.metrics_text())}
    for name in ("edgewarden_ticks", "edgewarden_decisions", "edgewarden_fills", "edgewarden_fees_dollars",
                 "edgewarden_exposure_dollars", "edgewarden_realized_pnl_dollars", "edgewarden_trading_state",
                 "edgewarden_tick_to_order_seconds", "edgewarden_odds_quota_remaining"):
        assert name in families, name
    ages = {s.labels["feed"]: s.value for s in families["edgewarden_feed_age_seconds"].samples}
    assert 0 <= ages["exchange"] < 5 and 0 <= ages["odds"] < 10
    state = {s.labels["state"]: s.value for s in families["edgewarden_trading_state"].samples}
    assert state == {"ACTIVE": 1.0, "REDUCING": 0.0, "HALTED": 0.0}
    health = daemon.health()
    assert health["state"] == "ACTIVE"
    jobs = health["jobs"]
    assert set(jobs) == {"settlements", "grading", "daily-report", "watchdog", "odds", "calibration-watch"}
    assert all(job["runs"] >= 1 and job["failures"] == 0 for job in jobs.values()), jobs
    assert jobs["odds"]["every_s"] == 1.0 and jobs["odds"]["detail"] is None  # the feed is up
    success = {s.labels["job"]: s.value
               for s in families["edgewarden_job_last_success_timestamp_seconds"].samples}
    assert set(success) == set(jobs) and all(v > 0 for v in success.values())
    assert daemon.proc.wait(60) == 0, daemon.tail()
    with ledger(daemon) as conn:
        fills = {r["fill_id"]: r for r in conn.execute("SELECT * FROM fills")}
        intents = {r["client_order_id"] for r in conn.execute("SELECT client_order_id FROM order_intents")}
        answered = {r["client_order_id"] for r in conn.execute("SELECT client_order_id FROM orders")}
        decisions = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    rows = [row for path in sorted(daemon.data_dir.glob("trades-*.csv")) for row in read_trade_csv(path)]
    assert sorted(r.fill_id for r in rows) == sorted(fills)
    for row in rows:
        fill = fills[row.fill_id]
        assert (row.ticker, row.side.value, row.count, row.price, row.fee) == (
            fill["ticker"], fill["side"], fill["count"], fill["price"], fill["fee"])
    assert intents <= answered  # every intent written ahead got an answer recorded
    assert decisions >= len(intents) > 0


def test_sigterm_exits_zero_and_leaves_no_resting_orders(tmp_path: Path) -> None:
    # The exchange holds our orders (they never match), so a good-till-cancelled one rests for
    # certain; the stop must cancel it and the exchange confirm the cancel.
    with SimExchangeProcess(tmp_path, "--hold-orders") as sim:
        config = write_config(tmp_path)
        config.write_text(config.read_text().replace(
            "[engine]\n", '[engine]\norder_time_in_force = "good_till_canceled"\n'))
        daemon = Daemon(tmp_path, config, env=sim.env())
        daemon.wait_event("daemon_ready")
        daemon.wait_for(lambda: count(daemon, "orders", "status = 'resting'") >= 1, 40, "a resting order")
        assert daemon.stop() == 0, daemon.tail()
        names = [e.get("event") for e in daemon.events()]
        assert "resting_orders_cancelled" in names and names[-1] == "daemon_stopped"
        assert sim.resting_orders() == []
        at_venue = {o.client_order_id: o.status.value for o in sim.all_orders()}
        with ledger(daemon) as conn:
            cancelled = {r[0] for r in conn.execute("SELECT client_order_id FROM orders WHERE event = 'canceled'")}
        assert cancelled and all(at_venue[c] == "canceled" for c in cancelled)
        with ledger(daemon) as conn:
            intents = {r[0] for r in conn.execute("SELECT client_order_id FROM order_intents")}
            answered = {r[0] for r in conn.execute("SELECT client_order_id FROM orders")}
        assert intents <= answered  # the ledger is consistent: no intent without its answer
        # Every intent is committed: the write-ahead journal has nothing left to recover.
        assert list((daemon.data_dir / "edgewarden-intents").glob("*.jsonl")) == []


def test_sighup_reloads_a_good_config_and_rejects_a_bad_one(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    daemon = Daemon(tmp_path, config)
    daemon.wait_event("daemon_ready")
    config.write_text(config.read_text().replace("min_edge = 0.02", "min_edge = 0.05"))
    daemon.signal(signal.SIGHUP)
    reloaded = daemon.wait_event("reloaded")
    assert "risk.min_edge" in reloaded["fields"]
    config.write_text(config.read_text().replace("min_edge = 0.05", "min_edge = 7"))
    daemon.signal(signal.SIGHUP)
    rejected = daemon.wait_event("reload_rejected")
    assert any("risk.min_edge" in e for e in rejected["errors"])
    assert daemon.proc.poll() is None  # still running on the old config
    assert daemon.stop() == 0


WRAPPER_FLAKY_TASK = """
import sys
from daemon.engine import Engine
original = Engine.sync_settlements
calls = {"n": 0}
async def flaky(self):
    calls["n"] += 1
    if 2 <= calls["n"] <= 3:  # the first call is start-up reconciliation's; the job's next two fail
        raise RuntimeError(f"injected failure {calls['n']}")
    return await original(self)
Engine.sync_settlements = flaky
from daemon.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_job_that_raises_is_retried_at_its_next_run_not_restarted(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, write_config(tmp_path), wrapper=WRAPPER_FLAKY_TASK)
    daemon.wait_event("daemon_ready")

    def settlements() -> dict:
        return daemon.health().get("jobs", {}).get("settlements", {})

    daemon.wait_for(lambda: settlements().get("runs", 0) >= 3 and settlements()["last_outcome"] == "ok",
                    30, "settlements failing twice, then ok")
    job = settlements()
    assert job["failures"] == 2 and job["every_s"] == 5.0
    failed = [e for e in daemon.events() if e.get("event") == "job_failed"]
    assert len(failed) == 2
    assert all(e["job"] == "settlements" and "injected failure" in e["error"] for e in failed)
    assert not any(e.get("event") in ("task_died", "task_crashloop") for e in daemon.events())
    families = {f.name: f for f in text_string_to_metric_families(daemon.metrics_text())}
    runs = {(s.labels["job"], s.labels["outcome"]): s.value for s in families["edgewarden_job_runs"].samples
            if s.name == "edgewarden_job_runs_total"}
    assert runs[("settlements", "error")] == 2 and runs[("settlements", "ok")] >= 1
    assert daemon.proc.poll() is None and daemon.health()["state"] == "ACTIVE"
    assert daemon.stop() == 0


def test_frozen_books_lock_the_stale_markets_and_stop_their_orders(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    config.write_text(config.read_text().replace("stale_book_seconds = 5", "stale_book_seconds = 1")
                      + "\n[venue.sim.faults]\nfrozen_books = true\n")
    daemon = Daemon(tmp_path, config)
    daemon.wait_event("daemon_ready")
    daemon.wait_for(lambda: count(daemon, "locks", "rule = 'stale_book'") >= 3, 30, "stale-book locks")
    time.sleep(1.5)
    with ledger(daemon) as conn:
        first_lock = {r["scope"]: r["ts_ns"] for r in conn.execute("SELECT scope, ts_ns FROM locks WHERE rule = 'stale_book'")}
        late = [r for r in conn.execute("SELECT ticker, ts_ns FROM order_intents")
                if r["ticker"] in first_lock and r["ts_ns"] > first_lock[r["ticker"]]]
        refused = conn.execute("SELECT DISTINCT reason FROM decisions WHERE ticker IN ({})".format(",".join("?" * len(first_lock))), tuple(first_lock)).fetchall()
    assert late == []
    assert {r[0] for r in refused} & {"MARKET_LOCKED", "STALE_BOOK"}
    assert daemon.stop() == 0


def test_kill_9_then_restart_reconciles_without_duplicate_orders(tmp_path: Path) -> None:
    with SimExchangeProcess(tmp_path) as sim:
        config = write_config(tmp_path)
        first = Daemon(tmp_path, config, env=sim.env())
        first.wait_event("daemon_ready")
        first.wait_for(lambda: count(first, "fills") >= 2, 40, "fills before the kill")
        first.kill()
        second = Daemon(tmp_path, config, env=sim.env())
        ready = second.wait_event("daemon_ready")
        assert ready["reconciled"] is True, second.tail()
        time.sleep(3)
        assert second.health()["state"] == "ACTIVE"
        assert second.stop() == 0
        with ledger(second) as conn:
            intents = [r[0] for r in conn.execute("SELECT client_order_id FROM order_intents")]
        at_exchange = [o.client_order_id for o in sim.all_orders()]
        assert len(at_exchange) == len(set(at_exchange)), "an intent became two orders"
        assert set(at_exchange) <= set(intents)  # nothing reached the exchange without an intent


def test_a_resting_order_the_ledger_does_not_know_keeps_trading_refused(tmp_path: Path) -> None:
    """An order at the venue with no intent in the ledger (say, one lost to a power cut with
    ``intent_sync = "os"``) holds exposure the gate cannot see: fail closed, and say which."""
    with SimExchangeProcess(tmp_path) as sim:
        stray = sim.place_resting("ew-placed-by-hand")
        daemon = Daemon(tmp_path, write_config(tmp_path), env=sim.env())
        ready = daemon.wait_event("daemon_ready")
        assert ready["reconciled"] is False and ready["state"] == "HALTED"
        assert daemon.health()["state"] == "HALTED"
        with ledger(daemon) as conn:
            reasons = [r[0] for r in conn.execute("SELECT reason FROM locks")]
        assert any(f"resting order {stray.order_id} (ew-placed-by-hand" in r for r in reasons), reasons
        assert count(daemon, "order_intents") == 0
        assert daemon.stop() == 0
        # The stop cancelled every resting order, the stray too (cancel_resting_on_stop): the
        # next start reconciles cleanly, and the earlier start's lock is lifted, saying why.
        assert sim.resting_orders() == []
        again = Daemon(tmp_path, write_config(tmp_path), env=sim.env())
        ready = again.wait_event("daemon_ready")
        assert ready["reconciled"] is True and ready["state"] == "ACTIVE", again.tail()
        assert count(again, "lock_lifts", "why = 'reconciled cleanly at start-up'") == 1
        assert again.stop() == 0


def test_operator_halt_then_sigusr1_resume(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, write_config(tmp_path))
    daemon.wait_event("daemon_ready")
    socket = str(tmp_path / "control.sock")
    halted = subprocess.run([sys.executable, "-m", "daemon.cli", "halt", "--reason", "drill", "--socket", socket,
                             "--data-dir", str(daemon.data_dir)], cwd=ROOT, capture_output=True, text=True,
                            env=clean_env(), timeout=60)
    assert halted.returncode == 0 and "halted the running daemon" in halted.stdout, halted.stderr
    daemon.wait_for(lambda: daemon.health()["state"] == "HALTED", 10, "HALTED")
    intents_at_halt = count(daemon, "order_intents")
    time.sleep(1.5)
    assert count(daemon, "order_intents") == intents_at_halt  # halted means no new orders
    daemon.signal(signal.SIGUSR1)
    daemon.wait_for(lambda: daemon.health()["state"] == "ACTIVE", 10, "ACTIVE again")
    assert count(daemon, "lock_lifts", "who = 'SIGUSR1'") == 1
    assert daemon.stop() == 0


def test_live_mode_refuses_to_start_without_confirmation(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "daemon.cli", "run", "--mode", "live", "--data-dir",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert result.returncode == 2
    assert "refusing to start" in result.stderr and "live_confirmed" in result.stderr
    assert not (tmp_path / "edgewarden.sqlite").exists()
