"""Calibrators of probabilities: Platt, temperature and isotonic (reference/statistics.md).

Each is a frozen value that predicts, reports its clamp rate (the share of queries outside
its training range) and merged bins, and serialises to canonical JSON and back bit for bit
(:func:`calibrator_from_json`). The isotonic fit is scikit-learn's
``IsotonicRegression(out_of_bounds="clip")`` to the bit: one sort and numba passes.
Import them from ``monitoring.calibration``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit
from scipy.special import expit, logit

from monitoring.calibration_inputs import (
    CalibrationError,
    as_array,
    finite,
    first_bad,
    pair,
    probabilities,
)

EPS = 1e-15
"""Log loss clips p to [EPS, 1 − EPS]; Platt and temperature take logit(p) clipped the same way."""
TIE_EPS = float(np.finfo(np.float64).resolution)
"""Isotonic ties: scikit-learn pools x values within 1e-15 of a group's first value (sorted
ascending); we do the same so the fits agree bit for bit."""
SCHEMA = 1
"""Version of the JSON form."""


def _dumps(obj: dict[str, Any]) -> str:
    # json writes a float as repr(), the shortest string that reads back to the same double
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _share_outside(queries: np.ndarray, low: float, high: float) -> float:
    return float(np.count_nonzero((queries < low) | (queries > high)) / len(queries))


def _logits(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(p, EPS, 1.0 - EPS))


def _both_outcomes(y: np.ndarray, what: str) -> None:
    ones = int(np.count_nonzero(y))
    if ones in (0, len(y)):
        raise CalibrationError(f"{what}: y needs both outcomes (got {ones} of {len(y)} ones); "
                               "the maximum-likelihood fit does not exist")


class _Calibrator:
    """What every calibrator shares: clamp rate, merged bins and the JSON form."""

    __slots__ = ()
    kind = ""
    x_min: float
    x_max: float

    def clamp_rate(self, queries: Any) -> float:
        """Share of ``queries`` outside [min, max] of the training inputs (they are clamped)."""
        q = as_array(queries, "queries").astype(np.float64, copy=False)
        if np.isnan(q).any():
            raise CalibrationError("queries contain NaN")
        return _share_outside(q, self.x_min, self.x_max)

    @property
    def merged_bins(self) -> int:
        """Adjacent input bins pooled into one output level: none for a parametric map."""
        return 0

    @property
    def merged_share(self) -> float:
        return 0.0

    def to_json(self) -> str:
        """Canonical JSON; :meth:`from_json` (or :func:`calibrator_from_json`) reads it back
        bit for bit (floats are written as ``repr``, the shortest exact form)."""
        fields = {}
        for k in self.__dataclass_fields__:  # type: ignore[attr-defined]
            v = getattr(self, k)
            fields[k] = v.tolist() if isinstance(v, np.ndarray) else v
        return _dumps({"kind": self.kind, "schema": SCHEMA, **fields})

    @classmethod
    def from_json(cls, text: str) -> Any:
        data = _loads(text)
        if data.get("kind") != cls.kind:
            raise CalibrationError(f"calibrator JSON of kind {data.get('kind')!r}, expected {cls.kind!r}")
        return _build(cls, data)


@dataclass(frozen=True, slots=True)
class PlattCalibrator(_Calibrator):
    """p' = σ(a·logit(p) + b), fitted by maximum likelihood on the plain 0/1 targets."""

    a: float
    b: float
    x_min: float
    x_max: float
    n: int
    kind = "platt"

    @property
    def alpha(self) -> float:
        """The Platt slope: 1 calibrated, < 1 over-confident, > 1 under-confident."""
        return self.a

    def predict(self, p: Any) -> np.ndarray:
        return expit(self.a * _logits(probabilities(p)) + self.b)


@dataclass(frozen=True, slots=True)
class TemperatureCalibrator(_Calibrator):
    """p' = σ(logit(p) / T), T by maximum likelihood."""

    temperature: float
    x_min: float
    x_max: float
    n: int
    kind = "temperature"

    def predict(self, p: Any) -> np.ndarray:
        return expit(_logits(probabilities(p)) / self.temperature)


@dataclass(frozen=True, slots=True, eq=False)
class IsotonicCalibrator(_Calibrator):
    """Pool-adjacent-violators fit; prediction interpolates linearly between the thresholds
    and clips queries to [x_min, x_max] (scikit-learn ``out_of_bounds="clip"``)."""

    x_thresholds: np.ndarray
    y_thresholds: np.ndarray
    x_min: float
    x_max: float
    n: int
    bins: int
    """Distinct training inputs (after ties are pooled): the input bins."""
    levels: int
    """Distinct output levels of the fit."""
    kind = "isotonic"

    def __post_init__(self) -> None:
        for name in ("x_thresholds", "y_thresholds"):
            a = np.array(getattr(self, name), dtype=np.float64)
            a.flags.writeable = False
            object.__setattr__(self, name, a)
        if len(self.x_thresholds) != len(self.y_thresholds) or not len(self.x_thresholds):
            raise CalibrationError("isotonic: x_thresholds and y_thresholds must be non-empty, "
                                   "of the same length")

    def predict(self, x: Any) -> np.ndarray:
        q = finite(x, "x")
        if len(self.x_thresholds) == 1:
            return np.full(len(q), self.y_thresholds[0])
        return np.interp(np.clip(q, self.x_min, self.x_max), self.x_thresholds, self.y_thresholds)

    @property
    def merged_bins(self) -> int:
        """Input bins minus distinct output levels: how many adjacent bins PAV pooled."""
        return self.bins - self.levels

    @property
    def merged_share(self) -> float:
        return self.merged_bins / self.bins


CALIBRATORS: dict[str, type[_Calibrator]] = {
    c.kind: c for c in (PlattCalibrator, TemperatureCalibrator, IsotonicCalibrator)}


def _loads(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"calibrator JSON does not parse: {exc}") from None
    if not isinstance(data, dict) or "kind" not in data:
        raise CalibrationError("calibrator JSON: expected an object with a 'kind'")
    if data.get("schema") != SCHEMA:
        raise CalibrationError(f"calibrator JSON schema {data.get('schema')!r}: this version reads {SCHEMA}")
    return data


def _build(cls: type[_Calibrator], data: dict[str, Any]) -> Any:
    names = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    missing = names - set(data)
    if missing:
        raise CalibrationError(f"{cls.kind} calibrator JSON lacks {', '.join(sorted(missing))}")
    return cls(**{k: data[k] for k in names})


def calibrator_from_json(text: str) -> PlattCalibrator | TemperatureCalibrator | IsotonicCalibrator:
    """Any calibrator from its :meth:`to_json` text, bit for bit."""
    data = _loads(text)
    cls = CALIBRATORS.get(data["kind"])
    if cls is None:
        raise CalibrationError(f"calibrator JSON of unknown kind {data['kind']!r} "
                               f"(known: {', '.join(CALIBRATORS)})")
    return _build(cls, data)


def _nll(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum(np.logaddexp(0.0, z) - y * z))


def _newton(x: np.ndarray, y: np.ndarray, theta: np.ndarray, design: Any, what: str) -> np.ndarray:
    """Maximum likelihood of the logistic model σ(design(θ, x)): Newton steps, damped
    Levenberg–Marquardt style (H + λI) whenever a full step does not lower the negative log
    likelihood (convex in θ), so a start far from the optimum (logits of ±34 from p near 0
    or 1) cannot overshoot into saturation. Converged when the Newton decrement gᵀH⁻¹g (twice
    the decrease a full step would still bring) is negligible, or below the loss's rounding."""
    z = design(theta, x)
    loss = _nll(z, y)
    eye = np.eye(len(theta))
    damping = 0.0
    for _ in range(_MAX_NEWTON):
        g, h = _grad_hess(x, y, expit(z), len(theta))
        try:
            decrement = float(g @ np.linalg.solve(h, g))
        except np.linalg.LinAlgError:
            decrement = np.inf
        if decrement <= 1e-20 * max(1.0, loss):
            return theta
        scale = max(float(np.trace(h)) / len(theta), 1e-300)
        while True:
            try:
                step = np.linalg.solve(h + damping * scale * eye, g)
            except np.linalg.LinAlgError:
                step = np.full(len(theta), np.nan)
            trial = theta - step
            z_trial = design(trial, x)
            trial_loss = _nll(z_trial, y) if np.all(np.isfinite(step)) else np.inf
            if trial_loss <= loss:
                break
            damping = max(damping * 10.0, 1e-6)
            if damping > 1e30:
                return theta  # no step lowers the loss: at the minimum, to rounding
        if trial_loss == loss and decrement <= 1e-12 * max(1.0, loss):
            return theta  # at the minimum to the loss's rounding: no step changes it
        theta, z, loss = trial, z_trial, trial_loss
        damping = 0.0 if damping < 1e-5 else damping / 10.0
    raise CalibrationError(f"{what}: the fit did not converge in {_MAX_NEWTON} steps")


_MAX_NEWTON = 500


def _grad_hess(x: np.ndarray, y: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    r, s = q - y, q * (1.0 - q)
    if k == 1:
        return np.array([r @ x]), np.array([[s @ (x * x)]])
    sx = s @ x
    return np.array([r @ x, r.sum()]), np.array([[s @ (x * x), sx], [sx, s.sum()]])


def fit_platt(p: Any, y: Any) -> PlattCalibrator:
    """Platt scaling by maximum likelihood (plain 0/1 targets, not Platt's smoothed ones);
    logit(p) with p clipped to [1e-15, 1 − 1e-15]."""
    pp, yy = pair(p, y)
    _both_outcomes(yy, "platt")
    x = _logits(pp)
    if x.min() == x.max():
        raise CalibrationError(f"platt: every p is {pp[0]!r}; a slope cannot be fitted")
    wins, losses = x[yy == 1.0], x[yy == 0.0]
    if losses.max() <= wins.min() or wins.max() <= losses.min():
        raise CalibrationError("platt: p separates the outcomes (every win on one side of every "
                               "loss), so the likelihood has no finite maximum")
    theta = _newton(x, yy, np.array([1.0, 0.0]), lambda t, x: t[0] * x + t[1], "platt")
    return PlattCalibrator(float(theta[0]), float(theta[1]), float(pp.min()), float(pp.max()), len(pp))


def fit_temperature(p: Any, y: Any) -> TemperatureCalibrator:
    """Temperature scaling: T by maximum likelihood (fitted as 1/T, a slope without intercept)."""
    pp, yy = pair(p, y)
    _both_outcomes(yy, "temperature")
    x = _logits(pp)
    if np.all(x == 0.0):
        raise CalibrationError("temperature: every p is 0.5; a temperature cannot be fitted")
    bounded_above = np.any((yy == 1.0) & (x < 0.0)) or np.any((yy == 0.0) & (x > 0.0))
    if not bounded_above:
        raise CalibrationError("temperature: every outcome is on the side p favours, so the "
                               "likelihood keeps rising as T → 0 (no finite maximum)")
    bounded_below = np.any((yy == 1.0) & (x > 0.0)) or np.any((yy == 0.0) & (x < 0.0))
    inv = float(_newton(x, yy, np.array([1.0]), lambda t, x: t[0] * x, "temperature")[0]) \
        if bounded_below else -np.inf
    if inv <= 0:
        raise CalibrationError(f"temperature: the best fit has 1/T = {inv:.6g} <= 0 "
                               "(p is anti-correlated with the outcomes)")
    return TemperatureCalibrator(1.0 / inv, float(pp.min()), float(pp.max()), len(pp))


def fit_isotonic(x: Any, y: Any, sample_weight: Any = None) -> IsotonicCalibrator:
    """Isotonic (increasing) regression of y on x, as scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip")``: ties in x averaged first, then
    pool-adjacent-violators, then the thresholds trimmed of interior points on a flat run.

    ``x``: any finite numbers (probabilities or integer price units). ``y``: outcomes 0/1, or
    rates in [0, 1] for a binned fit with the bins' counts as ``sample_weight`` (≥ 0; zero
    weights are dropped, as scikit-learn does)."""
    xx = finite(x, "x")
    yf = finite(y, "y")
    if len(yf) != len(xx):
        raise CalibrationError(f"y has {len(yf)} values, x has {len(xx)}: they must have the same length")
    bad = (yf < 0.0) | (yf > 1.0)
    if bad.any():
        raise first_bad("y", yf, bad, "outside [0, 1]")
    binary = bool(np.all((yf == 0.0) | (yf == 1.0)))
    if sample_weight is None and binary:
        # y in {0, 1}, unit weights: every tie's sums are exact integers in any order, so two
        # value sorts (much faster than an argsort and gathers) and a merge give sklearn's pools
        positive = yf == 1.0
        ux, uy, uw = _unique_binary(np.sort(xx[~positive]), np.sort(xx[positive]))
    else:
        w = np.ones(len(xx)) if sample_weight is None else finite(sample_weight, "sample_weight")
        if len(w) != len(xx):
            raise CalibrationError(f"sample_weight has {len(w)} values, x has {len(xx)}")
        if (w < 0).any():
            raise first_bad("sample_weight", w, w < 0, "negative")
        keep = w > 0
        if not keep.any():
            raise CalibrationError("sample_weight: every weight is 0")
        xk, yk, wk = xx[keep], yf[keep], w[keep]
        order = np.lexsort((yk, xk))  # scikit-learn's order, so the tie sums agree bit for bit
        ux, uy, uw = _unique_weighted(xk[order], yk[order], wk[order])
    _pava(uy, uw)
    levels = 1 + int(np.count_nonzero(uy[1:] != uy[:-1]))
    keep_t = np.ones(len(uy), dtype=bool)
    keep_t[1:-1] = (uy[1:-1] != uy[:-2]) | (uy[1:-1] != uy[2:])
    return IsotonicCalibrator(ux[keep_t], uy[keep_t], float(ux[0]), float(ux[-1]), len(xx), len(ux), levels)


@njit(cache=True)
def _unique_binary(x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge the sorted x of the y=0 and of the y=1 samples into tie groups: (x, mean y, count).
    A group is the values within ``TIE_EPS`` of its first value (scikit-learn's ``_make_unique``)."""
    n0, n1 = len(x0), len(x1)
    n = n0 + n1
    ux, uy, uw = np.empty(n), np.empty(n), np.empty(n)
    i = j = 0
    m = -1
    first = 0.0
    for _ in range(n):
        if j >= n1 or (i < n0 and x0[i] <= x1[j]):
            v, one = x0[i], 0.0
            i += 1
        else:
            v, one = x1[j], 1.0
            j += 1
        if m < 0 or v - first >= TIE_EPS:
            m += 1
            first = v
            ux[m], uy[m], uw[m] = v, one, 1.0
        else:
            uy[m] += one
            uw[m] += 1.0
    m += 1
    for k in range(m):
        uy[k] = uy[k] / uw[k]
    return ux[:m].copy(), uy[:m].copy(), uw[:m].copy()


@njit(cache=True)
def _unique_weighted(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tie groups of sorted x (as :func:`_unique_binary`) with their weighted mean y and total
    weight, summed in the order given, as scikit-learn's ``_make_unique`` sums them."""
    n = len(x)
    ux, uy, uw = np.empty(n), np.empty(n), np.empty(n)
    m = 0
    first, wsum, ysum = x[0], w[0], y[0] * w[0]
    for k in range(1, n):
        if x[k] - first >= TIE_EPS:
            ux[m], uw[m], uy[m] = first, wsum, ysum / wsum
            m += 1
            first, wsum, ysum = x[k], w[k], y[k] * w[k]
        else:
            wsum += w[k]
            ysum += y[k] * w[k]
    ux[m], uw[m], uy[m] = first, wsum, ysum / wsum
    m += 1
    return ux[:m].copy(), uy[:m].copy(), uw[:m].copy()


@njit(cache=True)
def _pava(v: np.ndarray, w: np.ndarray) -> int:
    """Increasing isotonic regression of ``v`` with weights ``w``, in place; returns the number
    of blocks (distinct levels). The O(n) pool-adjacent-violators of Busing (2022, JSS 102 c01,
    Algorithm 1), pooling equal neighbours too, as scipy's ``isotonic_regression`` does."""
    n = len(v)
    start = np.empty(n + 1, dtype=np.int64)  # block k covers [start[k], start[k + 1])
    start[0], start[1] = 0, 1
    b = 0
    v_prev, w_prev = v[0], w[0]
    i = 1
    while i < n:
        b += 1
        vb, wb = v[i], w[i]
        if v_prev >= vb:  # violates: pool with the previous block
            b -= 1
            s = w_prev * v_prev + wb * vb
            wb += w_prev
            vb = s / wb
            while i < n - 1 and vb >= v[i + 1]:  # absorb following points that still violate
                i += 1
                s += w[i] * v[i]
                wb += w[i]
                vb = s / wb
            while b > 0 and v[b - 1] >= vb:  # and earlier blocks the pooled value now violates
                b -= 1
                s += w[b] * v[b]
                wb += w[b]
                vb = s / wb
        v[b] = v_prev = vb
        w[b] = w_prev = wb
        start[b + 1] = i + 1
        i += 1
    end = n - 1
    for k in range(b, -1, -1):
        level = v[k]
        for j in range(end, start[k] - 1, -1):
            v[j] = level
        end = start[k] - 1
    return b + 1
