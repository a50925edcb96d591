"""Calibration statistics, exactly as ``reference/statistics.md`` pins them, and the
calibrators (``monitoring/calibrators.py``, re-exported here: this module is the API).

Statistics of probabilities ``p`` against outcomes ``y`` (0 or 1): :func:`ece`, :func:`aece`,
:func:`dece`, :func:`brier`, :func:`log_loss` and :func:`reliability`. Calibrators fitted on
(p, y): :func:`fit_platt`, :func:`fit_temperature` and :func:`fit_isotonic`; each predicts,
reports its clamp rate and merged bins, and serialises to JSON and back bit for bit
(:func:`calibrator_from_json`).

Fixed-point prices: every statistic takes ``scale=PRICE_SCALE`` (``CONTRACT_PAYOUT``, 10,000
units = $1) to read ``p`` as integer price units, so a price's bin is ``price * bins // scale``
computed on the integer, never from a float that may sit a hair below an edge
(0.58 * 100 is 57.99999999999999 in floating point).

Every function validates its inputs (non-empty, same length, ``p`` in [0, 1], ``y`` in {0, 1})
and raises :class:`CalibrationError` (a ValueError) naming what is wrong. Pure and vectorised
(a bincount per statistic); nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from monitoring.calibration_inputs import (
    PRICE_SCALE,
    CalibrationError,
    bins_arg,
    pair,
    probabilities,
)
from monitoring.calibrators import (
    CALIBRATORS,
    EPS,
    IsotonicCalibrator,
    PlattCalibrator,
    TemperatureCalibrator,
    calibrator_from_json,
    fit_isotonic,
    fit_platt,
    fit_temperature,
)

__all__ = [
    "CALIBRATORS", "DEFAULT_BINS", "EPS", "PRICE_SCALE", "CalibrationError", "IsotonicCalibrator",
    "PlattCalibrator", "Reliability", "ReliabilityBin", "TemperatureCalibrator", "aece", "bin_index",
    "brier", "calibrator_from_json", "dece", "ece", "fit_isotonic", "fit_platt", "fit_temperature",
    "log_loss", "reliability", "summary",
]

DEFAULT_BINS = 15


def bin_index(p: Any, bins: int = DEFAULT_BINS, scale: int | None = None) -> np.ndarray:
    """Equal-width bin of each p: ``min(floor(p·B), B−1)``; with ``scale``, p is integer price
    units and the bin is ``min(p·B // scale, B−1)``, exact."""
    return _width_bins(probabilities(p, "p", scale), bins_arg(bins), scale)


def _width_bins(p: np.ndarray, bins: int, scale: int | None) -> np.ndarray:
    if scale is None:
        return np.minimum(np.floor(p * bins).astype(np.int64), bins - 1)
    return np.minimum(p * bins // scale, bins - 1)


def _mass_bins(p: np.ndarray, bins: int) -> np.ndarray:
    """Equal-mass bins: edges at ``np.quantile(p, linspace(0, 1, B+1))``, outer edges 0 and 1,
    each bin [a, b) (the last one closed), as ``np.histogram`` and netcal bin."""
    edges = np.quantile(p, np.linspace(0.0, 1.0, bins + 1))
    return np.searchsorted(edges[1:-1], p, side="right")


def _sums(index: np.ndarray, p: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, ...]:
    n = np.bincount(index, minlength=bins).astype(np.float64)
    return n, np.bincount(index, weights=p, minlength=bins), np.bincount(index, weights=y, minlength=bins)


def _gap_sum(index: np.ndarray, p: np.ndarray, y: np.ndarray, bins: int) -> float:
    n, sp, sy = _sums(index, p, y, bins)
    full = n > 0
    gaps = np.abs(sy[full] / n[full] - sp[full] / n[full])
    return float(np.sum(n[full] / len(p) * gaps))


def _as_float(p: np.ndarray, scale: int | None) -> np.ndarray:
    return p if scale is None else p / scale


def ece(p: Any, y: Any, bins: int = DEFAULT_BINS, *, scale: int | None = None) -> float:
    """Expected calibration error over ``bins`` equal-width bins: Σ (n_b/N)·|ȳ_b − p̄_b|."""
    b = bins_arg(bins)
    pp, yy = pair(p, y, scale)
    return _gap_sum(_width_bins(pp, b, scale), _as_float(pp, scale), yy, b)


def aece(p: Any, y: Any, bins: int = DEFAULT_BINS, *, scale: int | None = None) -> float:
    """Adaptive ECE: the ECE sum over ``bins`` equal-mass (quantile) bins."""
    b = bins_arg(bins)
    pp, yy = pair(p, y, scale)
    pf = _as_float(pp, scale)
    return _gap_sum(_mass_bins(pf, b), pf, yy, b)


def dece(p: Any, y: Any, bins: int = DEFAULT_BINS, *, scale: int | None = None) -> float:
    """Debiased ECE (Kumar et al. 2019) over the equal-mass bins of :func:`aece`:
    √max(0, Σ (n_b/N)·[(p̄_b − ȳ_b)² − ȳ_b(1 − ȳ_b)/(n_b − 1)]), bins with n_b < 2 skipped."""
    b = bins_arg(bins)
    pp, yy = pair(p, y, scale)
    pf = _as_float(pp, scale)
    n, sp, sy = _sums(_mass_bins(pf, b), pf, yy, b)
    used = n >= 2
    n, mp, my = n[used], sp[used] / n[used], sy[used] / n[used]
    total = float(np.sum(n / len(pf) * ((mp - my) ** 2 - my * (1.0 - my) / (n - 1.0))))
    return float(np.sqrt(max(total, 0.0)))


def brier(p: Any, y: Any, *, scale: int | None = None) -> float:
    """Mean squared error of the probabilities: mean((p − y)²)."""
    pp, yy = pair(p, y, scale)
    return float(np.mean((_as_float(pp, scale) - yy) ** 2))


def log_loss(p: Any, y: Any, *, scale: int | None = None) -> float:
    """Mean of −[y ln p + (1−y) ln(1−p)], p clipped to [1e-15, 1 − 1e-15]."""
    pp, yy = pair(p, y, scale)
    q = np.clip(_as_float(pp, scale), EPS, 1.0 - EPS)
    return float(-np.mean(yy * np.log(q) + (1.0 - yy) * np.log(1.0 - q)))


def summary(p: Any, y: Any, bins: int = DEFAULT_BINS, *, scale: int | None = None) -> dict[str, float | int]:
    """n and every statistic above in one dict (JSON-able)."""
    return {"n": len(probabilities(p, "p", scale)), "bins": bins_arg(bins),
            "ece": ece(p, y, bins, scale=scale), "aece": aece(p, y, bins, scale=scale),
            "dece": dece(p, y, bins, scale=scale), "brier": brier(p, y, scale=scale),
            "log_loss": log_loss(p, y, scale=scale)}


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One non-empty equal-width bin: [lower, upper), its count, mean p and share of y = 1."""

    bin: int
    lower: float
    upper: float
    n: int
    mean_p: float
    mean_y: float

    @property
    def gap(self) -> float:
        """mean_y − mean_p: positive when the outcome happens more often than predicted."""
        return self.mean_y - self.mean_p

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "gap": self.gap}


@dataclass(frozen=True, slots=True)
class Reliability:
    """The reliability diagram's data: non-empty bins in order (iterate it like a list)."""

    bins: int
    n: int
    rows: tuple[ReliabilityBin, ...]

    def __iter__(self) -> Iterator[ReliabilityBin]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> ReliabilityBin:
        return self.rows[i]

    def as_dict(self) -> dict[str, Any]:
        return {"bins": self.bins, "n": self.n, "rows": [r.as_dict() for r in self.rows]}


def reliability(p: Any, y: Any, bins: int = DEFAULT_BINS, *, scale: int | None = None) -> Reliability:
    """Per non-empty equal-width bin (the bins of :func:`ece`): mean p, mean y, n."""
    b = bins_arg(bins)
    pp, yy = pair(p, y, scale)
    n, sp, sy = _sums(_width_bins(pp, b, scale), _as_float(pp, scale), yy, b)
    rows = tuple(ReliabilityBin(int(k), k / b, (k + 1) / b, int(n[k]), float(sp[k] / n[k]), float(sy[k] / n[k]))
                 for k in np.flatnonzero(n))
    return Reliability(b, len(pp), rows)
