"""The CLI as a user runs it: a real subprocess per command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]


def edgewarden(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDGEWARDEN_")}
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, env={**clean, **(env or {})},
    )


def test_help_lists_the_commands() -> None:
    result = edgewarden("--help")
    assert result.returncode == 0
    for command in ("version", "config", "fees", "ledger"):
        assert command in result.stdout


def test_version() -> None:
    result = edgewarden("version")
    assert result.returncode == 0 and result.stdout.startswith("edgewarden ")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--price", "0.50", "--count", "100"], "$1.75"),
        (["--price", "0.01", "--count", "100"], "$0.07"),
        (["--price", "0.50", "--count", "100", "--maker", "--schedule", "quadratic_with_maker_fees"], "$0.44"),
        (["--price", "0.50", "--count", "100", "--multiplier", "0.5"], "$0.88"),
        (["--price", "0.90", "--count", "10", "--schedule", "profit"], "$0.07"),
    ],
)
def test_fees(args: list[str], expected: str) -> None:
    result = edgewarden("fees", *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == expected


def test_fees_rejects_bad_input_with_the_value() -> None:
    result = edgewarden("fees", "--price", "1.20", "--count", "1")
    assert result.returncode == 2
    assert "'1.20'" in result.stdout


def test_config_check_lists_every_error_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('mode = "paper"\n[risk]\nkelly_fraction = 3\nnot_a_key = 1\n')
    result = edgewarden("config", "check", str(bad))
    assert result.returncode == 2
    for path in ("mode", "risk.kelly_fraction", "risk.not_a_key"):
        assert path in result.stderr, result.stderr


def test_config_check_accepts_the_shipped_files() -> None:
    for name in ("default.toml", "production.toml"):
        result = edgewarden("config", "check", str(ROOT / "config" / name))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "valid" in result.stdout


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----\n")
    result = edgewarden(
        "config", "show",
        env={"EDGEWARDEN_ODDS__API_KEY": "odds-secret-123",
             "EDGEWARDEN_VENUE__KALSHI__PRIVATE_KEY_FILE": str(key)},
    )
    assert result.returncode == 0, result.stderr
    assert "odds-secret-123" not in result.stdout and "TOPSECRET" not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["odds"]["api_key"] == "**********"


def test_ledger_inspect(tmp_path: Path) -> None:
    async def fill() -> None:
        ledger = await Ledger.open(tmp_path / "edgewarden.sqlite")
        await ledger.write("alerts", [{"name": "stale_book", "severity": "warning", "message": "KX-1 stale"}])
        await ledger.close()

    asyncio.run(fill())
    result = edgewarden("ledger", "inspect", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "alerts" in result.stdout and "stale_book" in result.stdout


def test_ledger_inspect_without_a_ledger_says_so(tmp_path: Path) -> None:
    result = edgewarden("ledger", "inspect", "--data-dir", str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "no ledger at" in result.stderr


def test_halt_locks_resume_without_a_daemon_go_to_the_ledger(tmp_path: Path) -> None:
    sock = ["--socket", str(tmp_path / "none.sock")]
    halted = edgewarden("halt", "--reason", "fed announcement", "--data-dir", str(tmp_path), *sock)
    assert halted.returncode == 0, halted.stderr
    assert "no daemon is running" in halted.stdout
    locks = edgewarden("locks", "--data-dir", str(tmp_path), *sock)
    assert "trading state: HALTED" in locks.stdout and "fed announcement" in locks.stdout
    lock_id = locks.stdout.splitlines()[1].split()[0]
    wrong = edgewarden("resume", "--reason", "x", "--lock", "nope", "--data-dir", str(tmp_path), *sock)
    assert wrong.returncode == 2 and "no lock 'nope'" in wrong.stderr
    resumed = edgewarden("resume", "--reason", "over", "--lock", lock_id, "--data-dir", str(tmp_path), *sock)
    assert resumed.returncode == 0, resumed.stderr
    assert "trading state: ACTIVE" in edgewarden("locks", "--data-dir", str(tmp_path), *sock).stdout


async def test_halt_is_refused_with_a_reason_while_another_process_writes_the_ledger(tmp_path: Path) -> None:
    """A daemon that is starting holds the ledger but does not answer on its socket yet."""
    writer = await Ledger.open(tmp_path / "edgewarden.sqlite")
    try:
        halted = await asyncio.to_thread(edgewarden, "halt", "--reason", "news", "--data-dir", str(tmp_path),
                                         "--socket", str(tmp_path / "none.sock"))
    finally:
        await writer.close()
    assert halted.returncode == 1
    assert "halt not recorded" in halted.stderr and "in use by another edgewarden process" in halted.stderr
    assert "Traceback" not in halted.stderr


async def test_halt_goes_through_a_running_daemon(tmp_path: Path) -> None:
    from daemon.control import ControlServer

    seen: list[dict] = []

    async def halt(fields: dict) -> dict:
        seen.append(fields)
        return {"lock_id": "operator_halt-1"}

    server = ControlServer(tmp_path / "control.sock", {"halt": halt})
    await server.start()
    try:
        result = await asyncio.to_thread(
            edgewarden, "halt", "--reason", "drill", "--data-dir", str(tmp_path),
            "--socket", str(tmp_path / "control.sock"),
        )
    finally:
        await server.stop()
    assert result.returncode == 0, result.stderr
    assert "halted the running daemon: lock operator_halt-1" in result.stdout
    assert seen and seen[0]["reason"] == "drill"
    assert not (tmp_path / "edgewarden.sqlite").exists()  # the daemon owns the ledger


def test_status_and_daily_report_from_the_ledger(tmp_path: Path) -> None:
    async def fill() -> None:
        ledger = await Ledger.open(tmp_path / "edgewarden.sqlite")
        now = time.time_ns()
        await ledger.write("fills", [{
            "fill_id": "f1", "order_id": "o1", "client_order_id": "c1", "ticker": "KXNBA-A-X",
            "side": "yes", "action": "buy", "count": 1_000, "price": 9_200, "is_taker": True,
            "fee": 5_200, "strategy": "flb", "decision_price": 9_200, "venue_ts_ns": now,
        }])
        await ledger.close()

    asyncio.run(fill())
    sock = ["--socket", str(tmp_path / "none.sock")]
    status = edgewarden("status", "--data-dir", str(tmp_path), *sock)
    assert status.returncode == 0, status.stderr
    assert "trading state: ACTIVE" in status.stdout
    assert "KXNBA-A-X: 10.00 yes contracts, cost $9.2000" in status.stdout
    assert "realized P&L today: $-0.5200" in status.stdout  # the fee
    report = edgewarden("report", "daily", "--data-dir", str(tmp_path))
    assert report.returncode == 0, report.stderr
    assert "trades 1  settled 0" in report.stdout and "fees $0.5200" in report.stdout


def test_devig_reference_values_and_bad_odds() -> None:
    result = edgewarden("devig", "--method", "multiplicative", "2.7", "2.3", "4.4")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["0.358738", "0.421127", "0.220135"]
    bad = edgewarden("devig", "2.7", "0.9")
    assert bad.returncode == 2 and "odds[1]" in bad.stdout
