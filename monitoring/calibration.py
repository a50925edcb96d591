"""Calibration statistics and calibrators, exactly as ``reference/statistics.md`` pins them.

Statistics of probabilities ``p`` against outcomes ``y`` (0 or 1): :func:`ece`, :func:`aece`,
:func:`dece`, :func:`brier`, :func:`log_loss` and :func:`reliability`. Calibrators fitted on
(p, y): :func:`fit_platt`, :func:`fit_temperature` and :func:`fit_isotonic`; each predicts,
reports its clamp rate and merged bins, and serialises to JSON and back bit for bit
(:func:`calibrator_from_json`).

Fixed-point prices: ``ece`` and ``reliability`` (and the others, for convenience) take
``scale=CONTRACT_PAYOUT`` to read ``p`` as integer price units (10,000 = $1), so a price's
bin is ``price * bins // scale`` computed on the integer: 0.2 is not exactly representable and
``0.2 * 15`` is 3.0000000000000004, so a float can land a hair off an edge.

Every function validates its inputs (non-empty, same length, ``p`` in [0, 1], ``y`` in {0, 1})
and raises :class:`CalibrationError` (a ValueError) naming what is wrong. Pure and vectorised:
the isotonic fit is one sort and one numba pass; nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numba import njit
from scipy.special import expit, logit

from market.units import CONTRACT_PAYOUT

EPS = 1e-15
"""Log loss clips p to [EPS, 1 − EPS]; Platt and temperature take logit(p) clipped the same way."""
DEFAULT_BINS = 15
PRICE_SCALE = CONTRACT_PAYOUT
"""``scale`` for integer price units: 10,000 units = probability 1."""
TIE_EPS = float(np.finfo(np.float64).resolution)
"""Isotonic ties: scikit-learn pools x values within 1e-15 of a group's first value (when
any x repeats exactly); we do the same so the fits agree bit for bit."""
SCHEMA = 1


class CalibrationError(ValueError):
    """Inputs a statistic or a calibrator cannot use, with what is wrong."""


# ---------------------------------------------------------------------------------------------
# validation


def _array(values: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{name}: not an array of numbers ({exc})") from None
    if a.ndim != 1:
        raise CalibrationError(f"{name}: expected a 1-D sequence, got shape {a.shape}")
    if a.size == 0:
        raise CalibrationError(f"{name} is empty")
    if a.dtype.kind not in "biuf":
        raise CalibrationError(f"{name}: expected numbers, got dtype {a.dtype}")
    return a


def _first_bad(name: str, a: np.ndarray, bad: np.ndarray, what: str) -> CalibrationError:
    i = int(np.argmax(bad))
    return CalibrationError(f"{name}: {int(bad.sum())} of {len(a)} values {what} "
                            f"(first {name}[{i}] = {a[i].item()!r})")


def _probabilities(values: Any, name: str = "p", scale: int | None = None) -> np.ndarray:
    """``values`` as float64 probabilities in [0, 1]; with ``scale``, integer units in
    [0, scale] (returned as int64: divide by ``scale`` for the probability)."""
    a = _array(values, name)
    if scale is None:
        f = a.astype(np.float64, copy=False)
        bad = ~((f >= 0.0) & (f <= 1.0))  # NaN fails both comparisons
        if bad.any():
            raise _first_bad(name, a, bad, "outside [0, 1] or NaN")
        return f
    if not isinstance(scale, int | np.integer) or scale <= 0:
        raise CalibrationError(f"scale {scale!r}: expected a positive integer (e.g. {PRICE_SCALE})")
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.floor(a))
        if bad.any():
            raise _first_bad(name, a, bad, "are not whole price units")
    units = a.astype(np.int64)
    bad = (units < 0) | (units > scale)
    if bad.any():
        raise _first_bad(name, a, bad, f"outside [0, {scale}] price units")
    return units


def _outcomes(values: Any, n: int, name: str = "y") -> np.ndarray:
    a = _array(values, name)
    if len(a) != n:
        raise CalibrationError(f"{name} has {len(a)} values, p has {n}: they must have the same length")
    f = a.astype(np.float64, copy=False)
    bad = (f != 0.0) & (f != 1.0)
    if bad.any():
        raise _first_bad(name, a, bad, "not 0 or 1")
    return f


def _pair(p: Any, y: Any, scale: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    pp = _probabilities(p, "p", scale)
    return pp, _outcomes(y, len(pp))


def _bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise CalibrationError(f"bins {bins!r}: expected a positive integer")
    return int(bins)


# ---------------------------------------------------------------------------------------------
# statistics


def bin_index(p: Any, bins: int = DEFAULT_BINS, scale: int | None = None) -> np.ndarray:
    """Equal-width bin of each p: ``min(floor(p·B), B−1)``; with ``scale``, p is integer price
    units and the bin is ``min(p·B // scale, B−1)``, exact."""
    return _width_bins(_probabilities(p, "p", scale), _bins(bins), scale)


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
    b = _bins(bins)
    pp, yy = _pair(p, y, scale)
    return _gap_sum(_width_bins(pp, b, scale), _as_float(pp, scale), yy, b)


def aece(p: Any, y: Any, bins: int = DEFAULT_BINS, *, scale: int | None = None) -> float:
    """Adaptive ECE: the ECE sum over ``bins`` equal-mass (quantile) bins."""
    b = _bins(bins)
    pp, yy = _pair(p, y, scale)
    pf = _as_float(pp, scale)
    return _gap_sum(_mass_bins(pf, b), pf, yy, b)


def dece(p: Any, y: Any, bins: int = DEFAULT_BINS, *, scale: int | None = None) -> float:
    """Debiased ECE (Kumar et al. 2019) over the equal-mass bins of :func:`aece`:
    √max(0, Σ (n_b/N)·[(p̄_b − ȳ_b)² − ȳ_b(1 − ȳ_b)/(n_b − 1)]), bins with n_b < 2 skipped."""
    b = _bins(bins)
    pp, yy = _pair(p, y, scale)
    pf = _as_float(pp, scale)
    n, sp, sy = _sums(_mass_bins(pf, b), pf, yy, b)
    used = n >= 2
    n, mp, my = n[used], sp[used] / n[used], sy[used] / n[used]
    total = float(np.sum(n / len(pf) * ((mp - my) ** 2 - my * (1.0 - my) / (n - 1.0))))
    return float(np.sqrt(max(total, 0.0)))


def brier(p: Any, y: Any, *, scale: int | None = None) -> float:
    """Mean squared error of the probabilities: mean((p − y)²)."""
    pp, yy = _pair(p, y, scale)
    return float(np.mean((_as_float(pp, scale) - yy) ** 2))


def log_loss(p: Any, y: Any, *, scale: int | None = None) -> float:
    """Mean of −[y ln p + (1−y) ln(1−p)], p clipped to [1e-15, 1 − 1e-15]."""
    pp, yy = _pair(p, y, scale)
    q = np.clip(_as_float(pp, scale), EPS, 1.0 - EPS)
    return float(-np.mean(yy * np.log(q) + (1.0 - yy) * np.log(1.0 - q)))


def summary(p: Any, y: Any, bins: int = DEFAULT_BINS, *, scale: int | None = None) -> dict[str, float | int]:
    """n and every statistic above in one dict (JSON-able)."""
    return {"n": len(_probabilities(p, "p", scale)), "bins": _bins(bins),
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
    b = _bins(bins)
    pp, yy = _pair(p, y, scale)
    n, sp, sy = _sums(_width_bins(pp, b, scale), _as_float(pp, scale), yy, b)
    rows = tuple(ReliabilityBin(int(k), k / b, (k + 1) / b, int(n[k]), float(sp[k] / n[k]), float(sy[k] / n[k]))
                 for k in np.flatnonzero(n))
    return Reliability(b, len(pp), rows)


# ---------------------------------------------------------------------------------------------
# calibrators


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
        q = _array(queries, "queries").astype(np.float64, copy=False)
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
        return expit(self.a * _logits(_probabilities(p)) + self.b)


@dataclass(frozen=True, slots=True)
class TemperatureCalibrator(_Calibrator):
    """p' = σ(logit(p) / T), T by maximum likelihood."""

    temperature: float
    x_min: float
    x_max: float
    n: int
    kind = "temperature"

    def predict(self, p: Any) -> np.ndarray:
        return expit(_logits(_probabilities(p)) / self.temperature)


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
        q = _finite(x, "x")
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
    """Maximum likelihood of the logistic model σ(design(θ, x)) by damped Newton steps (the
    negative log likelihood is convex in θ): stops when a step no longer moves θ."""
    z = design(theta, x)
    loss = _nll(z, y)
    for _ in range(_MAX_NEWTON):
        g, h = _grad_hess(x, y, expit(z), len(theta))
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        t = 1.0
        while t >= 1e-10:
            trial = theta - t * step
            z_trial = design(trial, x)
            trial_loss = _nll(z_trial, y)
            if trial_loss <= loss:
                break
            t /= 2
        else:
            return theta  # no step lowers the loss: at the minimum, to rounding
        done = np.max(np.abs(trial - theta)) <= 1e-12 * (1.0 + np.max(np.abs(theta)))
        theta, z, loss = trial, z_trial, trial_loss
        if done:
            return theta
    raise CalibrationError(f"{what}: the likelihood has no finite maximum "
                           "(are the outcomes perfectly separated by p?)")


_MAX_NEWTON = 200


def _grad_hess(x: np.ndarray, y: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    r, s = q - y, q * (1.0 - q)
    if k == 1:
        return np.array([r @ x]), np.array([[s @ (x * x)]])
    sx = s @ x
    return np.array([r @ x, r.sum()]), np.array([[s @ (x * x), sx], [sx, s.sum()]])


def fit_platt(p: Any, y: Any) -> PlattCalibrator:
    """Platt scaling by maximum likelihood (plain 0/1 targets, not Platt's smoothed ones);
    logit(p) with p clipped to [1e-15, 1 − 1e-15]."""
    pp, yy = _pair(p, y)
    _both_outcomes(yy, "platt")
    if pp.min() == pp.max():
        raise CalibrationError(f"platt: every p is {pp[0]!r}; a slope cannot be fitted")
    theta = _newton(_logits(pp), yy, np.array([1.0, 0.0]), lambda t, x: t[0] * x + t[1], "platt")
    return PlattCalibrator(float(theta[0]), float(theta[1]), float(pp.min()), float(pp.max()), len(pp))


def fit_temperature(p: Any, y: Any) -> TemperatureCalibrator:
    """Temperature scaling: T by maximum likelihood (fitted as 1/T, a slope without intercept)."""
    pp, yy = _pair(p, y)
    _both_outcomes(yy, "temperature")
    if np.all(_logits(pp) == 0.0):
        raise CalibrationError("temperature: every p is 0.5; a temperature cannot be fitted")
    inv = float(_newton(_logits(pp), yy, np.array([1.0]), lambda t, x: t[0] * x, "temperature")[0])
    if inv <= 0:
        raise CalibrationError(f"temperature: the best fit has 1/T = {inv:.6g} <= 0 "
                               "(p is anti-correlated with the outcomes)")
    return TemperatureCalibrator(1.0 / inv, float(pp.min()), float(pp.max()), len(pp))


def _finite(values: Any, name: str) -> np.ndarray:
    a = _array(values, name).astype(np.float64, copy=False)
    bad = ~np.isfinite(a)
    if bad.any():
        raise _first_bad(name, a, bad, "not finite")
    return a


def fit_isotonic(x: Any, y: Any, sample_weight: Any = None) -> IsotonicCalibrator:
    """Isotonic (increasing) regression of y on x, as scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip")``: ties in x averaged first, then
    pool-adjacent-violators, then the thresholds trimmed of interior points on a flat run.

    ``x``: any finite numbers (probabilities or integer price units). ``y``: outcomes 0/1, or
    rates in [0, 1] for a binned fit with the bins' counts as ``sample_weight`` (≥ 0; zero
    weights are dropped, as scikit-learn does)."""
    xx = _finite(x, "x")
    yf = _finite(y, "y")
    if len(yf) != len(xx):
        raise CalibrationError(f"y has {len(yf)} values, x has {len(xx)}: they must have the same length")
    bad = (yf < 0.0) | (yf > 1.0)
    if bad.any():
        raise _first_bad("y", yf, bad, "outside [0, 1]")
    binary = bool(np.all((yf == 0.0) | (yf == 1.0)))
    if sample_weight is None and binary:
        # y in {0, 1}, unit weights: every tie's sums are exact integers in any order, so two
        # value sorts (much faster than an argsort and gathers) and a merge give sklearn's pools
        positive = yf == 1.0
        ux, uy, uw = _unique_binary(np.sort(xx[~positive]), np.sort(xx[positive]))
    else:
        w = np.ones(len(xx)) if sample_weight is None else _finite(sample_weight, "sample_weight")
        if len(w) != len(xx):
            raise CalibrationError(f"sample_weight has {len(w)} values, x has {len(xx)}")
        if (w < 0).any():
            raise _first_bad("sample_weight", w, w < 0, "negative")
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
    """Merge the sorted x of the y=0 and the y=1 samples into tie groups: (x, mean y, count)."""
    n0, n1 = len(x0), len(x1)
    n = n0 + n1
    duplicates = False
    i = j = 0
    last = np.nan
    for _ in range(n):
        if j >= n1 or (i < n0 and x0[i] <= x1[j]):
            v = x0[i]
            i += 1
        else:
            v = x1[j]
            j += 1
        if v == last:
            duplicates = True
            break
        last = v
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
        if m < 0 or (not duplicates and v != first) or (duplicates and v - first >= TIE_EPS):
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
    """Tie groups of sorted x with their weighted mean y and total weight, summed in order
    (scikit-learn's ``_make_unique``: no pooling at all when no x repeats exactly)."""
    n = len(x)
    duplicates = False
    for k in range(1, n):
        if x[k] == x[k - 1]:
            duplicates = True
            break
    if not duplicates:
        return x.copy(), y.copy(), w.copy()
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
