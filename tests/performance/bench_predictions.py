"""Prediction logging's cost per tick: `python -m tests.performance.bench_predictions`.

The tick records, after its orders are sent, one ``decisions`` row per proposal (the
baseline, as before predictions existed) and now also its model runs, inputs, predictions
and published predictions, plus every strategy's fair value of every market once per
interval. Prints µs per tick for each over 500 markets with 20 proposals, into a real
ledger, and the ratio to the decision rows. None of it is on the book → order path.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from config import load_settings
from daemon.engine import Decided, Engine
from daemon.ledger import Ledger
from daemon.predictions import PredictionLog
from daemon.tick_decision import TickDecider
from risk.engine import RiskEngine
from risk.limits import RiskLimits
from strategies.base import StrategyDefaults
from strategies.market_board import MarketBoard
from strategies.registry import build_strategies

MARKETS, TICKS = 500, 400


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def main() -> None:
    settings = load_settings(None)
    limits = RiskLimits.from_settings(settings.risk, settings.fees)
    strategies = build_strategies(settings.strategies.tables(), StrategyDefaults(limits.min_edge, limits.fee_rate_ppm))
    risk, board = RiskEngine(limits), MarketBoard()
    rng = np.random.default_rng(7)
    now = time.time_ns()
    for i in range(MARKETS):
        slot = risk.register_market(f"KXBENCH-{i:04d}", -1)
        board.add(f"KXBENCH-{i:04d}", slot)
        bid = int(rng.integers(100, 9_700))
        board.update(slot, bid, bid + 100, 5_000, 5_000, now, True)
        board.fair_yes[slot] = min(0.999, (bid + 900) / 10_000)  # every market an odds-edge proposal
        risk.gate.update_book(slot, now, 100)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = await Ledger.open(Path(tmp) / "l.sqlite", intent_sync="os")
        engine = Engine.__new__(Engine)  # the parts the recorders read, without a venue
        engine.board, engine.risk, engine.gate, engine.ledger = board, risk, risk.gate, ledger
        engine.decider, engine._strategies = TickDecider(strategies), list(strategies)
        engine.metrics = SimpleNamespace(decisions=SimpleNamespace(labels=lambda **_: SimpleNamespace(inc=lambda n: None)))
        engine.state = SimpleNamespace(book_ready_ns=now, refresh_ns=now)
        engine.predictions = None
        log = PredictionLog(ledger, interval_s=60.0)
        decision = engine.decider.decide(board, risk.gate, now, 0)  # room 0: all THROTTLED, none reserved
        k = 20
        decision.proposals = min(k, decision.proposals)
        decided = Decided(decision, [], 100_000)
        base, preds, interval = [], [], []
        for t in range(TICKS):
            s = time.perf_counter_ns()
            engine._record(decided, now + t)  # (with engine.predictions None: decisions rows only)
            base.append((time.perf_counter_ns() - s) / 1e3)
            s = time.perf_counter_ns()
            log.on_decision(engine, decided, {i: f"ew-{t}-{i}" for i in range(5)}, now + t)
            preds.append((time.perf_counter_ns() - s) / 1e3)
            log.last_interval_ns = 0
            s = time.perf_counter_ns()
            log.observe(engine, now + t)
            interval.append((time.perf_counter_ns() - s) / 1e3)
            if t % 50 == 0:
                await ledger.flush()
        await ledger.close()
    print(f"prediction logging, {MARKETS} markets, {decision.proposals} proposals a tick, {TICKS} ticks:")
    print(f"  decisions rows (baseline):           p50 {p(base, 50):7.0f} µs  p99 {p(base, 99):7.0f} µs")
    print(f"  predictions, runs, inputs, published: p50 {p(preds, 50):7.0f} µs  p99 {p(preds, 99):7.0f} µs"
          f"   ratio {p(preds, 50) / p(base, 50):.1f}x")
    print(f"  interval ({MARKETS} markets x strategies, once a minute): p50 {p(interval, 50):7.0f} µs"
          f"  p99 {p(interval, 99):7.0f} µs")
    print("  all after the tick's sends: the book → order path does none of it")


if __name__ == "__main__":
    asyncio.run(main())
