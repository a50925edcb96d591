"""Correlated market groups: from config patterns, or found in price history.

Markets in one group share one exposure cap (``max_group_*``): ten markets on one game are
one bet, not ten. Ungrouped markets get group −1 and are held by the position and total
caps only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import Any

import numpy as np


def series_of(ticker: str) -> str:
    """Kalshi series ticker = the part before the first dash (KXNBAGAME-26JAN20LALBOS-LAL)."""
    return ticker.split("-", 1)[0]


def group_resolver(groups: Sequence[Any]) -> Callable[[str, str | None], int]:
    """(ticker, event_ticker) → index of the first group with a matching pattern, else −1.

    ``groups`` are config ``CorrelationGroup``s (``name``, ``patterns``); a pattern is an
    fnmatch pattern tried against the ticker, the event ticker and the series ticker.
    """
    compiled = [(i, tuple(g.patterns)) for i, g in enumerate(groups)]

    def resolve(ticker: str, event_ticker: str | None) -> int:
        names = [n for n in (ticker, event_ticker, series_of(ticker)) if n]
        for index, patterns in compiled:
            if any(fnmatchcase(name, p) for p in patterns for name in names):
                return index
        return -1

    return resolve


def identify_correlated_groups(price_changes: np.ndarray, threshold: float) -> list[list[int]]:
    """Groups of markets (columns) linked by |correlation| ≥ threshold, transitively.

    ``price_changes`` is T × M (rows: time, columns: markets). Columns that never move have
    no defined correlation and join no group. Returns groups of two or more, each sorted,
    largest first.
    """
    changes = np.asarray(price_changes, dtype=np.float64)
    if changes.ndim != 2:
        raise ValueError(f"price_changes must be T × M, got shape {changes.shape}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold}: expected a value in (0, 1]")
    t, m = changes.shape
    if t < 2 or m < 2:
        return []
    centred = changes - changes.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    moving = norms > 0
    safe = np.where(moving, norms, 1.0)
    corr = (centred.T @ centred) / np.outer(safe, safe)
    linked = (np.abs(corr) >= threshold) & np.outer(moving, moving)
    parent = list(range(m))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked, 1)), strict=True):
        parent[find(int(i))] = find(int(j))
    components: dict[int, list[int]] = {}
    for i in range(m):
        if moving[i]:
            components.setdefault(find(i), []).append(i)
    return sorted((c for c in components.values() if len(c) > 1), key=lambda c: (-len(c), c))
