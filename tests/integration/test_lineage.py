"""Every fill of a sim session traces back to the data it was decided on, and is graded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.daemon_jobs import ungraded
from daemon.ledger import LedgerReader
from tests.integration.daemon_harness import ROOT, Daemon, clean_env, write_config

pytestmark = pytest.mark.slow


def test_every_fill_traces_to_its_prediction_model_run_and_snapshots(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    config.write_text(config.read_text().replace("[engine]\n", "[engine]\nprediction_interval_seconds = 2\n"))
    daemon = Daemon(tmp_path, config)
    daemon.wait_event("daemon_ready")
    path = daemon.data_dir / "edgewarden.sqlite"

    def settled_fills() -> bool:
        with LedgerReader(path) as reader:
            fills = {f["ticker"] for f in reader.rows("fills")}
            return len(fills & set(reader.market_results())) >= 3

    daemon.wait_for(settled_fills, 60, "fills in three settled markets")
    assert daemon.stop() == 0
    with LedgerReader(path) as reader:
        fills = reader.rows("fills")
        lineages = [reader.trace(coid) for coid in sorted({f["client_order_id"] for f in fills})]
        kinds = {r["kind"] for r in reader.rows("predictions")}
        raw_odds = reader.rows("odds_snapshots", "market = 'raw'")
    assert fills and kinds >= {"decision", "interval", "close"}
    assert raw_odds and all(json.loads(r["body"])["key"] == r["bookmaker"] for r in raw_odds[:50])
    for t in lineages:
        assert t is not None and t["fills"] and t["orders"] and t["decisions"], t["client_order_id"]
        (item,) = t["predictions"]  # one prediction made the order
        assert item["model_run"]["strategy"] == t["intent"]["strategy"]
        assert item["model_run"]["policy_version"] and item["model_run"]["strategy_version"]
        sources = {i["source"] for i in item["inputs"]}
        assert "book" in sources, t["client_order_id"]
        if t["intent"]["strategy"] == "odds_edge":  # its fair value came from the odds feed
            odds = [i for i in item["inputs"] if i["source"] == "odds_snapshots"]
            assert odds and odds[0]["snapshots"], t["client_order_id"]
            assert item["prediction"]["event_id"]
        (published,) = t["published"]
        assert published["is_official"] == 1 and published["prediction_id"] == item["prediction"]["prediction_id"]

    # Grading: every published prediction of a settled market gets one grade, once.
    grades = ungraded(path)
    assert grades and {g["outcome"] for g in grades} <= {"WIN", "LOSS", "VOID", "PUSH"}
    scored = [g for g in grades if g["outcome"] in ("WIN", "LOSS")]
    assert all(0 <= g["brier"] <= 1 and g["log_loss"] >= 0 for g in scored)
    assert any(g["clv"] is not None for g in scored)  # closing lines were recorded

    coid = lineages[0]["client_order_id"]
    shown = subprocess.run([sys.executable, "-m", "daemon.cli", "trace", coid, "--data-dir", str(daemon.data_dir),
                            "--json"], cwd=ROOT, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["client_order_id"] == coid
    tree = subprocess.run([sys.executable, "-m", "daemon.cli", "trace", coid, "--data-dir", str(daemon.data_dir)],
                          cwd=ROOT, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert tree.returncode == 0 and "model run" in tree.stdout and "prediction" in tree.stdout
    missing = subprocess.run([sys.executable, "-m", "daemon.cli", "trace", "ew-nope", "--data-dir",
                              str(daemon.data_dir)], cwd=ROOT, capture_output=True, text=True, env=clean_env(),
                             timeout=60)
    assert missing.returncode == 2 and "no order intent" in missing.stderr


def test_a_shadow_records_predictions_beside_the_active_strategy_and_never_trades(tmp_path: Path) -> None:
    from daemon.commands.calibration_shadow import agreement

    config = write_config(tmp_path, """
[strategies.flb_wide]
kind = "flb"
shadow_of = "flb"
favourite_threshold = 0.80
longshot_threshold = 0.20
""")
    config.write_text(config.read_text().replace("[engine]\n", "[engine]\nprediction_interval_seconds = 1\n"))
    daemon = Daemon(tmp_path, config)
    daemon.wait_event("daemon_ready")
    path = daemon.data_dir / "edgewarden.sqlite"

    def shadow_rows() -> int:
        with LedgerReader(path) as reader:
            return len(reader.rows("predictions", "strategy = 'flb_wide' AND kind = 'shadow_interval'"))

    daemon.wait_for(lambda: shadow_rows() >= 30, 60, "shadow interval predictions")
    assert daemon.stop() == 0
    with LedgerReader(path) as reader:
        assert reader.rows("order_intents", "strategy = 'flb_wide'") == []  # never reaches the gate
        assert reader.rows("decisions", "strategy = 'flb_wide'") == []
        assert reader.rows("model_runs", "strategy = 'flb_wide' AND trigger = 'shadow of flb'")
        report = agreement(reader, "flb_wide", "flb")
    # The same calibration curve, other thresholds: the fair values agree exactly, rank for rank.
    assert report["pairs"] >= 30 and report["rank_correlation"] == pytest.approx(1.0) and report["psi"] == 0.0
    assert report["psi_band"] == "stable"
