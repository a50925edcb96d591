"""Calibration statistics and calibrators (monitoring/calibration.py) against their references,
and `edgewarden calibration report` on the shipped EPL seasons.

References (reference/statistics.md): scikit-learn for Brier, log loss and isotonic regression;
the netcal binning (np.histogramdd with linspace / quantile edges, binned means) and the
estimator of Kumar et al. (verified_calibration), written out here independently; scipy's
optimisers for the Platt and temperature maximum-likelihood fits.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.stats import binned_statistic_dd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

from daemon.commands import calibration as calibration_cmd
from market.units import CONTRACT_PAYOUT
from monitoring import calibration as cal
from monitoring.calibration import (
    CalibrationError,
    IsotonicCalibrator,
    PlattCalibrator,
    TemperatureCalibrator,
    aece,
    bin_index,
    brier,
    calibrator_from_json,
    dece,
    ece,
    fit_isotonic,
    fit_platt,
    fit_temperature,
    log_loss,
    reliability,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
if not (SHARED / "data" / "football-data").is_dir():
    SHARED = Path("/work/shared")
FOOTBALL = SHARED / "data" / "football-data"
EPL = sorted(FOOTBALL.glob("E0_*.csv"))


def data(n: int = 20_000, seed: int = 7, power: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and outcomes drawn with P(y = 1) = p**power (power 1: calibrated)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2.0, 3.0, n)
    return p, (rng.random(n) < p**power).astype(np.int64)


# ------------------------------------------------------------------------- references


def netcal_ece(p: np.ndarray, y: np.ndarray, bins: int, equal_intervals: bool = True) -> float:
    """netcal's ECE: histogramdd over linspace (or quantile, outer edges 0 and 1) bounds,
    binned means, Σ n_b/N |acc_b − conf_b| over non-empty bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    if not equal_intervals:
        edges = np.quantile(p, edges)
        edges[0], edges[-1] = 0.0, 1.0
    counts, _ = np.histogramdd(p[:, None], bins=[edges])
    acc = binned_statistic_dd(p[:, None], y.astype(float), "mean", bins=[edges]).statistic
    conf = binned_statistic_dd(p[:, None], p, "mean", bins=[edges]).statistic
    full = counts > 0
    return float(np.sum(counts[full] / len(p) * np.abs(acc[full] - conf[full])))


def kumar_dece(p: np.ndarray, y: np.ndarray, bins: int) -> float:
    """Kumar et al.'s debiased L2 calibration error, bin by bin in plain Python, over the
    quantile bins of statistics.md."""
    edges = np.quantile(p, np.linspace(0.0, 1.0, bins + 1)).tolist()
    edges[0], edges[-1] = 0.0, 1.0
    binned: list[list[tuple[float, float]]] = [[] for _ in range(bins)]
    for pi, yi in zip(p.tolist(), y.tolist(), strict=True):
        binned[min(bisect.bisect_right(edges, pi) - 1, bins - 1)].append((pi, yi))
    total = 0.0
    for members in binned:
        if len(members) < 2:
            continue
        mean_p = sum(m[0] for m in members) / len(members)
        mean_y = sum(m[1] for m in members) / len(members)
        total += len(members) / len(p) * ((mean_p - mean_y) ** 2 - mean_y * (1 - mean_y) / (len(members) - 1))
    return math.sqrt(max(total, 0.0))


def nll(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum(np.logaddexp(0.0, z) - y * z))


def clipped_logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(q / (1 - q))


# ------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("bins", [1, 10, 15, 40])
@pytest.mark.parametrize("power", [1.0, 1.6])
def test_ece_and_aece_match_the_netcal_formulas(bins: int, power: float) -> None:
    p, y = data(power=power)
    assert ece(p, y, bins) == pytest.approx(netcal_ece(p, y, bins), abs=1e-12)
    assert aece(p, y, bins) == pytest.approx(netcal_ece(p, y, bins, equal_intervals=False), abs=1e-12)


def test_ece_sees_miscalibration() -> None:
    calibrated, skewed = data(power=1.0), data(power=2.0)
    assert ece(*calibrated) < 0.02 < 0.1 < ece(*skewed)


@pytest.mark.parametrize("power", [1.0, 1.3, 2.0])
def test_dece_matches_kumar(power: float) -> None:
    p, y = data(n=5_000, power=power)
    expected = kumar_dece(p, y, 15)
    assert dece(p, y) == pytest.approx(expected, abs=1e-12)
    if power > 1:
        assert expected > 0.01  # the comparison covers the unclamped branch too


def test_dece_skips_bins_of_one_and_clamps_at_zero() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    y = np.array([0, 1, 0, 1, 0, 1])
    assert dece(p, y, bins=6) == kumar_dece(p, y, 6) == 0.0  # every bin has one member
    assert dece(p, y, bins=3) == pytest.approx(kumar_dece(p, y, 3), abs=1e-15)


def test_brier_and_log_loss_match_scikit_learn() -> None:
    p, y = data()
    p[:4] = [0.0, 1.0, 1e-17, 1 - 1e-17]  # clipped by our eps, 1e-15 (scikit-learn's is 2.2e-16)
    y[:4] = [1, 0, 1, 0]
    assert brier(p, y) == pytest.approx(brier_score_loss(y, p), rel=1e-14)
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    assert log_loss(p, y) == pytest.approx(sk_log_loss(y, clipped, labels=[0, 1]), rel=1e-12)
    # our eps is stated, not scikit-learn's machine epsilon: a p of exactly 0 for a win costs
    # -ln(1e-15) = 34.54, not 36.04
    assert log_loss([0.0], [1]) == pytest.approx(-math.log(1e-15), rel=1e-12)
    assert log_loss([1.0], [1]) == pytest.approx(-math.log1p(-1e-15), rel=1e-6)


def test_reliability_rows_are_the_ece_bins() -> None:
    p, y = data(power=1.4)
    table = reliability(p, y)
    assert sum(r.n for r in table) == len(p) == table.n
    assert sum(r.n / len(p) * abs(r.gap) for r in table) == pytest.approx(ece(p, y), abs=1e-12)
    index = bin_index(p)
    for row in table:
        members = index == row.bin
        assert row.n == members.sum()
        assert row.mean_p == pytest.approx(p[members].mean(), rel=1e-12)
        assert row.mean_y == pytest.approx(y[members].mean(), rel=1e-12)
        assert row.lower <= row.mean_p < row.upper
    as_json = json.loads(json.dumps(table.as_dict()))
    assert as_json["bins"] == 15 and len(as_json["rows"]) == len(table)
    assert set(as_json["rows"][0]) == {"bin", "lower", "upper", "n", "mean_p", "mean_y", "gap"}


def test_reliability_drops_empty_bins() -> None:
    table = reliability([0.05, 0.06, 0.95], [0, 1, 1], bins=10)
    assert [(r.bin, r.n, r.mean_y) for r in table] == [(0, 2, 0.5), (9, 1, 1.0)]
    assert table[1].mean_p == 0.95


def test_bins_of_fixed_point_prices_come_from_the_integer() -> None:
    # 5800 units = $0.58; 0.58 * 100 = 57.99999999999999 in floating point
    assert bin_index([0.58], bins=100).tolist() == [57]
    assert bin_index([5800], bins=100, scale=CONTRACT_PAYOUT).tolist() == [58]
    prices = np.array([0, 666, 667, 2000, 5800, 9999, 10_000])
    assert bin_index(prices, 15, scale=CONTRACT_PAYOUT).tolist() == [0, 0, 1, 3, 8, 14, 14]
    table = reliability([5800, 5800, 100], [1, 0, 0], bins=100, scale=CONTRACT_PAYOUT)
    assert [(r.bin, r.n, r.mean_p) for r in table] == [(1, 1, 0.01), (58, 2, 0.58)]
    assert ece([5800, 5800], [1, 0], bins=100, scale=CONTRACT_PAYOUT) == pytest.approx(0.08)


def test_fixed_point_and_float_agree_away_from_edges() -> None:
    rng = np.random.default_rng(3)
    prices = rng.integers(1, CONTRACT_PAYOUT, 5_000)
    y = rng.random(5_000) < prices / CONTRACT_PAYOUT
    floats = prices / CONTRACT_PAYOUT
    assert np.array_equal(bin_index(prices, 15, scale=CONTRACT_PAYOUT), bin_index(floats, 15))
    for stat in (ece, aece, dece):
        assert stat(prices, y, scale=CONTRACT_PAYOUT) == pytest.approx(stat(floats, y), abs=1e-15)
    assert brier(prices, y, scale=CONTRACT_PAYOUT) == brier(floats, y)


@pytest.mark.parametrize(("p", "y", "words"), [
    ([], [], "p is empty"),
    ([0.5, 1.2], [0, 1], "p: 1 of 2 values outside [0, 1]"),
    ([0.5, float("nan")], [0, 1], "p[1] = nan"),
    ([-0.1], [0], "outside [0, 1]"),
    ([0.5, 0.5], [0, 2], "y: 1 of 2 values not 0 or 1"),
    ([0.5, 0.5], [0.5, 1], "not 0 or 1"),
    ([0.5, 0.5], [1], "same length"),
    ([[0.5]], [1], "1-D"),
    (["a"], [1], "expected numbers"),
    (0.5, 1, "1-D"),
])
def test_bad_inputs_raise_value_errors_naming_the_problem(p, y, words) -> None:
    for stat in (ece, aece, dece, brier, log_loss, reliability):
        with pytest.raises(ValueError, match=_re(words)):
            stat(p, y)


def test_bad_prices_and_bins() -> None:
    with pytest.raises(ValueError, match=_re("outside [0, 10000] price units")):
        ece([10_001], [1], scale=CONTRACT_PAYOUT)
    with pytest.raises(ValueError, match="whole price units"):
        ece([5000.5], [1], scale=CONTRACT_PAYOUT)
    with pytest.raises(ValueError, match="scale"):
        ece([5000], [1], scale=0)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="bins"):
            ece([0.5], [1], bins=bad)


def _re(text: str) -> str:
    import re

    return re.escape(text)


probabilities = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=200)


@settings(max_examples=200, deadline=None)
@given(probabilities, st.data(), st.integers(1, 30))
def test_statistics_stay_in_range(p: list[float], draw: st.DataObject, bins: int) -> None:
    y = draw.draw(st.lists(st.integers(0, 1), min_size=len(p), max_size=len(p)))
    for stat in (ece, aece, dece):
        assert 0.0 <= stat(p, y, bins) <= 1.0
    assert 0.0 <= brier(p, y) <= 1.0
    worst = -math.log(1 - (1 - 1e-15))  # 1 − 1e-15 rounds to a double 1e-18 lower
    assert 0.0 <= log_loss(p, y) <= worst
    assert ece(p, y, bins) == pytest.approx(netcal_ece(np.array(p), np.array(y), bins), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True), st.floats(1.0, 1e9, exclude_min=True),
                          st.floats(-1e9, 0.0, exclude_max=True)), min_size=1, max_size=5),
       st.integers(0, 4))
def test_out_of_range_probabilities_always_raise(bad: list[float], at: int) -> None:
    assume(any(not 0.0 <= v <= 1.0 for v in bad))
    p = [0.5] * at + bad
    with pytest.raises(ValueError, match="p"):
        ece(p, [1] * len(p))
    with pytest.raises(ValueError, match="p"):
        fit_platt(p, [0, 1] * len(p))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-3, 5).filter(lambda v: v not in (0, 1)), min_size=1, max_size=4))
def test_outcomes_other_than_0_and_1_always_raise(bad: list[int]) -> None:
    y = [0, 1] + bad
    with pytest.raises(ValueError, match="y"):
        brier([0.5] * len(y), y)


# ------------------------------------------------------------------------- calibrators


def scipy_platt(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = clipped_logit(p)

    def fun(t: np.ndarray) -> tuple[float, np.ndarray]:
        z = t[0] * x + t[1]
        r = 1 / (1 + np.exp(-z)) - y
        return nll(z, y), np.array([r @ x, r.sum()])

    return optimize.minimize(fun, [0.5, 0.5], jac=True, method="BFGS", options={"gtol": 1e-9}).x


def test_platt_matches_an_independent_scipy_fit() -> None:
    rng = np.random.default_rng(11)
    p = rng.beta(2, 2, 20_000)
    truth = 1 / (1 + np.exp(-(0.6 * clipped_logit(p) + 0.25)))  # over-confident p: slope < 1
    y = (rng.random(len(p)) < truth).astype(int)
    fit = fit_platt(p, y)
    a, b = scipy_platt(p, y)
    assert (fit.a, fit.b) == pytest.approx((a, b), rel=1e-6)
    assert fit.alpha == fit.a and 0.5 < fit.alpha < 0.7 and 0.15 < fit.b < 0.35
    assert fit.predict(p) == pytest.approx(1 / (1 + np.exp(-(a * clipped_logit(p) + b))), rel=1e-6)
    # the fitted map is at least as good as the identity by the likelihood it maximises
    assert log_loss(fit.predict(p), y) <= log_loss(p, y)
    assert (fit.x_min, fit.x_max, fit.n) == (p.min(), p.max(), len(p))


def test_temperature_matches_an_independent_scipy_fit() -> None:
    rng = np.random.default_rng(12)
    p = rng.beta(2, 2, 20_000)
    y = (rng.random(len(p)) < 1 / (1 + np.exp(-clipped_logit(p) / 1.8))).astype(int)
    fit = fit_temperature(p, y)
    x = clipped_logit(p)
    best = optimize.minimize_scalar(lambda t: nll(x / t, y), bounds=(0.05, 20), method="bounded",
                                    options={"xatol": 1e-10})
    assert fit.temperature == pytest.approx(best.x, rel=1e-6)
    assert 1.6 < fit.temperature < 2.0
    assert fit.predict(p) == pytest.approx(1 / (1 + np.exp(-x / fit.temperature)), rel=1e-12)


def test_parametric_fits_refuse_what_has_no_maximum() -> None:
    with pytest.raises(ValueError, match="both outcomes"):
        fit_platt([0.2, 0.7], [1, 1])
    with pytest.raises(ValueError, match="every p is"):
        fit_platt([0.3, 0.3], [0, 1])
    for y in ([0, 0, 1, 1], [1, 1, 0, 0], [0, 1, 1, 1]):
        with pytest.raises(ValueError, match="separates the outcomes"):
            fit_platt([0.1, 0.2, 0.2, 0.9], y)
    assert fit_platt([0.1, 0.3, 0.2, 0.9], [0, 0, 1, 1]).a > 0  # overlapping: a finite maximum
    with pytest.raises(ValueError, match="no finite maximum"):
        fit_temperature([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="anti-correlated"):
        fit_temperature([0.1, 0.2, 0.8, 0.9, 0.5, 0.5], [1, 1, 0, 0, 1, 0])
    with pytest.raises(ValueError, match="0.5"):
        fit_temperature([0.5, 0.5], [0, 1])


def assert_same_isotonic(x, y, weights=None) -> IsotonicCalibrator:
    ours = fit_isotonic(x, y, weights)
    ref = IsotonicRegression(out_of_bounds="clip").fit(np.asarray(x, float), np.asarray(y, float), weights)
    assert np.array_equal(ours.x_thresholds, ref.X_thresholds_)
    assert np.array_equal(ours.y_thresholds, ref.y_thresholds_)
    assert (ours.x_min, ours.x_max) == (ref.X_min_, ref.X_max_)
    lo, hi = float(np.min(x)), float(np.max(x))
    queries = np.concatenate([np.linspace(lo - 1, hi + 1, 501), np.asarray(x, float)[:500], ref.X_thresholds_])
    assert np.array_equal(ours.predict(queries), ref.predict(queries))
    return ours


@pytest.mark.parametrize("decimals", [None, 3, 1])
def test_isotonic_matches_scikit_learn_bit_for_bit(decimals: int | None) -> None:
    p, y = data(n=50_000, power=1.5)
    if decimals is not None:
        p = np.round(p, decimals)  # ties: averaged first
    fit = assert_same_isotonic(p, y)
    assert fit.bins == len(np.unique(p)) and fit.n == len(p)
    weights = np.random.default_rng(5).random(len(p)) * 3
    weights[:10] = 0.0  # dropped, as scikit-learn does
    assert_same_isotonic(p, y, weights)


def test_isotonic_on_price_units_and_binned_rates() -> None:
    rng = np.random.default_rng(8)
    prices = rng.integers(100, 9_900, 10_000)
    y = (rng.random(len(prices)) < prices / 10_000).astype(int)
    assert_same_isotonic(prices, y)
    # a binned fit: bin centres, the bins' win rates, their counts as weights
    centres = np.arange(15) / 15 + 1 / 30
    rates = np.array([.02, .1, .09, .2, .3, .28, .45, .5, .49, .6, .7, .8, .78, .9, .97])
    fit = assert_same_isotonic(centres, rates, np.full(15, 100.0))
    # PAV pools (.1, .09), (.3, .28), (.5, .49) and (.8, .78): 11 levels from 15 bins
    assert (fit.bins, fit.levels, fit.merged_bins) == (15, 11, 4)
    assert fit.merged_share == pytest.approx(4 / 15)


def test_merged_bins_and_clamp_rate_by_hand() -> None:
    fit = fit_isotonic([1, 2, 3, 4], [0, 1, 0, 1])
    assert fit.predict([1, 2, 3, 4]).tolist() == [0.0, 0.5, 0.5, 1.0]
    assert (fit.bins, fit.levels, fit.merged_bins, fit.merged_share) == (4, 3, 1, 0.25)
    assert fit.clamp_rate([0, 1, 2.5, 4, 5, 4.0001]) == pytest.approx(0.5)
    assert fit.predict([-10, 10]).tolist() == [0.0, 1.0]  # clipped to the training range
    single = fit_isotonic([0.3, 0.3, 0.3], [0, 1, 1])
    assert single.predict([0.0, 0.3, 1.0]).tolist() == pytest.approx([2 / 3] * 3)
    assert (single.bins, single.merged_bins) == (1, 0)
    platt = fit_platt([0.2, 0.4, 0.6, 0.5], [0, 1, 1, 0])
    assert platt.clamp_rate([0.1, 0.2, 0.5, 0.6, 0.7]) == pytest.approx(0.4)
    assert (platt.merged_bins, platt.merged_share) == (0, 0.0)


def test_isotonic_input_errors() -> None:
    with pytest.raises(ValueError, match="x"):
        fit_isotonic([0.1, float("inf")], [0, 1])
    with pytest.raises(ValueError, match=_re("y: 1 of 2 values outside [0, 1]")):
        fit_isotonic([0.1, 0.2], [0, 3])
    with pytest.raises(ValueError, match="same length"):
        fit_isotonic([0.1, 0.2], [0])
    with pytest.raises(ValueError, match="every weight is 0"):
        fit_isotonic([0.1, 0.2], [0, 1], [0, 0])
    with pytest.raises(ValueError, match="negative"):
        fit_isotonic([0.1, 0.2], [0, 1], [1, -1])
    with pytest.raises(ValueError, match="queries"):
        fit_isotonic([0.1, 0.2], [0, 1]).clamp_rate([])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5 + 2**-53, 0.75, 1.0]) | st.floats(0, 1),
                          st.integers(0, 1)), min_size=1, max_size=60))
def test_isotonic_is_monotone_and_matches_scikit_learn(rows: list[tuple[float, int]]) -> None:
    x, y = (list(c) for c in zip(*rows, strict=True))
    fit = assert_same_isotonic(x, y)
    out = fit.predict(np.linspace(-0.5, 1.5, 400))
    assert np.all(np.diff(out) >= 0)
    assert min(y) <= out.min() and out.max() <= max(y)
    assert 0 <= fit.merged_bins < fit.bins


def fitted(kind: str, p: list[float], y: list[int]):
    # two tied pairs with both outcomes: the likelihood has a finite maximum
    p, y = p + [0.3, 0.3, 0.7, 0.7], y + [0, 1, 0, 1]
    return {"platt": fit_platt, "temperature": fit_temperature, "isotonic": fit_isotonic}[kind](p, y)


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(["platt", "temperature", "isotonic"]), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 1)),
                                                                       max_size=40))
def test_json_round_trip_is_bit_for_bit(kind: str, rows: list[tuple[float, int]]) -> None:
    p = [r[0] for r in rows]
    y = [r[1] for r in rows]
    try:
        fit = fitted(kind, p, y)
    except CalibrationError as exc:
        assume("anti-correlated" not in str(exc))
        raise
    text = fit.to_json()
    back = calibrator_from_json(text)
    assert type(back) is type(fit) and back.to_json() == text
    assert type(fit).from_json(text).to_json() == text
    for name in type(fit).__dataclass_fields__:
        a, b = getattr(fit, name), getattr(back, name)
        if isinstance(a, np.ndarray):
            assert a.tobytes() == b.tobytes()
        elif isinstance(a, float):
            assert a.hex() == b.hex()
        else:
            assert a == b
    queries = np.linspace(0, 1, 257)
    assert fit.predict(queries).tobytes() == back.predict(queries).tobytes()
    assert fit.clamp_rate(queries) == back.clamp_rate(queries)
    assert fit.merged_bins == back.merged_bins


def test_json_form_and_its_errors() -> None:
    fit = fit_platt([0.2, 0.4, 0.6, 0.5], [0, 1, 1, 0])
    data = json.loads(fit.to_json())
    assert data["kind"] == "platt" and data["schema"] == 1 and data["a"] == fit.a
    assert isinstance(calibrator_from_json(fit.to_json()), PlattCalibrator)
    with pytest.raises(ValueError, match="kind 'platt', expected 'temperature'"):
        TemperatureCalibrator.from_json(fit.to_json())
    with pytest.raises(ValueError, match="does not parse"):
        calibrator_from_json("{")
    with pytest.raises(ValueError, match="unknown kind"):
        calibrator_from_json(json.dumps({"kind": "spline", "schema": 1}))
    with pytest.raises(ValueError, match="schema"):
        calibrator_from_json(json.dumps({**data, "schema": 99}))
    with pytest.raises(ValueError, match="lacks b"):
        calibrator_from_json(json.dumps({k: v for k, v in data.items() if k != "b"}))


def test_isotonic_fit_on_a_million_is_the_same_as_scikit_learn() -> None:
    p, y = data(n=1_000_000, seed=2, power=1.2)
    fit = assert_same_isotonic(np.round(p, 4), y)
    assert fit.bins == len(np.unique(np.round(p, 4)))


# ------------------------------------------------------------------------- the report command


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="edgewarden")
    calibration_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["calibration", "report", *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def data_args(paths: list[Path]) -> list[str]:
    return [a for path in paths for a in ("--data", str(path))]


@pytest.mark.skipif(len(EPL) != 7, reason="needs ../shared/data/football-data (beside the repo)")
def test_report_reproduces_the_epl_figures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli([*data_args(EPL), "--json", "--plot", str(tmp_path / "rel.png")], capsys)
    assert code == 0
    report = json.loads(out)
    assert (report["n"], report["matches"], report["skipped"]) == (7_980, 2_660, 0)
    assert round(report["ece"], 4) == 0.0114
    assert round(report["brier"], 4) == 0.1906
    assert {"aece", "dece", "log_loss", "reliability", "bins", "prices"} <= set(report)
    assert report["prices"] == "closing" and report["columns"] == ["AvgCH", "AvgCD", "AvgCA"]
    assert sum(r["n"] for r in report["reliability"]) == 7_980
    assert (tmp_path / "rel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run_cli([*data_args(EPL), "--prices", "opening", "--json", "--bins", "10"], capsys)
    opening = json.loads(out)
    assert code == 0 and opening["n"] == 7_980 and opening["bins"] == 10
    assert opening["brier"] > report["brier"]  # closing prices know more
    code, out, _ = run_cli(data_args(EPL[:1]), capsys)
    assert code == 0
    assert "ECE (15 equal-width bins)" in out and "Brier" in out and "1,140 predictions" in out
    assert "Reliability" in out


FIELDS = ["Div", "Date", "Time", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR",
          "AvgH", "AvgD", "AvgA", "AvgCH", "AvgCD", "AvgCA"]


def csv_file(path: Path, rows: list[list[str]], bom: bool = False, header: list[str] = FIELDS) -> Path:
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


def match(ftr: str = "H", closing: tuple[str, str, str] = ("2.0", "3.5", "4.0")) -> list[str]:
    return ["E0", "01/01/2024", "15:00", "A", "B", "1", "0", ftr, "2.1", "3.4", "3.9", *closing]


def test_report_skips_and_counts_rows_without_result_or_prices(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = csv_file(tmp_path / "E0.csv", [
        match("H"), match("D"), match(""), match("A", ("", "3.5", "4.0")), [""] * len(FIELDS),
        match("A", ("0", "3.5", "4.0")), match("H", ("x", "3.5", "4.0")), match("A"),
    ], bom=True)
    code, out, _ = run_cli(["--data", str(path), "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["n"] == 9 and report["matches"] == 3
    assert report["skipped"] == 4
    assert sorted(report["skipped_by_reason"].values()) == [1, 3]
    pi = 1 / np.array([2.0, 3.5, 4.0])
    fair = pi / pi.sum()
    p = np.tile(fair, 3)
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 1])
    assert report["brier"] == pytest.approx(brier(p, y), rel=1e-15)
    assert report["ece"] == pytest.approx(ece(p, y), rel=1e-15)
    assert report["files"] == [{"file": str(path), "matches": 3, "skipped": 4}]
    code, out, _ = run_cli(["--data", str(path)], capsys)
    assert code == 0 and "rows skipped" in out and "no prices" in out


def test_report_refuses_files_it_cannot_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x81binary")
    cases = {
        tmp_path / "missing.csv": "cannot read",
        csv_file(tmp_path / "other.csv", [["1", "2"]], header=["a", "b"]): "not a football-data.co.uk CSV",
        csv_file(tmp_path / "old.csv", [match()[:8]], header=FIELDS[:8]): "no AvgCH, AvgCD, AvgCA column",
        garbage: "not a text CSV",
        tmp_path: "cannot read",
        csv_file(tmp_path / "empty.csv", [], header=[""]): "not a football-data.co.uk CSV",
    }
    for path, words in cases.items():
        code, out, err = run_cli(["--data", str(path)], capsys)
        assert code == 2 and out == ""
        assert str(path) in err and words in err
    no_rows = csv_file(tmp_path / "nothing.csv", [match("")])
    code, _, err = run_cli(["--data", str(no_rows)], capsys)
    assert code == 2 and "no graded predictions (1 rows skipped: 1 no result" in err
    code, _, err = run_cli([], capsys)
    assert code == 2 and "--data FILE" in err


def test_report_bins_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_cli(["--data", "x.csv", "--bins", "0"], capsys)
    assert exit_.value.code == 2


def test_summary_is_every_statistic() -> None:
    p, y = data(n=2_000)
    out = cal.summary(p, y)
    assert out == {"n": 2_000, "bins": 15, "ece": ece(p, y), "aece": aece(p, y), "dece": dece(p, y),
                   "brier": brier(p, y), "log_loss": log_loss(p, y)}
