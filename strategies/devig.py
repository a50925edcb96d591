"""Bookmaker prices to fair probabilities ("de-vigging").

A bookmaker's implied probabilities ``π_i = 1 / o_i`` sum to more than one: the excess
(the overround, or vig) is the margin. Each method below removes it under a different
assumption about how the bookmaker spread the margin over the outcomes:

- multiplicative: in proportion to each probability, ``p_i = π_i / Σπ``;
- additive: equally, ``p_i = π_i − (Σπ − 1) / n``;
- power: ``p_i = π_i^k`` with ``k`` solving ``Σ π_i^k = 1`` (more margin on longshots);
- Shin (1993), in the Jullien–Salanié form: insiders make up a share ``z`` of the money and

      p_i(z) = (√(z² + 4 (1 − z) π_i² / Σπ) − z) / (2 (1 − z)),   z solving Σ p_i(z) = 1.

  With two outcomes this equals the additive method (a known identity, tested).

Roots are solved to machine precision (brentq). The reference values in
``reference/venues.md`` for power and Shin come from the R ``implied`` package at its default
solver tolerance (``eps ** 0.25``; Shin by the Jullien–Salanié fixed-point iteration), so they
differ from the exact roots by up to 2e-6 (power) and 1.1e-5 (Shin); the tests reproduce both.

Pure functions of the odds; probabilities are floats (statistics, never money).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

METHODS = ("multiplicative", "additive", "power", "shin")
_XTOL = 1e-15


class DevigError(ValueError):
    """Odds (or probability vectors) that cannot be de-vigged, with what and why."""


def implied_probabilities(odds: Sequence[float] | np.ndarray) -> np.ndarray:
    """``1 / odds`` after checking every price is a finite decimal price above 1."""
    try:
        values = np.asarray(odds, dtype=np.float64)
    except (TypeError, ValueError):
        raise DevigError(f"odds {odds!r}: expected a sequence of decimal prices") from None
    if values.ndim != 1:
        raise DevigError(f"odds: expected a flat sequence of prices, got shape {values.shape}")
    if len(values) < 2:
        raise DevigError(f"odds: need at least 2 outcomes, got {len(values)}")
    for index, price in enumerate(values):
        if not np.isfinite(price) or price <= 1.0:
            raise DevigError(f"odds[{index}] = {price!r}: a decimal price must be finite and > 1")
    return 1.0 / values


def multiplicative(odds: Sequence[float] | np.ndarray) -> np.ndarray:
    pi = implied_probabilities(odds)
    return pi / pi.sum()


def additive(odds: Sequence[float] | np.ndarray) -> np.ndarray:
    pi = implied_probabilities(odds)
    fair = pi - (pi.sum() - 1.0) / len(pi)
    negative = np.flatnonzero(fair < 0)
    if len(negative):
        raise DevigError(
            f"additive: outcome {int(negative[0])} gets a negative probability "
            f"({fair[negative[0]]:.6f}); the margin exceeds that price - use another method"
        )
    return fair


def power(odds: Sequence[float] | np.ndarray) -> np.ndarray:
    pi = implied_probabilities(odds)
    booksum = pi.sum()
    if booksum == 1.0:
        return pi.copy()

    def excess(k: float) -> float:
        return float(np.power(pi, k).sum()) - 1.0

    # Σ π^k falls from n (k → 0) towards 0 (k → ∞), so one root lies in (0, ∞).
    low, high = (1.0, 2.0) if booksum > 1.0 else (1e-9, 1.0)
    while excess(high) > 0:
        low, high = high, high * 2.0
        if high > 1e6:
            raise DevigError(f"power: no exponent found for odds {list(odds)!r}")
    k = _brentq()(excess, low, high, xtol=_XTOL)
    return _normalised(np.power(pi, k))


def _brentq() -> Callable[..., float]:
    """scipy's root finder, imported on first use: the daemon de-vigs with ``devig_rows``
    and so never pays scipy.optimize's ~35 MB and half a second of import."""
    from scipy.optimize import brentq

    return brentq


def shin_probabilities(pi: np.ndarray, z: float) -> np.ndarray:
    """Shin's p_i(z) from implied probabilities ``pi`` and insider share ``z``."""
    booksum = pi.sum()
    return (np.sqrt(z * z + 4.0 * (1.0 - z) * pi * pi / booksum) - z) / (2.0 * (1.0 - z))


def shin_z(odds: Sequence[float] | np.ndarray) -> float:
    """The insider share ``z`` that makes Shin's probabilities sum to one."""
    pi = implied_probabilities(odds)
    booksum = pi.sum()
    if booksum == 1.0:
        return 0.0

    def excess(z: float) -> float:
        return float(shin_probabilities(pi, z).sum()) - 1.0

    # Σ p(0) = √Σπ, above 1 with a margin; Σ p(z → 1) = Σπ²/Σπ < 1. A book under 1
    # (an arbitrage across prices) needs a negative z, searched down to -1.
    low, high = (0.0, 1.0 - 1e-12) if booksum > 1.0 else (-1.0 + 1e-12, 0.0)
    if excess(low) * excess(high) > 0:
        raise DevigError(f"shin: no insider share z solves odds {list(odds)!r}")
    return float(_brentq()(excess, low, high, xtol=_XTOL))


def shin(odds: Sequence[float] | np.ndarray) -> np.ndarray:
    pi = implied_probabilities(odds)
    return _normalised(shin_probabilities(pi, shin_z(odds)))


_BY_NAME: dict[str, Callable[[Sequence[float] | np.ndarray], np.ndarray]] = {
    "multiplicative": multiplicative,
    "additive": additive,
    "power": power,
    "shin": shin,
}


def devig(odds: Sequence[float], method: str) -> list[float]:
    """Fair probabilities (summing to 1) of decimal ``odds`` by ``method`` (see METHODS)."""
    try:
        function = _BY_NAME[method]
    except KeyError:
        raise DevigError(f"devig method {method!r}: expected one of {', '.join(METHODS)}") from None
    return [float(p) for p in function(odds)]


def devig_rows(odds: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Many price vectors of one length at once (one per row), the same answer as
    :func:`devig` row by row: the daemon de-vigs every bookmaker of every game per poll,
    thousands of roots that one at a time would hold the event loop for a quarter second.

    Returns ``(probabilities, ok)``; a row :func:`devig` would refuse has ``ok`` False and
    NaN probabilities (ask :func:`devig` for that row's reason). Roots are found by
    bisection to brentq's own tolerance, so the two agree to rounding (tested).
    """
    if method not in _BY_NAME:
        raise DevigError(f"devig method {method!r}: expected one of {', '.join(METHODS)}")
    prices = np.asarray(odds, dtype=np.float64)
    if prices.ndim != 2 or prices.shape[1] < 2:
        raise DevigError(f"devig_rows: expected rows of >= 2 prices, got shape {prices.shape}")
    ok = np.all(np.isfinite(prices) & (prices > 1.0), axis=1)
    pi = 1.0 / np.where(ok[:, None], prices, 2.0)
    booksum = pi.sum(axis=1)
    if method == "multiplicative":
        fair = pi / booksum[:, None]
    elif method == "additive":
        fair = pi - ((booksum - 1.0) / pi.shape[1])[:, None]
        ok &= np.all(fair >= 0, axis=1)
    elif method == "power":
        fair, found = _power_rows(pi, booksum)
        ok &= found
    else:
        fair, found = _shin_rows(pi, booksum)
        ok &= found
    fair = np.where(ok[:, None], fair, np.nan)
    return fair, ok


_BISECTIONS = 200
"""More halvings than any bracket below needs to reach the tolerance (the loop stops early)."""
_RTOL = 4 * np.finfo(np.float64).eps
"""brentq's default relative tolerance."""


def _bisect_rows(excess: Callable[[np.ndarray], np.ndarray], low: np.ndarray,
                 high: np.ndarray) -> np.ndarray:
    """Per row, the root of a decreasing ``excess`` in [low, high], to brentq's tolerance."""
    low, high = low.copy(), high.copy()
    for _ in range(_BISECTIONS):
        mid = 0.5 * (low + high)
        open_ = (high - low) > _XTOL + _RTOL * np.abs(mid)
        if not open_.any():
            break
        above = excess(mid) > 0
        low = np.where(open_ & above, mid, low)
        high = np.where(open_ & ~above, mid, high)
    return 0.5 * (low + high)


def _power_rows(pi: np.ndarray, booksum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def excess(k: np.ndarray) -> np.ndarray:
        return np.power(pi, k[:, None]).sum(axis=1) - 1.0

    over = booksum > 1.0
    low, high = np.where(over, 1.0, 1e-9), np.where(over, 2.0, 1.0)
    for _ in range(21):  # widen the bracket as power() does, up to 1e6
        grow = excess(high) > 0
        if not grow.any():
            break
        low, high = np.where(grow, high, low), np.where(grow, high * 2.0, high)
    found = ~(excess(high) > 0) & (high <= 1e6)
    k = np.where(booksum == 1.0, 1.0, _bisect_rows(excess, low, high))
    raw = np.power(pi, k[:, None])
    return raw / raw.sum(axis=1)[:, None], found


def _shin_rows(pi: np.ndarray, booksum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def probabilities(z: np.ndarray) -> np.ndarray:
        z = z[:, None]
        return (np.sqrt(z * z + 4.0 * (1.0 - z) * pi * pi / booksum[:, None]) - z) / (2.0 * (1.0 - z))

    def excess(z: np.ndarray) -> np.ndarray:
        return probabilities(z).sum(axis=1) - 1.0

    over = booksum > 1.0
    low = np.where(over, 0.0, -1.0 + 1e-12)
    high = np.where(over, 1.0 - 1e-12, 0.0)
    found = (booksum == 1.0) | (excess(low) * excess(high) <= 0)
    z = np.where(booksum == 1.0, 0.0, _bisect_rows(excess, low, high))
    raw = probabilities(z)
    return raw / raw.sum(axis=1)[:, None], found


def consensus(fair_vectors: Sequence[Sequence[float] | np.ndarray]) -> np.ndarray:
    """Mean of per-bookmaker fair vectors (same outcome order), renormalised to sum to 1."""
    if len(fair_vectors) == 0:
        raise DevigError("consensus: no bookmaker probabilities given")
    try:
        rows = np.asarray([np.asarray(v, dtype=np.float64) for v in fair_vectors])
    except (TypeError, ValueError):
        raise DevigError("consensus: every vector must list the same outcomes") from None
    if rows.ndim != 2 or rows.shape[1] < 2:
        raise DevigError(f"consensus: expected vectors of >= 2 probabilities, got shape {rows.shape}")
    bad = np.argwhere(~np.isfinite(rows) | (rows < 0) | (rows > 1))
    if len(bad):
        book, outcome = (int(i) for i in bad[0])
        raise DevigError(f"consensus: vector {book} outcome {outcome} = {rows[book, outcome]!r} "
                         "is not a probability")
    return _normalised(rows.mean(axis=0))


def _normalised(p: np.ndarray) -> np.ndarray:
    total = p.sum()
    if not total > 0:
        raise DevigError("probabilities sum to zero")
    return p / total
