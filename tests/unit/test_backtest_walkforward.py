"""Walk-forward windows, the leakage guard, and threshold sweeps (inline vs process pool)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest.engine import Execution
from backtest.events import SETTLE, Dataset
from backtest.sweep import LocalBackend, SweepJob, SweepPoint, best, grid, sweep
from backtest.synthetic import SyntheticMarkets, generate
from backtest.walkforward import (
    LeakageError,
    Window,
    check_no_leakage,
    train_slice,
    walk_forward,
    windows,
)
from backtest.walkforward import (
    test_slice as make_test_slice,
)
from strategies.flb import KALSHI_FLB_TABLE, CalibrationCurve, FavouriteLongshot
from tests.unit.test_backtest_engine import limits

S = 1_000_000_000
CURVE = CalibrationCurve.from_points([(p, p + (w - p) * 3) for p, w in KALSHI_FLB_TABLE])
JOB = SweepJob((FavouriteLongshot(9_000, 1_000, 0.005, 70_000, CURVE),),
               limits(total_cap=10**6 * 10_000, group_cap=10**6 * 10_000), Execution(decision_interval_ns=S))
POINTS = grid([8_500, 9_000, 9_500], [500, 1_000, 1_500])


def data(seed: int = 3) -> Dataset:
    spec = SyntheticMarkets(n_markets=400, updates=3, bias_scale=3.0, life_ns=400 * S, step_ns=S, seed=seed)
    return generate(spec)[0]


def test_windows_roll_and_the_test_slice_scores_later_settlements() -> None:
    assert windows(0, 100, 40, 20) == [Window(0, 40, 60), Window(20, 60, 80), Window(40, 80, 100),
                                       Window(60, 100, 101)][:3]
    assert windows(0, 100, 40, 20, step_ns=30) == [Window(0, 40, 60), Window(30, 70, 90)]
    d = data()
    w = Window(d.start_ns, d.start_ns + 100 * S, d.start_ns + 200 * S)
    tr, te = train_slice(d, w), make_test_slice(d, w)
    assert tr.ts.max() < w.train_end and te.ts.min() >= w.test_start
    late = te.ts >= w.test_end
    assert late.any() and (te.kind[late] == SETTLE).all()


def test_the_leakage_guard_refuses_training_data_from_the_test_period() -> None:
    d = data()
    w = Window(d.start_ns, d.start_ns + 100 * S, d.start_ns + 200 * S)
    check_no_leakage(train_slice(d, w), w)
    with pytest.raises(LeakageError, match="training events"):
        check_no_leakage(d.between(w.train_start, w.train_end + 10 * S), w)


def test_fitted_thresholds_do_not_depend_on_anything_after_the_training_window() -> None:
    d = data()
    train_ns, test_ns = 150 * S, 100 * S
    seen: list[tuple[int, int]] = []

    def fit(train: Dataset, job: SweepJob, points: list[SweepPoint], backend: object) -> list[dict]:
        seen.append((int(train.ts.max()), len(train)))
        return sweep(train, job, points, LocalBackend(1))

    rows = walk_forward(d, JOB, POINTS, train_ns, test_ns, fit=fit)
    assert len(rows) >= 2 and all(m < d.start_ns + train_ns + i * test_ns for i, (m, _) in enumerate(seen))
    # Everything after the first training window flipped: every later outcome, every later price.
    end = d.start_ns + train_ns
    later = d.ts >= end
    a = d.a.copy()
    a[later & (d.kind == SETTLE)] = 1 - a[later & (d.kind == SETTLE)]
    flipped = Dataset(d.tickers, d.ts, d.kind, d.slot, np.where(later & (d.kind == 0), 10_000 - d.b, a),
                      np.where(later & (d.kind == 0), 10_000 - d.a, d.b), d.c, d.d, d.fair, d.close_ts)
    again = walk_forward(flipped, JOB, POINTS, train_ns, test_ns, fit=fit)
    first = ("favourite", "longshot", "train_pnl")
    assert [rows[0][k] for k in first] == [again[0][k] for k in first]
    assert rows[0]["test_pnl"] != again[0]["test_pnl"]  # the test period did change


def same_rows(a: list[dict], b: list[dict]) -> bool:
    """Equal tables, NaN equal to NaN (Sharpe is NaN under two periods)."""
    def norm(rows: list[dict]) -> list[dict]:
        return [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]

    return norm(a) == norm(b)


def test_a_process_pool_sweep_equals_the_inline_sweep() -> None:
    d = data()
    inline = sweep(d, JOB, POINTS, LocalBackend(1))
    done: list[int] = []
    pooled = sweep(d, JOB, POINTS, LocalBackend(2), progress=lambda n, total: done.append(n))
    assert same_rows(pooled, inline) and done == list(range(1, len(POINTS) + 1))
    assert [(r["favourite"], r["longshot"]) for r in inline] == [(p.favourite, p.longshot) for p in POINTS]
    assert len({r["pnl"] for r in inline}) > 1  # the thresholds matter
    assert best(inline)["pnl"] == max(r["pnl"] for r in inline)
