"""Validation of what the calibration statistics and calibrators are given: one place, so
every function names the same problems the same way (``monitoring/calibration.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from market.units import CONTRACT_PAYOUT

PRICE_SCALE = CONTRACT_PAYOUT
"""``scale`` for integer price units: 10,000 units = probability 1."""


class CalibrationError(ValueError):
    """Inputs a statistic or a calibrator cannot use, with what is wrong."""


def as_array(values: Any, name: str) -> np.ndarray:
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


def first_bad(name: str, a: np.ndarray, bad: np.ndarray, what: str) -> CalibrationError:
    i = int(np.argmax(bad))
    return CalibrationError(f"{name}: {int(bad.sum())} of {len(a)} values {what} "
                            f"(first {name}[{i}] = {a[i].item()!r})")


def probabilities(values: Any, name: str = "p", scale: int | None = None) -> np.ndarray:
    """``values`` as float64 probabilities in [0, 1]; with ``scale``, integer units in
    [0, scale] (returned as int64: divide by ``scale`` for the probability)."""
    a = as_array(values, name)
    if scale is None:
        f = a.astype(np.float64, copy=False)
        bad = ~((f >= 0.0) & (f <= 1.0))  # NaN fails both comparisons
        if bad.any():
            raise first_bad(name, a, bad, "outside [0, 1] or NaN")
        return f
    if not isinstance(scale, int | np.integer) or scale <= 0:
        raise CalibrationError(f"scale {scale!r}: expected a positive integer (e.g. {PRICE_SCALE})")
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.floor(a))
        if bad.any():
            raise first_bad(name, a, bad, "are not whole price units")
    units = a.astype(np.int64)
    bad = (units < 0) | (units > scale)
    if bad.any():
        raise first_bad(name, a, bad, f"outside [0, {scale}] price units")
    return units


def outcomes(values: Any, n: int, name: str = "y") -> np.ndarray:
    a = as_array(values, name)
    if len(a) != n:
        raise CalibrationError(f"{name} has {len(a)} values, p has {n}: they must have the same length")
    f = a.astype(np.float64, copy=False)
    bad = (f != 0.0) & (f != 1.0)
    if bad.any():
        raise first_bad(name, a, bad, "not 0 or 1")
    return f


def pair(p: Any, y: Any, scale: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    pp = probabilities(p, "p", scale)
    return pp, outcomes(y, len(pp))


def bins_arg(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise CalibrationError(f"bins {bins!r}: expected a positive integer")
    return int(bins)


def finite(values: Any, name: str) -> np.ndarray:
    a = as_array(values, name).astype(np.float64, copy=False)
    bad = ~np.isfinite(a)
    if bad.any():
        raise first_bad(name, a, bad, "not finite")
    return a
