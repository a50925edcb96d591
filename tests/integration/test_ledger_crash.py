"""Durability: SIGKILL a writer at a random moment; every acknowledged intent survives."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.ledger import LedgerReader

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_acknowledged_intent_survives_sigkill(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "edgewarden.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.ledger_child", str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acknowledged: list[str] = []
    target = rng.randint(20, 400)
    deadline = time.monotonic() + 60
    while len(acknowledged) < target and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    time.sleep(rng.random() * 0.05)  # kill somewhere in the middle of later writes
    child.send_signal(signal.SIGKILL)
    # Whatever the child printed before dying was acknowledged too.
    acknowledged += [line.strip() for line in child.stdout.read().splitlines() if line.strip()]
    child.wait(10)
    assert len(acknowledged) >= target, "child wrote too little before the kill"
    with LedgerReader(path) as reader:
        durable = reader.intent_ids()
    missing = [coid for coid in acknowledged if coid not in durable]
    assert missing == []
