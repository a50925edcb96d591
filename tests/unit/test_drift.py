"""PSI and KS against independent computations on fixed-seed data; bands at their edges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from monitoring.drift import band, ks, psi


def reference_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """statistics.md by hand: decile edges of ref, outer edges ±inf, shares floored at 1e-4."""
    cuts = sorted(np.quantile(ref, [i / bins for i in range(1, bins)]))
    total = 0.0
    for lo, hi in zip([-np.inf, *cuts], [*cuts, np.inf], strict=True):
        last = hi == np.inf
        e = max(np.mean((ref >= lo) & ((ref <= hi) if last else (ref < hi))), 1e-4)
        a = max(np.mean((cur >= lo) & ((cur <= hi) if last else (cur < hi))), 1e-4)
        total += (a - e) * np.log(a / e)
    return float(total)


def test_psi_and_ks_match_their_references() -> None:
    rng = np.random.default_rng(11)
    ref, cur = rng.beta(2, 5, 5_000), rng.beta(2.5, 5, 4_000)
    assert psi(ref, cur) == pytest.approx(reference_psi(ref, cur), rel=1e-12)
    assert psi(ref, ref) == pytest.approx(0.0, abs=1e-12)
    expected = stats.ks_2samp(ref, cur)
    assert ks(ref, cur) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))


def test_bands_at_their_edges() -> None:
    assert (band(0.0999), band(0.1), band(0.25), band(0.2501)) == ("stable", "moderate", "moderate", "significant")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50))
def test_psi_is_never_negative(ref: list[float], cur: list[float]) -> None:
    assert psi(ref, cur) >= 0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="ref: no values"):
        psi([], [0.5])
    with pytest.raises(ValueError, match="NaN or infinite"):
        ks([0.1, float("nan")], [0.2])
