"""Threshold sweeps: the favourite–longshot strategy over a grid of (favourite, longshot)
thresholds, each point a full backtest, run in parallel.

Backends: :class:`LocalBackend` (a process pool on this machine; one worker runs inline)
and :class:`DaskBackend` (a ``dask.distributed`` Client the caller connected, so this module
opens no socket). The data goes to each worker once, not once per point. Results come back
in grid order whatever order the workers finish in, so every backend gives the same table.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

from market.units import DAY_NS
from risk.limits import RiskLimits
from strategies.base import Strategy
from strategies.flb import FavouriteLongshot

from .engine import Execution, run_backtest
from .events import Dataset
from .metrics import summarize


@dataclass(frozen=True, slots=True)
class SweepPoint:
    favourite: int
    longshot: int


@dataclass(frozen=True, slots=True)
class SweepJob:
    """Everything but the thresholds: strategies (every FavouriteLongshot among them gets the
    point's thresholds), the gate's limits and the simulated venue."""

    strategies: tuple[Strategy, ...]
    limits: RiskLimits
    execution: Execution = Execution()
    period_ns: int = DAY_NS


def grid(favourites: Sequence[int], longshots: Sequence[int]) -> list[SweepPoint]:
    """Every pair with the longshot threshold below the favourite one, in a fixed order."""
    return [SweepPoint(f, s) for f in favourites for s in longshots if s < f]


def with_thresholds(strategies: Sequence[Strategy], point: SweepPoint) -> list[Strategy]:
    return [dataclasses.replace(s, favourite_threshold=point.favourite, longshot_threshold=point.longshot)
            if isinstance(s, FavouriteLongshot) else s for s in strategies]


def run_point(data: Dataset, job: SweepJob, point: SweepPoint) -> dict[str, Any]:
    result = run_backtest(data, with_thresholds(job.strategies, point), job.limits, job.execution)
    return {"favourite": point.favourite, "longshot": point.longshot,
            **summarize(result, job.period_ns).as_row()}


class Backend(Protocol):
    def map(self, data: Dataset, job: SweepJob, points: Sequence[SweepPoint]) -> Iterator[tuple[int, dict]]:
        """(index into points, result row) as each point finishes."""
        ...


_WORKER: dict[str, Any] = {}


def _init_worker(data: Dataset, job: SweepJob) -> None:
    _WORKER["data"], _WORKER["job"] = data, job


def _run_in_worker(index: int, point: SweepPoint) -> tuple[int, dict[str, Any]]:
    return index, run_point(_WORKER["data"], _WORKER["job"], point)


@dataclass
class LocalBackend:
    workers: int = 0
    """0 = one per CPU; 1 = run inline, no pool."""

    def map(self, data: Dataset, job: SweepJob, points: Sequence[SweepPoint]) -> Iterator[tuple[int, dict]]:
        workers = self.workers or os.cpu_count() or 1
        if workers == 1 or len(points) <= 1:
            for i, point in enumerate(points):
                yield i, run_point(data, job, point)
            return
        with ProcessPoolExecutor(min(workers, len(points)), initializer=_init_worker,
                                 initargs=(data, job)) as pool:
            futures = [pool.submit(_run_in_worker, i, p) for i, p in enumerate(points)]
            for future in as_completed(futures):
                yield future.result()


@dataclass
class DaskBackend:
    client: Any
    """A connected ``dask.distributed.Client`` (LocalCluster or ``tcp://HOST:PORT``)."""

    def map(self, data: Dataset, job: SweepJob, points: Sequence[SweepPoint]) -> Iterator[tuple[int, dict]]:
        from dask.distributed import as_completed as dask_completed

        data_f = self.client.scatter(data, broadcast=True)
        job_f = self.client.scatter(job, broadcast=True)
        futures = {self.client.submit(run_point, data_f, job_f, p, pure=False): i
                   for i, p in enumerate(points)}
        for future in dask_completed(list(futures)):
            yield futures[future], future.result()


def sweep(data: Dataset, job: SweepJob, points: Sequence[SweepPoint], backend: Backend | None = None,
          progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """One result row per point, in the order of ``points``."""
    rows: list[dict[str, Any] | None] = [None] * len(points)
    done = 0
    for index, row in (backend or LocalBackend()).map(data, job, points):
        rows[index] = row
        done += 1
        if progress:
            progress(done, len(points))
    return [r for r in rows if r is not None]


def best(rows: Sequence[dict[str, Any]], objective: str = "pnl") -> dict[str, Any]:
    """The row with the highest ``objective`` (NaN counts as worst); ties go to the earlier row."""
    def key(item: tuple[int, dict[str, Any]]) -> tuple[float, int]:
        value = item[1][objective]
        return (float("-inf") if value != value else float(value), -item[0])

    return max(enumerate(rows), key=key)[1]
