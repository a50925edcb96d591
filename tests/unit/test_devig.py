"""De-vigging: reference values, identities, and rejection of prices that are not prices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from strategies.devig import (
    METHODS,
    DevigError,
    additive,
    consensus,
    devig,
    devig_rows,
    multiplicative,
    power,
    shin,
    shin_z,
)

ODDS = [2.7, 2.3, 4.4]
# Published reference values (reference/venues.md).
REFERENCE = {
    "multiplicative": [0.358738, 0.421127, 0.220135],
    "additive": [0.359562, 0.423974, 0.216464],
    "power": [0.359171, 0.423729, 0.217100],
    "shin": [0.359346, 0.423252, 0.217402],
}
IMPLIED_TOL = np.finfo(float).eps ** 0.25  # R `implied` package default tolerance


@pytest.mark.parametrize("method", ["multiplicative", "additive"])
def test_closed_form_reference_values(method):
    fair = devig(ODDS, method)
    assert fair == pytest.approx(REFERENCE[method], abs=1e-6)
    assert math.fsum(fair) == pytest.approx(1.0, abs=1e-12)
    assert all(isinstance(p, float) for p in fair)


def test_power_is_the_exact_root():
    fair = np.array(devig(ODDS, "power"))
    pi = 1 / np.array(ODDS)
    exponents = np.log(fair) / np.log(pi)
    assert exponents == pytest.approx(np.full(3, exponents[0]), abs=1e-12)  # one common k
    assert np.power(pi, exponents[0]).sum() == pytest.approx(1.0, abs=1e-14)
    assert fair == pytest.approx([0.3591711, 0.4237308, 0.2170981], abs=1e-6)


def _shin_by_fixed_point(odds, tol, keep_previous=False):
    """Jullien–Salanié iteration z ← (Σ√(z² + 4(1−z)π²/Σπ) − 2)/(n − 2): an independent algorithm."""
    pi = 1 / np.asarray(odds)
    z = previous = 0.0
    for _ in range(100_000):
        previous, z = z, (np.sqrt(z * z + 4 * (1 - z) * pi**2 / pi.sum()).sum() - 2) / (len(pi) - 2)
        if abs(z - previous) <= tol:
            break
    z = previous if keep_previous else z
    p = (np.sqrt(z * z + 4 * (1 - z) * pi**2 / pi.sum()) - z) / (2 * (1 - z))
    return p / p.sum()


def test_shin_is_the_exact_root_and_agrees_with_the_fixed_point_iteration():
    fair = np.array(devig(ODDS, "shin"))
    pi = 1 / np.array(ODDS)
    z = shin_z(ODDS)
    unnormalised = (np.sqrt(z * z + 4 * (1 - z) * pi**2 / pi.sum()) - z) / (2 * (1 - z))
    assert unnormalised.sum() == pytest.approx(1.0, abs=1e-14)
    assert fair == pytest.approx(_shin_by_fixed_point(ODDS, 1e-15), abs=1e-9)
    assert fair == pytest.approx([0.3593439, 0.4232438, 0.2174122], abs=1e-6)


def test_published_power_and_shin_values_are_the_r_implied_loose_tolerance():
    """The venues.md values are R `implied` at tolerance eps**0.25: reproduced here to 1e-6,
    and within 1.1e-5 of the exact roots this module returns."""
    pi = 1 / np.array(ODDS)
    inverse_k = brentq(lambda nn: np.power(pi, 1 / nn).sum() - 1, 1e-4, 1.0,
                       xtol=IMPLIED_TOL, rtol=4 * np.finfo(float).eps)
    loose_power = np.power(pi, 1 / inverse_k) / np.power(pi, 1 / inverse_k).sum()
    assert loose_power == pytest.approx(REFERENCE["power"], abs=1e-6)
    # implied keeps the iterate before the one that met the stopping rule.
    assert _shin_by_fixed_point(ODDS, IMPLIED_TOL, keep_previous=True) == pytest.approx(
        REFERENCE["shin"], abs=1e-6)
    assert devig(ODDS, "power") == pytest.approx(REFERENCE["power"], abs=2e-6)
    assert devig(ODDS, "shin") == pytest.approx(REFERENCE["shin"], abs=1.1e-5)


def test_functions_take_arrays_and_lists_alike():
    for function in (multiplicative, additive, power, shin):
        assert function(np.array(ODDS)) == pytest.approx(function(ODDS), abs=1e-15)


def test_shin_insider_share_is_positive_with_a_margin_and_zero_without():
    assert 0.0 < shin_z(ODDS) < 0.05
    fair_book = [1 / 0.5, 1 / 0.3, 1 / 0.2]
    assert shin_z(fair_book) == pytest.approx(0.0, abs=1e-9)
    assert devig(fair_book, "shin") == pytest.approx([0.5, 0.3, 0.2], abs=1e-9)


def test_no_margin_leaves_probabilities_unchanged_for_every_method():
    for method in METHODS:
        assert devig([2.0, 4.0, 4.0], method) == pytest.approx([0.5, 0.25, 0.25], abs=1e-9)


def test_power_shades_longshots_more_than_multiplicative():
    # A margin taken mostly from longshots: the longshot's fair probability is lower.
    odds = [1.25, 4.0]
    assert power(odds)[1] < multiplicative(odds)[1]


odds_value = st.floats(min_value=1.05, max_value=30.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.tuples(odds_value, odds_value))
def test_two_outcome_shin_equals_additive(pair):
    try:
        expected = additive(pair)
    except DevigError:
        return  # additive would go negative: nothing to compare
    assert shin(pair) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.lists(odds_value, min_size=2, max_size=8), st.sampled_from(METHODS))
def test_any_valid_book_gives_a_probability_vector(odds, method):
    try:
        fair = devig(odds, method)
    except DevigError as exc:
        assert method == "additive" and "negative" in str(exc)
        return
    assert len(fair) == len(odds)
    assert all(0.0 <= p <= 1.0 for p in fair)
    assert math.fsum(fair) == pytest.approx(1.0, abs=1e-9)
    # De-vigging never changes the order of the favourites.
    order = sorted(range(len(odds)), key=lambda i: odds[i])
    assert all(fair[order[i]] >= fair[order[i + 1]] - 1e-12 for i in range(len(order) - 1))


@pytest.mark.parametrize(
    ("odds", "fragment"),
    [
        ([2.0], "at least 2"),
        ([], "at least 2"),
        ([2.0, 1.0], "odds[1]"),
        ([0.5, 2.0], "odds[0]"),
        ([2.0, float("nan")], "odds[1]"),
        ([2.0, float("inf")], "odds[1]"),
        ([-3.0, 2.0], "odds[0]"),
        ([[2.0, 2.0], [2.0, 2.0]], "flat sequence"),
        (["x", 2.0], "decimal prices"),
    ],
)
def test_bad_odds_are_rejected_with_what_and_where(odds, fragment):
    for method in METHODS:
        with pytest.raises(DevigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
            devig(odds, method)


def test_unknown_method_is_named():
    with pytest.raises(DevigError, match="'logit'.*multiplicative"):
        devig(ODDS, "logit")


def test_additive_refuses_a_negative_probability():
    with pytest.raises(DevigError, match="outcome 2 gets a negative probability"):
        additive([1.05, 1.9, 40.0])


def test_consensus_is_the_renormalised_mean():
    books = [[0.5, 0.5], [0.6, 0.4], [0.55, 0.44]]
    fair = consensus(books)
    assert fair.sum() == pytest.approx(1.0)
    mean = np.mean(books, axis=0)
    assert fair == pytest.approx(mean / mean.sum())


def test_consensus_of_devigged_books_recovers_a_common_truth():
    truth = 0.62
    books = [[1 / (truth * (1 + m)), 1 / ((1 - truth) * (1 + m))] for m in (0.03, 0.045, 0.06)]
    fair = consensus([devig(b, "multiplicative") for b in books])
    assert fair[0] == pytest.approx(truth, abs=1e-12)


@pytest.mark.parametrize(
    ("vectors", "fragment"),
    [
        ([], "no bookmaker"),
        ([[0.5, 0.5], [0.3, 0.3, 0.4]], "same outcomes"),
        ([[1.0]], ">= 2"),
        ([[0.5, float("nan")]], "vector 0 outcome 1"),
        ([[0.5, 0.5], [1.2, -0.2]], "vector 1 outcome 0"),
    ],
)
def test_consensus_rejects_what_is_not_probabilities(vectors, fragment):
    with pytest.raises(DevigError, match=fragment):
        consensus(vectors)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(METHODS), st.integers(2, 4).flatmap(
    lambda k: st.lists(st.lists(st.floats(min_value=1.001, max_value=200, allow_nan=False), min_size=k, max_size=k),
                       min_size=1, max_size=20)))
def test_devig_rows_agrees_with_devig_row_by_row(method, rows):
    fair, ok = devig_rows(np.array(rows), method)
    for row, good, got in zip(rows, ok.tolist(), fair, strict=True):
        try:
            expected = devig(row, method)
        except DevigError:
            assert not good and np.isnan(got).all()
            continue
        assert good
        assert got == pytest.approx(expected, abs=1e-12)


def test_devig_rows_refuses_what_devig_refuses() -> None:
    fair, ok = devig_rows(np.array([[1.0, 2.0], [np.inf, 2.0], [1.9, 1.9]]), "shin")
    assert ok.tolist() == [False, False, True] and np.isnan(fair[:2]).all()
    with pytest.raises(DevigError, match="method"):
        devig_rows(np.array([[1.9, 1.9]]), "nope")
    with pytest.raises(DevigError, match="rows of >= 2"):
        devig_rows(np.array([1.9, 1.9]), "shin")
