"""Refit the favourite–longshot price → win-rate curve from settled markets, and gate it.

One sample per settled market: its last YES price before it closed (the mid of the last
book with both sides, else the one side it had, else the last trade) and whether it settled
YES. The samples are split by time: the most recent ones (``holdout_days``, or the last 20%)
are held out and never seen by the fit.

The fit is an isotonic regression (``monitoring.calibration.fit_isotonic``) of the outcome on
the price, one per price region (longshot < 0.5 ≤ favourite), summarised into price buckets
(5¢ wide, merged with the next until each holds ``min_bucket`` markets): each bucket's point
is its markets' average price and the fit's mean there, what ``CalibrationCurve.from_points``
takes. Each series family × region with at least ``min_segment`` markets also gets a fit of
its own, recorded with its numbers (the strategy trades on the pooled curve).

Pure: the caller loads the data (``backtest.data``) and writes the result (the daemon's
registry). The gate itself is ``monitoring.calibration_gate.gate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from market.units import CONTRACT_PAYOUT
from monitoring.calibration import brier, ece, fit_isotonic, log_loss
from monitoring.calibration_gate import (
    CURVE_KIND,
    REGION_SPLIT,
    REGIONS,
    SCHEMA_VERSION,
    GateResult,
    Scores,
    gate,
    series_family,
)
from strategies.flb import CalibrationCurve

from .events import BOOK, RESULT_YES, SETTLE, TRADE, Dataset

_DAY_NS = 86_400 * 1_000_000_000
_SPLIT_UNITS = round(REGION_SPLIT * CONTRACT_PAYOUT)
WIN_RATE_FLOOR = 1e-4
"""Bucket win rates are kept in [1e-4, 1 − 1e-4]: the curve needs them strictly inside (0, 1)."""


class NotEnoughData(ValueError):
    """Too few settled markets for a candidate: how many there are and how many are needed."""


@dataclass(frozen=True, slots=True)
class FitOptions:
    min_samples: int = 500
    """Settled markets needed in all (train and held-out together)."""
    min_segment: int = 100
    """Markets needed per price region to fit (and per family × region for a fit of its own)."""
    holdout_days: float | None = None
    """Hold out the markets that closed in the last N days of the data; None: the last 20%."""
    holdout_share: float = 0.2
    bucket_width: float = 0.05
    min_bucket: int = 20
    family: str = "*"
    """Fit only this series family (``KXNBAGAME``); ``*``: every series."""


@dataclass(frozen=True, slots=True)
class Samples:
    """One row per settled market, in order of close time."""

    ts: np.ndarray
    """When it closed (ns)."""
    price: np.ndarray
    """Its last YES price before the close, integer price units."""
    y: np.ndarray
    """1.0 if it settled YES, else 0.0."""
    family: np.ndarray
    """Series family per market (``series_family`` of its ticker)."""

    def __len__(self) -> int:
        return len(self.ts)

    def select(self, mask: np.ndarray) -> Samples:
        return Samples(self.ts[mask], self.price[mask], self.y[mask], self.family[mask])

    @property
    def region(self) -> np.ndarray:
        """Per market, the index into ``REGIONS`` of its price's region."""
        return (self.price >= _SPLIT_UNITS).astype(np.int64)


def samples_from_dataset(data: Dataset) -> tuple[Samples, dict[str, int]]:
    """Every market of ``data`` that settled YES or NO and has a price before its close,
    and how many settled ones were skipped for want of a price."""
    n_slots = data.n_markets
    index = np.arange(len(data))
    settle_at = np.full(n_slots, len(data), np.int64)  # event index of the first settlement
    settled = data.kind == SETTLE
    np.minimum.at(settle_at, data.slot[settled], index[settled])
    has = settle_at < len(data)
    cutoff = np.full(n_slots, -1, np.int64)
    cutoff[has] = data.ts[settle_at[has]]
    known_close = (data.close_ts > 0) & has
    cutoff[known_close] = np.minimum(cutoff[known_close], data.close_ts[known_close])
    before = (index < settle_at[data.slot]) & (data.ts <= cutoff[data.slot])
    bid, ask = data.a, data.b
    book = (data.kind == BOOK) & before & ((bid > 0) | (ask > 0))
    trade = (data.kind == TRADE) & before & (data.a > 0)
    last_book, last_trade = np.full(n_slots, -1, np.int64), np.full(n_slots, -1, np.int64)
    np.maximum.at(last_book, data.slot[book], index[book])
    np.maximum.at(last_trade, data.slot[trade], index[trade])
    slots = np.flatnonzero(has)
    price = np.zeros(n_slots, np.int64)
    for s in slots:
        if last_book[s] >= 0:
            b, a = int(bid[last_book[s]]), int(ask[last_book[s]])
            price[s] = (b + a) // 2 if b and a else (a or b)
        elif last_trade[s] >= 0:
            price[s] = int(data.a[last_trade[s]])
    priced = slots[price[slots] > 0]
    order = np.argsort(cutoff[priced], kind="stable")
    priced = priced[order]
    y = (data.a[settle_at[priced]] == RESULT_YES).astype(np.float64)
    family = np.array([series_family(data.tickers[int(s)]) for s in priced], dtype=object)
    return Samples(cutoff[priced], price[priced], y, family), {"no_price": int(len(slots) - len(priced))}


def split_holdout(samples: Samples, options: FitOptions) -> tuple[Samples, Samples]:
    """(train, held out): the held-out markets are the most recent ones by close time."""
    if options.holdout_days is not None:
        cut = int(samples.ts[-1]) - round(options.holdout_days * _DAY_NS) if len(samples) else 0
        held = samples.ts > cut
    else:
        k = math.ceil(len(samples) * options.holdout_share)
        held = np.arange(len(samples)) >= len(samples) - k
    return samples.select(~held), samples.select(held)


# ---------------------------------------------------------------------------------------------
# the fit


def _buckets(price: np.ndarray, fitted: np.ndarray, low: int, high: int, width: int,
             min_bucket: int) -> list[list[float]]:
    """[price_low, price_high, win_rate, avg_price, n] per bucket covering [low, high) (price
    units): ``width`` wide, each merged with the next until it holds ``min_bucket`` markets (a
    short last one joins the one before it)."""
    edges = [*range(low, high, width), high]
    which = np.clip(np.searchsorted(edges, price, side="right") - 1, 0, len(edges) - 2)
    groups: list[tuple[int, list[int]]] = []  # (low edge, members)
    pending: list[int] = []
    start = edges[0]
    for k in range(len(edges) - 1):
        pending += np.flatnonzero(which == k).tolist()
        if len(pending) >= min_bucket:
            groups.append((start, pending))
            pending, start = [], edges[k + 1]
    if pending and groups:
        lo, members = groups.pop()
        groups.append((lo, members + pending))
    elif pending:
        groups.append((start, pending))
    highs = [lo for lo, _ in groups[1:]] + [high]
    rows = []
    for (lo, members), hi in zip(groups, highs, strict=True):
        sel = np.asarray(members, np.int64)
        rate = float(np.clip(fitted[sel].mean(), WIN_RATE_FLOOR, 1.0 - WIN_RATE_FLOOR))
        rows.append([lo / CONTRACT_PAYOUT, hi / CONTRACT_PAYOUT, rate,
                     float(price[sel].mean() / CONTRACT_PAYOUT), len(sel)])
    return rows


def fit_curve(train: Samples, options: FitOptions) -> dict[str, Any]:
    """The ``curve.json`` document fitted on ``train`` (NotEnoughData when a region is short)."""
    if len(train) < options.min_segment * len(REGIONS):
        raise NotEnoughData(f"{len(train)} markets to fit on after the hold-out; at least "
                            f"{options.min_segment * len(REGIONS)} needed ({options.min_segment} per price region)")
    width = round(options.bucket_width * CONTRACT_PAYOUT)
    if not 0 < width <= _SPLIT_UNITS:
        raise ValueError(f"bucket width {options.bucket_width}: expected a share of $1 in (0, 0.5]")
    regions, calibrators = train.region, {}
    buckets: list[list[float]] = []
    for r, name in enumerate(REGIONS):
        part = train.select(regions == r)
        if len(part) < options.min_segment:
            raise NotEnoughData(f"{name} prices ({'below' if r == 0 else 'at or above'} {REGION_SPLIT}): "
                                f"{len(part)} markets to fit on, {options.min_segment} needed (--min-segment)")
        fit = fit_isotonic(part.price / CONTRACT_PAYOUT, part.y)
        calibrators[name] = fit.to_json()
        low, high = (0, _SPLIT_UNITS) if r == 0 else (_SPLIT_UNITS, CONTRACT_PAYOUT)
        buckets += _buckets(part.price, fit.predict(part.price / CONTRACT_PAYOUT), low, high, width,
                            options.min_bucket)
    return {
        "schema": SCHEMA_VERSION, "kind": CURVE_KIND, "segment": options.family,
        "points": [[row[3], row[2]] for row in buckets],
        "buckets": [[*row[:4], int(row[4])] for row in buckets],
        "calibrators": calibrators,
        "segments": _segment_fits(train, options.min_segment),
    }


def _segment_fits(train: Samples, min_segment: int) -> list[dict[str, Any]]:
    out = []
    regions = train.region
    for family in sorted(set(train.family.tolist())):
        for r, name in enumerate(REGIONS):
            part = train.select((train.family == family) & (regions == r))
            if not len(part):
                continue
            fitted = len(part) >= min_segment
            out.append({"family": family, "region": name, "n": len(part),
                        "calibrator": fit_isotonic(part.price / CONTRACT_PAYOUT, part.y).to_json() if fitted else None})
    return out


# ---------------------------------------------------------------------------------------------
# scoring and the gate


def predict(points: Sequence[Sequence[float]], samples: Samples) -> np.ndarray:
    """The fair probability of YES the strategy would use for each market's price."""
    return CalibrationCurve.from_points(points).fair_yes(samples.price)


def scores(points: Sequence[Sequence[float]], samples: Samples) -> Scores:
    p = predict(points, samples)
    return Scores(len(samples), ece(p, samples.y), brier(p, samples.y), log_loss(p, samples.y))


def segment_scores(candidate: Sequence[Sequence[float]], active: Sequence[Sequence[float]],
                   holdout: Samples) -> list[dict[str, Any]]:
    """Per series family × price region of the held-out window: both versions' numbers."""
    out = []
    pc, pa = predict(candidate, holdout), predict(active, holdout)
    regions = holdout.region
    for family in sorted(set(holdout.family.tolist())):
        for r, name in enumerate(REGIONS):
            m = (holdout.family == family) & (regions == r)
            if not m.any():
                continue
            y = holdout.y[m]
            out.append({"family": family, "region": name, "n": int(m.sum()),
                        "ece": ece(pc[m], y), "brier": brier(pc[m], y),
                        "active_ece": ece(pa[m], y), "active_brier": brier(pa[m], y)})
    return out


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fitted curve, its numbers and the gate's verdict against the active version."""

    curve: dict[str, Any]
    metrics: dict[str, Any]
    verdict: GateResult


def fit_candidate(samples: Samples, active_points: Sequence[Sequence[float]], active_version: str,
                  options: FitOptions) -> Candidate:
    """Hold out the most recent markets, fit on the rest, score both on the held-out ones, gate."""
    if options.family != "*":
        samples = samples.select(samples.family == options.family.upper())
    if len(samples) < options.min_samples:
        raise NotEnoughData(f"{len(samples)} settled markets with a price"
                            f"{'' if options.family == '*' else ' in ' + options.family}; "
                            f"at least {options.min_samples} needed (--min-samples)")
    train, holdout = split_holdout(samples, options)
    if len(holdout) < options.min_segment:
        raise NotEnoughData(f"{len(holdout)} markets in the held-out window; at least {options.min_segment} "
                            "needed to judge a candidate (a longer --holdout-days, or more data)")
    curve = fit_curve(train, options)
    mine, theirs = scores(curve["points"], holdout), scores(active_points, holdout)
    metrics = {
        "holdout": {**_asdict(mine), **_window(holdout)},
        "active_holdout": {"version": active_version, **_asdict(theirs)},
        "train": {"n": len(train), **_window(train)},
        "segments": segment_scores(curve["points"], active_points, holdout),
    }
    return Candidate(curve, metrics, gate(mine, theirs, active_version))


def _asdict(s: Scores) -> dict[str, Any]:
    return {"n": s.n, "ece": s.ece, "brier": s.brier, "log_loss": s.log_loss}


def _window(s: Samples) -> dict[str, int]:
    return {"start_ns": int(s.ts[0]), "end_ns": int(s.ts[-1])} if len(s) else {}
