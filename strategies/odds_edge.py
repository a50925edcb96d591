"""Sportsbook fair value against the exchange price.

The engine maps exchange markets to sportsbook outcomes and fills ``MarketView.fair_yes``
with the de-vigged consensus of the bookmakers (``strategies.devig``). Where the exchange
asks less than that fair value by more than fees plus the minimum edge, buy the cheap side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import MarketView, Proposals, buy_yes_and_no, net_edge


@dataclass(frozen=True, slots=True)
class OddsEdge:
    min_edge: float
    fee_rate_ppm: int
    enabled: bool = True
    name: str = "odds_edge"

    def propose(self, view: MarketView) -> Proposals:
        if not self.enabled or view.n == 0:
            return Proposals.empty()
        known = np.isfinite(view.fair_yes)
        fair_yes = np.where(known, view.fair_yes, 0.5)
        fair_no = 1.0 - fair_yes
        buy_yes = known & (view.yes_ask > 0) & (view.yes_ask_size > 0)
        buy_yes &= net_edge(fair_yes, view.yes_ask, self.fee_rate_ppm) > self.min_edge
        buy_no = known & (view.no_ask > 0) & (view.no_ask_size > 0)
        buy_no &= net_edge(fair_no, view.no_ask, self.fee_rate_ppm) > self.min_edge
        return buy_yes_and_no(view, buy_yes, fair_yes, buy_no, fair_no)
