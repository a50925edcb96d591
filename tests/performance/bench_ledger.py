"""Ledger throughput and intent latency: `python -m tests.performance.bench_ledger`.

Prints durable rows/s with group commit against one commit per row (the baseline, measured
in the same run on the same disk), the ratio, and p50/p99 of one intent made durable: by
`await write()` (a ledger commit), by `await write_ahead()` (the intent journal, as the
engine does, in both ``intent_sync`` modes) and by aiosqlite (the baseline). Goals:
≥ 200,000 durable rows/s batched; intent p99 ≤ 2 ms.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import aiosqlite
import numpy as np

from daemon.ledger import Ledger, connect, migrate
from market.orders import Action, Side, make_client_order_id


def intent(i: int, hashed: bool = False) -> dict:
    coid = make_client_order_id("bench", "KX-BENCH", Side.YES, Action.BUY, 5_000, 100, i) if hashed else f"bench-{i}"
    return {
        "client_order_id": coid, "ticker": "KX-BENCH", "side": "yes", "action": "buy",
        "price": 5_000, "count": 100, "time_in_force": "immediate_or_cancel", "post_only": False,
        "reduce_only": False, "strategy": "bench", "decision_ts_ns": i, "fair_probability": 0.9,
        "ts_ns": time.time_ns(),
    }


async def group_commit(path: Path, writers: int = 32, rounds: int = 20, rows: int = 500,
                       hashed: bool = False, ready: bool = False) -> float:
    """Concurrent ``await write()`` callers. ``hashed``: real client_order_ids (BLAKE2b, so the
    unique index takes random inserts); ``ready``: callers' rows built before the clock starts."""
    ledger = await Ledger.open(path)
    counter = iter(range(10**9))
    prepared = [[intent(next(counter), hashed) for _ in range(rows)] for _ in range(writers * rounds)] if ready else []

    async def writer() -> None:
        for _ in range(rounds):
            batch = prepared.pop() if ready else [intent(next(counter), hashed) for _ in range(rows)]
            await ledger.write("order_intents", batch)

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - start
    batches = ledger.batches
    await ledger.close()
    total = writers * rounds * rows
    what = ("hashed ids" if hashed else "sequential ids") + (", rows ready" if ready else "")
    print(f"  group commit ({what}): {total:,} rows in {batches:,} transactions, {elapsed:.2f} s")
    return total / elapsed


async def group_commit_samples(path: Path, n: int = 400_000, chunk: int = 1_000) -> float:
    """Background rows (metric samples: no unique index) appended, then one flush."""
    ledger = await Ledger.open(path)
    now = time.time_ns()
    start = time.perf_counter()
    for base in range(0, n, chunk):
        ledger.append("metric_samples", [
            {"ts_ns": now + i, "name": "tick_seconds", "labels": None, "value": 0.001}
            for i in range(base, base + chunk)
        ])
        await asyncio.sleep(0)
    await ledger.flush()
    elapsed = time.perf_counter() - start
    await ledger.close()
    return n / elapsed


def one_commit_per_row(path: Path, n: int = 2_000) -> float:
    conn = connect(path)
    migrate(conn)
    columns = list(intent(0))
    sql = f"INSERT INTO order_intents ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    start = time.perf_counter()
    for i in range(n):
        row = intent(10**8 + i)
        conn.execute("BEGIN")
        conn.execute(sql, tuple(row.values()))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def intent_latency(path: Path, n: int = 2_000, background: bool = False,
                         ahead: str | None = None) -> np.ndarray:
    """``ahead`` None: ``write()``; "fsync" or "os": ``write_ahead()`` with that intent_sync."""
    ledger = await Ledger.open(path, intent_sync=ahead or "fsync")  # type: ignore[arg-type]

    async def one(row: dict) -> None:
        await (ledger.write_ahead([row]) if ahead else ledger.write("order_intents", [row]))

    stop = asyncio.Event()

    async def noise() -> None:
        i = 0
        while not stop.is_set():
            ledger.append("metric_samples", [{"name": "noise", "value": float(i)} for _ in range(50)])
            i += 1
            await asyncio.sleep(0.001)

    noise_task = asyncio.create_task(noise()) if background else None
    samples = np.empty(n)
    await one(intent(3 * 10**8 + (n if background else 0)))  # warm
    for i in range(n):
        row = intent(2 * 10**8 + i + (n if background else 0))
        start = time.perf_counter_ns()
        await one(row)
        samples[i] = (time.perf_counter_ns() - start) / 1_000
    stop.set()
    if noise_task:
        await noise_task
    await ledger.close()
    return samples


async def aiosqlite_latency(path: Path, n: int = 2_000) -> np.ndarray:
    """The alternative DESIGN.md names: one intent through aiosqlite (a thread hop per await)."""
    conn = connect(path)
    migrate(conn)
    conn.close()
    columns = list(intent(0))
    sql = f"INSERT INTO order_intents ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA synchronous=FULL")
    samples = np.empty(n)
    for i in range(n):
        start = time.perf_counter_ns()
        await db.execute("BEGIN")
        await db.execute(sql, tuple(intent(4 * 10**8 + i).values()))
        await db.execute("COMMIT")
        samples[i] = (time.perf_counter_ns() - start) / 1_000
    await db.close()
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        print("edgewarden ledger benchmark (WAL, synchronous=FULL)")
        batched = asyncio.run(group_commit(base / "group.sqlite"))
        hashed = asyncio.run(group_commit(base / "hashed.sqlite", hashed=True, ready=True))
        ready = asyncio.run(group_commit(base / "ready.sqlite", ready=True))
        samples = asyncio.run(group_commit_samples(base / "samples.sqlite"))
        single = one_commit_per_row(base / "single.sqlite")
        print(f"  durable rows/s, group commit, intents (unique id index): {batched:10,.0f}"
              "   (callers build their dicts inside the timing)")
        print(f"  durable rows/s, same, rows ready, real hashed ids:      {hashed:10,.0f}"
              "   (random inserts into the unique index)")
        print(f"  durable rows/s, same, rows built before the clock:      {ready:10,.0f}")
        print(f"  durable rows/s, group commit, metric samples:           {samples:10,.0f}"
              "   (goal ≥ 200,000)")
        print(f"  durable rows/s, one commit per row (baseline):          {single:10,.0f}")
        print(f"  ratio group / per-row (intents):                        {batched / single:10.1f}x")
        for ahead in (None, "fsync", "os"):
            for background in (False, True):
                path = base / f"lat-{ahead}-{background}.sqlite"
                lat = asyncio.run(intent_latency(path, background=background, ahead=ahead))
                how = f"write_ahead() {ahead:5s}" if ahead else "write()            "
                what = "with background appends" if background else "idle"
                print(f"  await {how} one intent, {what:24s} p50 {np.percentile(lat, 50):7.0f} µs"
                      f"  p99 {np.percentile(lat, 99):7.0f} µs   (goal p99 ≤ 2,000 µs)")
        lat = asyncio.run(aiosqlite_latency(base / "aio.sqlite"))
        print(f"  aiosqlite one intent (baseline), idle            p50 {np.percentile(lat, 50):7.0f} µs"
              f"  p99 {np.percentile(lat, 99):7.0f} µs")
    _ = sqlite3  # stdlib sqlite3 is what both paths measure


if __name__ == "__main__":
    main()
