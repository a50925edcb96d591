"""Example plugin: buy YES on every favourite, trusting it to win more often than priced.

The template for a strategy of your own. Copy this file into your package, rename the
class and its parameters, and point a config table at it::

    [strategies.premium]
    kind = "strategies.examples.favourite_premium:FavouritePremium"
    min_price = 0.75     # buy YES when the YES ask is at or above this (dollars)
    premium = 0.04       # assumed win rate above the price (probability)

Three parts make a plugin: ``Params`` (a pydantic model: the table's keys, validated with
the rest of the config), the constructor ``(name, params, defaults, enabled)`` that
``PluginStrategy`` provides, and ``propose``: numpy over all markets at once, returning
buy proposals with their fair probability. Sizing and every limit are the risk gate's.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from market.units import CONTRACT_PAYOUT
from strategies.base import SIDE_YES, MarketView, Proposals
from strategies.plugins import PluginStrategy


class FavouritePremiumParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_price: float = Field(0.75, gt=0, lt=1)
    """Buy YES when the YES ask is at or above this price (dollars)."""
    premium: float = Field(0.04, gt=0, lt=0.5)
    """How much more often than its price a favourite is taken to win (probability)."""


class FavouritePremium(PluginStrategy):
    Params = FavouritePremiumParams

    def propose(self, view: MarketView) -> Proposals:
        p: FavouritePremiumParams = self.params
        if not self.enabled or view.n == 0:
            return Proposals.empty()
        ask = view.yes_ask
        price = ask / CONTRACT_PAYOUT
        fair = np.minimum(price + p.premium, 1 - 1e-6)
        # Screen as the gate will judge: edge after the (approximate) fee above the minimum.
        fee = self.defaults.fee_rate_ppm / 1_000_000 * price * (1 - price)
        buy = (ask > 0) & (view.yes_ask_size > 0) & (ask >= round(p.min_price * CONTRACT_PAYOUT))
        buy &= fair - price - fee > self.defaults.min_edge
        slots = np.flatnonzero(buy)
        return Proposals(slots.astype(np.int64), np.full(len(slots), SIDE_YES, np.int8),
                         ask[slots].astype(np.int64), fair[slots], view.yes_ask_size[slots].astype(np.int64))
