"""The strategies as numpy expressions: the reference strategies.kernels must match exactly.

This is how flb and odds_edge were first written (one vectorised expression per rule);
the kernels do the same screens in one compiled pass over the markets.
"""

from __future__ import annotations

import numpy as np

from market.units import CONTRACT_PAYOUT
from strategies.base import SIDE_NO, SIDE_YES, MarketView, Proposals
from strategies.flb import FavouriteLongshot
from strategies.odds_edge import OddsEdge


def flb_propose(flb: FavouriteLongshot, view: MarketView) -> Proposals:
    yes_ask, yes_bid, no_ask = view.yes_ask, view.yes_bid, view.no_ask
    fair_fav = flb.curve.fair_yes(yes_ask)
    favourite = (yes_ask > 0) & (view.yes_ask_size > 0) & (yes_ask >= flb.favourite_threshold)
    favourite &= net_edge(fair_fav, yes_ask, flb.fee_rate_ppm) > flb.min_edge
    fair_no = 1.0 - flb.curve.fair_yes(yes_bid)
    longshot = (yes_bid > 0) & (view.yes_bid_size > 0) & (yes_bid <= flb.longshot_threshold)
    longshot &= net_edge(fair_no, no_ask, flb.fee_rate_ppm) > flb.min_edge
    return buy_yes_and_no(view, favourite, fair_fav, longshot, fair_no)


def odds_edge_propose(odds: OddsEdge, view: MarketView) -> Proposals:
    known = np.isfinite(view.fair_yes)
    fair_yes = np.where(known, view.fair_yes, 0.5)
    fair_no = 1.0 - fair_yes
    buy_yes = known & (view.yes_ask > 0) & (view.yes_ask_size > 0)
    buy_yes &= net_edge(fair_yes, view.yes_ask, odds.fee_rate_ppm) > odds.min_edge
    buy_no = known & (view.no_ask > 0) & (view.no_ask_size > 0)
    buy_no &= net_edge(fair_no, view.no_ask, odds.fee_rate_ppm) > odds.min_edge
    return buy_yes_and_no(view, buy_yes, fair_yes, buy_no, fair_no)


def net_edge(fair: np.ndarray, price: np.ndarray, rate_ppm: int) -> np.ndarray:
    """Fair probability minus price minus the (approximate) fee per contract."""
    return fair - price / CONTRACT_PAYOUT - fee_per_contract(price, rate_ppm)


def buy_yes_and_no(view: MarketView, buy_yes: np.ndarray, fair_yes: np.ndarray,
                   buy_no: np.ndarray, fair_no: np.ndarray) -> Proposals:
    """Buy YES at the YES ask where ``buy_yes``, NO at the NO ask where ``buy_no``; each with
    the fair probability of the side bought and the size the book shows at that price."""
    yes_slots, no_slots = np.flatnonzero(buy_yes), np.flatnonzero(buy_no)
    return Proposals(
        slot=np.concatenate([yes_slots, no_slots]).astype(np.int64),
        side=np.concatenate([np.full(len(yes_slots), SIDE_YES, np.int8),
                             np.full(len(no_slots), SIDE_NO, np.int8)]),
        price=np.concatenate([view.yes_ask[yes_slots], view.no_ask[no_slots]]).astype(np.int64),
        fair=np.concatenate([fair_yes[yes_slots], fair_no[no_slots]]),
        size_cap=np.concatenate([view.yes_ask_size[yes_slots], view.no_ask_size[no_slots]]).astype(np.int64),
    )


def fee_per_contract(price: np.ndarray, rate_ppm: int) -> np.ndarray:
    """Approximate quadratic fee per contract as a probability (for screening only).

    The gate re-checks the edge with the exact integer fee of the final order; this float is
    only used to skip markets that cannot possibly clear the minimum edge.
    """
    p = price / CONTRACT_PAYOUT
    return rate_ppm / 1_000_000 * p * (1.0 - p)
