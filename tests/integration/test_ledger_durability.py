"""SIGKILL a writer that mixes large background batches with durable intents.

After the kill the file must open cleanly (no migration, integrity ok), hold every
acknowledged intent (written ahead through the journal in both ``intent_sync`` modes, or
committed by ``write()``), never half of one append call, and take new rows; with
``write()`` also every background row queued before an acknowledged one (one queue, so
order is durability too).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.ledger import Ledger, LedgerReader, connect, schema_version
from daemon.ledger.schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import asyncio, sys
from pathlib import Path
from daemon.ledger import Ledger

async def main(path):
    mode = sys.argv[2]
    ledger = await Ledger.open(path, commit_delay_s=0.002, intent_sync="fsync" if mode == "write" else mode)
    i = 0
    while True:
        ledger.append("metric_samples", [{"name": f"m-{i}", "labels": str(k), "value": 1.0}
                                         for k in range(1 + (i * 37) % 400)])
        row = {"client_order_id": f"c-{i}", "ticker": "T", "side": "yes", "action": "buy",
               "price": 5_000, "count": 100, "time_in_force": "immediate_or_cancel",
               "post_only": False, "reduce_only": False, "strategy": "durability",
               "decision_ts_ns": i}
        if mode == "write":
            await ledger.write("order_intents", [row])
        else:
            await ledger.write_ahead([row])
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
        i += 1

asyncio.run(main(Path(sys.argv[1])))
"""


@pytest.mark.parametrize(("seed", "mode"), [(11, "write"), (12, "fsync"), (13, "fsync"), (14, "os"), (15, "os")])
def test_sigkill_mid_batch_loses_nothing_acknowledged(tmp_path: Path, seed: int, mode: str) -> None:
    """Both durability modes survive the process being killed (``os`` is not power-safe)."""
    rng = random.Random(seed)
    path = tmp_path / "edgewarden.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    acknowledged: list[int] = []
    target = rng.randint(10, 150)
    deadline = time.monotonic() + 60
    while len(acknowledged) < target and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    time.sleep(rng.random() * 0.03)
    child.send_signal(signal.SIGKILL)
    acknowledged += [int(line) for line in child.stdout.read().split()]
    child.wait(10)
    assert len(acknowledged) >= target, "child wrote too little before the kill"

    conn = connect(path)  # a writer connection recovers the WAL
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert schema_version(conn) == SCHEMA_VERSION
    conn.close()

    async def reopen_and_write() -> int:  # copies in what the journal holds and the ledger lacks
        ledger = await Ledger.open(path)
        await ledger.write("alerts", [{"name": "restarted", "severity": "info", "message": "ok"}])
        await ledger.close()
        return ledger.recovered_intents

    recovered = asyncio.run(reopen_and_write())
    if mode == "write":
        assert recovered == 0
    with LedgerReader(path) as reader:
        intents = {int(coid[2:]) for coid in reader.intent_ids()}
        samples: dict[int, int] = {}
        for r in reader.rows("metric_samples"):
            i = int(r["name"][2:])
            samples[i] = samples.get(i, 0) + 1
    assert set(acknowledged) <= intents
    if mode == "write":
        for i in acknowledged:  # everything queued before an acknowledged write is there too
            assert samples.get(i) == 1 + (i * 37) % 400
    for i, n in samples.items():  # an append call is never half there
        assert n == 1 + (i * 37) % 400

    with LedgerReader(path) as reader:
        assert [r["name"] for r in reader.rows("alerts")] == ["restarted"]
