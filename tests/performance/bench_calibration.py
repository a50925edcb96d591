"""Calibration speed: `python -m tests.performance.bench_calibration [--quick]`.

Prints, for an isotonic fit on 1,000,000 samples (continuous p; p on a 10,001-value price
grid, so with ties; and with sample weights, the general path), our time and scikit-learn's
``IsotonicRegression(out_of_bounds="clip").fit`` in the same run, and the ratio; then grading
1,000,000 predictions (Brier + log loss + ECE, inputs validated by each) in predictions/s,
beside scikit-learn's ``brier_score_loss`` + ``log_loss``. Goals: the isotonic fit within 2×
of scikit-learn's; grading ≥ 1,000,000 predictions/s. Best of several runs, after a warm-up
(the numba kernels load from the cache); ``--quick`` uses 100,000 samples and fewer runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

from monitoring.calibration import brier, ece, fit_isotonic, log_loss


def samples(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(2.0, 3.0, n)
    return p, (rng.random(n) < p**1.2).astype(np.float64)


def best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def isotonic(n: int, repeats: int) -> None:
    p, y = samples(n)
    weights = np.random.default_rng(2).random(n) + 0.5
    start = time.perf_counter()
    fit_isotonic(p[:100], y[:100])  # loads (or compiles) the kernels
    fit_isotonic(p[:100], y[:100], weights[:100])
    print(f"  first fit (numba kernels from cache or compiled): {time.perf_counter() - start:6.2f} s")
    cases = {
        "continuous p": (p, y, None),
        "price grid (ties)": (np.round(p, 4), y, None),
        "with sample weights": (p, y, weights),
    }
    for name, (x, t, w) in cases.items():
        ours = best(lambda x=x, t=t, w=w: fit_isotonic(x, t, w), repeats)
        ref = best(lambda x=x, t=t, w=w: IsotonicRegression(out_of_bounds="clip").fit(x, t, w), repeats)
        print(f"  isotonic fit, {n:,} samples, {name:<20} ours {ours * 1e3:8.1f} ms   "
              f"scikit-learn {ref * 1e3:8.1f} ms   ours/sklearn {ours / ref:5.2f}x   (goal ≤ 2x)")


def grading(n: int, repeats: int) -> None:
    p, y = samples(n, seed=3)

    def ours() -> None:
        brier(p, y)
        log_loss(p, y)
        ece(p, y)

    def reference() -> None:
        brier_score_loss(y, p)
        sk_log_loss(y, p, labels=[0, 1])

    ours()
    t_ours, t_ref = best(ours, repeats), best(reference, repeats)
    print(f"  {f'grading {n:,} predictions (Brier + log loss + ECE):':<56} {t_ours * 1e3:7.1f} ms = "
          f"{n / t_ours:14,.0f} predictions/s   (goal ≥ 1,000,000/s)")
    print(f"  {'scikit-learn Brier + log loss (no ECE):':<56} {t_ref * 1e3:7.1f} ms = "
          f"{n / t_ref:14,.0f} predictions/s   (ratio ours/sklearn {t_ours / t_ref:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 samples, fewer runs")
    args = parser.parse_args()
    n, repeats = (100_000, 3) if args.quick else (1_000_000, 5)
    print("edgewarden calibration benchmark")
    isotonic(n, repeats)
    grading(n, repeats)


if __name__ == "__main__":
    main()
