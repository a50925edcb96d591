"""numba kernels of the strategies: one pass over every market per strategy, per tick.

The same screens as numpy expressions cost ~15 calls of a few microseconds each; on the
order path, between ticks half a second apart, every one of those calls starts with cold
caches, and a tick of two strategies spent ~0.5 ms there. One compiled loop per strategy
does the screen in one crossing. tests/strategy_reference.py keeps the numpy form; the two
must select the same rows with the same prices and fair probabilities, bit for bit.

Output rows follow the numpy form's order: YES buys by slot, then NO buys by slot.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from market.units import CONTRACT_PAYOUT as PAYOUT

from .base import SIDE_NO, SIDE_YES


@njit(cache=True, nogil=True, inline="always")
def _net_edge(fair: float, price: int, rate_ppm: int) -> float:
    """Fair probability minus price minus the approximate quadratic fee, per contract.

    For screening only: the gate re-checks the edge with the exact integer fee of the final
    order. The operations run in the reference's order, so the floats are the same.
    """
    p = price / PAYOUT
    return fair - price / PAYOUT - rate_ppm / 1_000_000 * p * (1.0 - p)


@njit(cache=True, nogil=True, inline="always")
def _interp(x: float, xp: np.ndarray, fp: np.ndarray) -> float:
    """np.interp on one point, as numpy computes it (end values held beyond the ends)."""
    last = len(xp) - 1
    if x >= xp[last]:
        return fp[last]
    if x < xp[0]:
        return fp[0]
    j = np.searchsorted(xp, x, side="right") - 1
    if xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return slope * (x - xp[j]) + fp[j]


@njit(cache=True, nogil=True, inline="always")
def _curve_fair_yes(price: int, prices: np.ndarray, excess: np.ndarray) -> float:
    """CalibrationCurve.fair_yes on a scalar: price + interpolated excess, clipped."""
    p = price / PAYOUT
    return min(max(p + _interp(p, prices, excess), 1e-6), 1 - 1e-6)


@njit(cache=True, nogil=True)
def masked_quotes(is_open, yes_bid, yes_ask, yes_bid_size, yes_ask_size):
    """The board's quotes with every closed market's set to 0 (nothing to act on)."""
    n = len(is_open)
    bid, ask = np.empty(n, np.int64), np.empty(n, np.int64)
    bid_size, ask_size = np.empty(n, np.int64), np.empty(n, np.int64)
    mask_quotes_into(is_open, yes_bid, yes_ask, yes_bid_size, yes_ask_size, bid, ask, bid_size, ask_size)
    return bid, ask, bid_size, ask_size


@njit(cache=True, nogil=True, inline="always")
def mask_quotes_into(is_open, yes_bid, yes_ask, yes_bid_size, yes_ask_size, bid, ask, bid_size, ask_size):
    """``masked_quotes`` into the caller's arrays (the tick kernel's: it allocates nothing)."""
    for i in range(len(is_open)):
        if is_open[i]:
            bid[i], ask[i] = yes_bid[i], yes_ask[i]
            bid_size[i], ask_size[i] = yes_bid_size[i], yes_ask_size[i]
        else:
            bid[i] = ask[i] = bid_size[i] = ask_size[i] = 0


@njit(cache=True, nogil=True)
def flb_select(yes_bid, yes_ask, yes_bid_size, yes_ask_size, curve_prices, curve_excess,
               favourite_threshold, longshot_threshold, min_edge, rate_ppm,
               slot, side, price, fair, size_cap):
    """Favourites' YES at the ask, longshots' NO at the NO ask; returns the rows written."""
    n, k = len(yes_bid), 0
    for i in range(n):
        ask = yes_ask[i]
        if ask > 0 and yes_ask_size[i] > 0 and ask >= favourite_threshold:
            f = _curve_fair_yes(ask, curve_prices, curve_excess)
            if _net_edge(f, ask, rate_ppm) > min_edge:
                slot[k], side[k], price[k], fair[k], size_cap[k] = i, SIDE_YES, ask, f, yes_ask_size[i]
                k += 1
    for i in range(n):
        bid = yes_bid[i]
        if 0 < bid < PAYOUT and yes_bid_size[i] > 0 and bid <= longshot_threshold:
            f = 1.0 - _curve_fair_yes(bid, curve_prices, curve_excess)
            if _net_edge(f, PAYOUT - bid, rate_ppm) > min_edge:
                slot[k], side[k], price[k], fair[k], size_cap[k] = i, SIDE_NO, PAYOUT - bid, f, yes_bid_size[i]
                k += 1
    return k


@njit(cache=True, nogil=True)
def odds_edge_select(yes_bid, yes_ask, yes_bid_size, yes_ask_size, fair_yes, min_edge, rate_ppm,
                     slot, side, price, fair, size_cap):
    """Whichever side's ask is below the external fair value by more than fees and the edge."""
    n, k = len(yes_bid), 0
    for i in range(n):
        f = fair_yes[i]
        ask = yes_ask[i]
        if np.isfinite(f) and ask > 0 and yes_ask_size[i] > 0 and _net_edge(f, ask, rate_ppm) > min_edge:
            slot[k], side[k], price[k], fair[k], size_cap[k] = i, SIDE_YES, ask, f, yes_ask_size[i]
            k += 1
    for i in range(n):
        f = fair_yes[i]
        bid = yes_bid[i]
        if np.isfinite(f) and 0 < bid < PAYOUT and yes_bid_size[i] > 0 and _net_edge(1.0 - f, PAYOUT - bid, rate_ppm) > min_edge:
            slot[k], side[k], price[k], fair[k], size_cap[k] = i, SIDE_NO, PAYOUT - bid, 1.0 - f, yes_bid_size[i]
            k += 1
    return k

