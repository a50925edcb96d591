"""Risk gate speed: `python -m tests.performance.bench_gate`.

Prints, for the full gate called from Python on one proposal, p50 and p99 in µs; for one
batch call of 1,000,000 proposals, decisions/s; the same for the pure-Python reference
(tests/risk_reference.py) and the ratio; and the time a fresh process takes to import the
gate and run its first decision from the numba cache. Goals: p50 ≤ 2 µs, p99 ≤ 5 µs,
≥ 20 million decisions/s batched, cached load < 1 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from risk.gate import RiskGate
from risk.limits import RiskLimits
from tests.risk_reference import RefLimits, RefState, decide

NOW = 10**18
SLOTS = 1_000
HUGE = 10**15  # caps never bind, so every decision runs the whole path (Kelly, fee, caps)


def limits() -> RiskLimits:
    return RiskLimits(
        capital=100_000_000, kelly_fraction=0.25, min_edge=0.01, position_cap=HUGE, group_cap=HUGE,
        total_cap=HUGE, daily_loss=5_000_000, loss_streak=5, loss_streak_pause_ns=1, max_slippage_bps=50.0,
        slippage_window=20, error_burst_per_hour=10, stale_book_ns=30 * 10**9, no_fills_scans=20,
        max_spread_bps=200.0, max_order_count=10**9, fee_rate_ppm=70_000,
    )


def gate_with_markets() -> RiskGate:
    gate = RiskGate(limits(), capacity=SLOTS, groups=16)
    for i in range(SLOTS):
        slot = gate.register_market(f"M{i}", i % 16)
        gate.update_book(slot, NOW, 100)
    return gate


def proposals(n: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    price = rng.integers(500, 9_500, n)
    fair = np.clip(price / 10_000 + rng.normal(0.03, 0.02, n), 0.01, 0.99)
    return (rng.integers(0, SLOTS, n), rng.integers(0, 2, n), price, fair, np.full(n, 10**6))


def single_call_latency(n: int = 200_000) -> np.ndarray:
    gate = gate_with_markets()
    slot, side, price, fair, cap = (a.tolist() for a in proposals(n))
    decide_one = gate.decide_one
    decide_one(0, 0, 9_000, 0.95, 10**6, NOW)  # compile/load before timing
    samples = np.empty(n)
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        decide_one(slot[i], side[i], price[i], fair[i], cap[i], NOW)
        samples[i] = clock() - start
    overhead = min(_clock_overhead(), float(np.min(samples)))
    return (samples - overhead) / 1_000


def _clock_overhead() -> float:
    clock = time.perf_counter_ns
    deltas = []
    for _ in range(10_000):
        a = clock()
        deltas.append(clock() - a)
    return float(np.median(deltas))


def batch_rate(n: int = 1_000_000) -> float:
    gate = gate_with_markets()
    arrays = proposals(n)
    gate.decide_batch(*(a[:10] for a in arrays), NOW)  # compile/load
    best = 0.0
    for _ in range(3):
        gate.reserved[:] = 0
        gate.reducing[:] = 0
        gate._recompute_exposure()
        start = time.perf_counter()
        gate.decide_batch(*arrays, NOW)
        best = max(best, n / (time.perf_counter() - start))
    return best


def reference_rate(n: int = 100_000) -> float:
    lim = limits()
    ref_lim = RefLimits(lim.capital, lim.kelly_fraction, lim.min_edge, lim.position_cap, lim.group_cap,
                        lim.total_cap, lim.max_order_count, lim.fee_rate_ppm, lim.stale_book_ns,
                        lim.max_spread_bps)
    state = RefState(position=[0] * SLOTS, cost=[0] * SLOTS, reserved=[0] * SLOTS,
                     group=[i % 16 for i in range(SLOTS)], book_ts=[NOW] * SLOTS, spread=[100] * SLOTS,
                     blocked=[0] * SLOTS, group_exposure=[0] * 16)
    rows = list(zip(*(a.tolist() for a in proposals(n)), strict=True))
    start = time.perf_counter()
    for slot, side, price, fair, cap in rows:
        decide(state, ref_lim, slot, side, price, fair, cap, NOW)
    return n / (time.perf_counter() - start)


def cached_load_seconds() -> float:
    """A fresh interpreter: import the gate and make one decision (kernels from the cache)."""
    code = (
        "import time; t = time.perf_counter()\n"
        "from tests.performance.bench_gate import gate_with_markets, NOW\n"
        "gate = gate_with_markets(); gate.decide_one(0, 0, 9000, 0.95, 10**6, NOW)\n"
        "import numpy as np; a = np.zeros(1, np.int64)\n"
        "gate.decide_batch(a, a, a + 9000, np.full(1, 0.95), a + 10**6, NOW)\n"
        "print(time.perf_counter() - t)"
    )
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        run = lambda: float(subprocess.run([sys.executable, "-c", code], cwd=root, env=env,  # noqa: E731
                                           capture_output=True, text=True, check=True).stdout)
        first = run()  # compiles and fills the cache
        cached = min(run() for _ in range(3))
    print(f"  fresh process, empty cache (compiles):     {first:8.2f} s")
    return cached


def main() -> None:
    print("edgewarden risk gate benchmark")
    lat = single_call_latency()
    print(f"  one proposal from Python: p50 {np.percentile(lat, 50):6.2f} µs   p99 {np.percentile(lat, 99):6.2f} µs"
          "   (goals ≤ 2 / ≤ 5 µs)")
    batched = batch_rate()
    reference = reference_rate()
    print(f"  batch of 1,000,000:        {batched:14,.0f} decisions/s   (goal ≥ 20,000,000)")
    print(f"  pure-Python reference:     {reference:14,.0f} decisions/s")
    print(f"  ratio kernel / reference:  {batched / reference:14,.0f}x")
    cached = cached_load_seconds()
    print(f"  fresh process, cached kernels: {cached:8.2f} s   (goal < 1 s)")


if __name__ == "__main__":
    main()
