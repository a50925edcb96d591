"""The shipped unit file passes systemd-analyze verify and keeps a low exposure score."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "edgewarden.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _unit_with_existing_binary(tmp_path: Path) -> Path:
    """verify checks that ExecStart exists: point it at a binary this machine has."""
    text = UNIT.read_text().replace("/opt/edgewarden/.venv/bin/edgewarden", sys.executable)
    copy = tmp_path / "edgewarden.service"
    copy.write_text(text)
    return copy


@needs_analyze
def test_unit_file_verifies(tmp_path: Path) -> None:
    result = subprocess.run(
        [ANALYZE, "verify", str(_unit_with_existing_binary(tmp_path))],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "edgewarden.service" not in result.stderr, result.stderr


@needs_analyze
def test_security_exposure_is_low(tmp_path: Path) -> None:
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(_unit_with_existing_binary(tmp_path))],
        capture_output=True, text=True, timeout=60,
    )
    match = re.search(r"Overall exposure level for edgewarden\.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    print(f"systemd-analyze security exposure: {match.group(1)}")
    assert float(match.group(1)) <= 2.5


def test_unit_keeps_the_promised_settings() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify", "WatchdogSec=", "Restart=on-failure", "StartLimitBurst=",
        "ExecReload=/bin/kill -HUP $MAINPID", "User=edgewarden", "StateDirectory=edgewarden",
        "RuntimeDirectory=edgewarden", "LoadCredential=",
    ):
        assert line in text, line
    # numba JIT needs W+X memory; the unit must not forbid it.
    assert not re.search(r"^MemoryDenyWriteExecute=", text, re.M)
