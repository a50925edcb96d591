"""Correlated groups from config patterns and from price history."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from risk.correlation import group_resolver, identify_correlated_groups


def test_patterns_match_ticker_event_or_series_first_group_wins() -> None:
    groups = [SimpleNamespace(name="nba", patterns=["KXNBA*"]),
              SimpleNamespace(name="lal", patterns=["*LAL*"]),
              SimpleNamespace(name="weather", patterns=["KXHIGHNY-26JAN20"])]
    resolve = group_resolver(groups)
    assert resolve("KXNBAGAME-26JAN20LALBOS-LAL", "KXNBAGAME-26JAN20LALBOS") == 0
    assert resolve("KXMVP-26-LAL", None) == 1
    assert resolve("KXHIGHNY-26JAN20-T40", "KXHIGHNY-26JAN20") == 2
    assert resolve("KXCPI-26JAN", "KXCPI-26JAN") == -1


def test_identify_groups_links_transitively_and_ignores_flat_series() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=200)
    other = rng.normal(size=200)
    data = np.column_stack([
        base, base + 0.1 * rng.normal(size=200), -base,  # 0, 1, 2 move together (2 inversely)
        other, other * 3,  # 3, 4
        np.zeros(200),  # 5 never moves
        rng.normal(size=200),  # 6 alone
    ])
    assert identify_correlated_groups(data, 0.5) == [[0, 1, 2], [3, 4]]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="T × M"):
        identify_correlated_groups(np.zeros(5), 0.5)
    with pytest.raises(ValueError, match="threshold"):
        identify_correlated_groups(np.zeros((5, 2)), 0.0)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 30), st.integers(0, 8)),
              elements=st.floats(-1e3, 1e3)), st.floats(0.05, 1.0))
def test_groups_partition_some_markets(data, threshold) -> None:
    with np.errstate(divide="raise", invalid="raise", over="raise"):  # no NaN warnings
        groups = identify_correlated_groups(data, threshold)
    members = [i for g in groups for i in g]
    assert len(members) == len(set(members))
    assert all(len(g) >= 2 and g == sorted(g) for g in groups)
