"""Drift between a reference distribution and a current one (reference/statistics.md).

Pure and vectorised. PSI bins the reference at its deciles (outer edges −∞ and +∞), floors
each share at 1e-4 without renormalising, and sums (a − e)·ln(a / e); KS is scipy's
two-sample test. Bands: < 0.1 stable, 0.1–0.25 moderate, > 0.25 significant.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

FLOOR = 1e-4
STABLE_BELOW, MODERATE_UP_TO = 0.1, 0.25


def _values(name: str, x: object) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError(f"{name}: no values")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: {int((~np.isfinite(a)).sum())} values are NaN or infinite")
    return a


def psi(ref: object, cur: object, bins: int = 10) -> float:
    """Population stability index of ``cur`` against ``ref``."""
    if bins < 2:
        raise ValueError(f"bins {bins}: need at least 2")
    r, c = _values("ref", ref), _values("cur", cur)
    edges = np.quantile(r, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.maximum(np.histogram(r, edges)[0] / r.size, FLOOR)
    actual = np.maximum(np.histogram(c, edges)[0] / c.size, FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks(ref: object, cur: object) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample Kolmogorov–Smirnov test (scipy, method auto)."""
    result = stats.ks_2samp(_values("ref", ref), _values("cur", cur))
    return float(result.statistic), float(result.pvalue)


def band(value: float, stable_below: float = STABLE_BELOW, moderate_up_to: float = MODERATE_UP_TO) -> str:
    """stable (< 0.1), moderate (0.1–0.25) or significant (> 0.25) for a PSI value."""
    if value < stable_below:
        return "stable"
    return "moderate" if value <= moderate_up_to else "significant"
