"""Walk-forward: thresholds chosen on a training window, scored on the window after it.

Windows roll over the data's time span: train [t, t + train), test [t + train, t + train +
test), then t moves by ``step`` (default: the test length). Training sees only events
stamped before the training window ends, so a market still open at that moment is scored
without its result (its position stays open and counts only its fees). The test run trades
only inside its window but its trades are settled at their results, whenever those come:
that is scoring, not fitting. ``check_no_leakage`` guards every fit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .events import SETTLE, Dataset
from .sweep import Backend, SweepJob, SweepPoint, best, run_point, sweep


class LeakageError(RuntimeError):
    """Training data contains something from the test period."""


@dataclass(frozen=True, slots=True)
class Window:
    train_start: int
    train_end: int
    test_end: int

    @property
    def test_start(self) -> int:
        return self.train_end


def windows(start_ns: int, end_ns: int, train_ns: int, test_ns: int, step_ns: int = 0) -> list[Window]:
    if train_ns <= 0 or test_ns <= 0:
        raise ValueError("walk-forward: train and test lengths must be positive")
    step = step_ns or test_ns
    out = []
    t = start_ns
    while t + train_ns < end_ns:
        out.append(Window(t, t + train_ns, min(t + train_ns + test_ns, end_ns + 1)))
        t += step
    return out


def train_slice(data: Dataset, w: Window) -> Dataset:
    return data.between(w.train_start, w.train_end)


def test_slice(data: Dataset, w: Window) -> Dataset:
    """Events inside the test window, plus every later settlement (to score its trades)."""
    inside = (data.ts >= w.test_start) & (data.ts < w.test_end)
    return data.select(inside | ((data.kind == SETTLE) & (data.ts >= w.test_end)))


def check_no_leakage(train: Dataset, w: Window) -> None:
    if len(train) and int(train.ts.max()) >= w.train_end:
        late = int(np.count_nonzero(train.ts >= w.train_end))
        raise LeakageError(f"{late} training events are stamped at or after the training window's "
                           f"end {w.train_end}: test data would be visible at fit time")


Fit = Callable[[Dataset, SweepJob, Sequence[SweepPoint], Backend | None], list[dict[str, Any]]]


def walk_forward(data: Dataset, job: SweepJob, points: Sequence[SweepPoint], train_ns: int,
                 test_ns: int, step_ns: int = 0, objective: str = "pnl", backend: Backend | None = None,
                 progress: Callable[[int, int], None] | None = None, fit: Fit | None = None,
                 ) -> list[dict[str, Any]]:
    """One row per window: the thresholds chosen on train and the test figures they got."""
    rows = []
    all_windows = windows(data.start_ns, data.end_ns, train_ns, test_ns, step_ns)
    for n, w in enumerate(all_windows, start=1):
        train = train_slice(data, w)
        check_no_leakage(train, w)
        table = (fit or _sweep_fit)(train, job, points, backend)
        chosen = best(table, objective)
        point = SweepPoint(chosen["favourite"], chosen["longshot"])
        tested = run_point(test_slice(data, w), job, point)
        rows.append({
            "train_start": _iso(w.train_start), "test_start": _iso(w.test_start),
            "test_end": _iso(w.test_end),
            "favourite": point.favourite, "longshot": point.longshot,
            f"train_{objective}": chosen[objective], **{f"test_{k}": v for k, v in tested.items()
                                                        if k not in ("favourite", "longshot")},
        })
        if progress:
            progress(n, len(all_windows))
    return rows


def _iso(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def _sweep_fit(train: Dataset, job: SweepJob, points: Sequence[SweepPoint],
               backend: Backend | None) -> list[dict[str, Any]]:
    return sweep(train, job, points, backend)
