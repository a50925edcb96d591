"""Backtest speed: `python -m tests.performance.bench_backtest [--quick]`.

Prints book events per second on one core for the FLB strategy through the real gate
(decisions on the daemon's 1 s tick, every event through the numba fill/queue core), and
the same strategy on the same data in backtrader, as a ratio. Goals: ≥ 2 million events/s;
≥ 50× backtrader.

backtrader is not a project dependency: it is installed into its own virtual environment
under the user cache directory (reused across runs) and run there as a subprocess, on the
same quotes exported to a .npz file. backtrader calls its strategy on every bar, so the
ratio is printed twice: ours deciding on the daemon's tick (how edgewarden runs), and ours
deciding after every event time (backtrader's cadence).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from backtest.engine import Execution, run_backtest
from backtest.events import BOOK, Dataset
from backtest.synthetic import SyntheticMarkets, generate
from risk.limits import RiskLimits
from strategies.flb import KALSHI_FLB_TABLE, CalibrationCurve, FavouriteLongshot

S = 1_000_000_000
FAV, LONG, MIN_EDGE, SCALE = 9_000, 1_000, 0.005, 3.0
CURVE_POINTS = [(p, p + (w - p) * SCALE) for p, w in KALSHI_FLB_TABLE]


def limits() -> RiskLimits:
    big = 10**12
    return RiskLimits(capital=10_000 * 10_000, kelly_fraction=0.25, min_edge=MIN_EDGE, position_cap=500 * 10_000,
                      group_cap=big, total_cap=big, daily_loss=big, loss_streak=10**6, loss_streak_pause_ns=0,
                      max_slippage_bps=50.0, slippage_window=20, error_burst_per_hour=10**6,
                      stale_book_ns=30 * S, no_fills_scans=10**6, max_spread_bps=200.0,
                      max_order_count=10**9, fee_rate_ppm=70_000)


def strategy() -> FavouriteLongshot:
    return FavouriteLongshot(FAV, LONG, MIN_EDGE, 70_000, CalibrationCurve.from_points(CURVE_POINTS))


def time_ours(data: Dataset, interval_ns: int, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run_backtest(data, [strategy()], limits(), Execution(decision_interval_ns=interval_ns))
        best = min(best, time.perf_counter() - started)
    return best, result


# ---------------------------------------------------------------------- backtrader
BT_SCRIPT = r'''
import datetime, json, math, sys, time, bisect
import numpy as np
import backtrader as bt

z = np.load(sys.argv[1])
FAV, LONG, MIN_EDGE = float(z["fav"]), float(z["long"]), float(z["min_edge"])
XS, EX = [float(x) for x in z["curve_x"]], [float(x) for x in z["curve_excess"]]

def fair_yes(p):
    if p <= XS[0]: e = EX[0]
    elif p >= XS[-1]: e = EX[-1]
    else:
        i = bisect.bisect_right(XS, p) - 1
        e = EX[i] + (EX[i + 1] - EX[i]) * (p - XS[i]) / (XS[i + 1] - XS[i])
    return min(max(p + e, 1e-6), 1 - 1e-6)

class Quotes(bt.feed.DataBase):
    lines = ("bid", "ask", "bidsize", "asksize")
    params = (("rows", None),)
    def start(self):
        super().start()
        self._i = 0
    def _load(self):
        ts, bid, ask, bsz, asz = self.p.rows
        i = self._i
        if i >= len(ts):
            return False
        self._i = i + 1
        self.lines.datetime[0] = bt.date2num(datetime.datetime.utcfromtimestamp(ts[i] / 1e9))
        a = ask[i] / 1e4
        self.lines.open[0] = self.lines.high[0] = self.lines.low[0] = self.lines.close[0] = a
        self.lines.volume[0] = asz[i] / 100
        self.lines.openinterest[0] = 0
        self.lines.bid[0], self.lines.ask[0] = bid[i] / 1e4, a
        self.lines.bidsize[0], self.lines.asksize[0] = bsz[i] / 100, asz[i] / 100
        return True

class KalshiFee(bt.CommInfoBase):
    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED))
    def _getcommission(self, size, price, pseudoexec):
        return math.ceil(0.07 * abs(size) * price * (1 - price) * 100 - 1e-9) / 100

class Flb(bt.Strategy):
    def __init__(self):
        self.seen = [0] * len(self.datas)
        self.orders = 0
    def next(self):
        for k, d in enumerate(self.datas):
            n = len(d)
            if n == self.seen[k]:
                continue
            self.seen[k] = n
            if self.getposition(d).size:
                continue
            ask, bid = d.ask[0], d.bid[0]
            if ask >= FAV:
                p = fair_yes(ask)
                if p - ask - 0.07 * ask * (1 - ask) > MIN_EDGE:
                    self.buy(data=d, size=d.asksize[0]); self.orders += 1
            elif 0 < bid <= LONG:
                p = 1 - fair_yes(bid)
                no = 1 - bid
                if p - no - 0.07 * no * (1 - no) > MIN_EDGE:
                    self.sell(data=d, size=d.bidsize[0]); self.orders += 1

cerebro = bt.Cerebro(stdstats=False)
cerebro.broker.setcash(1e9)
cerebro.broker.addcommissioninfo(KalshiFee())
slot, ts = z["slot"], z["ts"]
for m in range(int(z["n_markets"])):
    rows = np.flatnonzero(slot == m)
    cerebro.adddata(Quotes(rows=(ts[rows], z["bid"][rows], z["ask"][rows], z["bsz"][rows], z["asz"][rows])))
cerebro.addstrategy(Flb)
started = time.perf_counter()
strat = cerebro.run()[0]
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "orders": strat.orders, "events": int(len(ts))}))
'''


def backtrader_python() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgewarden" / "bench-backtrader"
    python = cache / "bin" / "python"
    if not python.exists() or subprocess.run([str(python), "-c", "import backtrader, numpy"],
                                              capture_output=True).returncode:
        print(f"setting up backtrader in {cache} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(cache)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "backtrader", "numpy"], check=True)
    return python


def time_backtrader(data: Dataset) -> dict:
    book = data.kind == BOOK
    points = np.asarray(CURVE_POINTS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "quotes.npz"
        np.savez(path, ts=data.ts[book], slot=data.slot[book], bid=data.a[book], ask=data.b[book],
                 bsz=data.c[book], asz=data.d[book], n_markets=data.n_markets, fav=FAV / 1e4, long=LONG / 1e4,
                 min_edge=MIN_EDGE, curve_x=points[:, 0], curve_excess=points[:, 1] - points[:, 0])
        script = Path(tmp) / "bt_flb.py"
        script.write_text(BT_SCRIPT)
        done = subprocess.run([str(backtrader_python()), str(script), str(path)], capture_output=True,
                              text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    quick = "--quick" in sys.argv
    # warm-up: numba kernels load from their cache (or compile) outside the timings
    warm, _, _ = generate(SyntheticMarkets(n_markets=20, updates=50, trades_every=5, bias_scale=SCALE))
    time_ours(warm, S, repeat=1)
    time_ours(warm, 0, repeat=1)

    n_markets, updates = (200, 2_000) if quick else (1_000, 2_000)
    big, _, _ = generate(SyntheticMarkets(n_markets=n_markets, updates=updates, trades_every=10, bias_scale=SCALE,
                                          jitter_ticks=1, step_ns=S // 10, life_ns=120 * S, seed=1))
    seconds, result = time_ours(big, S)
    print(f"edgewarden: {big.book_events:,} book events + {len(big) - big.book_events:,} trades/settlements, "
          f"{n_markets} markets, decisions every 1 s ({result.decisions:,}), {len(result.fills):,} fills: "
          f"{seconds:.3f} s → {big.book_events / seconds / 1e6:.2f} M book events/s "
          f"({len(big) / seconds / 1e6:.2f} M events/s all kinds)   goal ≥ 2 M/s")

    same, _, _ = generate(SyntheticMarkets(n_markets=20 if quick else 50, updates=1_000 if quick else 2_000,
                                           bias_scale=SCALE, jitter_ticks=1, step_ns=S // 10, life_ns=60 * S,
                                           seed=2))
    tick_s, tick_result = time_ours(same, S)
    every_s, every_result = time_ours(same, 0, repeat=1)
    bt = time_backtrader(same)
    ours_tick = same.book_events / tick_s
    ours_every = same.book_events / every_s
    theirs = bt["events"] / bt["seconds"]
    print(f"same data ({same.book_events:,} book events, {same.n_markets} markets):")
    print(f"  edgewarden, 1 s ticks:        {ours_tick / 1e6:8.3f} M events/s  "
          f"({tick_result.decisions:,} decisions, {len(tick_result.orders):,} orders)")
    print(f"  edgewarden, every event time: {ours_every / 1e6:8.3f} M events/s  "
          f"({every_result.decisions:,} decisions, {len(every_result.orders):,} orders)")
    print(f"  backtrader, every bar:        {theirs / 1e6:8.3f} M events/s  ({bt['orders']:,} orders)")
    print(f"ratio vs backtrader: {ours_tick / theirs:.0f}× on the daemon's tick, "
          f"{ours_every / theirs:.1f}× deciding on every event   goal ≥ 50×")


if __name__ == "__main__":
    main()
