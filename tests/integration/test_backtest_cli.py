"""`edgewarden backtest` end to end in a subprocess: CSV data in, summary and plots out."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from tests.integration.daemon_harness import ROOT, clean_env


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", "backtest", *args], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=120)


def test_cli_replays_csv_history_and_writes_a_report(tmp_path: Path) -> None:
    data = tmp_path / "history"
    data.mkdir()
    with (data / "book.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "ticker", "yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size"])
        w.writerow(["2026-01-01T00:00:00Z", "FAV", "0.90", "0.92", "10.00", "10.00"])
        w.writerow(["2026-01-01T00:01:00Z", "LONG", "0.06", "0.08", "20.00", "5.00"])
        w.writerow(["2026-01-01T00:02:00Z", "FAV", "0.95", "oops", "10.00", "10.00"])
    with (data / "settlements.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["ts", "ticker", "result"], ["2026-01-01T01:00:00Z", "FAV", "yes"],
                                 ["2026-01-01T01:00:00Z", "LONG", "no"]])
    config = tmp_path / "bt.toml"
    config.write_text('[strategies.flb]\nfavourite_threshold = "0.90"\nlongshot_threshold = "0.10"\n'
                      "[risk]\nmin_edge = 0.001\n")
    report = tmp_path / "report"
    done = run("--config", str(config), "--data", str(data), "--strategy", "flb", "--report", str(report),
               "--sweep", "0.90,0.95:0.05,0.10", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "book.csv:4: yes_ask 'oops'" in done.stderr
    text = (report / "summary.md").read_text()
    assert text.strip() in done.stdout
    # FAV: 10 YES at 92¢, fee $0.06, wins: +$0.74. LONG: 20 NO at 94¢, fee $0.08, wins: +$1.12.
    assert "| P&L after fees | $1.8600 |" in text and "| fees | $0.1400 |" in text
    assert "## Threshold sweep" in text
    for name in ("equity.png", "pnl_by_bucket.png", "slippage.png", "reliability.png"):
        assert (report / name).read_bytes().startswith(b"\x89PNG")


def test_cli_refuses_bad_arguments_with_exit_2(tmp_path: Path) -> None:
    assert run("--data", str(tmp_path / "none")).returncode == 2
    bad = run("--data", str(tmp_path), "--walk-forward", "30d:7d")
    assert bad.returncode == 2 and "--sweep" in bad.stderr


PLUGIN_CONFIG = """
[strategies.premium]
kind = "strategies.examples.favourite_premium:FavouritePremium"
min_price = 0.75
premium = 0.05
[risk]
min_edge = 0.001
"""


def test_cli_backtests_a_plugin_strategy_by_its_table_name(tmp_path: Path) -> None:
    data = tmp_path / "history"
    data.mkdir()
    (data / "book.csv").write_text("ts,ticker,yes_bid,yes_ask,yes_bid_size,yes_ask_size\n"
                                   "2026-01-01T00:00:00Z,FAV,0.78,0.80,10.00,10.00\n"
                                   "2026-01-01T00:01:00Z,MID,0.49,0.51,20.00,20.00\n")
    (data / "settlements.csv").write_text("ts,ticker,result\n2026-01-01T01:00:00Z,FAV,yes\n"
                                          "2026-01-01T01:00:00Z,MID,no\n")
    config = tmp_path / "bt.toml"
    config.write_text(PLUGIN_CONFIG)
    done = run("--config", str(config), "--data", str(data), "--strategy", "premium")
    assert done.returncode == 0, done.stderr
    # FAV only (MID is below min_price): 10 YES at 80¢, fee ceil(0.07 × 10 × 0.8 × 0.2) = $0.12, wins.
    assert "# Backtest: premium on" in done.stdout
    assert "| P&L after fees | $1.8800 |" in done.stdout and "| orders / fills / contracts | 1 / 1 / 10.00 |" in done.stdout
    unknown = run("--config", str(config), "--data", str(data), "--strategy", "nope")
    assert unknown.returncode == 2 and "flb, odds_edge, premium" in unknown.stderr
