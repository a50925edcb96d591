"""`edgewarden calibration fit|list|show|promote|rollback` as an operator runs them: a real
subprocess per command, a real registry directory, history written as the backtest's CSVs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.calibration_history import biased, write_history

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def edgewarden(*args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDGEWARDEN_")}
    return subprocess.run([sys.executable, "-m", "daemon.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=clean)


def calibration(state: Path, *args: str) -> subprocess.CompletedProcess:
    return edgewarden("calibration", *args, "--data-dir", str(state))


def listing(state: Path) -> dict:
    result = calibration(state, "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def tree_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("history")
    return {
        "biased": write_history(base / "biased", 3000, biased(0.07), seed=1),
        # the past ran the other way; the recent window looks like "biased", the active version then
        "turned": [write_history(base / "old", 2400, biased(-0.05), seed=2, days=48.0),
                   write_history(base / "recent", 600, biased(0.07), seed=3, start_day=48.0, days=12.0)],
        "short": write_history(base / "short", 300, biased(0.07), seed=4),
    }


def test_fit_gate_promote_rollback_end_to_end(tmp_path: Path, histories: dict) -> None:
    state = tmp_path / "state"
    first = listing(state)  # first use writes the baseline and makes it active
    assert first["active"] == "builtin-kalshi-2024"
    assert [v["status"] for v in first["versions"]] == ["baseline"]

    fit = calibration(state, "fit", "--data", str(histories["biased"]), "--json", "--who", "ci")
    assert fit.returncode == 0, fit.stderr
    good = json.loads(fit.stdout)
    assert (good["status"], good["activated"]) == ("passed", True)
    assert good["gate"]["candidate"]["ece"] < good["gate"]["active"]["ece"]
    assert good["gate"]["candidate"]["brier"] <= good["gate"]["active"]["brier"]
    assert listing(state)["active"] == good["version"]
    kept = tree_bytes(state / "registry" / good["version"])

    # a candidate that would worsen Brier is refused, recorded with its numbers, and not active
    old, recent = histories["turned"]
    bad_fit = calibration(state, "fit", "--data", str(old), "--data", str(recent), "--json")
    assert bad_fit.returncode == 0, bad_fit.stderr
    bad = json.loads(bad_fit.stdout)
    assert (bad["status"], bad["activated"]) == ("rejected", False)
    assert bad["gate"]["candidate"]["brier"] > bad["gate"]["active"]["brier"]
    manifest = json.loads((state / "registry" / bad["version"] / "manifest.json").read_text())
    assert manifest["status"] == "rejected" and manifest["parent"] == good["version"]
    assert manifest["metrics"]["holdout"]["brier"] == bad["gate"]["candidate"]["brier"]
    assert listing(state)["active"] == good["version"]

    refused = calibration(state, "promote", bad["version"], "--reason", "try")
    assert refused.returncode == 2 and "rejected by the gate" in refused.stderr and "--force" in refused.stderr
    no_reason = calibration(state, "promote", bad["version"], "--force")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr

    forced = calibration(state, "promote", bad["version"], "--force", "--reason", "drill", "--who", "alice")
    assert forced.returncode == 0, forced.stderr
    assert "forced past the gate" in forced.stdout

    back = calibration(state, "rollback", good["version"], "--reason", "the drill is over")
    assert back.returncode == 0, back.stderr
    assert tree_bytes(state / "registry" / "active") == kept  # the same artifact, byte for byte

    audit = listing(state)["audit"]
    assert [(e["action"], e["who"], e["forced"]) for e in audit[1:]] == [
        ("gate", "ci", False), ("promote", "alice", True), ("rollback", audit[-1]["who"], False)]
    assert audit[-1]["why"] == "the drill is over" and audit[-1]["previous"] == bad["version"]

    show = calibration(state, "show")
    assert show.returncode == 0 and show.stdout.startswith(f"{good['version']} (active): passed, hashes match")
    assert "| held-out window | ECE | Brier | log loss |" in show.stdout


def test_tampering_and_bad_input_are_clear_errors(tmp_path: Path, histories: dict) -> None:
    state = tmp_path / "state"
    fit = calibration(state, "fit", "--data", str(histories["biased"]), "--no-activate", "--json")
    assert fit.returncode == 0, fit.stderr
    version = json.loads(fit.stdout)["version"]
    assert listing(state)["active"] == "builtin-kalshi-2024"  # passed, but recorded only
    curve = state / "registry" / version / "curve.json"
    curve.write_text(curve.read_text().replace("0.", "0.0", 1))
    tampered = calibration(state, "promote", version, "--reason", "ship")
    assert tampered.returncode == 2
    assert f"{version} does not match its manifest: curve.json has sha256" in tampered.stderr
    assert listing(state)["active"] == "builtin-kalshi-2024"
    damaged = [v for v in listing(state)["versions"] if v["version"] == version]
    assert damaged[0]["status"] == "damaged"

    short = calibration(state, "fit", "--data", str(histories["short"]))
    assert short.returncode == 2
    assert "no candidate: 300 settled markets with a price; at least 500 needed (--min-samples)" in short.stderr
    assert len(listing(state)["versions"]) == 2  # no version written

    for args, message in ((["fit"], "no data: give --data"),
                          (["fit", "--data", str(tmp_path / "nope.csv")], "no such file"),
                          (["fit", "--ledger"], "--ledger: no ledger at"),
                          (["show", "v9"], "no calibration version 'v9'"),
                          (["rollback", version, "--reason", "r"], "has never been active"),
                          (["promote", "builtin-kalshi-2024", "--reason", "r"], "already active")):
        result = calibration(state, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
